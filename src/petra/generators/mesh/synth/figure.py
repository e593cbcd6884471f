"""The random-identity figure (thesis Fig. 4.5): rows = identities, columns = poses and expressions."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from petra.io import write_image

# (label, yaw, pitch, roll, expression)
COLUMNS: tuple[tuple[str, float, float, float, dict[str, float]], ...] = (
    ("neutral", 0.0, 0.0, 0.0, {}),
    ("yaw -25", -25.0, 0.0, 0.0, {}),
    ("yaw +25", 25.0, 0.0, 0.0, {}),
    ("pitch +15", 0.0, 15.0, 0.0, {}),
    ("pitch -15", 0.0, -15.0, 0.0, {}),
    ("smile", 0.0, 0.0, 0.0, {"smile": 1.0}),
    ("jaw open", 0.0, 0.0, 0.0, {"jaw_open": 0.8}),
    ("blink", 0.0, 0.0, 0.0, {"blink": 1.0}),
    ("smile + yaw", 20.0, 0.0, 0.0, {"smile": 0.8, "jaw_open": 0.3}),
)


def identity_grid(sampler: Any, seeds: Sequence[int], cell: int = 160) -> np.ndarray:
    """RGB uint8 grid with a header row of column labels and a seed label per row."""
    import cv2

    head, side = 26, 70
    rows = []
    for seed in seeds:
        ident = sampler.sample(int(seed))
        cells = [cv2.resize(ident.render(y, p, r, e), (cell, cell), interpolation=cv2.INTER_AREA)
                 for _, y, p, r, e in COLUMNS]
        label = np.full((cell, side, 3), 255, np.uint8)
        cv2.putText(label, f"seed {seed}", (4, cell // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        rows.append(np.concatenate([label, *cells], 1))
    header = np.full((head, side + cell * len(COLUMNS), 3), 255, np.uint8)
    for i, (name, *_rest) in enumerate(COLUMNS):
        cv2.putText(header, name, (side + i * cell + 6, head - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.concatenate([header, *rows], 0)


def write_figure(sampler: Any, out: str | Path, seeds: Sequence[int] = (0, 1, 2, 3, 4)) -> Path:

    out = Path(out)
    write_image(out, identity_grid(sampler, seeds))
    return out
