"""MediaPipe's canonical face: the reference shape every mesh is fitted to.

``data/canonical_face.npz`` holds the 468 vertices of MediaPipe's
``canonical_face_model.obj`` (google/mediapipe, Apache-2.0,
mediapipe/modules/face_geometry/data; not shipped in the 0.10.14 wheel), in
centimetres, right-handed: x toward the image's right on a frontal face
(the subject's left), y up, z out of the face toward the camera. The obj is
exactly mirror-symmetric (x -> -x), which is what makes yaw = roll = 0 well
defined. Stored beside the vertices:

- ``mirror``: index of each vertex's mirror twin (33 <-> 263, ...);
- ``triangles``: 898 triangles, outward-oriented: the 852 of
  ``FACEMESH_TESSELATION`` (two spurious 3-cycles removed) plus ear-clipped
  fills of the two eye openings and the inner-lip opening, so the warp field is
  defined inside eyes and mouth;
- ``loop_*``: the ordered boundary loops (``oval``, ``eye_right``,
  ``eye_left``, ``mouth_inner``); "right" is the subject's right (image left).

The 10 iris points (468..477) of the refined mesh have no canonical vertex;
:data:`IRIS_RIGHT` / :data:`IRIS_LEFT` list them (centre first).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "canonical_face.npz"

N_MESH = 468       # face-mesh vertices with a canonical position
N_REFINED = 478    # + 2 x 5 iris points (refine_landmarks=True)
IRIS_RIGHT = np.array([468, 469, 470, 471, 472])  # subject's right eye (image left); centre first
IRIS_LEFT = np.array([473, 474, 475, 476, 477])

# Eyebrows (MediaPipe FACEMESH_*_EYEBROW vertices): mobile, kept out of the rigid fit.
BROW_RIGHT = np.array([46, 52, 53, 55, 63, 65, 66, 70, 105, 107])
BROW_LEFT = np.array([276, 282, 283, 285, 293, 295, 296, 300, 334, 336])
# Outer lip contour, for mouth masks.
LIPS_OUTER = np.array([61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291,
                       409, 270, 269, 267, 0, 37, 39, 40, 185])
# dlib-68 points approximated by face-mesh vertices (for ratios / FFHQ-style crops).
DLIB68_FROM_MESH = np.array([
    127, 234, 93, 132, 58, 172, 136, 150, 152, 379, 365, 397, 288, 361, 323, 454, 356,  # jaw
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,                                      # brows
    168, 197, 5, 4, 75, 97, 2, 326, 305,                                                # nose
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,                          # eyes
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,                                # outer lips
    78, 82, 13, 312, 308, 317, 14, 87,                                                  # inner lips
])


@dataclass(frozen=True)
class CanonicalFace:
    """The reference face and its topology (see module docstring)."""

    vertices: np.ndarray   # [468, 3] float64, cm
    mirror: np.ndarray     # [468] int
    triangles: np.ndarray  # [898, 3] int, outward (counter-clockwise seen from outside)
    loops: dict[str, np.ndarray]
    rigid: np.ndarray      # indices used for the rigid (pose) fit

    @property
    def mouth_triangles(self) -> np.ndarray:
        """Boolean mask of the triangles filling the inner-lip opening."""
        return np.all(np.isin(self.triangles, self.loops["mouth_inner"]), axis=1)

    @property
    def eye_triangles(self) -> np.ndarray:
        """Boolean mask of the triangles filling either eye opening."""
        r = np.all(np.isin(self.triangles, self.loops["eye_right"]), axis=1)
        l_ = np.all(np.isin(self.triangles, self.loops["eye_left"]), axis=1)
        return r | l_


@lru_cache(maxsize=1)
def canonical_face() -> CanonicalFace:
    """Load the canonical face once per process."""
    d = np.load(DATA)
    v = d["vertices"].astype(np.float64)
    loops = {k[5:]: d[k].astype(np.int64) for k in d.files if k.startswith("loop_")}
    # Rigid set: the upper face and nose (y above the mouth), minus eyelids and brows,
    # which blink and frown; jaw and lips move with speech and expressions.
    mobile = np.concatenate([loops["eye_right"], loops["eye_left"], BROW_RIGHT, BROW_LEFT])
    rigid = np.array([i for i in range(N_MESH) if v[i, 1] > -2.6 and i not in set(mobile.tolist())])
    return CanonicalFace(v, d["mirror"].astype(np.int64), d["triangles"].astype(np.int64), loops, rigid)


def refined_vertices() -> np.ndarray:
    """[478, 3] canonical positions of the refined mesh, cm (a fresh array).

    The iris points have no canonical vertex, so each iris sits at the centre of its
    eye loop: per-vertex fields (region weights, expression controls) then cover all
    478 points.
    """
    cf = canonical_face()
    v = np.zeros((N_REFINED, 3))
    v[:N_MESH] = cf.vertices
    v[IRIS_RIGHT] = cf.vertices[cf.loops["eye_right"]].mean(0)
    v[IRIS_LEFT] = cf.vertices[cf.loops["eye_left"]].mean(0)
    return v
