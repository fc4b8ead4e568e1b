"""The autoencoder family: AE + k-means, DEC, IDEC and DCN.

All four share one pipeline, which reads like the papers' algorithm boxes::

    1. pretrain an autoencoder  x ↦ z = f(x) ↦ x̂ = g(z)        (end-to-end or layer-wise)
    2. k-means on the embeddings z → initial centres μ
    3. loop (not for AE + k-means):
         DEC / IDEC: every T iterations compute q on the WHOLE data set, p = target(q);
                     stop when fewer than tol of the labels changed since the last time;
                     then T mini-batch steps on  γ·KL(P‖Q) [+ reconstruction for IDEC]
         DCN:        per mini-batch: assign to nearest centre, step on
                     reconstruction + λ·½‖f(x) − μ_s‖², online centre update with counts

* DEC — Xie, Girshick & Farhadi, "Unsupervised Deep Embedding for Clustering Analysis",
  ICML 2016.
* IDEC — Guo, Gao, Liu & Yin, "Improved Deep Embedded Clustering with Local Structure
  Preservation", IJCAI 2017.
* DCN — Yang, Fu, Sidiropoulos & Hong, "Towards K-means-friendly Spaces: Simultaneous Deep
  Learning and Clustering", ICML 2017.

* DEC-DA — Guo, Zhu, Liu & Yin, "Deep Embedded Clustering with Data Augmentation",
  ACML 2018: the same losses, trained on randomly shifted and rotated images
  (``augment=True``; the targets p still come from the clean images).

Presets: ``paper`` (the papers' settings, see REFERENCES), ``fast`` (tuned for
time-to-accuracy on a 2-core CPU: Adam, short end-to-end pretraining with DEC-DA's
augmentation, bf16 matrix products where the CPU has them, full-batch tensors in memory) and
``quick`` (seconds, for notebooks and tests). One "epoch" of the DEC/IDEC
clustering phase is one target refresh (T iterations); every one is checkpointed.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..augment import random_affine
from ..cluster import KMeans, pairwise_sq_dists
from ..losses import (
    dcn_kmeans_loss,
    dcn_update_centers,
    dec_kl,
    reconstruction_loss,
    target_distribution,
)
from ..nn import ClusteringLayer, build_autoencoder
from ..pretext import embed, pretrain_autoencoder, pretrain_layerwise
from ..train import Trainer, cyclic_minibatches, minibatches
from .base import ClusterMethod, option, register
from .inputs import TextFeatureConfig, TextInput

__all__ = ["AEConfig", "DECConfig", "IDECConfig", "DCNConfig", "AEKMeans", "DEC", "IDEC",
           "DCN", "TextDEC", "TextIDEC", "ClusteringLayer"]


# ------------------------------------------------------------------------------------------
# configs and presets
# ------------------------------------------------------------------------------------------
_OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclass
class AEConfig:
    """Autoencoder and its pretraining (shared by the whole family)."""

    arch: str = option("mlp", choices=("mlp", "conv"))  # d-500-500-2000-10 MLP or conv AE
    hidden: tuple[int, ...] = (500, 500, 2000)  # MLP hidden widths
    latent_dim: int = option(10, low=1)
    # "end-to-end", or "layerwise" (greedy denoising per layer pair, then fine-tuning)
    pretrain: str = option("end-to-end", choices=("end-to-end", "layerwise"))
    pretrain_epochs: int = option(50, low=0)  # end-to-end epochs (= fine-tuning after layer-wise)
    layerwise_epochs: int = option(0, low=0)  # epochs per layer pair when pretrain="layerwise"
    dropout: float = option(0.2, low=0.0, high=0.99)  # layer-wise denoising dropout
    pretrain_optimizer: str = option("adam", choices=_OPTIMIZERS)
    pretrain_lr: float = option(1e-3, low=0.0, low_open=True)
    pretrain_batch_size: int = option(256, low=1)
    pretrain_lr_decay_every: int = option(0, low=0)  # epochs; lr /10 each time (0: constant)
    kmeans_n_init: int = option(20, low=1)
    input_scale: float = option(1.0, low=0.0, low_open=True)  # Caffe DEC used 0.02 on MNIST
    amp: bool = True                     # mixed precision: CUDA, or bf16 on CPUs that have it
    augment: bool = False                # DEC-DA: random shift/rotation of image mini-batches
    augment_shift: float = option(0.1, low=0.0, high=1.0)  # up to this fraction of the size
    augment_rotation: float = option(10.0, low=0.0, high=180.0)  # up to this many degrees
    augment_clustering: bool = True      # augment in the clustering phase too (not only
                                         # in pretraining)


@dataclass
class DECConfig(AEConfig):
    """DEC clustering phase."""

    alpha: float = option(1.0, low=0.0, low_open=True)  # Student-t degrees of freedom
    optimizer: str = option("sgd", choices=_OPTIMIZERS)
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
class DCNConfig(AEConfig):
    lam: float = option(1.0, low=0.0)    # λ, weight of the k-means-friendly term
    optimizer: str = option("adam", choices=_OPTIMIZERS)
    lr: float = option(1e-4, low=0.0, low_open=True)
    momentum: float = option(0.9, low=0.0, high=1.0)
    batch_size: int = option(256, low=1)
    epochs: int = option(50, low=0)
    count_init: float = option(100.0, low=0.0, low_open=True)  # initial counts of the update
    tol: float = option(0.001, low=0.0, high=1.0)  # stop when < tol of the labels change


@dataclass
class TextDECConfig(DECConfig, TextFeatureConfig):
    """DEC on text features."""


@dataclass
class TextIDECConfig(IDECConfig, TextFeatureConfig):
    """IDEC on text features."""


_ITERS_PER_EPOCH_MNIST = 70000 / 256
_PAPER_AE = dict(pretrain="layerwise", layerwise_epochs=round(50000 / _ITERS_PER_EPOCH_MNIST),
                 pretrain_epochs=round(100000 / _ITERS_PER_EPOCH_MNIST), dropout=0.2,
                 pretrain_optimizer="sgd", pretrain_lr=0.1, pretrain_batch_size=256,
                 pretrain_lr_decay_every=round(20000 / _ITERS_PER_EPOCH_MNIST),
                 kmeans_n_init=20)
# fast: short end-to-end pretraining on randomly shifted/rotated images (DEC-DA), which
# gives a better embedding per epoch than clean images; the clustering phase sees them too
_FAST_AE = dict(pretrain="end-to-end", pretrain_epochs=20, pretrain_optimizer="adam",
                pretrain_lr=1e-3, pretrain_batch_size=512, kmeans_n_init=10, augment=True)
# quick: a narrower autoencoder so that notebooks and tests finish in seconds
_QUICK_AE = dict(hidden=(256, 256, 512), pretrain="end-to-end", pretrain_epochs=50,
                 pretrain_optimizer="adam", pretrain_lr=1e-3, pretrain_batch_size=128,
                 kmeans_n_init=5)

AE_PRESETS = {"paper": dict(_PAPER_AE), "fast": dict(_FAST_AE), "quick": dict(_QUICK_AE)}
DEC_PRESETS = {
    "paper": dict(_PAPER_AE, optimizer="sgd", lr=0.01, momentum=0.9, batch_size=256,
                  update_interval=140, max_iter=20000, tol=0.001),
    "fast": dict(_FAST_AE, optimizer="sgd", lr=0.01, momentum=0.9, batch_size=256,
                 update_interval=140, max_iter=1400, tol=0.001),
    "quick": dict(_QUICK_AE, optimizer="adam", lr=1e-3, batch_size=128, update_interval=30,
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
DCN_PRESETS = {
    "paper": dict(_PAPER_AE, lam=1.0, optimizer="sgd", lr=0.01, batch_size=256, epochs=50),
    # fast: hard assignments of shifted/rotated images are noisy, so DCN's clustering phase
    # sees the clean images (augmented: 0.63 instead of 0.83 ACC on MNIST, seed 0); with the
    # mean-squared reconstruction error λ must be small (0.1 pulls the embedding apart)
    "fast": dict(_FAST_AE, augment_clustering=False, lam=0.01, optimizer="adam", lr=3e-4,
                 batch_size=256, epochs=8),
    "quick": dict(_QUICK_AE, lam=0.1, optimizer="adam", lr=1e-4, batch_size=128, epochs=10),
}


# ------------------------------------------------------------------------------------------
# shared pipeline
# ------------------------------------------------------------------------------------------
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


class _AutoencoderMethod(ClusterMethod):
    """Pretraining, k-means initialisation, transform/predict: everything but the loop."""

    input_kind = "image"  # images keep their shape (conv AE); the MLP flattens them
    Config = AEConfig

    # -- data and autoencoder -------------------------------------------------------------
    def _input(self, X, fitting: bool = False) -> torch.Tensor:
        """``X`` as a float32 tensor on the device: flattened for the MLP, (n, C, H, W) for
        the conv AE; the image shape is remembered for augmentation."""
        x = torch.as_tensor(X if fitting else self._validate(X))  # fit validated X already
        if x.ndim in (3, 4) and fitting:  # images, (n, H, W) or (n, C, H, W)
            self.image_shape_ = (1, *x.shape[1:]) if x.ndim == 3 else tuple(x.shape[1:])
        if self.config_.arch == "mlp":
            x = x.reshape(len(x), -1)
        elif x.ndim == 3:  # (n, H, W) grey images
            x = x[:, None]
        return (x * self.config_.input_scale).to(self.device_)

    def _augment(self, xb: torch.Tensor, clustering: bool = False) -> torch.Tensor:
        """DEC-DA's random shift and rotation of a mini-batch (identity if not ``augment``,
        or in the clustering phase if not ``augment_clustering``)."""
        c = self.config_
        if not c.augment or (clustering and not c.augment_clustering):
            return xb
        return random_affine(xb, self.image_shape_, c.augment_shift, c.augment_rotation)

    def _check_augment(self) -> None:
        """Shifts and rotations need images: on flat feature vectors ``augment`` (on in the
        ``fast`` preset) is switched off with a warning."""
        if self.config_.augment and not hasattr(self, "image_shape_"):
            warnings.warn("augment=True needs image inputs of shape (n, H, W) or (n, C, H, W); "
                          "these are flat feature vectors, so training runs without "
                          "augmentation (set augment=False to silence this)", stacklevel=3)
            self.config_.augment = False

    def _pretrained_autoencoder(self, x: torch.Tensor) -> nn.Module:
        c = self.config_
        self._check_augment()
        ae = build_autoencoder(c.arch, tuple(x.shape[1:]), c.hidden, c.latent_dim)
        ae = ae.to(self.device_)
        self.autoencoder_ = ae
        if c.pretrain == "layerwise":
            pretrain_layerwise(ae, x, c.layerwise_epochs, c.pretrain_batch_size,
                               c.pretrain_optimizer, c.pretrain_lr, dropout=c.dropout,
                               run=self.run_, amp=c.amp,
                               lr_decay_every=c.pretrain_lr_decay_every,
                               log=lambda ph, e, loss: self._log(ph, e, loss=loss))
        pretrain_autoencoder(ae, x, c.pretrain_epochs, c.pretrain_batch_size,
                             c.pretrain_optimizer, c.pretrain_lr, run=self.run_,
                             phase="pretrain", amp=c.amp,
                             lr_decay_every=c.pretrain_lr_decay_every,
                             augment=self._augment if c.augment else None,
                             log=lambda e, loss: self._log("pretrain", e, loss=loss))
        return ae

    def _pretrain_and_initialise(self, x: torch.Tensor, y) -> tuple[nn.Module, dict]:
        """Steps 1 and 2 of the pipeline: pretrained autoencoder, k-means on its embedding."""
        ae = self._pretrained_autoencoder(x)
        return ae, self._kmeans_init(embed(ae, x, amp=self.config_.amp), y)

    def _kmeans_init(self, z: torch.Tensor, y) -> dict:
        """k-means on the embeddings (checkpointed as a one-epoch phase)."""
        km_state: dict = {}
        for _ in self.run_.epochs("kmeans", 1, state=km_state):
            km = KMeans(self.n_clusters, n_init=self.config_.kmeans_n_init,
                        random_state=self.seed, device=self.device_).fit(z)
            km_state.update(centers=km.cluster_centers_, labels=km.labels_,
                            inertia=km.inertia_)
            self._log("kmeans", 0, y, km.labels_, inertia=km.inertia_)
        self.init_labels_ = np.asarray(km_state["labels"])
        return km_state

    # -- sklearn interface ---------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Embeddings ``f(x)`` of the trained encoder."""
        self._check_fitted()
        return embed(self.autoencoder_, self._input(X), amp=self.config_.amp).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """Nearest centre in the embedding (DEC/IDEC: the same as argmax q)."""
        self._check_fitted()
        z = torch.as_tensor(self.transform(X), device=self.device_)
        centers = torch.as_tensor(self.cluster_centers_, device=self.device_)
        return pairwise_sq_dists(z, centers).argmin(1).cpu().numpy()

    def _check_fitted(self):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "cluster_centers_")


