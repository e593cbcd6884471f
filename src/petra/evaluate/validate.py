"""Checks that the evaluators measure what the table claims, before we trust them.

- pose: a face mesh re-rendered at known rotations (its own texture, painter's
  algorithm) must give those rotations back, and a mirrored frame must negate yaw;
- identity: embeddings must separate same-identity from different-identity pairs
  (ROC AUC over the sample set);
- landmark ratios: must move the right way between open and closed eyes / mouths.

The tests in tests/test_eval_validation.py call these and assert; ``petra report``
does not, it only measures.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .stats import roc_auc
from petra.video import iter_frames
from petra.io import write_json
from petra.plotting import pyplot as _mpl, save_figure as _save


# --- known rotations of a rendered mesh ----------------------------------------------------
@dataclass(frozen=True)
class FaceModel:
    """A face's own mesh in the canonical frame plus the image it was seen in (its texture)."""

    image: np.ndarray       # [H, W, 3] uint8 source
    uv: np.ndarray          # [468, 2] source pixels of each vertex
    canonical: np.ndarray   # [468, 3] the vertices in the canonical face frame
    scale: float
    translation: np.ndarray


def face_model(rgb: np.ndarray) -> FaceModel:
    """Fit MediaPipe's mesh to ``rgb`` and express it in the canonical frame."""
    from petra.geometry.facemesh import detect_mesh
    from petra.geometry.frame import fit_similarity

    pts = detect_mesh(rgb)[:468]
    sim = fit_similarity(pts)
    return FaceModel(rgb, pts[:, :2].copy(), sim.to_canonical(pts), sim.scale, sim.translation)


