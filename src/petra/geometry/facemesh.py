"""MediaPipe face mesh (478 points with irises) behind one small wrapper.

Uses the legacy ``mp.solutions.face_mesh`` of mediapipe==0.10.14 with
``refine_landmarks=True``; its models ship inside the wheel, so this works
offline. Points are returned in image pixels as ``[478, 3]`` float64:
``x, y`` in pixels and ``z = z_norm * width`` (MediaPipe's relative depth, same
scale as x; smaller = closer to the camera).

Two modes: ``static=True`` runs the detector on every call (independent
images); ``static=False`` tracks the face box from the previous frame, which is
what a video wants (several times faster, and steadier).

Small faces (wide shots: a face under ~20 % of the frame height) defeat the face
mesh's own short-range detector. Then MediaPipe's full-range face detector finds the
face, the mesh runs on a square crop around it upscaled to :data:`ROI_SIDE` px, and
in a video the crop follows the face from frame to frame (region-of-interest
tracking), so the landmark model always sees the face at the same size.

Several faces: :meth:`FaceMesh.detect_all` returns every face (``max_faces``);
:func:`choose_face` picks one (an index, left to right, or the largest) and
:class:`FaceTracker` follows the chosen one through a video.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError, NoFaceError
from ..io import quiet_native_stderr
from .canonical import N_REFINED

ROI_SIDE = 256     # px side of the crop a small face is measured in
ROI_GROW = 2.0     # crop side / larger side of the face's landmark box
SMALL_FACE = 0.25  # landmark-box height / frame height below which a video tracks a crop


class _Closing:
    """``with`` support for the graph holders below: ``close()`` on leaving."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FaceMesh(_Closing):
    """One MediaPipe FaceMesh graph; not thread-safe, use one per stream."""

    def __init__(self, static: bool = True, min_confidence: float = 0.5, max_faces: int = 1) -> None:
        self.static = static
        self._conf = min_confidence
        self._max_faces = max_faces
        self._warm: set[int] = set()  # graphs log from native threads on their first frame too
        with quiet_native_stderr():
            self._mesh: Any = self._graph(static, max_faces)
        self._roi_mesh: Any = None   # graph for crops around small faces (lazy)
        self._detector: Any = None   # full-range face detector (lazy)
        self._roi: tuple[float, float, float] | None = None  # (cx, cy, side) of the tracked crop

    def _graph(self, static: bool, max_faces: int = 1) -> Any:
        import mediapipe as mp

        return mp.solutions.face_mesh.FaceMesh(static_image_mode=static, max_num_faces=max_faces, refine_landmarks=True,
                                               min_detection_confidence=self._conf,
                                               min_tracking_confidence=self._conf)

    def close(self) -> None:
        self._mesh.close()
        for g in (self._roi_mesh, self._detector):
            if g is not None:
                g.close()

    def detect(self, rgb: np.ndarray, path: str = "<array>") -> np.ndarray:
        """Return the 478 mesh points of the main face in ``rgb`` (pixels), or raise NoFaceError.

        A face that fills the whole frame (an aligned crop) can defeat MediaPipe's
        short-range detector; in static mode a padded copy is tried before giving up.
        """
        pts = None
        if self._roi is not None:  # a small face tracked in a crop
            pts = self._run_crop(rgb, self._roi)
        if pts is None:
            pts = self._run(rgb, self._mesh)
        if pts is None and self.static:
            pad = max(rgb.shape[:2]) // 4
            padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
            pts = self._run(padded, self._mesh)
            if pts is not None:
                pts[:, :2] -= pad
        if pts is None:  # a small face: full-range detector, then the mesh on a crop
            box = self._detect_box(rgb)
            if box is not None:
                pts = self._run_crop(rgb, box)
        if pts is None:
            self._roi = None
            raise NoFaceError(path, "no face found")
        lo, hi = pts[:, :2].min(0), pts[:, :2].max(0)
        small = (hi[1] - lo[1]) < SMALL_FACE * rgb.shape[0]
        self._roi = (*((lo + hi) / 2), ROI_GROW * float(max(hi - lo))) if small and not self.static else None
        return pts

    def detect_all(self, rgb: np.ndarray, path: str = "<array>") -> list[np.ndarray]:
        """The 478 mesh points of every face found (at most ``max_faces``), or raise NoFaceError.

        The same search as :meth:`detect` (whole frame, padded copy, small-face detector),
        keeping every face of the first search that finds one; no region-of-interest tracking.
        """
        faces = self._run_all(rgb, self._mesh)
        if not faces and self.static:
            pad = max(rgb.shape[:2]) // 4
            faces = self._run_all(np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge"), self._mesh)
            for pts in faces:
                pts[:, :2] -= pad
        if not faces:
            box = self._detect_box(rgb)
            pts = self._run_crop(rgb, box) if box is not None else None
            faces = [pts] if pts is not None else []
        if not faces:
            raise NoFaceError(path, "no face found")
        return faces

    def _detect_box(self, rgb: np.ndarray) -> tuple[float, float, float] | None:
        """(cx, cy, crop side) around the most confident face of the full-range detector."""
        import mediapipe as mp

        if self._detector is None:
            with quiet_native_stderr():
                self._detector = mp.solutions.face_detection.FaceDetection(model_selection=1,
                                                                           min_detection_confidence=self._conf)
        res = self._detector.process(np.ascontiguousarray(rgb))
        if not res.detections:
            return None
        h, w = rgb.shape[:2]
        b = max(res.detections, key=lambda d: d.score[0]).location_data.relative_bounding_box
        # the detector's box is the inner face; the landmark box is ~1.3x larger
        return (b.xmin + b.width / 2) * w, (b.ymin + b.height / 2) * h, 1.3 * ROI_GROW * max(b.width * w, b.height * h)

    def _run_crop(self, rgb: np.ndarray, roi: tuple[float, float, float]) -> np.ndarray | None:
        """Mesh of the face in the square crop ``roi`` = (cx, cy, side), upscaled to ROI_SIDE px."""
        import cv2

        cx, cy, side = roi
        k = ROI_SIDE / max(side, 1.0)
        m = np.array([[k, 0.0, ROI_SIDE / 2 - k * cx], [0.0, k, ROI_SIDE / 2 - k * cy]])
        crop = cv2.warpAffine(rgb, m, (ROI_SIDE, ROI_SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if self._roi_mesh is None:
            with quiet_native_stderr():
                self._roi_mesh = self._graph(self.static)
        pts = self._run(crop, self._roi_mesh)
        if pts is None:
            return None
        pts[:, :2] = (pts[:, :2] - m[:, 2]) / k
        pts[:, 2] /= k
        return pts

    def _run(self, rgb: np.ndarray, graph: Any) -> np.ndarray | None:
        faces = self._run_all(rgb, graph)
        return faces[0] if faces else None

    def _run_all(self, rgb: np.ndarray, graph: Any) -> list[np.ndarray]:
        h, w = rgb.shape[:2]
        if id(graph) in self._warm:
            res = graph.process(np.ascontiguousarray(rgb))
        else:
            with quiet_native_stderr():
                res = graph.process(np.ascontiguousarray(rgb))
            self._warm.add(id(graph))
        faces = []
        for face in res.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in face.landmark], dtype=np.float64)
            assert pts.shape == (N_REFINED, 3), pts.shape
            faces.append(pts)
        return faces


MAX_FACES = 8  # faces looked for when a photo or a driving clip may show several people


def face_size(pts: np.ndarray) -> float:
    """Area of the face's landmark box in pixels (how "largest" is measured)."""
    span = pts[:, :2].max(0) - pts[:, :2].min(0)
    return float(span[0] * span[1])


@dataclass(frozen=True)
class FaceChoice:
    """Which face of an image was used: ``index`` among ``count`` faces numbered left to right."""

    index: int
    count: int
    largest: bool   # chosen as the largest (no index given)

    def describe(self, path: str, option: str) -> str:
        how = "the largest" if self.largest else f"chosen with {option}"
        return (f"{path}: {self.count} faces found; using face {self.index} ({how}; faces are numbered "
                f"0-{self.count - 1} from left to right, choose another with {option} N)")


def choose_face(faces: list[np.ndarray], index: int | None, path: str = "<array>",
                option: str = "--face-index") -> tuple[np.ndarray, FaceChoice]:
    """The face numbered ``index`` from left to right, or the largest; with what was chosen."""
    faces = sorted(faces, key=lambda f: float(f[:, 0].mean()))
    if index is None:
        k = max(range(len(faces)), key=lambda k: face_size(faces[k]))
    elif 0 <= index < len(faces):
        k = index
    else:
        raise InputError(path, f"{option} {index}: only {len(faces)} face(s) found (numbered from 0, left to right)")
    return faces[k], FaceChoice(k, len(faces), index is None)


class FaceTracker(_Closing):
    """One chosen face through a stream, a drop-in for :meth:`FaceMesh.detect`.

    The first frame with a face is searched for every face and one is chosen (``index``
    from left to right, else the largest). With one face there, the stream is a plain
    :class:`FaceMesh` (its small-face tracking included), so the common case is unchanged.
    With several, a tracker of that many faces keeps the face nearest to the last one,
    and reports the face lost rather than jump to another person.
    """

    def __init__(self, static: bool = True, index: int | None = None, option: str = "--driving-face-index") -> None:
        self.static = static
        self.index = index
        self.option = option
        self.choice: FaceChoice | None = None
        self._finder: FaceMesh | None = None
        self._mesh: FaceMesh | None = None
        self._last: np.ndarray | None = None

    def close(self) -> None:
        for m in (self._finder, self._mesh):
            if m is not None:
                m.close()

    def detect(self, rgb: np.ndarray, path: str = "<array>") -> np.ndarray:
        if self._finder is None:
            self._finder = FaceMesh(static=True, max_faces=MAX_FACES)
        if self.static:  # independent images: choose in each one
            pts, self.choice = choose_face(self._finder.detect_all(rgb, path), self.index, path, self.option)
            return pts
        if self._mesh is None:  # until the first face: look for every face
            self._last, self.choice = choose_face(self._finder.detect_all(rgb, path), self.index, path, self.option)
            self._mesh = FaceMesh(static=False, max_faces=self.choice.count)
        assert self._last is not None and self.choice is not None
        if self.choice.count == 1:
            return self._mesh.detect(rgb, path)
        faces = self._mesh.detect_all(rgb, path)
        ref = self._last[:, :2].mean(0)
        pts = min(faces, key=lambda f: float(np.linalg.norm(f[:, :2].mean(0) - ref)))
        if np.linalg.norm(pts[:, :2].mean(0) - ref) > 0.5 * float(np.ptp(self._last[:, 0])):
            raise NoFaceError(path, "the chosen face was lost")  # another person where ours was
        self._last = pts
        return pts


def detect_mesh(rgb: np.ndarray, path: str = "<array>") -> np.ndarray:
    """One-shot convenience: the 478 mesh points of a single image (static mode)."""
    with FaceMesh(static=True) as fm:
        return fm.detect(rgb, path)
