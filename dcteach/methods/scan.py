"""SCAN — Semantic Clustering by Adopting Nearest neighbours (Van Gansbeke, Vandenhende,
Georgoulis, Proesmans & Van Gool, ECCV 2020), lecture 06; on texts, lecture 08.

Algorithm (the paper's three steps)::

    1. pretext     learn features Φ(x) with a pretext task (images: SimCLR, the cached
                   artifact shared with `simclr`; texts: the frozen sentence encoder)
    2. mining      N(i) = the k nearest neighbours of every sample in that space
    3. SCAN        train the network with H cluster heads on
                       −(1/n) Σ_i log⟨p_i, p_j⟩  −  λ · H(p̄)      (j drawn from N(i),
                   both strongly augmented); keep the head with the lowest loss on the
                   *training* data
    4. self-label  (``scan-selflabel``) samples whose weak-view prediction is ≥ 0.99 confident
                   supervise their strong view through a class-balanced cross-entropy

``scan-sl`` swaps step 3's loss for the structure-learning loss of seed 004
(:func:`dcteach.losses.structured_scan_loss`). The input kind only decides what step 1
delivers (:class:`PretextStage`): images are augmented on the fly and the whole network trains;
texts are fixed features with dropout as the augmentation (``text-scan``, ``text-selflabel``).
Each stage checkpoints (``--out``, ``--resume``) and the trained SCAN network is a cached
artifact, so ``scan-selflabel`` after ``scan`` with the same settings starts at step 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch.nn.functional as F

from ..augment import RECIPES, make_augment
from ..data.images import to_float
from ..nn import ProjectionHead
from .base import register
from .config import option
from .contrastive import QUICK, ContrastiveConfig, ContrastiveMethod
from .scan_algorithm import PretextStage, SCANAlgorithm, SCANOptions, StructureLoss

__all__ = ["SCANConfig", "SCAN", "SCANSelfLabel", "StructureSCAN"]


@dataclass
class SCANConfig(SCANOptions, ContrastiveConfig):
    """Images: ``epochs``, ``lr``, ``batch_size``, ... are the SimCLR pretext's (the same
    names and cache key as ``simclr``); the ``scan_*`` and ``selflabel_*`` ones steps 3–4."""

    strong_augment: str = option("scan", choices=tuple(RECIPES))  # SCAN's strong view
    weak_augment: str = option("weak", choices=tuple(RECIPES))  # self-labelling's weak view
    train_backbone: bool = True  # False: only the cluster heads train (SCAN's ablation)


# ------------------------------------------------------------------------------- images
@register
class SCAN(SCANAlgorithm, ContrastiveMethod):
    """SCAN on images: SimCLR pretext (cached), neighbours mined on its normalised head
    output, the whole network trained with cluster heads on strongly augmented pairs."""

    name = "scan"
    description = "SCAN: SimCLR pretext, k-NN mining, neighbour-consistency heads (images)"
    Config = SCANConfig
    presets = {
        "quick": {**QUICK, "scan_epochs": 2, "n_heads": 3, "knn_queries": 0,
                  "scan_head_lr": 1e-2},
        # MNIST-70k on a 2-core CPU in about 10 minutes: 8 SimCLR epochs (small CNN), then 3
        # SCAN epochs of the whole network. The heads learn at 1e-2 (the paper: 1e-4 for
        # everything over 50+ epochs; at 1e-4 random heads on the 64-d features stay near
        # uniform for the first epochs: ACC 14 % after one epoch instead of 92 %)
        "fast": {"epochs": 8, "batch_size": 256, "lr": 1e-3, "scan_epochs": 3,
                 "scan_batch_size": 256, "scan_lr": 1e-4, "scan_head_lr": 1e-2},
        # SCAN's CIFAR-10 settings: SimCLR 500 epochs (SGD 0.4, batch 512, τ 0.1), SCAN
        # 50 epochs (Adam 1e-4, wd 1e-4, batch 128, λ 5, 10 heads, 20 neighbours)
        "paper": {"epochs": 500, "batch_size": 512, "optimizer": "sgd", "lr": 0.4,
                  "weight_decay": 1e-4, "temperature": 0.1, "scan_epochs": 50},
    }

    def _pretext_stage(self, X, y) -> PretextStage:
        c = self.config_
        x = self._images(X)
        shape = tuple(x.shape[1:])
        model = self._build(z=lambda d: ProjectionHead(d, c.proj_hidden, c.proj_dim))
        self._simclr_pretext(model, x, y, c.epochs)
        space = F.normalize(self._embed(model, x, ["z"])["z"], dim=1)
        if not c.train_backbone:
            model.encoder.requires_grad_(False)
        strong = make_augment(c.strong_augment, shape)
        settings = {k: getattr(c, k) for k in ("strong_augment", "weak_augment",
                                               "train_backbone", "amp")}
        return PretextStage(
            data=x, encoder=model.encoder, space=space, clean=to_float, scan_view=strong,
            weak_view=make_augment(c.weak_augment, shape), selflabel_view=strong,
            cache_key=None if not c.cache else {
                "pretext": self._pretext_key(x, c.epochs), "views": settings,
                "seed": self.seed})

    def _new_input(self, X):
        return self._new_images(X)

    def transform(self, X) -> np.ndarray:
        """L2-normalised backbone features of new images (after SCAN's training)."""
        return ContrastiveMethod.transform(self, X)


@register
class SCANSelfLabel(SCAN):
    """``scan`` followed by self-labelling (step 4)."""

    name = "scan-selflabel"
    description = "SCAN, then self-labelling on confident (≥ 0.99) weak-view predictions"
    defaults = {"selflabel_epochs": 200}
    presets = {
        "quick": {**SCAN.presets["quick"], "selflabel_epochs": 1, "selflabel_batch_size": 256},
        "fast": {**SCAN.presets["fast"], "selflabel_epochs": 2, "selflabel_batch_size": 500},
        # SCAN: Adam 1e-4, wd 1e-4, batch 1000, 200 epochs
        "paper": {**SCAN.presets["paper"], "selflabel_epochs": 200},
    }


@register
class StructureSCAN(StructureLoss, SCAN):
    """SCAN with seed 004's structure-learning loss: similarity-weighted neighbour
    consistency + cluster-level contrast between anchors and neighbours + entropy
    (``--set selflabel_epochs=N`` continues with self-labelling as ``scan-selflabel``)."""

    name = "scan-sl"
    description = ("SCAN with seed 004's structure-learning loss (weighted consistency + "
                   "cluster contrast + entropy)")


