"""``sg2-thesis-released``: the thesis's released network (``best_model.pt``) as a Reenactor.

The weight file the registry names for it (``thesis_released``: ``best_model.pt``) loads strictly into
:class:`petra.models.thesis_net.ThesisTransferNet` (E_m, M and its own G); E_i(target) is
the ReStyle-pSp W+ code (stored for manifest frames, else inverted now with
``stylegan2.restyle_iters`` steps, as the released ``tool.py`` inverts with ReStyle).
The source crop goes to E_m at 256 px, as the released transform resizes it; the output
is resized to ``align.size``. Noise: G's fixed buffers (the released tool draws it at random).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from petra import weights
from petra.errors import PetraError

class ReleasedReenactor:
    name = "sg2-thesis-released"

    def __init__(self, cfg: Mapping[str, Any], weight: str = "thesis_released", device: Any = "cpu",
                 path: Any = None) -> None:
        from petra.models.thesis_net import load_thesis_checkpoint

        from .lookup import CodeLookup

        self.device = torch.device(device)
        path, sha = (str(path), None) if path else weights.require(cfg, weight, with_sha=True)
        self.net, self.opts = load_thesis_checkpoint(path, sha256=sha)
        self.net.to(self.device)
        size = int(cfg["stylegan2"]["size"])
        if self.net.decoder.size != size:
            raise PetraError(f"{path}: its generator is {self.net.decoder.size} px but stylegan2.size is {size}; "
                             "E_i (ReStyle) codes would not fit")
        self.size = int(cfg["align"]["size"])
        self.enc_size = int(cfg["stylegan2"].get("encoder_input", 256))
        self.codes = CodeLookup(cfg, "psp", self.device)

    def set_target(self, target: np.ndarray) -> None:
        self.w_t = self.codes.code(target)[None]

    def set_reference(self, driving0: np.ndarray) -> None:
        pass  # absolute motion, as the released tool

    @torch.no_grad()
    def drive(self, driving: np.ndarray) -> np.ndarray:
        from .methods import to_uint8
        from .parts import resize

        s = torch.from_numpy(np.ascontiguousarray(driving)).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        img = self.net(resize(s.to(self.device), self.enc_size), self.w_t)
        return to_uint8(resize(img, self.size)[0])