@register
class AEKMeans(_AutoencoderMethod):
    """Pretrained autoencoder, then k-means on its embedding (the baseline of the family)."""

    name = "ae-kmeans"
    description = "autoencoder (d-500-500-2000-10 or conv) pretraining + k-means on embeddings"
    Config = AEConfig
    presets = AE_PRESETS

    def _fit(self, X, y):
        ae, km = self._pretrain_and_initialise(self._input(X, fitting=True), y)
        self.cluster_centers_ = np.asarray(km["centers"])
        self.labels_ = self.init_labels_


@register
class DEC(_AutoencoderMethod):
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
class DCN(_AutoencoderMethod):
    """Deep Clustering Network: reconstruction + λ·k-means loss in the embedding, with
    hard assignments and online centroid updates."""

    name = "dcn"
    description = "DCN (Yang et al. 2017): reconstruction + lambda * k-means-friendly loss"
    Config = DCNConfig
    presets = DCN_PRESETS

    def _step(self, ae, state, xb):
        """Assign each sample to its nearest centre, take the loss
        ``rec + λ·½‖f(x) − μ_s‖²``, then move the centres online (eq. 8)."""
        z, x_hat = ae(xb)
        z = z.float()
        assign = pairwise_sq_dists(z.detach(), state["centers"]).argmin(1)
        rec, km = reconstruction_loss(x_hat, xb), dcn_kmeans_loss(z, state["centers"], assign)
        state["centers"], state["counts"] = dcn_update_centers(
            z, state["centers"], state["counts"], assign)
        return rec + self.config_.lam * km, {"rec": rec, "kmeans": km}

    def _fit(self, X, y):
        c = self.config_
        x = self._input(X, fitting=True)
        ae, km = self._pretrain_and_initialise(x, y)
        trainer = Trainer(ae.parameters(), c.optimizer, c.lr, momentum=c.momentum,
                          device=self.device_, amp=c.amp)
        state = {"centers": torch.as_tensor(km["centers"], device=self.device_),
                 "counts": torch.full((self.n_clusters,), float(c.count_init),
                                      device=self.device_),
                 "labels": torch.as_tensor(km["labels"]), "converged": False}
        for epoch in self.run_.epochs("cluster", c.epochs, model=ae, trainer=trainer,
                                      state=state):
            self._to_device(state)
            parts = trainer.run(lambda idx: self._step(ae, state, self._augment(x[idx], True)),
                                minibatches(len(x), min(c.batch_size, len(x)), self.device_))
            z = embed(ae, x, amp=c.amp)
            labels = pairwise_sq_dists(z, state["centers"]).argmin(1).cpu()
            changed = float((labels != state["labels"]).float().mean())
            state["labels"] = labels
            self._log("cluster", epoch, y, labels.numpy(), changed=changed, **parts)
            if changed < c.tol:
                state["converged"] = True
                break
        if state["converged"]:
            self.run_.finish("cluster")
        self._to_device(state)
        self.cluster_centers_ = state["centers"].cpu().numpy()
        self.labels_ = state["labels"].numpy()
        self.converged_ = bool(state["converged"])

    def _to_device(self, state: dict) -> None:
        """Checkpoints load onto the CPU: move restored centre tensors back."""
        for key in ("centers", "counts"):
            state[key] = state[key].to(self.device_)


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
