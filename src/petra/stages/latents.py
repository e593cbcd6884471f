"""`petra latents`: identity codes (ReStyle W+) / mesh fits for every manifest frame."""
from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any
from petra.device import resolve_device


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", required=True, help="psp | e4e | mesh (the generators' latents backends)")
    parser.add_argument("--manifest", default=None, help="frames.parquet (default: <paths.data>/manifests/)")
    parser.add_argument("--out", default=None, help="output folder (default: <paths.data>/latents/<backend>)")


def encode_latents(cfg: Mapping[str, Any], backend: str, manifest: Any = None, out: Any = None, root: Any = ".",
                   log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every manifest frame through the generators' latents backend ``backend`` (built only
    when a shard needs encoding); returns the stage summary."""
    from petra import generators
    from petra.latents.run import run_latents

    def make() -> Any:
        return generators.latents_backend(backend, cfg, resolve_device(cfg["latents"].get("device", "auto")))

    return run_latents(cfg, backend, manifest, out, root=root, make_encoder=make, log=log)


def main(args: argparse.Namespace) -> int:
    from petra import config

    encode_latents(config.load(args.params, args.profile), args.backend, args.manifest, args.out)
    return 0
