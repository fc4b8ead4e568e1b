"""SCAN on texts (lecture 08): the same :class:`~dcteach.methods.scan_algorithm.SCANAlgorithm`
with a frozen sentence encoder as step 1 — neighbours mined on the normalised embeddings, the
heads trained on k-NN-smoothed, standardised features, feature dropout as the augmentation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch.nn.functional as F
from torch import nn

from ..cluster import mine_neighbours, smooth_features
from .base import ClusterMethod, register
from .config import option
from .inputs import TextFeatureConfig, TextInput
from .scan_algorithm import PretextStage, SCANAlgorithm, SCANOptions

__all__ = ["TextSCANConfig", "TextSCAN", "TextSelfLabel"]


@dataclass
class TextSCANConfig(SCANOptions, TextFeatureConfig):
    smooth_neighbours: int = option(20, low=0)  # average features with their k-NN first (0: off)
    dropout: float = option(0.1, low=0.0, high=0.99)  # feature dropout: SCAN's "augmentation"
    selflabel_dropout: float = option(0.3, low=0.0, high=0.99)
    amp: bool = False


class _Frozen(nn.Identity):
    """The text "encoder": the (fixed) features themselves."""

    def __init__(self, dim: int):
        super().__init__()
        self.out_dim = dim


@register
class TextSCAN(TextInput, SCANAlgorithm, ClusterMethod):
    """SCAN with a frozen sentence encoder as the pretext model: neighbours mined on the
    normalised embeddings, the heads trained on k-NN-smoothed, standardised features with
    feature dropout as the augmentation."""

    name = "text-scan"
    description = "SCAN on MiniLM: k-NN consistency + entropy on linear cluster heads"
    Config = TextSCANConfig
    defaults = {"entropy_weight": 1.0, "n_heads": 5, "scan_epochs": 5, "scan_batch_size": 256,
                "scan_head_lr": 1e-3, "init": "kmeans", "selflabel_lr": 1e-3}
    presets = {"quick": {}, "fast": {"scan_epochs": 3},
               "paper": {"scan_epochs": 50, "entropy_weight": 5.0}}

    def _pretext_stage(self, X, y) -> PretextStage:
        c = self.config_
        x = F.normalize(self._input(X, fitting=True), dim=1)
        nbrs = mine_neighbours(x, max(c.n_neighbours, c.smooth_neighbours, 1))
        z = smooth_features(x, nbrs, c.smooth_neighbours)
        self.embedding_ = z.cpu().numpy()
        self.space_mean_, self.space_std_ = z.mean(0), z.std(0).clamp_min(1e-6)
        zs = (z - self.space_mean_) / self.space_std_  # standardised inputs of the heads

        def drop(p):
            return lambda b: F.dropout(b, p, training=True)

        return PretextStage(data=zs, encoder=_Frozen(zs.shape[1]), space=z,
                            clean=lambda b: b, scan_view=drop(c.dropout),
                            weak_view=lambda b: b, selflabel_view=drop(c.selflabel_dropout),
                            neighbours=nbrs)

    def _new_input(self, X):
        z = F.normalize(self._input(X), dim=1)
        return (z - self.space_mean_) / self.space_std_

    def transform(self, X) -> np.ndarray:
        """The unit-length text features (before neighbour smoothing)."""
        return F.normalize(self._input(X), dim=1).cpu().numpy()


@register
class TextSelfLabel(TextSCAN):
    """``text-scan`` followed by SCAN's self-labelling step: the kit's strongest text method."""

    name = "text-selflabel"
    description = "SCAN on MiniLM, then self-labelling with confident pseudo-labels (p > 0.99)"
    defaults = {**TextSCAN.defaults, "selflabel_epochs": 5}

