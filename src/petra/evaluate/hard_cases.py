"""Hard driving cases for the mesh engine, generated in code from the sample clips.

Users drive ``petra transfer`` with phone and TV clips, not cropped, neutral-start,
frontal talking heads. This module turns the sample clips into such drivers, in
memory (nothing is written next to the sample data or into the repository):

- ``zoom``: a wide shot (face = 1/3 of the frame height) digitally zoomed in to 2.5x
  over the clip, camera centred where the face starts;
- ``pan``: a wide shot with the face at 13 % of the frame height (below the 15 % the
  engine must handle), the camera panning so the face crosses half the frame;
- ``mid_open`` / ``mid_smile``: clips trimmed to start at the frame with the widest
  measured mouth opening / the widest smile (chosen by measurement, not by hand);
- ``turn``: the clips with the largest measured head-turn range.

Each case keeps, per frame, the original (untransformed) source frame, so driver-side
measurements (mouth and eye opening, head rotation) are taken on the clip as filmed.
Clips are chosen from per-clip statistics (:func:`clip_stats`: MediaPipe face mesh,
tracked) over every sample clip.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from petra.video import iter_frames, probe
from petra.errors import NoFaceError
from petra.io import write_json

ZOOM = 2.5           # digital zoom at the end of the zoom case
ZOOM_FACE = 1 / 3    # face height / frame height at the start of the zoom case
PAN_FACE = 0.13      # face height / frame height in the pan case
PAN_SPAN = 0.5       # share of the frame width the face crosses in the pan case
WIDE_SIZE = (640, 360)  # (w, h) of generated wide shots (16:9)


@dataclass
class ClipStats:
    """Per-clip measurements (MediaPipe face mesh, tracked; frames without a face are NaN)."""

    path: str
    fps: float
    size: tuple[int, int]            # (w, h)
    face_h: list[float]              # forehead (10) to chin (152), px
    centre: list[tuple[float, float]]  # face centre (nose bridge 168), px
    yaw: list[float]
    pitch: list[float]
    mouth: list[float]               # inner-lip gap, canonical cm (0 = closed)
    smile: list[float]               # mouth-corner distance / face width
    eyes: list[float] = field(default_factory=list)  # mean lid gap, canonical cm

    @property
    def n(self) -> int:
        return len(self.yaw)


def frame_measures(points: np.ndarray) -> dict[str, float]:
    """Scale-free expression and pose measures of one 478-point mesh (image px)."""
    from petra.geometry.motion import LIP_INNER_LO, LIP_INNER_UP, fit_face, proportions

    fp = fit_face(points)
    yaw, pitch, _ = fp.pose.euler()
    s = fp.shape
    pr = proportions(s)
    return {
        "face_h": float(np.linalg.norm(points[10, :2] - points[152, :2])),
        "cx": float(points[168, 0]), "cy": float(points[168, 1]),
        "yaw": float(yaw), "pitch": float(pitch),
        "mouth": float(np.mean(s[LIP_INNER_UP[3:6], 1] - s[LIP_INNER_LO[3:6], 1])),
        "smile": pr["mouth_w"] / pr["face_w"],
        "eyes": 0.5 * (pr["eye_r_h"] + pr["eye_l_h"]),
    }


def read_clip(path: str | Path, max_frames: int | None = None) -> tuple[float, list[np.ndarray]]:
    """(fps, RGB frames) of a clip."""

    info = probe(path)
    return float(info.fps or 25.0), [f for _, f in iter_frames(path, max_frames=max_frames)]


def clip_stats(path: str | Path, max_frames: int = 300) -> ClipStats:
    """Measure a clip frame by frame (tracked face mesh)."""
    from petra.geometry.facemesh import FaceMesh

    fps, frames = read_clip(path, max_frames)
    rows = []
    with FaceMesh(static=False) as fm:
        for f in frames:
            try:
                rows.append(frame_measures(fm.detect(f)))
            except NoFaceError:
                rows.append(None)
    keys = ("face_h", "cx", "cy", "yaw", "pitch", "mouth", "smile", "eyes")
    col = {k: [float("nan") if r is None else r[k] for r in rows] for k in keys}
    h, w = frames[0].shape[:2]
    return ClipStats(str(path), fps, (w, h), col["face_h"], list(zip(col["cx"], col["cy"])), col["yaw"],
                     col["pitch"], col["mouth"], col["smile"], col["eyes"])


def sample_clips(sample_dir: str | Path) -> list[Path]:
    """Every clip of the sample set, sorted."""
    return sorted(Path(sample_dir, "videos").glob("*/*.mp4"))


def scan(sample_dir: str | Path, cache: str | Path | None = None, max_frames: int = 300) -> list[ClipStats]:
    """:func:`clip_stats` of every sample clip (cached as JSON when ``cache`` is given)."""
    import json

    from tqdm import tqdm

    if cache is not None and Path(cache).exists():
        return [ClipStats(**{**d, "size": tuple(d["size"]), "centre": [tuple(c) for c in d["centre"]]})
                for d in json.loads(Path(cache).read_text())]
    out = [clip_stats(p, max_frames) for p in tqdm(sample_clips(sample_dir), desc="scan clips", leave=False)]
    if cache is not None:

        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        write_json(cache, [asdict(s) for s in out])
    return out


@dataclass(frozen=True)
class CaseSpec:
    """One hard driving case: which clip, which frames, which camera transform."""

    name: str        # e.g. "zoom:id0018/LivePortrait_s18"
    kind: str        # zoom | pan | mid_open | mid_smile | turn
    clip: str        # path of the source clip
    start: int       # first source frame
    frames: int      # number of frames


def _label(path: str) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.stem}"


def _valid(s: ClipStats, need: int) -> bool:
    ok = np.isfinite(s.yaw)
    return s.n >= need and ok.mean() > 0.95


def select_cases(stats: Sequence[ClipStats], per_kind: int = 2, frames: int = 90) -> list[CaseSpec]:
    """Pick the clips for each kind of hard case by measurement.

    - zoom / pan: the clips with the most frame around the face (smallest face height
      over frame height) whose mouth moves, so framing is what is tested;
    - mid_open / mid_smile: start at the widest mouth opening / smile found in the first
      part of the clip, among the clips where it is largest relative to the clip's own
      closed-mouth level (so the start really is mid-expression);
    - turn: the largest yaw range (5th-95th percentile) over ``frames`` frames.
    """
    pool = [s for s in stats if _valid(s, frames)]
    specs: list[CaseSpec] = []

    def mouth_range(s: ClipStats) -> float:
        m = np.asarray(s.mouth[:frames])
        return float(np.nanpercentile(m, 95) - np.nanpercentile(m, 5))

    def room(s: ClipStats) -> float:
        return float(np.nanmedian(s.face_h) / s.size[1])

    moving = [s for s in pool if mouth_range(s) > 0.3]
    for kind in ("zoom", "pan"):
        ranked = sorted(moving, key=room)
        # different clips for the two framing cases
        taken = {sp.clip for sp in specs}
        chosen = [s for s in ranked if s.path not in taken][:per_kind]
        specs += [CaseSpec(f"{kind}:{_label(s.path)}", kind, s.path, 0, frames) for s in chosen]

    for kind, key in (("mid_open", "mouth"), ("mid_smile", "smile")):
        cands = []
        for s in pool:
            v = np.asarray(getattr(s, key))
            last = s.n - frames
            if last < 1:
                continue
            i = int(np.nanargmax(v[:last]))
            base = np.nanpercentile(v, 10)
            spread = np.nanpercentile(v, 90) - base
            cands.append(((v[i] - base) / max(spread, 1e-6) * spread, i, s))
        cands.sort(key=lambda c: -c[0])
        used: set[str] = set()
        for _, i, s in cands:
            ident = Path(s.path).parent.name
            if ident in used:
                continue
            used.add(ident)
            specs.append(CaseSpec(f"{kind}:{_label(s.path)}", kind, s.path, i, frames))
            if len(used) == per_kind:
                break

    def yaw_range(s: ClipStats) -> tuple[float, int]:
        y = np.asarray(s.yaw)
        best, at = -1.0, 0
        for a in range(0, max(s.n - frames, 0) + 1, 10):
            w = y[a:a + frames]
            r = float(np.nanpercentile(w, 95) - np.nanpercentile(w, 5))
            if r > best:
                best, at = r, a
        return best, at

    turns = sorted(((yaw_range(s), s) for s in pool), key=lambda c: -c[0][0])
    used = set()
    for (_, at), s in turns:
        ident = Path(s.path).parent.name
        if ident in used:
            continue
        used.add(ident)
        specs.append(CaseSpec(f"turn:{_label(s.path)}", "turn", s.path, at, frames))
        if len(used) == per_kind:
            break
    return specs


def camera_view(frame: np.ndarray, centre: tuple[float, float], view_h: float, out: tuple[int, int]) -> np.ndarray:
    """The window of height ``view_h`` source px centred at ``centre``, resized to ``out`` (w, h).

    Outside the source frame the edge pixels are replicated (no mirrored faces)."""
    import cv2

    w, h = out
    k = h / view_h
    m = np.array([[k, 0, w / 2 - k * centre[0]], [0, k, h / 2 - k * centre[1]]])
    return cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


@dataclass
class Case:
    """A generated driving clip: ``frames`` (what the engine sees) and ``source`` (as filmed)."""

    spec: CaseSpec
    fps: float
    frames: list[np.ndarray]
    source: list[np.ndarray]


def build_case(spec: CaseSpec, stats: ClipStats) -> Case:
    """Render the driving frames of one case."""
    fps, clip = read_clip(spec.clip, spec.start + spec.frames)
    src = clip[spec.start: spec.start + spec.frames]
    n = len(src)
    if spec.kind in ("zoom", "pan"):
        fh = float(np.nanmedian(stats.face_h[: spec.frames]))
        c0 = stats.centre[int(np.argmax(np.isfinite(stats.yaw)))]
        out = []
        for i, f in enumerate(src):
            u = i / max(n - 1, 1)
            if spec.kind == "zoom":
                view_h = fh / ZOOM_FACE / (ZOOM ** u)   # geometric zoom: constant speed in log scale
                out.append(camera_view(f, c0, view_h, (WIDE_SIZE[1], WIDE_SIZE[1])))
            else:
                view_h = fh / PAN_FACE
                view_w = view_h * WIDE_SIZE[0] / WIDE_SIZE[1]
                # the face goes from 1/4 to 3/4 of the frame width: the camera moves the other way
                cx = c0[0] + view_w * PAN_SPAN * (0.5 - u)
                out.append(camera_view(f, (cx, c0[1]), view_h, WIDE_SIZE))
        frames = out
    else:
        frames = list(src)
    return Case(spec, fps, frames, list(src))


def iter_cases(sample_dir: str | Path, cache: str | Path | None = None, per_kind: int = 2,
               frames: int = 90) -> Iterator[Case]:
    """Scan (or load) the clip statistics, select and build every case."""
    stats = scan(sample_dir, cache)
    by_path = {s.path: s for s in stats}
    for spec in select_cases(stats, per_kind, frames):
        yield build_case(spec, by_path[spec.clip])
