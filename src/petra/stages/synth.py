"""`petra synth`: a random identity (none of the training people) with chosen pose and expression.

    petra synth --build                         # fit the identity model to the train split
    petra synth --seed 7 --yaw 20 --expression smile=0.8,jaw_open=0.3 --out face.png
    petra synth --seed 7 --out clip.mp4         # neutral -> requested pose/expression -> neutral
    petra synth --seed 7 --driving talk.mp4 --out clip.mp4   # driven like any target
    petra synth --figure                        # reports/figures/random_identities.png

With ``synth.generator: stylegan2`` the seed goes to the StyleGAN2 generator's
random-identity function instead (``petra.generators.stylegan2.synth:random_identity``)
when that module exists.
"""
from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import InputError, PetraError
from petra.io import write_image
from petra.video import iter_frames, probe, write_video
from petra.media import read_image
from petra.paths import figure
from petra.paths import frames_manifest

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi"}
STYLEGAN2_HOOK = "petra.generators.stylegan2.synth:random_identity"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=None, help="which random identity (any integer)")
    parser.add_argument("--yaw", type=float, default=0.0, help="degrees, > 0 turns toward the image's right")
    parser.add_argument("--pitch", type=float, default=0.0, help="degrees, > 0 looks up")
    parser.add_argument("--roll", type=float, default=0.0, help="degrees, > 0 tilts counter-clockwise")
    parser.add_argument("--expression", default="", help="e.g. smile=0.8,jaw_open=0.3,blink=1 (also brow_raise, blink_left/right)")
    parser.add_argument("--driving", default=None, help="drive the identity with this video or image instead")
    parser.add_argument("--out", default=None, help="output .png/.jpg (one image) or .mp4 (a clip)")
    parser.add_argument("--model", default=None, help="identity model .npz (default: synth.model or <models>/synth/)")
    parser.add_argument("--build", action="store_true", help="fit the identity model to the manifest's train split")
    parser.add_argument("--manifest", default=None, help="for --build: frames.parquet (default: <data>/manifests/)")
    parser.add_argument("--fits", default=None, help="for --build: mesh fits (default: <data>/latents/mesh)")
    parser.add_argument("--figure", default=None, nargs="?", const="", help="write the figure (default: <reports>/figures/random_identities.png)")


def run_build(cfg: Mapping[str, Any], manifest: str | Path | None = None, fits: str | Path | None = None,
              out: str | Path | None = None, root: str | Path = ".") -> Path:
    """Fit the random-identity model to the train split and save it."""
    import pandas as pd

    from petra.generators.mesh.fit import MeshFits, default_fits_path
    from petra.generators.mesh.synth.model import build_identity_model, default_model_path

    manifest = frames_manifest(cfg, manifest)
    p = cfg.get("synth") or {}
    model = build_identity_model(pd.read_parquet(manifest), MeshFits.load(fits or default_fits_path(cfg)), root,
                                 p.get("split", "train"), p.get("max_identities"))
    out = model.save(out or default_model_path(cfg))
    print(f"synth: identity model of {len(model.identities)} {p.get('split', 'train')} identities "
          f"({len(model.embedding_ids)} reference descriptors) -> {out}")
    return out


