"""Mesh fits per manifest frame: E_i / E_m inputs of the mesh recipe, computed once.

Running MediaPipe inside every training step would cost more than the step
itself, so the ``latents`` stage fits every aligned crop once: ``petra latents
--backend mesh`` runs :func:`mesh_backend` through the shared shard store
(``<data>/latents/mesh/``), and :meth:`MeshFits.load` reads that folder (or a
single ``.npz`` written by :meth:`MeshFits.save`). Arrays per frame:

* ``points`` ``[N, 478, 3]`` float32: MediaPipe mesh in aligned-crop pixels;
* ``canon`` ``[N, 478, 3]`` float32: the same points in the canonical face frame
  (pose and scale removed, cm; irises included);
* ``scale`` ``[N]``, ``rotation`` ``[N, 3, 3]``, ``translation`` ``[N, 3]``: the
  similarity ``camera = s R canon + t`` of :mod:`petra.geometry.frame`;
* ``pose`` ``[N, 3]``: yaw, pitch, roll in degrees; ``ok`` ``[N]`` bool.

Frames without a face are kept with ``ok=False`` (zeros) and reported as rejects.
The file is a pure function of the manifest's crops, so reruns give the same bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from petra.errors import InputError
from petra.io import atomic_path
from petra.media import read_image
from petra.paths import latents_dir

N_POINTS = 478
FIELDS = ("points", "canon", "scale", "rotation", "translation", "pose", "ok")


@dataclass(frozen=True)
class MeshFit:
    """One frame's fit (see the module docstring for the fields)."""

    points: np.ndarray       # [478, 3] px
    canon: np.ndarray        # [478, 3] cm
    scale: float
    rotation: np.ndarray     # [3, 3]
    translation: np.ndarray  # [3]
    pose: np.ndarray         # [3] yaw, pitch, roll degrees

    @property
    def iris(self) -> np.ndarray:
        """Iris centres relative to their eye corners, canonical cm: [4] (right x,y, left x,y)."""
        return iris_offsets(self.canon)


def iris_offsets(canon: np.ndarray) -> np.ndarray:
    """Gaze feature: each iris centre minus the midpoint of its eye corners (canonical x, y).

    canon: [..., 478, 3] -> [..., 4].
    """
    r = canon[..., 468, :2] - 0.5 * (canon[..., 33, :2] + canon[..., 133, :2])
    l_ = canon[..., 473, :2] - 0.5 * (canon[..., 362, :2] + canon[..., 263, :2])
    return np.concatenate([r, l_], axis=-1)


def fit_points(points: np.ndarray) -> MeshFit:
    """Fit the canonical frame to a 478-point mesh given in pixels."""
    from petra.geometry.frame import fit_similarity

    sim = fit_similarity(points)
    canon = sim.to_canonical(points)
    return MeshFit(
        points=points.astype(np.float32),
        canon=canon.astype(np.float32),
        scale=float(sim.scale),
        rotation=sim.rotation.astype(np.float32),
        translation=sim.translation.astype(np.float32),
        pose=np.asarray(sim.euler(), dtype=np.float32),
    )


def fit_image(rgb: np.ndarray, mesh: Any = None, path: str = "<array>") -> MeshFit:
    """Mesh + canonical fit of one RGB uint8 image; raises NoFaceError when there is no face."""
    from petra.geometry.facemesh import FaceMesh

    if mesh is None:
        with FaceMesh(static=True) as fm:
            return fit_points(fm.detect(rgb, path))
    return fit_points(mesh.detect(rgb, path))


