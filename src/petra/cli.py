"""The ``petra`` command: one subcommand per pipeline stage or user tool.

Each subcommand lives in its own module under :mod:`petra.stages` and exposes
``configure(parser)`` and ``main(args) -> int``; modules are imported only when
their subcommand runs, so ``petra frames`` does not pay for importing torch.
Every user-facing error (a :class:`~petra.errors.PetraError` or an ``OSError`` such as a
folder given as a file, a missing parent, no permission) becomes one line naming the file
and the reason, exit code 2; anything else one line too, exit 1. ``--debug`` (or
``PETRA_DEBUG=1``) shows the traceback instead. SIGTERM and SIGHUP are handled like
Ctrl-C: clean-ups run (temporaries removed), exit 128 + signal (143, 129; Ctrl-C 130).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import warnings
from typing import Iterator, Sequence

from . import config
from .errors import PetraError, Terminated, os_error_line

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
    "refine-data": ("petra.stages.refine_data", "the mesh refinement's pair set: frames + hand-made renders"),
    "ship": ("petra.stages.ship", "write a refine checkpoint as the packaged file (prints its sha256)"),
    "curves": ("petra.stages.curves", "figure: a trained method's training and validation curves"),
    "baseline": ("petra.stages.baseline", "latent-arithmetic baseline"),
    "pairs": ("petra.stages.pairs", "the fixed evaluation pair list"),
    "pair-features": ("petra.stages.pair_features", "the evaluators' features of the pair frames, once for all methods"),
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
        p.add_argument("--debug", action="store_true", help="show Python tracebacks instead of one-line errors")
    return parser


def _hoist_global_options(argv: list[str]) -> list[str]:
    """Allow ``petra --profile smoke <stage> ...`` (how the rules call it): move the
    options every subcommand shares to after the subcommand name."""
    front: list[str] = []
    while argv:
        if argv[0] in ("--params", "--profile", "--set") and len(argv) >= 2:
            front += argv[:2]
            argv = argv[2:]
        elif argv[0].startswith(("--params=", "--profile=", "--set=")) or argv[0] == "--debug":
            front.append(argv.pop(0))
        else:
            break
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


def _raise_terminated(signum: int, frame: object) -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):  # a second signal must not interrupt the clean-up
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def _terminate_like_interrupt() -> Iterator[None]:
    """SIGTERM/SIGHUP raise :class:`Terminated` while a command runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, _raise_terminated) for sig in (signal.SIGTERM, signal.SIGHUP)}
    # Ctrl-C is KeyboardInterrupt even if an imported library (native code) replaced its handler
    saved[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace) -> int:
    with config.active_sets(args.set):  # --set section.key=value, validated with the whole config
        return int(importlib.import_module(SUBCOMMANDS[args.command][0]).main(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the console command: an error exit skips the interpreter's teardown
        rc = _main(None)
        if rc != 0:  # native threads (MediaPipe/TFLite) have aborted there, turning exit 2 into SIGABRT
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(rc)
        return rc
    return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    if argv is None:  # the console command, not a test calling main([...])
        _route_native_stderr()
        # mediapipe 0.10.14 calls a protobuf API deprecated since its release
        warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype", category=UserWarning)
    argv = _hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in argv or os.environ.get("PETRA_DEBUG") == "1"
    command = next((a for a in argv if not a.startswith("-")), "")
    with _terminate_like_interrupt():
        try:
            parser = build_parser()
            # Let the chosen module add its own arguments before the real parse.
            if command in SUBCOMMANDS:
                module = importlib.import_module(SUBCOMMANDS[command][0])
                subparser = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
                module.configure(subparser)
            args = parser.parse_args(argv)
            return _run(args)
        except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM/SIGHUP (Terminated)
            signum = getattr(err, "signum", signal.SIGINT)
            how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
            print(f"petra {command}: {how}", file=sys.stderr)
            return 128 + int(signum)
        except SystemExit:
            raise
        except Exception as err:  # noqa: BLE001 - the one place every error becomes one line
            if debug:
                raise
            return _report(command, err)


def _report(command: str, err: Exception) -> int:
    """Print ``err`` as the one line a user sees; the exit status."""
    if isinstance(err, PetraError):
        line, rc = str(err), 2
    elif isinstance(err, OSError):
        line, rc = os_error_line(err), 2
    else:  # a bug, not bad input: still one line, and how to see more
        text = " ".join(str(err).split())
        line = f"internal error: {type(err).__name__}{': ' + text[:300] if text else ''} (rerun with --debug for the traceback)"
        rc = 1
    print(f"petra {command}: error: {line}", file=sys.stderr)
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
