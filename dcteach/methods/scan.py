"""SCAN — Semantic Clustering by Adopting Nearest neighbours (Van Gansbeke et al., ECCV 2020),
with a frozen pretext model (lectures 06 and 08).

Algorithm::

    1. pretext features z (here: cached sentence embeddings, neighbour-smoothed)
    2. mine the k nearest neighbours N(i) of every sample in that space
    3. train cluster heads on  −log⟨p_i, p_j⟩ (j drawn from N(i))  −  w · H(mean p);
       keep the head with the lowest SCAN loss on the training data
    4. (scan-selflabel) self-labelling: samples with max p ≥ threshold supervise a
       class-balanced cross-entropy on augmented (dropout) inputs

The image pipeline (pretext SimCLR backbone, strong augmentations) plugs into the same steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..cluster import KMeans, mine_neighbours, smooth_features
from ..losses import (
    balanced_cross_entropy,
    class_balance_weights,
    confident_pseudo_labels,
    scan_loss,
)
from ..nn import ClusterHeads
from ..train import Trainer, minibatches
from .base import ClusterMethod, option, register
from .inputs import TextFeatureConfig, TextInput

__all__ = ["TextSCAN", "TextSelfLabel", "SCANConfig"]


@dataclass
class SCANConfig(TextFeatureConfig):
    smooth_neighbours: int = option(20, low=0)  # average features with their k-NN first (0: off)
    n_neighbours: int = option(20, low=1)  # k-NN mined for the SCAN consistency term
    entropy_weight: float = option(1.0, low=0.0)  # SCAN's 5.0 forces balanced clusters
    n_heads: int = option(5, low=1)
    epochs: int = option(5, low=0)
    batch_size: int = option(256, low=1)
    lr: float = option(1e-3, low=0.0, low_open=True)
    weight_decay: float = option(1e-4, low=0.0)
    dropout: float = option(0.1, low=0.0, high=0.99)  # feature dropout: the "augmentation"
    init: str = option("kmeans", choices=("kmeans", "random"))  # heads start at k-means
    init_temperature: float = option(0.05, low=0.0, low_open=True)
    n_init: int = option(10, low=1)
    amp: bool = False
    # self-labelling (scan-selflabel)
    selflabel_epochs: int = option(0, low=0)
    threshold: float = option(0.99, low=0.0, high=1.0)
    selflabel_dropout: float = option(0.3, low=0.0, high=0.99)


@register
class TextSCAN(TextInput, ClusterMethod):
    """SCAN with a frozen sentence encoder as the pretext model."""

    name = "text-scan"
    description = "SCAN on MiniLM: k-NN consistency + entropy on linear cluster heads"
    Config = SCANConfig
    presets = {"quick": {}, "paper": {"epochs": 50, "entropy_weight": 5.0},
               "fast": {"epochs": 3}}

    def _scan_step(self, heads, zs, mined, idx):
        c = self.config_
        j = mined[idx, torch.randint(0, mined.shape[1], (len(idx),), device=zs.device)]
        pa = heads(F.dropout(zs[idx], c.dropout)).softmax(-1)
        pb = heads(F.dropout(zs[j], c.dropout)).softmax(-1)
        return sum(scan_loss(pa[h], pb[h], c.entropy_weight)[0] for h in range(c.n_heads))

    def _fit(self, X, y):
        c, k = self.config_, self.n_clusters
        x = F.normalize(self._input(X, fitting=True), dim=1)
        nbrs = mine_neighbours(x, max(c.n_neighbours, c.smooth_neighbours, 1))   # step 2
        z = smooth_features(x, nbrs, c.smooth_neighbours)                         # step 1
        self.embedding_ = z.cpu().numpy()
        zs = (z - z.mean(0)) / z.std(0).clamp_min(1e-6)  # standardised inputs of the heads
        heads = ClusterHeads(zs.shape[1], k, c.n_heads).to(self.device_)
        if c.init == "kmeans":
            self._init_heads(heads, z, zs)
        trainer = Trainer(heads.parameters(), "adam", c.lr, weight_decay=c.weight_decay,
                          device=self.device_, amp=c.amp)
        mined = nbrs[:, :c.n_neighbours]
        for epoch in self.run_.epochs("scan", c.epochs, heads=heads, trainer=trainer):  # 3
            parts = trainer.run(lambda idx: self._scan_step(heads, zs, mined, idx),
                                minibatches(len(zs), c.batch_size, self.device_))
            best, probs, losses = self._best_head(heads, zs, mined)
            self._log("scan", epoch, y, probs.argmax(1).cpu().numpy(), head=best,
                      best_loss=losses[best], **parts)
        best, probs, _ = self._best_head(heads, zs, mined)
        self.head_ = best
        if c.selflabel_epochs > 0:                                                # step 4
            probs = self._self_label(heads.head(best), zs, y)
        self.probabilities_ = probs.cpu().numpy()
        self.labels_ = probs.argmax(1).cpu().numpy().astype(np.int64)
        self._log("final", 0, y, self.labels_)

    def transform(self, X) -> np.ndarray:
        """The unit-length text features (before neighbour smoothing)."""
        return F.normalize(self._input(X), dim=1).cpu().numpy()

    @torch.no_grad()
    def _init_heads(self, heads: ClusterHeads, z: torch.Tensor, zs: torch.Tensor) -> None:
        """Fit each head by least squares to the soft assignments of a k-means solution
        (k-means with a different seed per head)."""
        c, k = self.config_, self.n_clusters
        design = torch.cat([zs, torch.ones(len(zs), 1, device=zs.device)], 1)
        weights = []
        for h in range(c.n_heads):
            km = KMeans(k, n_init=max(1, c.n_init // c.n_heads), random_state=self.seed * 100 + h,
                        device=self.device_).fit(z)
            cen = F.normalize(torch.as_tensor(km.cluster_centers_, device=z.device), dim=1)
            logits = z @ cen.T / c.init_temperature
            weights.append(torch.linalg.lstsq(design, logits - logits.mean(1, keepdim=True)
                                              ).solution)
        w = torch.stack(weights, 1)  # (dim+1, heads, k)
        heads.linear.weight.copy_(w[:-1].reshape(zs.shape[1], -1).T)
        heads.linear.bias.copy_(w[-1].reshape(-1))

    @torch.no_grad()
    def _best_head(self, heads, zs, mined):
        """The head with the lowest SCAN loss on the training data (first mined neighbour)."""
        probs = heads(zs).softmax(-1)
        pn = probs[:, mined[:, 0]]
        losses = [float(scan_loss(probs[h], pn[h], self.config_.entropy_weight)[0])
                  for h in range(len(probs))]
        best = int(np.argmin(losses))
        return best, probs[best], losses

    def _self_label(self, head, zs, y):
        """SCAN's self-labelling on the chosen head: each epoch, the confident samples and
        their class-balance weights, then cross-entropy on dropout-augmented inputs."""
        c, k = self.config_, self.n_clusters
        trainer = Trainer(head.parameters(), "adam", c.lr, weight_decay=c.weight_decay,
                          device=self.device_, amp=c.amp)
        for epoch in self.run_.epochs("selflabel", c.selflabel_epochs, head=head,
                                      trainer=trainer):
            with torch.no_grad():
                labels, mask = confident_pseudo_labels(head(zs).softmax(1), c.threshold)
                weight = class_balance_weights(labels[mask], k)
            chosen = mask.nonzero().squeeze(1)
            batches = chosen[torch.randperm(len(chosen), device=self.device_)].split(
                c.batch_size)
            parts = trainer.run(lambda idx, t=labels, w=weight: balanced_cross_entropy(
                head(F.dropout(zs[idx], c.selflabel_dropout)), t[idx], w), batches)
            with torch.no_grad():
                pred = head(zs).argmax(1).cpu().numpy()
            self._log("selflabel", epoch, y, pred, confident=float(mask.float().mean()),
                      **parts)
        with torch.no_grad():
            return head(zs).softmax(1)


@register
class TextSelfLabel(TextSCAN):
    """``text-scan`` followed by SCAN's self-labelling step: the kit's strongest text method."""

    name = "text-selflabel"
    description = "SCAN on MiniLM, then self-labelling with confident pseudo-labels (p > 0.99)"
    defaults = {"selflabel_epochs": 5}
