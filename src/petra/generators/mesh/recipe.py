"""The thesis recipe on the mesh generator: ``g = G(M(E_m(s) ⊕ E_i(t)), t)``.

* E_i(t): the frozen mesh fit of the target (:mod:`petra.generators.mesh.fit`, cached per
  manifest frame) and the target crop itself as texture.
* E_m, M: :mod:`petra.generators.mesh.nets` (the "Gen" variant is the refine recipe,
  :mod:`petra.generators.mesh.refine`).
* the base mesh: the hand-made transfer of :mod:`petra.geometry.motion`
  (:func:`~petra.geometry.motion.compose_params`: target identity + retargeted
  source expression, and the crop placement), the same computation as
  ``mesh-relative`` / ``mesh-absolute`` (``train_mesh.inference`` picks the mode;
  relative uses the driving video's first frame, in training the frame t_A of the
  source's own video). M adds a zero-initialised residual and a pose correction on
  top of the *source's* head pose, so an untrained model is the hand-made transfer
  with the source's absolute pose;
* G: :mod:`petra.generators.mesh.render.torch_warp` moves the target's mesh points onto the output
  mesh (the base placement, the output pose).

Loss terms of one :class:`~petra.train.sampler.PairBatch` (weights in
``params.yaml: train_mesh.weights``; zero weight = not computed):

* self-reenactment (s_A, t_A): the thesis's ``l2``, ``lpips``, ``l2_crop``,
  ``lpips_crop`` between g_AA and s_A, and ``landmark``: mean distance between
  g_AA's mesh and s_A's mesh (in units of the crop size);
* cross-identity (s_A, t_R): ``id_shape``: the rigid (bone) region of g_AR's
  canonical mesh stays the target's (mean squared cm), the mesh stand-in for the
  thesis's ArcFace identity term (no face-embedding network can be trained
  through offline here; ID-CSIM is still measured with dlib at evaluation);
  ``cos``: CosFace on E_m descriptors (positives E_m(g_AA), E_m(g_AR) vs E_m(s_A),
  negatives E_m(s_R)), computed on the output meshes;
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np
import torch

from petra.config import build
from petra.params import Mesh, TrainCosface, TrainMesh
from petra.train import losses as L
from petra.train.sampler import PairBatch

from .fit import MeshFits, iris_offsets
from .nets import MeshMapper, MotionEncoder
from .render.torch_warp import render as mesh_render
from .train_warp import project

if TYPE_CHECKING:
    from petra.geometry.motion import FaceParams

MESH_TERMS = ("l2", "lpips", "l2_crop", "lpips_crop", "landmark", "id_shape", "cos")


@dataclass(frozen=True)
class MeshOptions:
    """The E_m/M recipe's settings: its ``train_mesh`` keys and ``train.cosface`` (values: params.yaml only)."""

    motion_dim: int                 # E_m descriptor size
    hidden: int                     # MLP width of E_m and M
    id_dim: int                     # E_i(t) projection size inside M
    inference: str                  # base transfer mode: relative (vs a reference frame) | absolute
    fits: str | None                # mesh-fit file (None: <data>/latents/mesh/mesh_fits.npz)
    weights: Mapping[str, float]    # loss weights (zero or absent = the term is not computed)
    cos_a: float                    # CosFace scale (train.cosface.a)
    cos_b: float                    # CosFace margin (train.cosface.b)

    @classmethod
    def from_params(cls, mesh: Mapping[str, Any] | None, cosface: Mapping[str, Any] | None = None) -> "MeshOptions":
        """From a run's merged ``train_mesh`` and its ``cosface``, typed and checked by
        :func:`petra.config.build`: an unknown key is one line naming it and ``train_mesh``,
        a missing one takes params.yaml's value."""
        tm, cos = build(TrainMesh, mesh), build(TrainCosface, cosface)
        return cls(tm.motion_dim, tm.hidden, tm.id_dim, tm.inference, tm.fits, dict(tm.weights), cos.a, cos.b)

    def w(self, term: str) -> float:
        return float(self.weights.get(term, 0.0))


def max_shift_px(cfg: Mapping[str, Any]) -> float:
    """``mesh.max_shift`` (fraction of the crop) in aligned-crop pixels, as ``mesh-relative`` uses it."""
    return build(Mesh, cfg.get("mesh")).max_shift * float(cfg["align"]["size"])


def face_params(f: Mapping[str, torch.Tensor], i: int) -> "FaceParams":
    """Row ``i`` of a fit batch as the geometry module's :class:`~petra.geometry.motion.FaceParams`."""
    from petra.geometry.frame import Similarity
    from petra.geometry.motion import FaceParams, neutral_shape

    canon = f["canon"][i].detach().cpu().double().numpy()
    pose = Similarity(float(f["scale"][i]), f["rotation"][i].detach().cpu().double().numpy(),
                      f["translation"][i].detach().cpu().double().numpy())
    return FaceParams(pose, canon, neutral_shape(canon))


