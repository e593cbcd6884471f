"""The labels of OpenGraphAU's 41 outputs, in output order, without importing torch.

The evaluation's column names and the report need them where no network runs (the
pure-pandas summary), so they live apart from :mod:`petra.models.opengraphau`.
"""
from __future__ import annotations

# output order of the 41 probabilities (official utils.hybrid_prediction_infolist)
AU_CODES: tuple[str, ...] = (
    "AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU10", "AU11", "AU12", "AU13", "AU14", "AU15", "AU16",
    "AU17", "AU18", "AU19", "AU20", "AU22", "AU23", "AU24", "AU25", "AU26", "AU27", "AU32", "AU38", "AU39",
    "AUL1", "AUR1", "AUL2", "AUR2", "AUL4", "AUR4", "AUL6", "AUR6", "AUL10", "AUR10", "AUL12", "AUR12",
    "AUL14", "AUR14",
)