class MeshFits:
    """The fit table of one manifest, indexed by ``aligned_path``."""

    def __init__(self, paths: Sequence[str], arrays: Mapping[str, np.ndarray]) -> None:
        self.paths = [str(p) for p in paths]
        self.index = {p: i for i, p in enumerate(self.paths)}
        self.arrays = {k: np.asarray(arrays[k]) for k in FIELDS}

    def __len__(self) -> int:
        return len(self.paths)

    def __contains__(self, path: str) -> bool:
        i = self.index.get(str(path))
        return i is not None and bool(self.arrays["ok"][i])

    def rows(self, paths: Iterable[str]) -> np.ndarray:
        """Row numbers of ``paths``; KeyError for a path without a good fit."""
        out = []
        for p in paths:
            i = self.index.get(str(p))
            if i is None or not self.arrays["ok"][i]:
                raise KeyError(f"no mesh fit for {p}")
            out.append(i)
        return np.asarray(out, dtype=np.int64)

    def get(self, path: str) -> MeshFit:
        i = int(self.rows([path])[0])
        a = self.arrays
        return MeshFit(a["points"][i], a["canon"][i], float(a["scale"][i]), a["rotation"][i], a["translation"][i], a["pose"][i])

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, aligned_path=np.asarray(self.paths, dtype=str), **self.arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "MeshFits":
        """A ``.npz`` fit table, or a latents-store folder of the ``mesh`` backend."""
        path = Path(path)
        if path.is_dir():
            return cls.from_store(path)
        if not path.is_file():
            raise InputError(path, "mesh fits not found; run `petra latents` with generator mesh first")
        try:
            with np.load(path, allow_pickle=False) as d:
                return cls(d["aligned_path"].tolist(), {k: d[k] for k in FIELDS})
        except (KeyError, ValueError, OSError) as err:
            raise InputError(path, f"not a mesh-fit file ({err})") from None


    @classmethod
    def from_store(cls, folder: str | Path) -> "MeshFits":
        """Read every shard of ``petra latents --backend mesh`` (sha256-checked)."""
        from petra.latents.store import read_shard

        shards = sorted(Path(folder).glob("shard-*.pt"))
        if not shards:
            raise InputError(folder, "no mesh-fit shards; run `petra latents --backend mesh` first")
        paths: list[str] = []
        parts: dict[str, list[np.ndarray]] = {k: [] for k in FIELDS}
        for sh in shards:
            obj = read_shard(sh)
            paths += list(obj["keys"])
            for k in FIELDS:
                parts[k].append(obj["arrays"][k].numpy())
        arrays = {k: np.concatenate(v) for k, v in parts.items()}
        arrays["ok"] = arrays["ok"] > 0.5
        return cls(paths, arrays)


class MeshBackend:
    """The ``mesh`` latents backend: :func:`fit_image` per crop, ``ok=0`` rows where no face is found."""

    name = "mesh"

    def __init__(self) -> None:
        from petra.geometry.facemesh import FaceMesh

        self._fm = FaceMesh(static=True)

    def encode(self, images: list[np.ndarray]) -> dict[str, np.ndarray]:
        out: dict[str, list[np.ndarray]] = {k: [] for k in FIELDS}
        for img in images:
            try:
                f: MeshFit | None = fit_image(img, self._fm)
            except InputError:
                f = None
            for k in FIELDS[:-1]:
                ref = np.zeros_like(np.asarray(getattr(_ZERO, k)))
                out[k].append(np.asarray(getattr(f, k), np.float32) if f is not None else ref.astype(np.float32))
            out["ok"].append(np.float32(f is not None))
        return {k: np.stack(v) for k, v in out.items()}


_ZERO = MeshFit(np.zeros((N_POINTS, 3)), np.zeros((N_POINTS, 3)), 0.0, np.zeros((3, 3)), np.zeros(3), np.zeros(3))


def mesh_backend(cfg: Mapping[str, Any], device: Any = "cpu") -> MeshBackend:
    """Latents backend ``mesh`` (registered in :mod:`petra.generators`)."""
    return MeshBackend()


def fit_manifest(
    manifest: "pd.DataFrame",  # noqa: F821
    root: str | Path = ".",
    progress: bool = True,
) -> tuple[MeshFits, list[dict[str, str]]]:
    """Fit every aligned crop of the manifest; returns the table and the rejects rows."""
    from tqdm import tqdm

    from petra.geometry.facemesh import FaceMesh

    paths = sorted(set(manifest["aligned_path"].astype(str)))
    n = len(paths)
    arrays = {
        "points": np.zeros((n, N_POINTS, 3), np.float32),
        "canon": np.zeros((n, N_POINTS, 3), np.float32),
        "scale": np.zeros(n, np.float32),
        "rotation": np.zeros((n, 3, 3), np.float32),
        "translation": np.zeros((n, 3), np.float32),
        "pose": np.zeros((n, 3), np.float32),
        "ok": np.zeros(n, bool),
    }
    rejects: list[dict[str, str]] = []
    with FaceMesh(static=True) as fm:
        for i, p in enumerate(tqdm(paths, desc="mesh fits", unit="frame", disable=not progress)):
            try:
                fit = fit_image(read_image(Path(root) / p), fm, p)
            except InputError as err:
                rejects.append({"path": p, "stage": "latents", "reason": err.reason})
                continue
            for k in ("points", "canon", "scale", "rotation", "translation", "pose"):
                arrays[k][i] = getattr(fit, k)
            arrays["ok"][i] = True
    return MeshFits(paths, arrays), rejects


def default_fits_path(cfg: Mapping[str, Any]) -> Path:
    """The latents stage's mesh folder (``<data>/latents/mesh``), which :meth:`MeshFits.load` reads."""

    return latents_dir(cfg, "mesh")
