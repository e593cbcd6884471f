"""Torch device choice in one place (``auto`` = CUDA when present, else CPU)."""
from __future__ import annotations

import os
from typing import Any


def resolve_device(name: str | None = "auto") -> Any:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` → torch.device."""
    import torch  # lazy: the CLI and the rules import this module without torch

    if name in (None, "auto"):
        if torch.cuda.is_available():  # one GPU per torchrun worker
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    return torch.device(name)
