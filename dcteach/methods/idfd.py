"""IDFD — Instance Discrimination and Feature Decorrelation (Tao, Takagi & Nakata, ICLR 2021),
lecture 05.

A representation made for clustering by two constraints on the batch's feature matrix
V ∈ R^{m×d} (unit rows v_i = normalize(f_θ(x_i)), d = 128), then k-means::

    memory bank M ∈ R^{N×d}: one unit vector per training sample
    for every mini-batch (x_i, i):
        v_i = normalize(f_θ(augment(x_i)))                 (one view per sample)
        L_I = −(1/m) Σ_i log softmax_j(m_jᵀ v_i / τ)[i]      rows: every sample its own class,
                                                             softmax over all N (τ = 1)
        L_F = −(1/d) Σ_l log softmax_j(f_jᵀ f_l / τ₂)[l]     columns f_l of V, unit over the batch
        minimise L_I + α L_F
        m_i ← normalize(μ m_i + (1 − μ) v_i)                (μ = 0.5)
    clusters = k-means on M

Variants (``variant``): ``id`` (L_I only), ``idfo`` (L_I + α ‖F Fᵀ − I‖², plain
orthogonality) and ``idfd`` (the softmax decorrelation above) — the three objectives the
paper and the slides compare. Registered as ``idfd``; ``id`` and ``idfo`` are the same method
with ``variant`` set, so the three share every other setting.

Where the slides differ from the paper, the kit follows the paper (and its official code):
the slides compute P(i | v) over the batch and say "no data augmentation"; the paper's ID is
over a memory bank of all N samples, and its code augments (random resized crops, colour
jitter, grayscale — no flip: ``augment=idfd`` for colour images).

Two choices of the kit for short runs, both switchable: the bank starts from the untrained
network's features of the un-augmented images (``bank_init=features``; the official code
starts from random vectors, which makes the first epochs chase random targets — on MNIST-70k
the k-NN accuracy after 4 epochs was 88 % with the feature start, 77 % with the random one),
and ``feature_dim=0`` caps d at the backbone's width (the small CNN has 64 channels, and 128
columns of a rank-65 matrix cannot all be decorrelated; the default stays the paper's 128).

With labels given (measurement only) each epoch logs the k-NN accuracy of the features and,
every ``kmeans_every`` epochs, ACC/NMI/ARI of a one-restart k-means on the bank. Every epoch
logs the bank's effective rank exp(H(λ / Σλ)) over the eigenvalues λ of its covariance — how
many directions the features really use (what FD raises).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import distributed
from ..cluster import KMeans
from ..losses import (
    feature_decorrelation_loss,
    feature_orthogonality_loss,
    instance_discrimination_loss,
)
from ..metrics import evaluate
from ..nn import MemoryBank
from ..train import minibatches
from .base import register
from .config import option
from .images import ImageConfig, ImageMethod

__all__ = ["IDFD", "IDFDConfig", "effective_rank"]


@dataclass
class IDFDConfig(ImageConfig):
    variant: str = option("idfd", choices=("id", "idfo", "idfd"))
    # d, the fc layer after the backbone (the paper: 128); 0: min(128, the backbone's width) —
    # more columns than the backbone has dimensions cannot all be decorrelated (V has rank
    # ≤ width + 1; the small CNN is 64 wide)
    feature_dim: int = option(128, low=0)
    temperature: float = option(1.0, low=0.0, low_open=True)  # τ of the instance softmax
    fd_temperature: float = option(2.0, low=0.0, low_open=True)  # τ₂ of the feature softmax
    alpha: float = option(1.0, low=0.0)  # weight of the feature constraint
    bank_momentum: float = option(0.5, low=0.0, high=0.999)  # μ of the memory-bank update
    # the bank's start: "random" unit vectors (the official code) or "features", the
    # untrained network's features of the un-augmented images (no random targets to chase in
    # the first epochs)
    bank_init: str = option("features", choices=("features", "random"))
    kmeans_every: int = option(5, low=0)  # log k-means on the bank every n epochs (0: off)
    n_init: int = option(20, low=1)  # restarts of the final k-means (the paper: 20)


@register
class IDFD(ImageMethod):
    """Instance discrimination against a memory bank (+ feature decorrelation or
    orthogonality), then k-means on the memory bank."""

    name = "idfd"
    description = "IDFD (instance discrimination + feature decorrelation, k-means on the bank)"
    Config = IDFDConfig
    presets = {
        "quick": {"epochs": 2, "batch_size": 128, "knn_queries": 500, "kmeans_every": 1},
        # MNIST-70k on a 2-core CPU in about 6 minutes (small CNN). τ = 0.1, not the paper's 1:
        # in 5-epoch trials on MNIST (labels looked at) τ = 1 learned too slowly for this budget
        "fast": {"epochs": 12, "batch_size": 256, "lr": 1e-3, "temperature": 0.1},
        # the official code: SGD 0.03, momentum 0.9, wd 5e-4, batch 128, 2,000 epochs (its
        # step decay ×0.1 at 600/950/1300/1650 is replaced by the kit's cosine decay)
        "paper": {"epochs": 2000, "batch_size": 128, "optimizer": "sgd", "lr": 0.03,
                  "momentum": 0.9, "weight_decay": 5e-4, "augment": "idfd"},
    }

    def _fit(self, X, y):
        c = self.config_
        x = self._images(X)
        self.model_ = model = self._build(z=lambda d: nn.Linear(d, c.feature_dim or min(128, d)))
        dim = model.heads["z"].out_features
        self.bank_ = bank = MemoryBank(len(x), dim, c.bank_momentum,
                                       seed=self.seed).to(self.device_)
        if c.bank_init == "features":  # (a resumed run loads the checkpointed bank)
            bank.vectors.copy_(self._features(x))
        net = distributed.wrap(model, self.device_)
        trainer = self._trainer(model, len(x), c.epochs)
        augment, monitor = self._augment(x), self._monitor(x, y)
        feature_loss = {"id": None, "idfo": feature_orthogonality_loss,
                        "idfd": lambda v: feature_decorrelation_loss(v, c.fd_temperature)
                        }[c.variant]

        def step(idx):
            idx = distributed.shard(idx)
            v = F.normalize(net(augment(x[idx]), ["z"])["z"].float(), dim=1)
            l_id = instance_discrimination_loss(v, bank.vectors, idx, c.temperature)
            bank.update(idx, v)  # safe: the ID loss keeps its own gradient
            if feature_loss is None:
                return l_id, {"id": l_id}
            l_f = feature_loss(v)
            return l_id + c.alpha * l_f, {"id": l_id, c.variant[2:]: l_f}

        for epoch in self.run_.epochs("idfd", c.epochs, model=model, trainer=trainer,
                                      bank=bank):
            model.train()
            parts = trainer.run(step, minibatches(len(x), c.batch_size, x.device,
                                                  drop_last=True))
            trainer.end_epoch()
            row = {**parts, "rank": effective_rank(bank.vectors), **monitor(model)}
            last = epoch + 1 == c.epochs
            if y is not None and c.kmeans_every and ((epoch + 1) % c.kmeans_every == 0 or last):
                km = KMeans(self.n_clusters, n_init=1, random_state=0,
                            device=self.device_).fit(bank.vectors)
                row.update({f"kmeans_{k}": v for k, v in evaluate(y, km.labels_).items()})
            self._log(c.variant, epoch, **row)
        self._kmeans_final(bank.vectors, y, c.epochs, c.n_init)

    def _features(self, x) -> torch.Tensor:
        """v = normalize(z) of un-augmented images, float32."""
        return F.normalize(self._embed(self.model_, x, ["z"])["z"].float(), dim=1)

    def predict(self, X) -> np.ndarray:
        """Nearest k-means centre (fitted on the memory bank) to the new images' features."""
        return np.asarray(self.kmeans_.predict(self._features(self._new_images(X))),
                          dtype=np.int64)

    def transform(self, X) -> np.ndarray:
        """The d-dimensional unit features v = normalize(f_θ(x)) of new images."""
        return self._features(self._new_images(X)).cpu().numpy()


def effective_rank(v: torch.Tensor) -> float:
    """exp(H(p)) with p = λ / Σλ over the eigenvalues λ of the covariance of the rows of
    ``v`` (Roy & Vetterli 2007): d when every direction carries the same variance, 1 when
    all variance lies on one line."""
    vf = v.float()
    cov = torch.cov(vf.T)
    lam = torch.linalg.eigvalsh(cov.double()).clamp_min(0)
    p = lam / lam.sum().clamp_min(1e-30)
    return float(torch.exp(-(p * torch.log(p.clamp_min(1e-30))).sum()))
