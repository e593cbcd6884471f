"""``petra app``: the web app -- upload a portrait, drive it with a video, an image or the
webcam (recorded or live), download the result; ``/transfer`` for ``gradio_client``.

    petra app [--host 127.0.0.1] [--port 7860]

Listens on localhost unless ``--host`` says otherwise (``0.0.0.0``: every interface).
"""
from __future__ import annotations

import argparse

from petra.config import load
from petra.errors import PetraError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")


def main(args: argparse.Namespace) -> int:
    run_app(load(args.params, args.profile), args.host, args.port)
    return 0


def run_app(cfg: dict, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the app until interrupted."""
    import sys

    from petra.app.ui import build

    demo = build(cfg)
    print(f"petra app: http://{host}:{port}", file=sys.stderr)
    try:
        demo.queue(default_concurrency_limit=1).launch(server_name=host, server_port=port, share=False,
                                                       inbrowser=False, show_error=True, quiet=True)
    except OSError as err:  # the port is taken
        raise PetraError(f"{host}:{port}: cannot listen ({err})") from None
