"""Matplotlib without a display, and figures written atomically: shared by report and evaluate."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .io import atomic_path


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (lazy: matplotlib only when a figure is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, dpi: int = 100) -> None:
    """Write ``fig`` to ``path`` atomically (PNG by suffix) and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png")
    pyplot().close(fig)
