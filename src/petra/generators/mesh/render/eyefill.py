"""Eye interiors from the driver: what shows when the output opens an eye the target keeps closed.

A target photographed with its eyes closed (or mid-blink, or sleepy) has no eyeball to
show: when the driver opens its eyes, the warp stretches what lies between the target's
lids (lashes, the lid crease, a sliver of shadow) over the whole opening, which reads as
dark holes. As for the mouth (:mod:`.mouth`), the interior (sclera, iris, pupil) is then
taken from the driving frame: its eye-opening triangles are mapped onto the output's, so
the driver's gaze comes with its iris, colour-graded toward the target by the skin around
each eye (brightness, 30 % of the colour, the target skin's saturation:
:mod:`.interior`), and composited inside the blurred output eye contour, under the
target's own lash lines (the lash strips of :mod:`.lids` lie outside the contour).

The weight per eye is a product of smooth steps: how closed the target's eye is (its
*usable* opening, lid gap over eye width, counting 0 for an eye without an eyeball,
:func:`petra.generators.mesh.render.eyes.has_eyeball`: no iris patch; an eye open at least
:data:`USABLE_OPEN` keeps its own eyeball whatever the output does, so open-eyed targets
render exactly as before), the share of the output opening the target cannot fill
(``1 - usable / output``, from :data:`MISSING_FROM`), and how far the output opens beyond
the target's own lids (from :data:`EXTRA_FROM`, so a closed target that stays closed is
untouched).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from petra.geometry.canonical import canonical_face
from . import lids
from .eyes import EYES, has_eyeball
from .interior import InteriorDraw, colour_gain, rasterise, saturation_kept, skin_colour

USABLE_OPEN = 0.2    # a target eye showing an eyeball this open (lid gap / eye width) keeps its own eye
USABLE_SHUT = 0.1    # ... one at most this open (or without an eyeball) counts as closed
MISSING_FROM = 0.5   # share of the output opening the target cannot fill at which the driver's eye comes in
MISSING_FULL = 0.75  # ... and at which it owns the opening
EXTRA_FROM = 0.02    # output opening beyond the target's own (lid gap / eye width) at which it comes in
EXTRA_FULL = 0.08    # ... and from which the weight is the missing share's alone
# Skin around the subject's right eye (MediaPipe rightEyeLower3: the top of the cheek;
# rightEyeUpper2: between lid crease and brow); the left eye uses the mirror twins.
SKIN_RIGHT = np.array([143, 111, 117, 118, 119, 120, 121, 128, 245, 113, 225, 224, 223, 222, 221, 189])


@lru_cache(maxsize=1)
def eye_skin_points() -> tuple[np.ndarray, np.ndarray]:
    """Skin sample vertices around the right and the left eye."""
    return SKIN_RIGHT, canonical_face().mirror[SKIN_RIGHT]


@lru_cache(maxsize=1)
def fill_triangles() -> tuple[np.ndarray, np.ndarray]:
    """Per eye, the face triangles filling its opening (indices into the canonical triangles)."""
    cf = canonical_face()
    return tuple(np.nonzero(np.all(np.isin(cf.triangles, cf.loops[e]), axis=1))[0] for e, _ in EYES)  # type: ignore[return-value]


def eye_openings(pts: np.ndarray) -> np.ndarray:
    """[2] lid gap (middle five columns of the lid margins) over eye width (corner distance), per eye."""
    margin, _, lid_list = lids.chains()
    out = np.zeros(2)
    for e in range(2):
        a, b, up = lid_list[2 * e]
        lo = lid_list[2 * e + 1][2]
        gap = np.linalg.norm(pts[margin[up[1:-1]], :2] - pts[margin[lo[1:-1]], :2], axis=1).mean()
        out[e] = gap / max(float(np.linalg.norm(pts[a, :2] - pts[b, :2])), 1e-6)
    return out


def usable_openings(pts: np.ndarray) -> np.ndarray:
    """[2] the target's openings that show an eyeball (0 for an eye without one)."""
    return np.where([has_eyeball(pts, e, iris) for e, iris in EYES], eye_openings(pts), 0.0)


def _smooth(u: float) -> float:
    u = float(np.clip(u, 0.0, 1.0))
    return u * u * (3 - 2 * u)


def fill_weight(open_out: float, open_tgt: float, usable_tgt: float) -> float:
    """0 -> the target's own eye, 1 -> the driver's eye interior (smooth in between).

    ``open_out`` / ``open_tgt``: output / target lid gap over eye width; ``usable_tgt``: the
    part of the target's opening that shows an eyeball (0 when it has none)."""
    closed = _smooth((USABLE_OPEN - usable_tgt) / (USABLE_OPEN - USABLE_SHUT))
    if open_out <= 0.0 or closed <= 0.0:
        return 0.0
    missing = 1.0 - usable_tgt / open_out
    return (closed * _smooth((missing - MISSING_FROM) / (MISSING_FULL - MISSING_FROM))
            * _smooth((open_out - open_tgt - EXTRA_FROM) / (EXTRA_FULL - EXTRA_FROM)))


def plan_eyes(out_pts: np.ndarray, drv_pts: np.ndarray, drv_img: np.ndarray, open_tgt: np.ndarray,
              usable_tgt: np.ndarray, skin_tgt: np.ndarray, eye_skin_tgt: np.ndarray,
              size: tuple[int, int]) -> tuple[InteriorDraw, ...]:
    """The driver's eye layers of one frame (no gradients); empty when the target's eyes suffice.

    ``open_tgt`` / ``usable_tgt`` [2]: :func:`eye_openings` / :func:`usable_openings` of the
    target; ``skin_tgt`` [3]: its face skin colour (saturation); ``eye_skin_tgt`` [2, 3]: its
    skin around each eye (:func:`eye_skin`)."""
    open_out = eye_openings(out_pts)
    weights = [fill_weight(open_out[e], open_tgt[e], usable_tgt[e]) for e in range(2)]
    if max(weights) <= 0.0:
        return ()
    cf = canonical_face()
    eye_skin_drv = eye_skin(drv_img, drv_pts)
    sat = saturation_kept(skin_tgt, skin_colour(drv_img, drv_pts))
    draws = []
    for e, (name, _) in enumerate(EYES):
        if weights[e] <= 0.0:
            continue
        win = rasterise(out_pts, fill_triangles()[e], cf.loops[name], weights[e], size, erode=False)
        if win is not None:
            draws.append(InteriorDraw(*win, colour_gain(eye_skin_tgt[e], eye_skin_drv[e]), sat))
    return tuple(draws)


def eye_skin(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """[2, 3] float32 mean RGB of the skin around each eye of mesh ``pts`` in ``img``."""
    return np.stack([skin_colour(img, pts, idx) for idx in eye_skin_points()])
