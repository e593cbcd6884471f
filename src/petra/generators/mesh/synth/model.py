"""Random identities: a shape + appearance model fitted to the training identities.

Like an active appearance model, built on petra's mesh generator:

* one near-frontal, mouth-closed aligned crop per *training* identity is fitted
  (:mod:`petra.generators.mesh.fit`) and warped (:class:`petra.generators.mesh.render.warp.MeshWarper`) onto
  the mean frontal mesh, giving shape-free textures ``[N, S, S, 3]``;
* a sample (``seed``) draws PCA coefficients of shape (canonical mesh, cm) and
  texture from a standard normal times each component's standard deviation
  (times ``shape_sigma`` / ``texture_sigma``): a new combination of all the
  identities' variation, not any one of them;
* :meth:`RandomIdentity.render` poses the sampled shape with any yaw / pitch /
  roll and the named expression controls of :mod:`petra.generators.mesh.synth.expressions`, and
  warps the sampled texture with the same renderer every mesh method uses. An
  opened mouth takes its interior from the training frame with the widest open
  mouth (the "mouth donor"), colour-matched by the renderer.

The saved model (``.npz``) holds the per-identity textures and shapes, so the PCA
is recomputed on load (a few hundred ms) and the file stays small.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from petra.errors import InputError, PetraError
from petra.io import atomic_path
from petra.media import read_image
from petra.paths import synth_model

N_POINTS = 478
FEATHER = 0.06     # blend feather inside the face polygon, as a fraction of the texture size


@dataclass(frozen=True)
class IdentityModel:
    """The data of the random-identity model (see the module docstring)."""

    identities: list[str]      # training identities the model was fitted to
    canon: np.ndarray          # [N, 478, 3] canonical shapes (cm)
    textures: np.ndarray       # [N, S, S, 3] uint8, warped onto ``points``
    points: np.ndarray         # [478, 3] mean frontal mesh in texture pixels
    scale: float               # similarity of the mean frontal mesh (see petra.geometry.frame)
    translation: np.ndarray    # [3]
    donor: np.ndarray          # [S, S, 3] uint8, the open-mouth donor frame
    donor_points: np.ndarray   # [478, 3]
    sources: list[str]         # aligned_path of each identity's frame
    embeddings: np.ndarray     # [M, 128] dlib descriptors of the identities' frames (novelty check)
    embedding_ids: list[str]   # identity of each descriptor row

    @property
    def size(self) -> int:
        return int(self.textures.shape[1])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh, identities=np.asarray(self.identities, dtype=str), canon=self.canon.astype(np.float32),
                    textures=self.textures, points=self.points.astype(np.float32), scale=np.float64(self.scale),
                    translation=self.translation.astype(np.float64), donor=self.donor,
                    donor_points=self.donor_points.astype(np.float32), sources=np.asarray(self.sources, dtype=str),
                    embeddings=self.embeddings.astype(np.float32), embedding_ids=np.asarray(self.embedding_ids, dtype=str),
                )
        return path

    @classmethod
    def load(cls, path: str | Path) -> "IdentityModel":
        path = Path(path)
        if not path.is_file():
            raise InputError(path, "random-identity model not found; run `petra synth --build` first")
        try:
            with np.load(path, allow_pickle=False) as d:
                return cls(d["identities"].tolist(), d["canon"].astype(np.float64), d["textures"],
                           d["points"].astype(np.float64), float(d["scale"]), d["translation"].astype(np.float64),
                           d["donor"], d["donor_points"].astype(np.float64), d["sources"].tolist(),
                           d["embeddings"].astype(np.float64), d["embedding_ids"].tolist())
        except (KeyError, ValueError, OSError) as err:
            raise InputError(path, f"not a random-identity model ({err})") from None


def _mouth_gap(points: np.ndarray) -> float:
    """Inner-lip gap over the eye-corner distance (0 = closed)."""
    return float(np.linalg.norm(points[14, :2] - points[13, :2]) / max(np.linalg.norm(points[263, :2] - points[33, :2]), 1e-6))


def choose_frames(manifest: "pd.DataFrame", fits: Any, split: str = "train",  # noqa: F821
                  max_identities: int | None = None) -> tuple[list[str], list[str], str]:
    """(identities, one frontal closed-mouth aligned_path each, the open-mouth donor path)."""
    df = manifest[manifest["split"] == split]
    df = df[df["aligned_path"].astype(str).map(fits.__contains__)]
    if df["identity"].nunique() < 2:
        raise PetraError(f"split {split!r}: need frames of at least 2 identities with mesh fits")
    ids, paths, best_gap, donor = [], [], -1.0, ""
    for ident, g in sorted(df.groupby("identity"), key=lambda kv: kv[0]):
        scored = []
        for p in sorted(g["aligned_path"].astype(str)):
            f = fits.get(p)
            gap = _mouth_gap(f.points)
            yaw, pitch, roll = (float(a) for a in f.pose)
            scored.append((abs(yaw) + abs(pitch) + 0.5 * abs(roll) + 60.0 * gap, p))
            if gap > best_gap and abs(yaw) < 15 and abs(pitch) < 15:
                best_gap, donor = gap, p
        ids.append(str(ident))
        paths.append(min(scored)[1])
        if max_identities and len(ids) >= max_identities:
            break
    return ids, paths, donor


def build_identity_model(
    manifest: "pd.DataFrame",  # noqa: F821
    fits: Any,
    root: str | Path = ".",
    split: str = "train",
    max_identities: int | None = None,
    frames_per_identity: int = 4,
) -> IdentityModel:
    """Fit the model to one split's identities (see the module docstring).

    Also stores dlib descriptors of up to ``frames_per_identity`` frames of each
    identity, against which :meth:`IdentitySampler.sample` checks novelty.
    """
    from .identity_check import embed
    from tqdm import tqdm

    from petra.generators.mesh.render.warp import MeshWarper

    ids, paths, donor_path = choose_frames(manifest, fits, split, max_identities)
    fs = [fits.get(p) for p in paths]
    canon = np.stack([f.canon for f in fs]).astype(np.float64)
    scale = float(np.mean([f.scale for f in fs]))
    trans = np.mean([f.translation for f in fs], 0).astype(np.float64)
    mean_pts = _frontal_points(canon.mean(0), scale, trans)
    textures = []
    for p, f in zip(tqdm(paths, desc="synth: textures", unit="id"), fs):
        img = read_image(Path(root) / p)
        textures.append(MeshWarper(img, f.points.astype(np.float64), gaze=False).render(mean_pts))
    donor = read_image(Path(root) / donor_path)
    embs, emb_ids = [], []
    df = manifest[manifest["split"] == split]
    for ident in tqdm(ids, desc="synth: embeddings", unit="id"):
        frames = sorted(df.loc[df["identity"] == ident, "aligned_path"].astype(str))
        step = max(1, len(frames) // frames_per_identity)
        for p in frames[::step][:frames_per_identity]:
            e = embed(read_image(Path(root) / p))
            if e is not None:
                embs.append(e)
                emb_ids.append(ident)
    return IdentityModel(ids, canon, np.stack(textures), mean_pts, scale, trans, donor,
                         fits.get(donor_path).points.astype(np.float64), paths,
                         np.asarray(embs, np.float64).reshape(-1, 128), emb_ids)


def _frontal_points(canon: np.ndarray, scale: float, trans: np.ndarray, yaw: float = 0.0, pitch: float = 0.0,
                    roll: float = 0.0) -> np.ndarray:
    from petra.geometry.frame import Similarity, euler_to_rotation

    return Similarity(scale, euler_to_rotation(yaw, pitch, roll), trans).to_image(canon)


class _Pca:
    """Mean and principal directions (rows) with per-component standard deviations."""

    def __init__(self, x: np.ndarray, k: int) -> None:
        self.mean = x.mean(0)
        u, s, vt = np.linalg.svd(x - self.mean, full_matrices=False)
        k = max(1, min(k, len(x) - 1))
        self.components = vt[:k]
        self.std = s[:k] / np.sqrt(max(len(x) - 1, 1))
        # whitened coordinates of the data: a draw is kept inside their range per component
        self.coords = u[:, :k] * np.sqrt(max(len(x) - 1, 1))
        self.lo, self.hi = self.coords.min(0), self.coords.max(0)

    def sample(self, rng: np.random.Generator, sigma: float, clip: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """A draw on the sphere of radius ``sigma * sqrt(k)`` in whitened coordinates.

        A plain Gaussian draw often lands near the mean, i.e. the average face, which
        every face recogniser finds close to everybody; fixing the whitened radius to
        that of a typical real identity keeps each draw as distinct as a real person.
        With ``clip`` each coefficient is also kept within the data's range: beyond it a
        texture component adds "negative faces" (light glasses rims, dark smears).
        """
        c = rng.standard_normal(len(self.std))
        c *= sigma * np.sqrt(len(c)) / max(np.linalg.norm(c), 1e-9)
        if clip:
            c = np.clip(c, self.lo, self.hi)
        return self.mean + (c * self.std) @ self.components, c


class IdentitySampler:
    """Draws :class:`RandomIdentity` s from an :class:`IdentityModel`."""

    def __init__(self, model: IdentityModel, components: int = 30, shape_sigma: float = 1.0, texture_sigma: float = 1.0,
                 novelty_margin: float = 0.65, max_tries: int = 8) -> None:
        self.model = model
        self.novelty_margin = float(novelty_margin)
        self.max_tries = int(max_tries)
        n = len(model.identities)
        self.shape_pca = _Pca(model.canon.reshape(n, -1), components)
        self.tex_pca = _Pca(model.textures.reshape(n, -1).astype(np.float32), components)
        self.shape_sigma = float(shape_sigma)
        self.texture_sigma = float(texture_sigma)

    def sample(self, seed: int) -> "RandomIdentity":
        """The identity of ``seed``: the first draw farther than ``novelty_margin`` (dlib) from
        every stored training frame, else the farthest of ``max_tries`` draws."""
        from .identity_check import embed

        rng = np.random.default_rng([int(seed), 0x51D])
        best: tuple[float, RandomIdentity] | None = None
        for _ in range(max(1, self.max_tries)):
            cand = self._draw(int(seed), rng)
            if not len(self.model.embeddings) or self.novelty_margin <= 0:
                return cand
            e = embed(cand.render())
            d = float(np.linalg.norm(self.model.embeddings - e, axis=1).min()) if e is not None else -1.0
            cand.novelty = d
            if d >= self.novelty_margin:
                return cand
            if best is None or d > best[0]:
                best = (d, cand)
        assert best is not None
        return best[1]

    def _draw(self, seed: int, rng: np.random.Generator) -> "RandomIdentity":
        shape, _ = self.shape_pca.sample(rng, self.shape_sigma)
        tex, _ = self.tex_pca.sample(rng, self.texture_sigma, clip=True)
        m = self.model
        canon = shape.reshape(N_POINTS, 3)
        face = tex.reshape(m.textures.shape[1:])
        host = self._host(rng)
        # Hair, ears and background from one "host" training frame: a PCA mixture of
        # many backgrounds is a streaky ghost, while identity lives in the inner face.
        host_tex = m.textures[host].astype(np.float64)
        texture = np.clip(self.blend(face, host_tex) + 0.5, 0, 255).astype(np.uint8)
        return RandomIdentity(int(seed), canon, texture, m, host)

    def _host(self, rng: np.random.Generator) -> int:
        """The host, uniformly among the training frames. (Choosing the best shape/tone match
        among a few was tried: it repeats hosts and broke the pose/mouth read-back tests.)"""
        return int(rng.integers(len(self.model.identities)))

    def blend(self, face: np.ndarray, host: np.ndarray) -> np.ndarray:
        """Paste the sampled inner ``face`` [S, S, 3] into ``host`` (float, 0-255), without a seam.

        Poisson-style: a smooth (harmonic) offset field that equals ``host - face`` on the
        blend polygon's edge is added to the face, so its colour and shading meet the
        host's forehead, cheeks and chin exactly while every detail inside (the identity)
        stays the draw's; then a mask feathered *inside* the polygon fades to the host.
        """
        import cv2

        a = self.face_mask[..., None]
        # first the face's colour statistics to the host's face (per channel, inside the mask):
        # the offset below then only removes what is left at the edge, not a whole tone change
        w = a[..., 0] > 0.5
        mu_f, sd_f = face[w].mean(0), face[w].std(0) + 1e-6
        mu_h, sd_h = host[w].mean(0), host[w].std(0) + 1e-6
        face = (face - mu_f) * np.clip(sd_h / sd_f, 0.7, 1.4) + mu_h
        diff = cv2.GaussianBlur((host - face).astype(np.float32), (0, 0), self.model.size / 128)
        inner, ring, lu, rhs_op = self._membrane
        offset = np.zeros_like(face)
        vals = diff[ring[0], ring[1]].astype(np.float64)  # [R, 3] boundary values
        sol = lu.solve(rhs_op @ vals)
        offset[inner[0], inner[1]] = sol
        offset[ring[0], ring[1]] = vals
        face = face + offset
        # the edge now matches; keep the inner face as bright as the host's (a flatter PCA face
        # would otherwise come out darker in the middle: "muddy") with a bump that is 0 on the edge
        bump = self._bump
        core = bump > 0.99
        face += (host[core].mean(0) - face[core].mean(0)) * bump[..., None]
        return a * face + (1.0 - a) * host

    @property
    def _inside(self) -> np.ndarray:
        """[S, S] uint8 blend polygon of the mean frontal mesh (rasterised once per sampler)."""
        if getattr(self, "_poly", None) is None:
            from .quality import polygon_mask

            self._poly = polygon_mask(self.model.points, self.model.size)
        return self._poly

    @property
    def _bump(self) -> np.ndarray:
        """[S, S] 0 on the blend polygon's edge rising smoothly to 1 at 12% of the face size inside."""
        if getattr(self, "_bm", None) is None:
            from .quality import inner_ramp

            self._bm = inner_ramp(self._inside, 0.12 * self.model.size)
        return self._bm

    @property
    def _membrane(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], Any, Any]:
        """The factorised Laplace problem on the blend polygon (built once per sampler)."""
        if getattr(self, "_mem", None) is None:
            import cv2
            import scipy.sparse as sp
            from scipy.sparse.linalg import splu

            n, inside = self.model.size, self._inside
            ring_m = (cv2.dilate(inside, np.ones((3, 3), np.uint8)) > 0) & (inside == 0)
            inner, ring = np.nonzero(inside), np.nonzero(ring_m)
            idx = -np.ones((n, n), np.int64)
            idx[inner] = np.arange(len(inner[0]))
            ridx = -np.ones((n, n), np.int64)
            ridx[ring] = np.arange(len(ring[0]))
            rows, cols, vals, brow, bcol = [], [], [], [], []
            for i, (y, x) in enumerate(zip(*inner)):
                rows.append(i), cols.append(i), vals.append(4.0)
                for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if idx[yy, xx] >= 0:
                        rows.append(i), cols.append(int(idx[yy, xx])), vals.append(-1.0)
                    elif ridx[yy, xx] >= 0:
                        brow.append(i), bcol.append(int(ridx[yy, xx]))
            k = len(inner[0])
            lap = sp.csc_matrix((vals, (rows, cols)), shape=(k, k))
            rhs = sp.csr_matrix((np.ones(len(brow)), (brow, bcol)), shape=(k, len(ring[0])))
            self._mem = (inner, ring, splu(lap), rhs)
        return self._mem

    @property
    def face_mask(self) -> np.ndarray:
        """Soft mask [S, S] of the blend polygon, 0 on its edge and 1 from ``FEATHER`` of the face
        size inside: a feather centred on the edge would show the face's blurry rim."""
        if getattr(self, "_mask", None) is None:
            from .quality import inner_ramp

            self._mask = inner_ramp(self._inside, FEATHER * self.model.size).astype(np.float32)
        return self._mask


