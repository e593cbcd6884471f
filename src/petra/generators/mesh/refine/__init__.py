"""The learned refinement of the hand-made transfer (the mesh generator's "Gen", ``mesh-ours-gen``).

The hand-made transfer (``mesh-relative``: retargeted expression, warp, head layer,
irises, driver's mouth interior) is exact where geometry is the whole story and wrong
where it is not: what motion reveals, teeth and mouth shape, creases and shading that
a warp cannot move, seams of the layers. :class:`~.net.RefineNet` learns those from
self-reenactment pairs (target ≠ reference frame, large motion between them, all
frames of the training clips), conditioned on the warped result, the target, and how the
driver's mouth and eye regions changed from the driver's reference frame, brought onto the
output mesh (luma only; a change, not the driver's appearance, which on another person's
clip would be an identity leak: ``condition``). Modules: ``net`` (the network), ``condition`` (its inputs),
``data`` (the pair set), ``recipe`` (losses, for the shared loop), ``reenactor``
(inference: evaluation and ``petra transfer``).
"""
