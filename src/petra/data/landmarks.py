"""The one dlib wrapper (house rule 11): HOG face detection + the 68-point predictor.

The model file comes from the face_recognition_models wheel (located without
importing it: its ``__init__`` needs pkg_resources). Detection runs on a copy of the
frame downscaled to ``detect_max_side`` (large frames cost dlib quadratically more);
the predictor then runs on the full-resolution frame inside the rescaled box.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError, MultipleFacesError, NoFaceError


def model_path(name: str = "shape_predictor_68_face_landmarks.dat") -> Path:
    """Path of a dlib model file shipped in the face_recognition_models wheel."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(name, "face_recognition_models is not installed (pip install face_recognition_models)")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise InputError(path, "dlib model file missing")
    return path


@lru_cache(maxsize=1)
def _models() -> tuple[object, object]:
    import dlib

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(model_path()))


def pyramid_scale(max_side: int, upsample: int, detect_max_side: int) -> float:
    """Scale of the fast detection image: ``2**upsample · (5/6)**n``, the first of dlib's own
    pyramid levels (pyramid_down<6>) whose image fits in ``detect_max_side``.

    Detecting at one of the reference's pyramid scales gives boxes of the same sizes as
    the reference detection (full frame, ``upsample``), so the landmarks stay within about
    half a pixel of it at a fraction of the cost. 1.0 when no downscaling is needed.
    """
    s = float(2 ** upsample)
    while max_side * s > detect_max_side and s > 1e-3:
        s *= 5.0 / 6.0
    return s


class Landmarker:
    """dlib-68 landmarks of the single face in a frame.

    The reference (pSp ``get_landmark``) detects on the full frame with ``upsample`` = 1.
    Here detection first runs on the frame resized to one of that detector's pyramid
    scales with at most ``detect_max_side`` px (see :func:`pyramid_scale`); if that finds
    nothing, the reference detection runs (frames above 2048 px downscaled first).
    ``min_face_px`` rejects faces whose box is smaller (full-frame pixels).
    """

    def __init__(self, upsample: int = 1, detect_max_side: int = 320, min_face_px: int = 40) -> None:
        self.upsample = int(upsample)
        self.detect_max_side = int(detect_max_side)
        self.min_face_px = int(min_face_px)
        self.detector, self.predictor = _models()

    def _detect_at(self, rgb: np.ndarray, scale: float, upsample: int) -> list[tuple[float, float, float, float]]:
        import cv2

        h, w = rgb.shape[:2]
        if scale == 1.0:
            small, sx, sy = rgb, 1.0, 1.0
        else:
            small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_LINEAR)
            sx, sy = small.shape[1] / w, small.shape[0] / h
        rects = self.detector(np.ascontiguousarray(small), upsample)
        return [(r.left() / sx, r.top() / sy, r.right() / sx, r.bottom() / sy) for r in rects]

    def detect(self, rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Face boxes (left, top, right, bottom) in full-frame pixels, largest first."""
        side = max(rgb.shape[:2])
        s = pyramid_scale(side, self.upsample, self.detect_max_side)
        boxes = self._detect_at(rgb, s, 0) if s < 2 ** self.upsample else []
        if not boxes:  # the reference detection (bounded for 4K frames)
            boxes = self._detect_at(rgb, min(1.0, 2048 / side), self.upsample)
        return sorted(boxes, key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))

    def predict(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """The 68 (x, y) points, float32 [68, 2], of the face in ``box``."""
        import dlib

        rect = dlib.rectangle(*(int(round(v)) for v in box))
        shape = self.predictor(np.ascontiguousarray(rgb), rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def __call__(self, rgb: np.ndarray, path: str | Path = "<frame>") -> np.ndarray:
        """Landmarks of the one face, or NoFaceError / MultipleFacesError (a reject reason)."""
        boxes = [b for b in self.detect(rgb)]
        if not boxes:
            raise NoFaceError(path, "no face detected")
        big = [b for b in boxes if min(b[2] - b[0], b[3] - b[1]) >= self.min_face_px]
        if not big:
            side = min(boxes[0][2] - boxes[0][0], boxes[0][3] - boxes[0][1])
            raise NoFaceError(path, f"face too small ({side:.0f} px < {self.min_face_px} px)")
        if len(big) > 1:
            raise MultipleFacesError(path, f"several faces ({len(big)})")
        return self.predict(rgb, big[0])
