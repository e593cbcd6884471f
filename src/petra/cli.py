"""The ``petra`` command: one subcommand per pipeline stage or user tool.

Each subcommand lives in its own module under :mod:`petra.stages` and exposes
``configure(parser)`` and ``main(args) -> int``; modules are imported only when
their subcommand runs, so ``petra frames`` does not pay for importing torch.
Every :class:`~petra.errors.PetraError` becomes one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from typing import Sequence

from . import config
from .errors import PetraError

# name -> (module, one-line help). Keep in pipeline order.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "ingest": ("petra.stages.ingest", "list the dataset's videos per identity"),
    "frames": ("petra.stages.frames", "extract one frame every 0.5 s with ffmpeg"),
    "align": ("petra.stages.align", "dlib 68 landmarks and FFHQ alignment"),
    "filter": ("petra.stages.filter", "drop extreme poses (FFHQ-style)"),
    "manifest": ("petra.stages.manifest", "frames.parquet, rejects.parquet and the identity split"),
    "weights": ("petra.stages.weights", "fetch or check the official weight files"),
    "smoke-weights": ("petra.stages.smoke_weights", "tiny random-weight StyleGAN2-path checkpoints (smoke profile)"),
    "latents": ("petra.stages.latents", "identity latents / mesh fits for every manifest frame"),
    "train": ("petra.stages.train", "train one method: E_m and M (G too for a gen variant), any generator"),
    "select": ("petra.stages.select", "choose a trained method's checkpoint by validation metrics"),
    "baseline": ("petra.stages.baseline", "latent-arithmetic baseline"),
    "pairs": ("petra.stages.pairs", "the fixed evaluation pair list"),
    "evaluate": ("petra.stages.evaluate", "score one method on the evaluation pairs"),
    "report": ("petra.stages.report", "results table, figures and MLflow runs"),
    "transfer": ("petra.stages.transfer", "animate a target portrait with a driving image or video"),
    "transfer-grid": ("petra.report.transfer_grid", "figure: mesh transfer, sample targets x driving frames"),
    "synth": ("petra.stages.synth", "a random identity with chosen pose and expression"),
    "live": ("petra.app.live", "animate a portrait in real time from a webcam or a clip (window/recording)"),
    "app": ("petra.app.serve", "the web app: upload, webcam, live tab, /transfer API (Gradio)"),
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="petra", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"petra {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, help_) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--params", default=None, help="params.yaml to read (default: ./params.yaml)")
        p.add_argument("--profile", default=None, help="profile of params.yaml (default: its `profile`)")
        p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="override one params value (repeatable; checked against the schema)")
    return parser


def _hoist_global_options(argv: list[str]) -> list[str]:
    """Allow ``petra --profile smoke <stage> ...`` (how the rules call it): move the
    options every subcommand shares to after the subcommand name."""
    front: list[str] = []
    while argv and argv[0] in ("--params", "--profile", "--set") and len(argv) >= 2:
        front += argv[:2]
        argv = argv[2:]
    while argv and argv[0].startswith(("--params=", "--profile=", "--set=")):
        front.append(argv.pop(0))
    return argv[:1] + front + argv[1:] if argv else front


def _route_native_stderr() -> None:
    """Keep Python's stderr (progress bars, petra's one-line errors) and drop what native
    libraries write to fd 2 from their own threads (MediaPipe/TFLite/absl start-up logs).
    Set PETRA_NATIVE_LOGS=1 to see them."""
    if os.environ.get("PETRA_NATIVE_LOGS") == "1":
        return
    try:
        sys.stderr.flush()
        keep = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        sys.stderr = os.fdopen(keep, "w", buffering=1, encoding="utf-8", errors="replace")
    except OSError:  # no fd 2 (embedded use): nothing to route
        pass


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the console command, not a test calling main([...])
        _route_native_stderr()
        # mediapipe 0.10.14 calls a protobuf API deprecated since its release
        warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype", category=UserWarning)
    argv = _hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    # Let the chosen module add its own arguments before the real parse.
    name = next((a for a in argv if not a.startswith("-")), None)
    if name in SUBCOMMANDS:
        module = importlib.import_module(SUBCOMMANDS[name][0])
        subparser = parser._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr]
        module.configure(subparser)
    args = parser.parse_args(argv)
    try:
        with config.active_sets(args.set):
            return int(importlib.import_module(SUBCOMMANDS[args.command][0]).main(args) or 0)
    except PetraError as err:
        print(f"petra {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"petra {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