class RandomIdentity:
    """One sampled identity: canonical shape + shape-free texture, renderable in any pose/expression."""

    def __init__(self, seed: int, canon: np.ndarray, texture: np.ndarray, model: IdentityModel, host: int = -1) -> None:
        from petra.generators.mesh.render.warp import MeshWarper

        self.seed = seed
        self.host = host  # index of the training identity lending hair and background
        self.novelty = float("nan")  # dlib distance to the nearest training frame (when checked)
        self.canon = canon
        self.texture = texture
        self.model = model
        self._warper = MeshWarper(texture, model.points, gaze=True)

    def mesh(self, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0,
             expression: Mapping[str, float] | None = None) -> np.ndarray:
        """Output mesh [478, 3] in crop pixels for a pose (degrees) and expression controls."""
        from petra.geometry.motion import close_lids
        from .expressions import expression_offsets

        face_w = abs(self.canon[454, 0] - self.canon[234, 0])
        ref_w = abs(self.model.canon[:, 454, 0] - self.model.canon[:, 234, 0]).mean()
        shape = close_lids(self.canon + expression_offsets(expression or {}, face_w / ref_w))
        return _frontal_points(shape, self.model.scale, self.model.translation, yaw, pitch, roll)

    def render(self, yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0,
               expression: Mapping[str, float] | None = None) -> np.ndarray:
        """RGB uint8 [S, S, 3] aligned crop of this identity."""
        m = self.model
        return self._warper.render(self.mesh(yaw, pitch, roll, expression), m.donor, m.donor_points)


def sampler_from_config(cfg: Mapping[str, Any], model_path: str | Path | None = None) -> IdentitySampler:
    p = cfg.get("synth") or {}
    model = IdentityModel.load(model_path or default_model_path(cfg))
    return IdentitySampler(model, int(p.get("components", 30)), float(p.get("shape_sigma", 1.0)),
                           float(p.get("texture_sigma", 1.0)), float(p.get("novelty_margin", 0.65)),
                           int(p.get("max_tries", 8)))


def default_model_path(cfg: Mapping[str, Any]) -> Path:
    return synth_model(cfg)


__all__: Sequence[str] = ["IdentityModel", "IdentitySampler", "RandomIdentity", "build_identity_model",
                          "sampler_from_config", "default_model_path", "choose_frames"]