def run_synth(cfg: Mapping[str, Any], seed: int, out: str | Path, yaw: float = 0.0, pitch: float = 0.0,
              roll: float = 0.0, expression: str | Mapping[str, float] = "", driving: str | Path | None = None,
              model: str | Path | None = None, frames: int = 50, fps: float = 25.0) -> Path:
    """Render identity ``seed`` to ``out`` (image, or clip when ``out`` is a video name)."""
    from petra.generators.mesh.synth.expressions import parse_expression

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
        raise InputError(out, f"unsupported output type {suffix!r}; use .png, .jpg or .mp4")
    expr = parse_expression(expression) if isinstance(expression, str) else dict(expression)
    ident = _sample(cfg, seed, model)
    if driving is not None:
        return _drive(cfg, ident, driving, out)
    if suffix in IMAGE_SUFFIXES:
        write_image(out, ident.render(yaw, pitch, roll, expr))
    else:

        # neutral -> requested -> neutral, eased
        u = 0.5 - 0.5 * np.cos(np.linspace(0.0, 2.0 * np.pi, frames))
        clip = [ident.render(a * yaw, a * pitch, a * roll, {k: a * v for k, v in expr.items()}) for a in u]
        write_video(out, clip, fps)
    print(f"synth: seed {seed} (yaw {yaw:g}, pitch {pitch:g}, roll {roll:g}, {expr or 'neutral'}) -> {out}")
    return out


def _sample(cfg: Mapping[str, Any], seed: int, model: str | Path | None) -> Any:
    gen = (cfg.get("synth") or {}).get("generator", "mesh")
    if gen == "stylegan2":
        module, func = STYLEGAN2_HOOK.split(":")
        try:
            fn = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError):
            raise PetraError(f"synth: generator stylegan2 has no random-identity function ({STYLEGAN2_HOOK})") from None
        return fn(cfg, seed)
    from petra.generators.mesh.synth.model import sampler_from_config

    return sampler_from_config(cfg, model).sample(seed)


def _drive(cfg: Mapping[str, Any], ident: Any, driving: str | Path, out: Path) -> Path:
    """Animate the identity's neutral crop with a driving video/image (mesh-relative, as any target)."""
    from petra.generators.mesh.render.transfer import MeshConfig, Transfer

    driving = Path(driving)
    if not driving.is_file():
        raise InputError(driving, "driving file not found")
    target = ident.render()
    if driving.suffix.lower() in IMAGE_SUFFIXES:

        tr = Transfer(target, MeshConfig.from_params(cfg, paste_back=False), video=False, aligned=True)
        res = tr.drive(read_image(driving)).crop
        if out.suffix.lower() in IMAGE_SUFFIXES:
            write_image(out, res)
        else:

            write_video(out, [res], 25.0)
        return out

    info = probe(driving)
    tr = Transfer(target, MeshConfig.from_params(cfg, paste_back=False), video=True, aligned=True)
    outs = []
    for i, (t, frame) in enumerate(iter_frames(driving, max_side=1024)):
        if i == 0:
            tr.set_reference(frame)
        outs.append(tr.drive(frame, t).crop)
    if not outs:
        raise InputError(driving, "no frames decoded")
    if out.suffix.lower() in IMAGE_SUFFIXES:
        write_image(out, outs[-1])
    else:
        write_video(out, outs, float(getattr(info, "fps", 25.0) or 25.0))
    print(f"synth: seed {ident.seed} driven by {driving} ({len(outs)} frames) -> {out}")
    return out


def main(args: argparse.Namespace) -> int:
    from .. import config
    from petra.generators.mesh.synth.figure import write_figure
    from petra.generators.mesh.synth.model import sampler_from_config

    cfg = config.load(args.params, args.profile)
    did = False
    if args.build:
        run_build(cfg, args.manifest, args.fits, args.model)
        did = True
    if args.figure is not None:
        out = Path(args.figure or figure(cfg, "random_identities"))
        seeds = (cfg.get("synth") or {}).get("figure_seeds", [0, 1, 2, 3, 4])
        write_figure(sampler_from_config(cfg, args.model), out, seeds)
        print(f"synth: figure of seeds {list(seeds)} -> {out}")
        did = True
    if args.seed is not None:
        if not args.out:
            raise PetraError("synth: --out IMG|VIDEO is required with --seed")
        run_synth(cfg, args.seed, args.out, args.yaw, args.pitch, args.roll, args.expression, args.driving, args.model)
        did = True
    if not did:
        raise PetraError("synth: nothing to do; give --seed N --out FILE, --build or --figure")
    return 0
