"""SCCL — Supporting Clustering with Contrastive Learning (Zhang et al., NAACL 2021), on a
frozen sentence encoder with a trainable residual MLP on top (lecture 08).

Algorithm, per mini-batch of texts x::

    v₁, v₂  = two random views of x, made in embedding space (neighbour swap, dropout, noise)
    L_inst  = NT-Xent(g(f(v₁)), g(f(v₂)); τ)                 instance-wise contrastive term
    q       = Student-t soft assignment of f(x) to centres μ   (initialised by k-means)
    L_clu   = KL(P ‖ Q), P = DEC's target computed on the batch
    L       = L_inst + η · L_clu

The sentence model is run once and cached (:mod:`dcteach.features`), so the views are made
from the cached vectors (:func:`dcteach.augment.embedding_view`) instead of augmented texts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..augment import embedding_view
from ..cluster import KMeans, mine_neighbours
from ..losses import dec_kl, nt_xent, target_distribution
from ..nn import ClusteringLayer, ProjectionHead, ResidualMLP
from ..train import Trainer, embed_all, minibatches
from .base import ClusterMethod, register
from .config import option
from .inputs import TextFeatureConfig, TextInput

__all__ = ["SCCL", "SCCLConfig"]


@dataclass
class SCCLConfig(TextFeatureConfig):
    hidden: int = option(768, low=1)
    proj_dim: int = option(128, low=1)
    temperature: float = option(0.5, low=0.0, low_open=True)
    eta: float = option(10.0, low=0.0)  # weight of the clustering (KL) term
    alpha: float = option(1.0, low=0.0, low_open=True)
    scale: float = option(4.0, low=0.0, low_open=True)  # unit rows × this before Student-t
    epochs: int = option(30, low=0)
    batch_size: int = option(256, low=2)
    lr: float = option(1e-3, low=0.0, low_open=True)
    dropout: float = option(0.2, low=0.0, high=0.99)
    noise: float = option(0.01, low=0.0)
    p_neighbour: float = option(0.5, low=0.0, high=1.0)
    n_neighbours: int = option(10, low=1)
    n_init: int = option(10, low=1)
    amp: bool = False


@register
class SCCL(TextInput, ClusterMethod):
    """SCCL on a frozen sentence encoder: NT-Xent on embedding-space views + η·KL(P‖Q)."""

    name = "sccl"
    description = ("SCCL on frozen MiniLM: embedding-space views, NT-Xent + Student-t "
                   "cluster head (KL to DEC target)")
    Config = SCCLConfig
    presets = {"quick": {"epochs": 10}, "paper": {"epochs": 50}, "fast": {"epochs": 5}}

    def _loss(self, f, g, cluster, x, nbrs, idx):
        c = self.config_
        v1, v2 = (embedding_view(x, idx, nbrs, c.dropout, c.noise, c.p_neighbour)
                  for _ in range(2))
        inst = nt_xent(g(f(v1)), g(f(v2)), c.temperature)
        q = cluster(f(x[idx]))
        kl = dec_kl(target_distribution(q), q)              # target from the batch
        return inst + c.eta * kl, {"instance": inst, "kl": kl}

    def _fit(self, X, y):
        c = self.config_
        x = F.normalize(self._input(X, fitting=True), dim=1) * c.scale
        n, dim = x.shape
        nbrs = mine_neighbours(x, c.n_neighbours) if c.p_neighbour > 0 else None
        f = ResidualMLP(dim, c.hidden).to(self.device_)
        g = ProjectionHead(dim, dim, c.proj_dim).to(self.device_)
        km = KMeans(self.n_clusters, n_init=c.n_init, random_state=self.seed,
                    device=self.device_).fit(x)
        self._log("kmeans-init", 0, y, km.labels_)
        cluster = ClusteringLayer(km.cluster_centers_, c.alpha).to(self.device_)
        trainer = Trainer([*f.parameters(), *g.parameters(), *cluster.parameters()], "adam",
                          c.lr, device=self.device_, amp=c.amp)
        for epoch in self.run_.epochs("sccl", c.epochs, encoder=f, head=g, cluster=cluster,
                                      trainer=trainer):
            parts = trainer.run(lambda idx: self._loss(f, g, cluster, x, nbrs, idx),
                                minibatches(n, c.batch_size, self.device_, min_size=2))
            labels = embed_all(lambda b: cluster(f(b)), x).argmax(1).cpu().numpy()
            self._log("sccl", epoch, y, labels, **parts)
        self.encoder_, self.clustering_layer_ = f, cluster
        z = embed_all(f, x)
        q = cluster(z).detach()
        self.embedding_ = z.cpu().numpy()
        self.cluster_centers_ = cluster.centers.detach().cpu().numpy()
        self.probabilities_ = q.cpu().numpy()
        self.labels_ = q.argmax(1).cpu().numpy().astype(np.int64)

    def transform(self, X) -> np.ndarray:
        """Embeddings ``f(x)`` of the trained residual MLP (the space the centres live in)."""
        x = F.normalize(self._input(X), dim=1) * self.config_.scale
        return embed_all(self.encoder_, x).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """argmax of the Student-t soft assignment of new texts."""
        z = torch.as_tensor(self.transform(X), device=self.device_)
        return self.clustering_layer_(z).argmax(1).cpu().numpy().astype(np.int64)