def render_pose(model: FaceModel, yaw: float, pitch: float, roll: float, background: int = 128) -> np.ndarray:
    """The face of ``model`` turned to (yaw, pitch, roll) degrees, textured from its image.

    Orthographic, painter's algorithm (far triangles first), back faces dropped; each
    triangle is an affine warp of its source triangle. Returns RGB uint8 of the source size.
    """
    import cv2

    from petra.geometry.canonical import canonical_face
    from petra.geometry.frame import Similarity, euler_to_rotation

    sim = Similarity(model.scale, euler_to_rotation(yaw, pitch, roll), model.translation)
    dst = sim.to_image(model.canonical)  # [468, 3]; image z: smaller = closer
    tris = canonical_face().triangles
    tris = tris[(tris < 468).all(axis=1)]
    h, w = model.image.shape[:2]
    out = np.full((h, w, 3), background, np.uint8)
    p = dst[tris][:, :, :2]
    cross = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0])
    src_p = model.uv[tris]
    src_cross = (src_p[:, 1, 0] - src_p[:, 0, 0]) * (src_p[:, 2, 1] - src_p[:, 0, 1]) \
        - (src_p[:, 1, 1] - src_p[:, 0, 1]) * (src_p[:, 2, 0] - src_p[:, 0, 0])
    facing = np.sign(cross) == np.sign(np.median(src_cross))  # same winding as the seen face
    order = np.argsort(-dst[tris][:, :, 2].mean(axis=1))
    for t in order:
        if not facing[t] or abs(cross[t]) < 1e-3:
            continue
        s, d = src_p[t].astype(np.float32), p[t].astype(np.float32)
        x0, y0 = np.floor(d.min(0)).astype(int)
        x1, y1 = np.ceil(d.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(s, d - np.float32([x0, y0]))
        patch = cv2.warpAffine(model.image, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round((d - [x0, y0]) * 16).astype(np.int32), 1, cv2.LINE_8, 4)
        roi = out[y0:y1, x0:x1]
        roi[mask > 0] = patch[mask > 0]
    return out


def rotation_errors(pose_fn: Callable[[np.ndarray], tuple[float, float, float] | None], model: FaceModel,
                    poses: Iterable[tuple[float, float, float]]) -> np.ndarray:
    """[N, 3] estimated − applied (yaw, pitch, roll) for each rendered pose (NaN: no face)."""
    errs = []
    for yaw, pitch, roll in poses:
        est = pose_fn(render_pose(model, yaw, pitch, roll))
        errs.append([np.nan] * 3 if est is None else np.subtract(est, (yaw, pitch, roll)))
    return np.asarray(errs, dtype=np.float64)


def flip_yaw_sums(pose_fn: Callable[[np.ndarray], tuple[float, float, float] | None],
                  images: Sequence[np.ndarray]) -> np.ndarray:
    """[N, 3]: yaw + yaw(flipped), yaw(image), yaw(flipped) — the first column should be ~0."""
    rows = []
    for img in images:
        a, b = pose_fn(img), pose_fn(np.ascontiguousarray(img[:, ::-1]))
        if a is not None and b is not None:
            rows.append([a[0] + b[0], a[0], b[0]])
    return np.asarray(rows, dtype=np.float64)


# --- identity separation ---------------------------------------------------------------------
def same_different_scores(embeddings: np.ndarray, identities: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities of all same-identity and all different-identity pairs."""
    e = np.asarray(embeddings, dtype=np.float64)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    sim = e @ e.T
    ids = np.asarray(identities)
    iu = np.triu_indices(len(ids), k=1)
    same = ids[iu[0]] == ids[iu[1]]
    return sim[iu][same], sim[iu][~same]


def identity_auc(embeddings: np.ndarray, identities: Sequence[str]) -> float:
    pos, neg = same_different_scores(embeddings, identities)
    return roc_auc(pos, neg)


def sample_frames(video: str | Path, times_s: Sequence[float]) -> list[np.ndarray]:
    """Frames (RGB uint8) of a video at given times, through petra's ffmpeg wrapper."""

    want = sorted(times_s)
    got: list[np.ndarray] = []
    for t, frame in iter_frames(video, interval_s=None):
        while want and t >= want[0] - 1e-6:
            got.append(frame)
            want.pop(0)
        if not want:
            break
    return got


def pose_jitter(pose_fn: Callable[[np.ndarray], tuple[float, float, float] | None],
                images: Sequence[np.ndarray], shift_px: float = 3.0, scale: float = 0.97) -> np.ndarray:
    """[N, 3] |Δ(yaw, pitch, roll)| between a crop and a slightly shifted, rescaled copy.

    The head did not move, so this is the estimator's noise floor on real frames: pose
    differences below it mean nothing.
    """
    import cv2

    rows = []
    for img in images:
        h, w = img.shape[:2]
        m = np.float32([[scale, 0, (1 - scale) * w / 2 + shift_px], [0, scale, (1 - scale) * h / 2 + shift_px]])
        moved = cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        a, b = pose_fn(img), pose_fn(moved)
        if a is not None and b is not None:
            rows.append(np.abs(np.subtract(a, b)))
    return np.asarray(rows, dtype=np.float64)


def aligned_crops(video: str | Path, times_s: Sequence[float], size: int = 256) -> list[np.ndarray]:
    """FFHQ-aligned crops (the data helper's alignment) of a clip at the given times."""
    from petra.data.ffhq import align_face
    from petra.data.landmarks import Landmarker

    lmk = Landmarker(upsample=0)
    return [align_face(f, lmk(f), size).image for f in sample_frames(video, times_s)]


# Clips for the identity check: one identity per folder, several clips for some.
ID_CLIPS = (
    "id0001/LivePortrait_d0.mp4", "id0004/LivePortrait_d3.mp4", "id0005/LivePortrait_d5.mp4",
    "id0007/LivePortrait_d7.mp4", "id0008/LivePortrait_d8.mp4", "id0010/LivePortrait_d10.mp4",
    "id0012/LivePortrait_d12.mp4", "id0014/LivePortrait_d14.mp4",
    "id0022/SadTalker_WDA_AlexandriaOcasioCortez_000.mp4", "id0022/V-Express_AOC_gt.mp4",
    "id0044/dreamtalk_M030_front_happy_level3_001.mp4", "id0044/dreamtalk_M030_front_surprised_level3_001.mp4",
    "id0099/dreamtalk_W009_front_angry_level3_001.mp4", "id0099/dreamtalk_W009_front_surprised_level3_001.mp4",
    "id0023/SadTalker_WDA_KatieHill_000.mp4", "id0024/SadTalker_RD_Radio2_000.mp4",
    "id0025/SadTalker_RD_Radio34_000.mp4", "id0042/spectre_M024_level_2_surprised_010.mp4",
)
ID_TIMES = (0.3, 1.5)
ROTATIONS = tuple([(y, 0, 0) for y in (-30, -15, 15, 30)] + [(0, p, 0) for p in (-15, 15)]
                  + [(0, 0, r) for r in (-20, 20)] + [(20, 10, -10)])


def run_validation(cfg: Mapping[str, Any], sample_root: Path, out_dir: Path) -> dict[str, Any]:
    """Measure the offline evaluators on the sample clips; write validation.json and two figures."""

    from .identity import DlibResnet
    from .landmarks import Dlib68
    from .pose import create as create_pose

    videos = Path(sample_root) / "videos"
    pose_fn = create_pose(cfg["evaluate"]["backends"]["pose"], cfg)
    frontal = aligned_crops(videos / "id0005/LivePortrait_d5.mp4", [0.0])[0]
    model = face_model(frontal)
    renders = [render_pose(model, *p) for p in ROTATIONS]
    est = [pose_fn(r) for r in renders]
    err = np.array([[np.nan] * 3 if e is None else np.subtract(e, p) for e, p in zip(est, ROTATIONS)])

    lm, net = Dlib68(), DlibResnet()
    crops, ids = [], []
    for clip in ID_CLIPS:
        for c in aligned_crops(videos / clip, ID_TIMES):
            crops.append(c)
            ids.append(clip.split("/")[0])
    embs = np.stack([net(c, lm(c)) for c in crops])
    pos, neg = same_different_scores(embs, ids)
    flips = flip_yaw_sums(pose_fn, crops)
    jit = pose_jitter(pose_fn, crops)
    result = {
        "pose_backend": pose_fn.backend,
        "rotation_abs_error_mean_deg": float(np.nanmean(np.abs(err))),
        "rotation_abs_error_max_deg": float(np.nanmax(np.abs(err))),
        "flip_abs_yaw_sum_mean_deg": float(np.abs(flips[:, 0]).mean()),
        "flip_abs_yaw_sum_max_deg": float(np.abs(flips[:, 0]).max()),
        "noise_floor_mean_abs_deg": dict(zip(("yaw", "pitch", "roll"), map(float, jit.mean(0)))),
        "noise_floor_p95_abs_deg": dict(zip(("yaw", "pitch", "roll"), map(float, np.percentile(jit, 95, 0)))),
        "identity_backend": "dlib", "identity_auc": roc_auc(pos, neg), "identity_pairs_same": len(pos),
        "identity_pairs_different": len(neg), "identity_cos_median_same": float(np.median(pos)),
        "identity_cos_median_different": float(np.median(neg)), "n_crops": len(crops),
    }
    write_json(Path(out_dir) / "validation.json", result)
    _validation_figures(renders, ROTATIONS, est, pos, neg, Path(out_dir) / "figures")
    return result


def _validation_figures(renders, poses, est, pos, neg, fig_dir: Path) -> None:
    import cv2


    plt = _mpl()
    fig, axes = plt.subplots(1, len(renders), figsize=(1.6 * len(renders), 2.2))
    for ax, img, p, e in zip(axes, renders, poses, est):
        ax.imshow(cv2.resize(img, (128, 128), interpolation=cv2.INTER_AREA))
        ax.axis("off")
        got = "no face" if e is None else f"{e[0]:.0f},{e[1]:.0f},{e[2]:.0f}"
        ax.set_title(f"set {p[0]},{p[1]},{p[2]}\ngot {got}", fontsize=7)
    fig.suptitle("Pose evaluator on a re-rendered face: (yaw, pitch, roll) applied vs estimated", fontsize=9)
    fig.tight_layout()
    _save(fig, fig_dir / "validation_pose.png")
    fig, ax = plt.subplots(figsize=(5, 3))
    bins = np.linspace(min(neg.min(), pos.min()), 1, 40)
    ax.hist(neg, bins, alpha=0.6, density=True, label=f"different identity (n={len(neg)})")
    ax.hist(pos, bins, alpha=0.6, density=True, label=f"same identity (n={len(pos)})")
    ax.set_xlabel("cosine similarity (dlib ResNet)")
    ax.set_title(f"dlib-CSIM on sample crops: ROC AUC {roc_auc(pos, neg):.4f}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, fig_dir / "validation_identity.png")
