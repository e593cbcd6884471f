"""MediaPipe face mesh (478 points with irises) behind one small wrapper.

Uses the legacy ``mp.solutions.face_mesh`` of mediapipe==0.10.14 with
``refine_landmarks=True``; its models ship inside the wheel, so this works
offline. Points are returned in image pixels as ``[478, 3]`` float64:
``x, y`` in pixels and ``z = z_norm * width`` (MediaPipe's relative depth, same
scale as x; smaller = closer to the camera).

Two modes: ``static=True`` runs the detector on every call (independent
images); ``static=False`` tracks the face box from the previous frame, which is
what a video wants (several times faster, and steadier).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import NoFaceError
from ..io import quiet_native_stderr
from .canonical import N_REFINED


class FaceMesh:
    """One MediaPipe FaceMesh graph; not thread-safe, use one per stream."""

    def __init__(self, static: bool = True, min_confidence: float = 0.5) -> None:
        import mediapipe as mp

        self.static = static
        self._warm = False  # the graph logs from native threads on its first frame too
        with quiet_native_stderr():
            self._mesh: Any = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=static,
                max_num_faces=1,
                refine_landmarks=True,
                min_detection_confidence=min_confidence,
                min_tracking_confidence=min_confidence,
            )

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> "FaceMesh":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, rgb: np.ndarray, path: str = "<array>") -> np.ndarray:
        """Return the 478 mesh points of the main face in ``rgb`` (pixels), or raise NoFaceError.

        A face that fills the whole frame (an aligned crop) can defeat MediaPipe's
        short-range detector; in static mode a padded copy is tried before giving up.
        """
        pts = self._run(rgb)
        if pts is None and self.static:
            pad = max(rgb.shape[:2]) // 4
            padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
            pts = self._run(padded)
            if pts is not None:
                pts[:, :2] -= pad
        if pts is None:
            raise NoFaceError(path, "no face found")
        return pts

    def _run(self, rgb: np.ndarray) -> np.ndarray | None:
        h, w = rgb.shape[:2]
        if self._warm:
            res = self._mesh.process(np.ascontiguousarray(rgb))
        else:
            with quiet_native_stderr():
                res = self._mesh.process(np.ascontiguousarray(rgb))
            self._warm = True
        if not res.multi_face_landmarks:
            return None
        lm = res.multi_face_landmarks[0].landmark
        pts = np.array([(p.x * w, p.y * h, p.z * w) for p in lm], dtype=np.float64)
        assert pts.shape == (N_REFINED, 3), pts.shape
        return pts


def detect_mesh(rgb: np.ndarray, path: str = "<array>") -> np.ndarray:
    """One-shot convenience: the 478 mesh points of a single image (static mode)."""
    with FaceMesh(static=True) as fm:
        return fm.detect(rgb, path)