def hand_made(tgt: Mapping[str, torch.Tensor], src: Mapping[str, torch.Tensor],
              ref: Mapping[str, torch.Tensor] | None, mode: str, max_shift: float | None) -> dict[str, torch.Tensor]:
    """The hand-made transfer per row (:func:`petra.geometry.motion.compose_params`).

    Returns the base canonical mesh ``canon`` [B,478,3] and the placement ``scale`` [B],
    ``translation`` [B,3] (the similarity's rotation is not used: M poses the mesh with
    the source's own head pose). ``ref`` None in relative mode = the source itself.
    """
    from petra.geometry.motion import compose_params

    canon, scale, trans = [], [], []
    for i in range(len(tgt["canon"])):
        r = face_params(ref, i) if ref is not None else None
        pose, shape = compose_params(face_params(tgt, i), face_params(src, i), r, mode,  # type: ignore[arg-type]
                                     max_shift=max_shift)
        canon.append(shape)
        scale.append(pose.scale)
        trans.append(pose.translation)
    dev = tgt["canon"].device
    return {"canon": torch.as_tensor(np.stack(canon), dtype=torch.float32, device=dev),
            "scale": torch.as_tensor(np.asarray(scale), dtype=torch.float32, device=dev),
            "translation": torch.as_tensor(np.stack(trans), dtype=torch.float32, device=dev)}


def _rigid_index() -> torch.Tensor:
    from petra.geometry.canonical import canonical_face

    return torch.as_tensor(canonical_face().rigid, dtype=torch.long)


