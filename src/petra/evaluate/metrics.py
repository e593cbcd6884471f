"""The one table of metrics: what the runner writes per frame, how a pair reduces it, which
direction is better, how the results table labels it and which evaluator backend names it.

The runner (per-frame columns), the summary (per pair, per method), the results table
(labels, arrows, order), checkpoint selection (kind ``val``: what ``petra select`` ranks
checkpoints by, on its validation pairs) and the report read this table; a column is
never matched by a prefix written anywhere else.

Per-frame columns are ``<frame>_<backend>`` (``pose_yaw_ae_mesh``) or just ``<frame>``
when the metric has no backend (``psnr``); series metrics (``corr``) read the pair of
columns ``<series name>_drv_<tag>`` / ``<series name>_out_<tag>`` for each name of
``series``. Results-table columns are ``<key>_<backend>`` plus ``_ci95``.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from .action_units import OPENGRAPHAU_NAMES
from .ratios import GEOM_AU_NAMES, RATIO_NAMES

PSNR_CAP = 100.0  # identical images give inf dB; capped so that means stay finite


@dataclass(frozen=True)
class Metric:
    key: str                                  # results-table column stem
    kind: Literal["cross", "self", "val"]     # which pairs it is measured on (val: petra select's)
    reduction: Literal["mean", "corr"]        # per pair: mean over frames | Pearson r driving vs output
    higher_is_better: bool
    label: str                                # results.md column header (backend appended in brackets)
    backend: Literal["pose", "landmarks", "identity", "au", "lpips", "geom", None]  # evaluate.backends role
    frame: str | None = None                  # per-frame column stem (mean metrics)
    series: tuple[str, ...] = ()              # per-frame series names (corr metrics)

    def frame_column(self, backend: str | None) -> str:
        """The per-frame column this metric's backend ``backend`` writes (mean metrics)."""
        assert self.frame is not None
        return f"{self.frame}_{backend}" if self.backend is not None else self.frame

    def frame_columns(self, columns: list[str]) -> dict[str, str]:
        """Per-frame column -> per-pair column of this metric present in ``columns`` (mean metrics)."""
        assert self.frame is not None
        if self.backend is None:
            return {self.frame: self.frame} if self.frame in columns else {}
        return {c: c for c in sorted(columns) if c.startswith(self.frame + "_")}

    def series_tags(self, columns: list[str]) -> list[str]:
        """Backend tags of the driving/output series present in ``columns`` (corr metrics)."""
        head = f"{self.series[0]}_drv_"
        return sorted({c[len(head):] for c in columns if c.startswith(head)})

    def pair_column(self, tag: str) -> str:
        """Per-pair column of a series metric for one tag (``geomdlib`` -> ``geom_au_corr_dlib``)."""
        return f"{self.key}_{tag.removeprefix('geom')}" if self.backend == "geom" else f"{self.key}_{tag}"

    def table_column(self, pair_column: str) -> str:
        """Results-table column of a per-pair column."""
        name = self.key + pair_column[len(self.frame):] if self.reduction == "mean" and self.frame else pair_column
        return f"self_{name}" if self.kind == "self" and self.key == "id_csim" else name


# checkpoint selection (petra select): one driving frame per validation pair, output vs driving frame
VAL_POSE_MAE = Metric("val_pose_mae", "val", "mean", False, "pose MAE, yaw and pitch (°)", "pose", frame="pose_ae")
VAL_RATIO_MAE = Metric("val_ratio_mae", "val", "mean", False, "landmark-ratio MAE", "landmarks", frame="ratio_ae")

METRICS: tuple[Metric, ...] = (
    Metric("pose_mae_yaw", "cross", "mean", False, "yaw MAE (°)", "pose", frame="pose_yaw_ae"),
    Metric("pose_mae_pitch", "cross", "mean", False, "pitch MAE (°)", "pose", frame="pose_pitch_ae"),
    Metric("fl_corr", "cross", "corr", True, "FL-CORR", "landmarks", series=RATIO_NAMES),
    Metric("fau_corr", "cross", "corr", True, "FAU-CORR", "au", series=OPENGRAPHAU_NAMES),
    Metric("geom_au_corr", "cross", "corr", True, "geom-AU-CORR (substitute)", "geom", series=GEOM_AU_NAMES),
    Metric("id_csim", "cross", "mean", True, "ID-CSIM", "identity", frame="id_csim"),
    Metric("l1", "self", "mean", False, "L1", None, frame="l1"),
    Metric("psnr", "self", "mean", True, "PSNR (dB)", None, frame="psnr"),
    Metric("ssim", "self", "mean", True, "SSIM", None, frame="ssim"),
    Metric("lpips", "self", "mean", False, "LPIPS", "lpips", frame="lpips"),
    Metric("akd", "self", "mean", False, "AKD (px@256)", "landmarks", frame="akd"),
    Metric("aed", "self", "mean", False, "AED", "identity", frame="aed"),
    Metric("id_csim", "self", "mean", True, "self ID-CSIM", "identity", frame="id_csim"),
    VAL_POSE_MAE,
    VAL_RATIO_MAE,
)


def of_kind(kind: str) -> Iterator[Metric]:
    return (m for m in METRICS if m.kind == kind)


def for_table_column(col: str) -> Metric | None:
    """The metric behind a results-table column (``fl_corr_dlib``, ``self_id_csim_dlib``, ``psnr``)."""
    kind = "self" if col.startswith("self_") else None
    base = col.removeprefix("self_")
    for m in METRICS:
        if (kind is None or m.kind == kind) and (base == m.key or base.startswith(m.key + "_")):
            if kind is None and m.kind == "self" and m.key == "id_csim":
                continue  # an unprefixed id_csim column is the cross one
            return m
    return None


def label(col: str) -> str:
    m = for_table_column(col)
    if m is None:
        return col
    backend = col.removeprefix("self_")[len(m.key) + 1:]
    return f"{m.label} [{backend}]" if backend else m.label
