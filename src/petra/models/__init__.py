"""The model zoo: one architecture per file, module names = official checkpoint keys.

stylegan2 (rosinality Generator), irse (shared IR-SE blocks), arcface_irse50 (TreB1eN
Backbone + pSp IDLoss), psp_encoder (pSp GradualStyleEncoder and
BackboneEncoderUsingLastLayerIntoWPlus), restyle (ReStyle pSp/e4e encoders, full model,
iterative inference), resnet (the torchvision-layout trunk and ImageNet preprocessing
shared by) hopenet (HopeNet + pose backend) and opengraphau (OpenGraphAU stage-1 action
units, FAU-CORR; its output labels in the torch-free au_labels), mapping (the thesis's
linear M), thesis_net (the thesis's released network, ``best_model.pt``), lpips (LPIPS
with offline real weights), recipe (the fixtures' deterministic synthetic weights).
Weight files: :mod:`petra.weights`.
"""