class MeshRecipe:
    """E_m and M over cached mesh fits; see the module docstring."""

    def __init__(self, opts: MeshOptions, fits: MeshFits, align_size: int, lpips_fn: Any = None,
                 device: str | torch.device = "cpu", seed: int = 0, max_shift: float | None = None) -> None:
        torch.manual_seed(seed)
        self.opts = opts
        self.max_shift = max_shift  # px at align_size (mesh.max_shift): the base transfer's shift clamp
        self.fits = fits
        self.align_size = int(align_size)
        self.device = torch.device(device)
        self.lpips = lpips_fn
        self.E_m = MotionEncoder(opts.motion_dim, opts.hidden).to(self.device)
        self.M = MeshMapper(opts.motion_dim, opts.id_dim, opts.hidden).to(self.device)
        self.rigid = _rigid_index().to(self.device)
        self._fit_t = {k: torch.from_numpy(np.ascontiguousarray(fits.arrays[k])).float()
                       for k in ("points", "canon", "scale", "rotation", "translation", "pose")}

    # -- the contract of petra.train.recipe.Recipe ---------------------------------
    def modules(self) -> dict[str, torch.nn.Module]:
        return {"E_m": self.E_m, "M": self.M}

    def trainable_parameters(self) -> Iterable[torch.nn.Parameter]:
        for m in self.modules().values():
            yield from m.parameters()

    def train(self, mode: bool = True) -> "MeshRecipe":
        for m in self.modules().values():
            m.train(mode)
        return self

    def state_dict(self) -> dict[str, dict[str, Any]]:
        return {k: m.state_dict() for k, m in self.modules().items()}

    def load_state_dict(self, parts: Mapping[str, Mapping[str, Any]]) -> None:
        for k, m in self.modules().items():
            if k in parts:
                m.load_state_dict(parts[k])

    def step(self, batch: PairBatch) -> dict[str, torch.Tensor]:
        terms = self._terms(batch, train=True)
        return terms

    @torch.no_grad()
    def validate(self, batch: PairBatch) -> dict[str, float]:
        return {k: float(v) for k, v in self._terms(batch, train=False).items()}

    # -- the forward pass shared by training and inference -------------------------
    def fit_tensors(self, paths: list[str]) -> dict[str, torch.Tensor]:
        rows = torch.from_numpy(self.fits.rows(paths))
        return {k: v[rows].to(self.device) for k, v in self._fit_t.items()}

    def motion(self, canon: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """E_m on a mesh (canonical points [B,478,3], pose [B,3] degrees)."""
        return self.E_m(canon, pose, _iris(canon))

    def base(self, src: Mapping[str, torch.Tensor], tgt: Mapping[str, torch.Tensor],
             ref: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """The hand-made transfer (:func:`hand_made`) in this recipe's mode; ``ref`` only matters in relative mode."""
        mode = self.opts.inference
        if mode not in ("relative", "absolute"):
            raise ValueError(f"train_mesh.inference must be relative or absolute, not {mode!r}")
        return hand_made(tgt, src, ref if mode == "relative" else None, mode, self.max_shift)

    def forward_mesh(self, src: Mapping[str, torch.Tensor], tgt: Mapping[str, torch.Tensor], size: int,
                     ref: Mapping[str, torch.Tensor] | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """M(E_m(s) ⊕ E_i(t)) on the hand-made base -> (canon_out, pose_out, image points [B,478,3] at ``size`` px, motion)."""
        b = self.base(src, tgt, ref)
        z = self.motion(src["canon"], src["pose"])
        canon, dpose, _ = self.M(z, tgt["canon"], b["canon"])
        pose = src["pose"] + dpose
        pts = project(canon, pose, b["scale"], b["translation"]) * (size / self.align_size)
        return canon, pose, pts, z

    def render(self, t_img: torch.Tensor, t_pts: torch.Tensor, out_pts: torch.Tensor,
               d_img: torch.Tensor | None = None, d_pts: torch.Tensor | None = None) -> torch.Tensor:
        """G: warp the target image [B,3,H,W] ([-1, 1]) from its points to the output points
        (:mod:`~petra.generators.mesh.render.torch_warp`, the inference renderer's torch twin).

        The driving frame ``d_img`` (and its mesh ``d_pts``), when given, fills an opened
        mouth, as at inference.
        """
        use_d = d_img is not None and d_pts is not None
        outs = [mesh_render((t_img[i] + 1) / 2, t_pts[i], out_pts[i],
                            (d_img[i] + 1) / 2 if use_d else None, d_pts[i] if use_d else None)  # type: ignore[index]
                for i in range(len(t_img))]
        return torch.stack(outs) * 2 - 1

    def _terms(self, batch: PairBatch, train: bool) -> dict[str, torch.Tensor]:
        o = self.opts
        size = batch["s_A"].shape[-1]
        k = size / self.align_size
        f = {r: self.fit_tensors([row["aligned_path"] for row in batch.rows[r]]) for r in ("s_A", "t_A", "s_R", "t_R")}
        # t_A (a frame of s_A's video) is the relative base's reference, as the driving video's
        # first frame is at evaluation (where, in self-reenactment, it is also the target)
        canon_aa, pose_aa, pts_aa, z_sa = self.forward_mesh(f["s_A"], f["t_A"], size, f["t_A"])
        terms: dict[str, torch.Tensor] = {}
        weights = L.LossWeights(**{t: o.w(t) for t in ("l2", "lpips", "l2_crop", "lpips_crop")}, id=0.0, cos=0.0)
        need_img = any(o.w(t) for t in ("l2", "lpips", "l2_crop", "lpips_crop"))
        s_a = batch["s_A"]
        if need_img:
            g_aa = self.render(batch["t_A"], f["t_A"]["points"] * k, pts_aa, s_a, f["s_A"]["points"] * k)
            terms.update(L.reconstruction_terms(g_aa, s_a, weights, self._lpips))
        if o.w("landmark") or not train:
            terms["landmark"] = (pts_aa[..., :2] - f["s_A"]["points"][..., :2] * k).norm(dim=-1).mean() / size
        need_cross = o.w("id_shape") or o.w("cos") or not train
        if need_cross:
            canon_ar, pose_ar, _, _ = self.forward_mesh(f["s_A"], f["t_R"], size, f["t_A"])
            terms["id_shape"] = (canon_ar[:, self.rigid] - f["t_R"]["canon"][:, self.rigid]).pow(2).sum(-1).mean()
            if o.w("cos") or not train:
                z_aa = self.motion(canon_aa, pose_aa)
                z_ar = self.motion(canon_ar, pose_ar)
                z_sr = self.motion(f["s_R"]["canon"], f["s_R"]["pose"])
                terms["cos"] = L.cosface_motion_loss(z_sa, [z_aa, z_ar], z_sr, o.cos_a, o.cos_b)
        if not train:
            terms["landmark_px256"] = terms["landmark"] * 256.0
        terms["total"] = sum(o.w(t) * v for t, v in terms.items() if t in MESH_TERMS and o.w(t)) + 0.0 * pts_aa.sum()
        return terms

    def _lpips(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.lpips(x, y)


def _iris(canon: torch.Tensor) -> torch.Tensor:
    r = canon[:, 468, :2] - 0.5 * (canon[:, 33, :2] + canon[:, 133, :2])
    l_ = canon[:, 473, :2] - 0.5 * (canon[:, 362, :2] + canon[:, 263, :2])
    return torch.cat([r, l_], dim=1)


assert callable(iris_offsets)  # the numpy twin of _iris, used by the fit cache

