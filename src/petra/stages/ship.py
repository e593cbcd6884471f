"""`petra ship --method mesh-ours-gen`: write the selected checkpoint's net as the packaged file,
with its run's training curves beside it (``<stem>.curves.json``: a check of the shipped file draws them).

Prints the file's sha256, which goes into the weight registry (``petra.weights``,
entry ``mesh_ours_gen``) in the same commit as the two files.
"""
from __future__ import annotations

import argparse

from petra.paths import run_dir
from petra.train.checkpoint import curves_path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", default="mesh-ours-gen", help="a refine-recipe method")
    parser.add_argument("--checkpoint", default=None, help="default: the selected (else latest) checkpoint")
    parser.add_argument("--out", default=None, help="default: the packaged file petra.generators.mesh.refine/")


def main(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from petra import config
    from petra.generators.mesh.refine import shipped
    from petra.report.curves import read_jsonl
    from petra.train.select import selected_checkpoint

    cfg = config.load(args.params, args.profile)
    ckpt = Path(args.checkpoint) if args.checkpoint else selected_checkpoint(cfg, args.method, allow_latest=True)
    if ckpt is None:
        raise SystemExit(f"petra ship: no checkpoint of {args.method}; run `petra train --method {args.method}`")
    out = Path(args.out) if args.out else Path(shipped.__file__).with_name(shipped.FILENAME)
    rdir = run_dir(cfg, args.method)
    summary = rdir / "summary.json"
    prov = {"method": args.method, "profile": cfg["profile"],
            "mlflow_run_id": json.loads(summary.read_text()).get("mlflow_run_id") if summary.is_file() else None}
    curves = {"train": read_jsonl(rdir / "metrics.jsonl"), "val": read_jsonl(rdir / "val.jsonl")}
    sha = shipped.export(ckpt, out, prov, curves)
    print(f"petra ship: {ckpt} -> {out} ({out.stat().st_size / 1e6:.2f} MB) + {curves_path(out).name}\nsha256 {sha}")
    return 0
