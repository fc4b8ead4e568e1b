"""DEC and IDEC (lecture 02), on images, vectors or — with a text input — sentence embeddings.

After the shared pretraining and k-means start (:mod:`.autoencoder`)::

    3. every T iterations compute q on the WHOLE data set, p = target(q);
       stop when fewer than tol of the labels changed since the last time;
       then T mini-batch steps on  KL(P‖Q)  (DEC)  or  γ·KL(P‖Q) + reconstruction  (IDEC)

* DEC — Xie, Girshick & Farhadi, "Unsupervised Deep Embedding for Clustering Analysis",
  ICML 2016.
* IDEC — Guo, Gao, Liu & Yin, "Improved Deep Embedded Clustering with Local Structure
  Preservation", IJCAI 2017.

One "epoch" of the clustering phase is one target refresh (T iterations); every one is
checkpointed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..losses import dec_kl, reconstruction_loss, target_distribution
from ..nn import ClusteringLayer
from ..pretext import embed
from ..train import Trainer, cyclic_minibatches
from .autoencoder import FAST_AE, OPTIMIZERS, PAPER_AE, QUICK_AE, AEConfig, AutoencoderMethod
from .base import register
from .config import option
from .inputs import TextFeatureConfig, TextInput

__all__ = ["DECConfig", "IDECConfig", "DEC", "IDEC", "TextDEC", "TextIDEC"]


@dataclass
class DECConfig(AEConfig):
    """DEC clustering phase."""

    alpha: float = option(1.0, low=0.0, low_open=True)  # Student-t degrees of freedom
    optimizer: str = option("sgd", choices=OPTIMIZERS)
    lr: float = option(0.01, low=0.0, low_open=True)
    momentum: float = option(0.9, low=0.0, high=1.0)
    batch_size: int = option(256, low=1)
    update_interval: int = option(140, low=1)  # T: iterations between target refreshes
    max_iter: int = option(20000, low=1)
    tol: float = option(0.001, low=0.0, high=1.0)  # stop when < tol of the labels change


@dataclass
class IDECConfig(DECConfig):
    # γ weights the clustering term: loss = γ·KL(P‖Q) + mean squared reconstruction error
    gamma: float = option(0.1, low=0.0)




@dataclass
class TextDECConfig(DECConfig, TextFeatureConfig):
    """DEC on text features."""


@dataclass
class TextIDECConfig(IDECConfig, TextFeatureConfig):
    """IDEC on text features."""


DEC_PRESETS = {
    "paper": dict(PAPER_AE, optimizer="sgd", lr=0.01, momentum=0.9, batch_size=256,
                  update_interval=140, max_iter=20000, tol=0.001),
    "fast": dict(FAST_AE, optimizer="sgd", lr=0.01, momentum=0.9, batch_size=256,
                 update_interval=140, max_iter=1400, tol=0.001),
    "quick": dict(QUICK_AE, optimizer="adam", lr=1e-3, batch_size=128, update_interval=30,
                  max_iter=600, tol=0.001),
}
IDEC_PRESETS = {
    # IDEC's own settings: end-to-end Adam pretraining (200 epochs), Adam, γ = 0.1
    "paper": dict(pretrain="end-to-end", pretrain_epochs=200, pretrain_optimizer="adam",
                  pretrain_lr=1e-3, pretrain_batch_size=256, kmeans_n_init=20,
                  optimizer="adam", lr=1e-3, batch_size=256, update_interval=140,
                  max_iter=20000, tol=0.001, gamma=0.1),
    "fast": dict(DEC_PRESETS["fast"], optimizer="adam", lr=1e-4, gamma=0.1),
    "quick": dict(DEC_PRESETS["quick"], gamma=0.1),
}


# text: the same methods on standardised sentence embeddings (an autoencoder wants O(1)
# inputs; unit-length MiniLM rows have tiny coordinates), Adam in both phases
_TEXT = dict(standardize=True, pretrain="end-to-end", pretrain_optimizer="adam",
             pretrain_lr=1e-3, pretrain_batch_size=256, optimizer="adam", lr=1e-3,
             batch_size=256, update_interval=140, kmeans_n_init=20)
TEXT_DEC_PRESETS = {
    "quick": dict(_TEXT, pretrain_epochs=30, max_iter=1400),
    "fast": dict(_TEXT, pretrain_epochs=15, max_iter=700),
    "paper": dict(_TEXT, pretrain_epochs=100, max_iter=20000),
}


@register
class DEC(AutoencoderMethod):
    """Deep Embedded Clustering: minimise KL(P‖Q) between a sharpened target and the
    Student-t soft assignment, updating encoder and centres together."""

    name = "dec"
    description = "DEC (Xie et al. 2016): Student-t soft assignment, target P, KL(P||Q)"
    Config = DECConfig
    presets = DEC_PRESETS
    uses_reconstruction = False

    def _loss(self, ae, cluster, xb, pb):
        """KL(P‖Q) on a batch (DEC), or γ·KL(P‖Q) + reconstruction (IDEC)."""
        if not self.uses_reconstruction:
            kl = dec_kl(pb, cluster(ae.encode(xb)))
            return kl, {"kl": kl}
        z, x_hat = ae(xb)
        kl, rec = dec_kl(pb, cluster(z)), reconstruction_loss(x_hat, xb)
        return self.config_.gamma * kl + rec, {"kl": kl, "rec": rec}

    def _fit(self, X, y):
        c = self.config_
        x = self._input(X, fitting=True)
        n, bs = len(x), min(c.batch_size, len(x))
        ae, km = self._pretrain_and_initialise(x, y)                       # steps 1 and 2
        cluster = ClusteringLayer(km["centers"], c.alpha).to(self.device_)
        params = ae.parameters() if self.uses_reconstruction else ae.encoder.parameters()
        trainer = Trainer([*params, *cluster.parameters()], c.optimizer, c.lr,
                          momentum=c.momentum, device=self.device_, amp=c.amp)
        state = {"labels": torch.as_tensor(km["labels"]), "iteration": 0, "converged": False}
        n_rounds = max(1, math.ceil(c.max_iter / c.update_interval))
        for rnd in self.run_.epochs("cluster", n_rounds, model=ae, cluster=cluster,
                                    trainer=trainer, state=state):
            q_all = cluster(embed(ae, x, amp=c.amp))     # (1) targets on the whole data set
            p_all = target_distribution(q_all)
            labels = q_all.argmax(1).cpu()
            changed = float((labels != state["labels"]).float().mean())
            state["labels"] = labels
            if rnd > 0 and changed < c.tol:              # (2) stop when few labels change
                state["converged"] = True
                self._log("cluster", rnd, y, labels.numpy(), changed=changed,
                          iteration=state["iteration"], converged=True)
                break
            batches = cyclic_minibatches(torch.randperm(n).to(self.device_), bs,
                                         c.update_interval)
            parts = trainer.run(                         # (3) T steps towards the fixed target
                lambda idx, p=p_all: self._loss(ae, cluster, self._augment(x[idx], True), p[idx]),
                batches)
            state["iteration"] += c.update_interval
            self._log("cluster", rnd, y, labels.numpy(), changed=changed,
                      iteration=state["iteration"], cluster_sizes=np.bincount(
                          labels.numpy(), minlength=self.n_clusters).tolist(), **parts)
        if state["converged"]:
            self.run_.finish("cluster")
        self.clustering_layer_ = cluster
        self.q_ = cluster(embed(ae, x, amp=c.amp)).detach().cpu().numpy()
        self.labels_ = self.q_.argmax(1)
        self.cluster_centers_ = cluster.centers.detach().cpu().numpy()
        self.n_iter_ = state["iteration"]
        self.converged_ = bool(state["converged"])

    def predict_proba(self, X) -> np.ndarray:
        """Soft assignments q of new samples."""
        self._check_fitted()
        z = torch.as_tensor(self.transform(X), device=self.device_)
        return self.clustering_layer_(z).detach().cpu().numpy()


@register
class IDEC(DEC):
    """DEC plus the decoder: ``γ·KL(P‖Q) + reconstruction`` keeps the embedding faithful to
    the data (local structure preservation)."""

    name = "idec"
    description = "IDEC (Guo et al. 2017): gamma*KL(P||Q) + reconstruction"
    Config = IDECConfig
    presets = IDEC_PRESETS
    uses_reconstruction = True


@register
class TextDEC(TextInput, DEC):
    """DEC on sentence embeddings (standardised): the same algorithm, a text input."""

    name = "text-dec"
    description = "DEC on MiniLM sentence embeddings (the dec method on a text input)"
    Config = TextDECConfig
    presets = TEXT_DEC_PRESETS


@register
class TextIDEC(TextInput, IDEC):
    """IDEC on sentence embeddings: γ·KL(P‖Q) + reconstruction, a text input."""

    name = "text-idec"
    description = "IDEC on MiniLM sentence embeddings (the idec method on a text input)"
    Config = TextIDECConfig
    presets = {k: dict(v, gamma=0.1) for k, v in TEXT_DEC_PRESETS.items()}
