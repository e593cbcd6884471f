"""Pose & expression transfer on arrays: the Python API behind ``petra transfer`` and ``mesh-*``.

::

    cfg = MeshConfig.from_params(petra.config.load())
    tr = Transfer(target_rgb, cfg)                  # mesh, crop, target-side precompute
    out = tr.drive(driving_rgb)                     # first call = reference in relative mode
    out.crop, out.full                              # aligned crop, and the pasted-back photo

Per frame: driving landmarks (MediaPipe; tracked between frames of a video) ->
optional One-Euro smoothing -> fit -> driver normalisation (bounded, smoothed framing;
a lost face holds the last pose) -> compose (target identity + source expression
+ source pose) -> mesh warp of the target crop -> paste-back into the full photo.

A whole clip (:meth:`Transfer.run_clip`, ``petra transfer`` on a video) is read twice:
landmarks first (smoothed over the clip without lag), so the driver's neutral face is estimated over the whole clip
(:func:`petra.geometry.driver.neutral_face`) before any frame is rendered.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterable, Iterator, Literal, Mapping, Sequence

import numpy as np

from petra.config import build
from petra.errors import NoFaceError
from petra.geometry.canonical import DLIB68_FROM_MESH
from petra.geometry.driver import DriverMotion, Framing, clamp_turn, nearest_face, neutral_face
from petra.geometry.facemesh import MAX_FACES, FaceChoice, FaceMesh, FaceTracker, choose_face
from petra.geometry.motion import FaceParams, compose_mesh, fit_face
from petra.params import Mesh
from .composite import border_feather, motion_mask, paste_back, photo_edge_fill
from .filters import OneEuroFilter, StreamRestorer, make_filter, smooth_clip
from .warp import MeshWarper

# (target crop, rendered crop, output mesh [478, 3] crop px, driving image, driving mesh in its px,
#  the driver's reference view (image, mesh) or None) -> crop
Refiner = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                    "tuple[np.ndarray, np.ndarray] | None"], np.ndarray]


@dataclass(frozen=True)
class MeshConfig:
    """The engine's settings: the ``mesh:`` section of params.yaml (its values; ``smoothing`` flattened)."""

    mode: Literal["auto", "relative", "absolute"]  # auto: relative for video, absolute for an image
    size: int                       # aligned crop side: 256 | 512
    paste_back: bool                # also return the full target photo with the crop pasted back
    paste_detail: bool              # paste-back samples the photo at its own resolution (composite.paste_back)
    gaze: bool                      # irises follow the source's gaze
    mouth_interior: bool            # driving-frame mouth interior when the output opens the mouth
    head_layer: bool                # moving head over a still, inpainted background plate (person mask)
    expression_scale: float         # 1 = the source's expression as is (after retargeting)
    smoothing: str                  # one_euro | none (video only): mesh.smoothing.method
    min_cutoff: float               # One-Euro: Hz at rest
    beta: float                     # One-Euro: cut-off rise per (face sizes / s) of speed
    d_cutoff: float
    feather: float                  # paste-back: border feather, fraction of the crop side
    max_shift: float                # relative mode: head shift bound, fraction of the crop side
    max_scale: float                # relative mode: face scale bound, fraction of the target's scale
    follow: float                   # share of the driver's scale/shift change passed on (0: fixed framing)
    framing_smooth: float           # s, time constant smoothing the passed-on scale and shift
    recover: float                  # s, blend from a held pose back to the tracked face
    reference: Literal["neutral", "first"]  # relative mode on a clip: neutral over the clip | first frame
    max_yaw: float                  # head turn beyond the target's pose that a warp can show (deg);
    max_pitch: float                # larger turns are clamped smoothly, with one warning

    @classmethod
    def from_params(cls, cfg: Mapping[str, Any] | None = None, **overrides: Any) -> "MeshConfig":
        """The ``mesh`` section of ``cfg`` (typed and checked; a missing key takes params.yaml's value),
        then the ``overrides`` that are not None (flat names: ``smoothing`` is the method)."""
        m = build(Mesh, (cfg or {}).get("mesh"))
        sm = m.smoothing
        kw = {f.name: getattr(m, f.name) for f in fields(cls) if f.name != "smoothing" and hasattr(m, f.name)}
        kw.update(smoothing=sm.method, min_cutoff=sm.min_cutoff, beta=sm.beta, d_cutoff=sm.d_cutoff)
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
    cfg: MeshConfig = field(default_factory=MeshConfig.from_params)  # params.yaml's mesh section
    video: bool = False                        # track landmarks and smooth them between calls
    path: str = "<target>"
    aligned: bool = False                      # target is already an aligned crop of cfg.size
    face_index: int | None = None              # target face, left to right (None: the largest)
    driving_face_index: int | None = None      # driving face, left to right (None: the largest)
    refiner: Refiner | None = None             # the learned refinement (mesh-ours-gen) after the render

    def __post_init__(self) -> None:
        from petra.data.ffhq import align_face

        with FaceMesh(static=True, max_faces=MAX_FACES) as fm:
            pts, self.target_choice = choose_face(fm.detect_all(self.target, self.path), self.face_index, self.path)
        if self.aligned:
            self.crop, self.src_to_crop = self.target, np.array([[1.0, 0, 0], [0, 1.0, 0]])
            self.crop_pts = pts
        else:
            al = align_face(self.target, pts[DLIB68_FROM_MESH, :2], self.cfg.size)
            self.crop, self.src_to_crop = photo_edge_fill(al.image, self.target, al.src_to_crop), al.src_to_crop
            self.crop_pts = mesh_to_crop(pts, al.src_to_crop)
        self.params: FaceParams = fit_face(self.crop_pts)
        self.warper = MeshWarper(self.crop, self.crop_pts, gaze=self.cfg.gaze, head=self.cfg.head_layer,
                                 mouth=self.cfg.mouth_interior)
        self.reference: FaceParams | None = None
        # relative mode: a driving frame (image, mesh) showing the reference face, for a refiner that
        # reads how the driver's regions changed (after analyse(): the frame nearest the neutral face)
        self.reference_view: tuple[np.ndarray, np.ndarray] | None = None
        self.neutral_index: int | None = None  # analyse(): that frame's index in its points
        self._last_face: FaceParams | None = None
        self._warned_turn = False
        self._fits: dict[int, tuple[np.ndarray, FaceParams]] = {}  # analyse()'s fits, by id of the points
        self._drv_align: np.ndarray | None = None  # driving image -> its aligned frame (2x3)
        self._tracker = FaceTracker(static=not self.video, index=self.driving_face_index)
        self._filter: OneEuroFilter | None = make_filter(
            self.cfg.smoothing if self.video else "none", self.cfg.min_cutoff, self.cfg.beta, self.cfg.d_cutoff)
        self._restorer = StreamRestorer()  # blinks through the causal filter (a live stream)
        self._last_pts: np.ndarray | None = None
        self._last_driving: tuple[np.ndarray, np.ndarray] | None = None  # last frame with a face + its points
        self._frame = 0
        self._feather = border_feather(self.crop.shape[0], self.cfg.feather)
        # the photo's own pixels over the warp (at any scale: a crop the size of the photo's face still
        # resamples it three times), unless a refiner replaces the render by another method's crop
        self._detail = self.cfg.paste_detail and getattr(self.refiner, "keeps_warp", True)
        c = self.cfg
        # an aligned driving crop has its camera framing removed already (FFHQ alignment per
        # frame): what is left is head motion, passed on whole (still bounded); separate
        # images have no time axis to smooth over
        self.motion = DriverMotion(Framing(1.0 if self.aligned else c.follow, c.max_scale, c.max_shift,
                                           c.framing_smooth if self.video else 0.0, c.recover))

    @property
    def mode(self) -> str:
        if self.cfg.mode != "auto":
            return self.cfg.mode
        return "relative" if self.video else "absolute"

    @property
    def driving_choice(self) -> FaceChoice | None:
        """Which driving face is followed (after the first driving frame with a face)."""
        return self._tracker.choice

    def close(self) -> None:
        self._tracker.close()

    def landmarks(self, driving: np.ndarray, t: float | None = None, path: str = "<driving>",
                  smooth: bool = True) -> np.ndarray | None:
        """Driving mesh [478, 3] (tracked and, with ``smooth``, causally smoothed for video);
        None for a video frame without a face after the first one (the pose is then held,
        :class:`DriverMotion`)."""
        try:
            pts = self._tracker.detect(driving, path)
        except NoFaceError:
            if self._last_pts is None or not self.video:
                raise
            if self._filter is not None:
                self._filter.reset()  # the face may come back elsewhere: no smoothing across the gap
                self._restorer.reset()
            return None
        if self._filter is not None and smooth:
            scale = float(np.linalg.norm(pts[33, :2] - pts[263, :2]))
            pts = self._restorer(pts, self._filter(pts, self._frame / 30.0 if t is None else t, scale), scale)
        self._last_pts = pts
        return pts

    def set_reference(self, driving: np.ndarray, pts: np.ndarray | None = None) -> None:
        """Relative mode: the driving frame whose pose and expression map to the target as it is."""
        self._drv_align = None
        pts = self.landmarks(driving) if pts is None else pts
        if pts is None:
            raise NoFaceError("<driving>", "no face found")
        self.reference = fit_face(self._driving_frame(pts))
        self.reference_view = (driving, pts)
        self.motion.set_reference(self.reference)

    def analyse(self, points: Sequence[np.ndarray | None], frames: Sequence[np.ndarray] | None = None
                ) -> FaceParams | None:
        """Relative mode on a whole clip: the driver's neutral face over all its frames
        (``points``: the driving mesh of each frame, None where no face) becomes the reference;
        with the clip's ``frames`` the one at :attr:`neutral_index` also becomes the reference view
        (without them, :meth:`set_reference_view` once it is decoded)."""
        fits = [(i, p, fit_face(self._driving_frame(p))) for i, p in enumerate(points) if p is not None]
        # the arrays are kept with their fits, so an id is never reused while cached
        self._fits = {id(p): (p, f) for _, p, f in fits}
        faces = [f for _, _, f in fits]
        if faces and self.cfg.reference == "neutral":
            self.reference = neutral_face(faces)
        elif faces:
            self.reference = faces[0]
        self.reference_view, self.neutral_index = None, None
        if self.reference is not None:
            self.motion.set_reference(self.reference)
            self.neutral_index = fits[nearest_face(faces, self.reference)][0]
            if frames is not None:
                self.set_reference_view(frames[self.neutral_index], points[self.neutral_index])
        return self.reference

    def set_reference_view(self, driving: np.ndarray, pts: np.ndarray) -> None:
        """The driving frame at :attr:`neutral_index` and its mesh (analyse() saw only points)."""
        self.reference_view = (driving, pts)

    def clip_landmarks(self, frames: Iterable[tuple[float, np.ndarray]], path: str = "<driving>"
                       ) -> list[np.ndarray | None]:
        """First pass over a clip: tracked landmarks of every (time, frame) (None: no face),
        smoothed over the whole clip without lag (:func:`smooth_clip`).

        Raises NoFaceError when no frame has a face."""
        out: list[np.ndarray | None] = []
        times: list[float] = []
        for t, f in frames:
            times.append(t)
            try:
                out.append(self.landmarks(f, t, path, smooth=False))
            except NoFaceError:
                out.append(None)  # before the first face
        if all(p is None for p in out):
            raise NoFaceError(path, "no face found in the driving video")
        self._last_pts = None
        if self._filter is not None:
            out = smooth_clip(out, times, self.cfg.min_cutoff, self.cfg.beta)
        return out

    def run_clip(self, frames: Sequence[np.ndarray], fps: float, path: str = "<driving>") -> Iterator[Output]:
        """Transfer a whole clip held in memory: landmarks, neutral reference, then every frame."""
        pts = self.clip_landmarks(((i / fps, f) for i, f in enumerate(frames)), path)
        if self.mode == "relative":
            self.analyse(pts, frames)
        first = next(i for i, p in enumerate(pts) if p is not None)
        for i, (f, p) in enumerate(zip(frames, pts)):
            yield self.still() if i < first else self.drive_points(f, p, i / fps)

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
        if pts is None:
            pts = self.landmarks(driving, t, path)
        return self.drive_points(driving, pts, t)

    def _clamped(self, face: FaceParams, rest: np.ndarray) -> FaceParams:
        """``face`` with its rotation relative to ``rest`` (the pose that maps to the target's own)
        smoothly clamped to max_yaw / max_pitch; warns once per transfer when it had to."""
        from dataclasses import replace

        delta, beyond = clamp_turn(face.pose.rotation @ rest.T, self.cfg.max_yaw, self.cfg.max_pitch)
        if beyond and not self._warned_turn:
            import sys

            self._warned_turn = True
            print(f"petra transfer: warning: the driver turns more than {self.cfg.max_yaw:g} deg yaw / "
                  f"{self.cfg.max_pitch:g} deg pitch from the target's pose; larger turns are clamped smoothly",
                  file=sys.stderr)
        return FaceParams(replace(face.pose, rotation=delta @ rest), face.shape, face.identity)

    def still(self) -> Output:
        """The target unchanged (a frame before the driver's face first appears)."""
        full = self.target.copy() if self.cfg.paste_back and not self.aligned else None
        return Output(self.crop.copy(), full, self.crop_pts.copy())

    def drive_points(self, driving: np.ndarray, pts: np.ndarray | None, t: float | None = None) -> Output:
        """Render one frame from its driving mesh (``pts`` None: the face is lost, hold the last pose)."""
        self._frame += 1
        t = self._frame / 30.0 if t is None else t
        if pts is None:
            if self._last_driving is None:
                raise NoFaceError("<driving>", "no face found")
            driving, pts = self._last_driving
            src = None
        else:
            self._last_driving = (driving, pts)
            cached = self._fits.pop(id(pts), None)  # fitted already by analyse()
            src = cached[1] if cached is not None and cached[0] is pts else fit_face(self._driving_frame(pts))
            if self.mode == "relative" and self.reference is None:
                self.reference, self.reference_view = src, (driving, pts)
                self.motion.set_reference(src)
        if self.mode == "relative":
            mo = self.motion(src, t)
            ref_rot = self.reference.pose.rotation
            out_mesh = compose_mesh(self.params, self._clamped(mo.face, ref_rot), self.reference, "relative",
                                    self.cfg.expression_scale,
                                    max_shift=self.cfg.max_shift * self.crop.shape[0],
                                    framing=(mo.log_scale, mo.shift), max_scale=self.cfg.max_scale)
        else:
            assert src is not None or self._last_face is not None
            src = src if src is not None else self._last_face
            out_mesh = compose_mesh(self.params, self._clamped(src, self.params.pose.rotation), None, "absolute",
                                    self.cfg.expression_scale)
        self._last_face = src
        crop = self.warper.render(out_mesh, driving, pts)  # + mouth and eye interiors from the driver
        if self.refiner is not None:
            crop = self.refiner(self.crop, crop, out_mesh, driving, pts,
                                self.reference_view if self.mode == "relative" else None)
        full = None
        if self.cfg.paste_back and not self.aligned:
            mx, my = self.warper.last_maps  # type: ignore[misc]
            mask = motion_mask(mx, my) * self._feather
            full = paste_back(self.target, crop, self.src_to_crop, mask,
                              detail=(self.crop, *self.warper.detail_maps()) if self._detail else None)
        return Output(crop, full, out_mesh)
