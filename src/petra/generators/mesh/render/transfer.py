"""Pose & expression transfer on arrays: the Python API behind ``petra transfer`` and ``mesh-*``.

::

    cfg = MeshConfig.from_params(petra.config.load())
    tr = Transfer(target_rgb, cfg)                  # mesh, crop, target-side precompute
    out = tr.drive(driving_rgb)                     # first call = reference in relative mode
    out.crop, out.full                              # aligned crop, and the pasted-back photo

Per frame: driving landmarks (MediaPipe; tracked between frames of a video) ->
optional One-Euro smoothing -> fit -> compose (target identity + source expression
+ source pose) -> mesh warp of the target crop -> paste-back into the full photo.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

import numpy as np

from petra.errors import NoFaceError
from petra.geometry.canonical import DLIB68_FROM_MESH
from petra.geometry.facemesh import FaceMesh
from petra.geometry.motion import FaceParams, compose_mesh, fit_face
from .composite import border_feather, motion_mask, paste_back
from .filters import OneEuroFilter, make_filter
from .warp import MeshWarper


@dataclass(frozen=True)
class MeshConfig:
    """The ``mesh:`` section of params.yaml."""

    mode: Literal["auto", "relative", "absolute"] = "auto"  # auto: relative for video, absolute for an image
    size: int = 256                 # aligned crop side: 256 | 512
    paste_back: bool = True         # also return the full target photo with the crop pasted back
    gaze: bool = True               # irises follow the source's gaze
    mouth_interior: bool = True     # driving-frame mouth interior when the output opens the mouth
    expression_scale: float = 1.0   # 1 = the source's expression as is (after retargeting)
    smoothing: str = "one_euro"     # one_euro | none (video only)
    min_cutoff: float = 1.0         # One-Euro: Hz at rest
    beta: float = 5.0               # One-Euro: cut-off rise per (face sizes / s) of speed
    d_cutoff: float = 1.0
    feather: float = 0.06           # paste-back: border feather, fraction of the crop side
    max_shift: float = 0.06         # relative mode: head shift limit, fraction of the crop side

    @classmethod
    def from_params(cls, cfg: Mapping[str, Any], **overrides: Any) -> "MeshConfig":
        sec = dict(cfg.get("mesh", {}) or {})
        sm = sec.pop("smoothing", {}) or {}
        kw = {k: v for k, v in sec.items() if k in cls.__dataclass_fields__}
        kw.update({"smoothing": sm.get("method", "one_euro")} if sm else {})
        kw.update({k: sm[k] for k in ("min_cutoff", "beta", "d_cutoff") if k in sm})
        kw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kw)


@dataclass
class Output:
    """One transferred frame."""

    crop: np.ndarray               # [S, S, 3] uint8, aligned crop
    full: np.ndarray | None        # [H, W, 3] uint8 target photo with the crop pasted back
    mesh: np.ndarray               # [478, 3] output mesh in crop pixels


def mesh_to_crop(points: np.ndarray, src_to_crop: np.ndarray) -> np.ndarray:
    """Map image mesh points [N, 3] by a 2x3 similarity (z scaled like x, y)."""
    out = points.copy()
    out[:, :2] = points[:, :2] @ src_to_crop[:, :2].T + src_to_crop[:, 2]
    out[:, 2] = points[:, 2] * np.sqrt(abs(np.linalg.det(src_to_crop[:, :2])))
    return out


@dataclass
class Transfer:
    """One target photo, driven frame by frame (stateful: reference frame, tracker, filter)."""

    target: np.ndarray
    cfg: MeshConfig = field(default_factory=MeshConfig)
    video: bool = False                        # track landmarks and smooth them between calls
    path: str = "<target>"
    aligned: bool = False                      # target is already an aligned crop of cfg.size

    def __post_init__(self) -> None:
        from petra.data.ffhq import align_face

        with FaceMesh(static=True) as fm:
            pts = fm.detect(self.target, self.path)
        if self.aligned:
            self.crop, self.src_to_crop = self.target, np.array([[1.0, 0, 0], [0, 1.0, 0]])
            self.crop_pts = pts
        else:
            al = align_face(self.target, pts[DLIB68_FROM_MESH, :2], self.cfg.size)
            self.crop, self.src_to_crop = al.image, al.src_to_crop
            self.crop_pts = mesh_to_crop(pts, al.src_to_crop)
        self.params: FaceParams = fit_face(self.crop_pts)
        self.warper = MeshWarper(self.crop, self.crop_pts, gaze=self.cfg.gaze)
        self.reference: FaceParams | None = None
        self._drv_align: np.ndarray | None = None  # driving image -> its aligned frame (2x3)
        self._tracker = FaceMesh(static=not self.video)
        self._filter: OneEuroFilter | None = make_filter(
            self.cfg.smoothing if self.video else "none", self.cfg.min_cutoff, self.cfg.beta, self.cfg.d_cutoff)
        self._last_pts: np.ndarray | None = None
        self._frame = 0
        self._feather = border_feather(self.crop.shape[0], self.cfg.feather)

    @property
    def mode(self) -> str:
        if self.cfg.mode != "auto":
            return self.cfg.mode
        return "relative" if self.video else "absolute"

    def close(self) -> None:
        self._tracker.close()

    def landmarks(self, driving: np.ndarray, t: float | None = None, path: str = "<driving>") -> np.ndarray:
        """Driving mesh [478, 3] (tracked and smoothed for video); the last good one if the face is lost."""
        try:
            pts = self._tracker.detect(driving, path)
        except NoFaceError:
            if self._last_pts is None or not self.video:
                raise
            return self._last_pts  # a video keeps the last face through a lost frame
        if self._filter is not None:
            scale = float(np.linalg.norm(pts[33, :2] - pts[263, :2]))
            pts = self._filter(pts, self._frame / 30.0 if t is None else t, scale)
        self._last_pts = pts
        return pts

    def set_reference(self, driving: np.ndarray, pts: np.ndarray | None = None) -> None:
        """Relative mode: the driving frame whose pose and expression map to the target as it is."""
        self._drv_align = None
        self.reference = fit_face(self._driving_frame(self.landmarks(driving) if pts is None else pts))

    def _driving_frame(self, pts: np.ndarray) -> np.ndarray:
        """Driving points in the driving face's own FFHQ-aligned frame, as the target's are.

        Poses are then measured against the same upright face frame on both sides (a
        tilted driving *photo* transfers its head roll, not its camera roll). The frame is
        fixed at the first driving frame (or the reference), so a video does not jitter.
        """
        if self.aligned:
            return pts
        if self._drv_align is None:
            import cv2

            from petra.data.ffhq import ffhq_quad, quad_affine

            quad = ffhq_quad(pts[DLIB68_FROM_MESH, :2])
            self._drv_align = cv2.invertAffineTransform(quad_affine(quad.corners, self.cfg.size))
        return mesh_to_crop(pts, self._drv_align)

    def drive(self, driving: np.ndarray, t: float | None = None, pts: np.ndarray | None = None,
              path: str = "<driving>") -> Output:
        """Transfer the pose and expression of ``driving`` (RGB uint8, any size) onto the target."""
        pts = self.landmarks(driving, t, path) if pts is None else pts
        self._frame += 1
        src = fit_face(self._driving_frame(pts))
        if self.mode == "relative" and self.reference is None:
            self.reference = src
        out_mesh = compose_mesh(self.params, src, self.reference, self.mode, self.cfg.expression_scale,
                                max_shift=self.cfg.max_shift * self.crop.shape[0])
        if self.cfg.mouth_interior:
            crop = self.warper.render(out_mesh, driving, pts)
        else:
            crop = self.warper.render(out_mesh)
        full = None
        if self.cfg.paste_back and not self.aligned:
            mx, my = self.warper.last_maps  # type: ignore[misc]
            mask = motion_mask(mx, my) * self._feather
            full = paste_back(self.target, crop, self.src_to_crop, mask)
        return Output(crop, full, out_mesh)
