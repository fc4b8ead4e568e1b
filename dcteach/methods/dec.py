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
from ..cluster import KMeans
from ..engine import autocast
from ..losses import (
    dcn_kmeans_loss,
    dcn_update_centers,
    dec_kl,
    pairwise_sq_distances,
    reconstruction_loss,
    soft_assignment,
    target_distribution,
)
from ..models import (
    build_autoencoder,
    embed,
    make_optimizer,
    pretrain_autoencoder,
    pretrain_layerwise,
)
from .base import ClusterMethod, register

__all__ = ["AEConfig", "DECConfig", "IDECConfig", "DCNConfig", "AEKMeans", "DEC", "IDEC",
           "DCN", "ClusteringLayer"]


# ------------------------------------------------------------------------------------------
# configs and presets
# ------------------------------------------------------------------------------------------
@dataclass
class AEConfig:
    """Autoencoder and its pretraining (shared by the whole family)."""

    arch: str = "mlp"                    # "mlp" (d-500-500-2000-10) or "conv"
    hidden: tuple = (500, 500, 2000)     # MLP hidden widths
    latent_dim: int = 10
    pretrain: str = "end-to-end"         # or "layerwise" (greedy denoising, then fine-tune)
    pretrain_epochs: int = 50            # end-to-end epochs (= fine-tuning after layer-wise)
    layerwise_epochs: int = 0            # epochs per layer pair when pretrain="layerwise"
    dropout: float = 0.2                 # layer-wise denoising dropout
    pretrain_optimizer: str = "adam"
    pretrain_lr: float = 1e-3
    pretrain_batch_size: int = 256
    pretrain_lr_decay_every: int = 0     # epochs; lr /10 each time (0: constant)
    kmeans_n_init: int = 20
    input_scale: float = 1.0             # multiply inputs (Caffe DEC used 0.02 on MNIST)
    amp: bool = True                     # mixed precision: CUDA, or bf16 on CPUs that have it
    augment: bool = False                # DEC-DA: random shift/rotation of image mini-batches
    augment_shift: float = 0.1           #   up to this fraction of the width/height
    augment_rotation: float = 10.0       #   up to this many degrees
    augment_clustering: bool = True      #   augment in the clustering phase too (not only
                                         #   in pretraining)


@dataclass
class DECConfig(AEConfig):
    """DEC clustering phase."""

    alpha: float = 1.0                   # Student-t degrees of freedom
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 256
    update_interval: int = 140           # T: iterations between target refreshes
    max_iter: int = 20000
    tol: float = 0.001                   # stop when < tol of the labels change


@dataclass
class IDECConfig(DECConfig):
    gamma: float = 0.1                   # weight of the clustering (KL) term


@dataclass
class DCNConfig(AEConfig):
    lam: float = 1.0                     # λ, weight of the k-means-friendly term
    optimizer: str = "adam"
    lr: float = 1e-4
    momentum: float = 0.9
    batch_size: int = 256
    epochs: int = 50
    count_init: float = 100.0            # initial per-cluster counts of the online update
    tol: float = 0.001                   # stop when < tol of the labels change in an epoch


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
class ClusteringLayer(nn.Module):
    """Trainable centres ``μ`` (k, d); ``forward(z)`` gives DEC's soft assignment q."""

    def __init__(self, centers, alpha: float = 1.0):
        super().__init__()
        self.centers = nn.Parameter(torch.as_tensor(np.asarray(centers), dtype=torch.float32))
        self.alpha = alpha

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return soft_assignment(z.float(), self.centers, self.alpha)


class _AutoencoderMethod(ClusterMethod):
    """Pretraining, k-means initialisation, transform/predict: everything but the loop."""

    input_kind = "image"  # images keep their shape (conv AE); the MLP flattens them
    Config = AEConfig

    # -- data and autoencoder -------------------------------------------------------------
    def _tensor(self, X) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(X, dtype=np.float32))
        if x.ndim < 2:
            raise ValueError(f"X must have shape (n_samples, ...), got {tuple(x.shape)}")
        if x.ndim in (3, 4):  # images, (n, H, W) or (n, C, H, W): remembered for augment
            self.image_shape_ = (1, *x.shape[1:]) if x.ndim == 3 else tuple(x.shape[1:])
        if self.config.arch == "mlp":
            x = x.reshape(len(x), -1)
        elif x.ndim == 3:  # (n, H, W) grey images
            x = x[:, None]
        return (x * self.config.input_scale).to(self.device_)

    def _augment(self, xb: torch.Tensor, clustering: bool = False) -> torch.Tensor:
        """DEC-DA's random shift and rotation of a mini-batch (identity if not ``augment``,
        or in the clustering phase if not ``augment_clustering``)."""
        c = self.config
        if not c.augment or (clustering and not c.augment_clustering):
            return xb
        return random_affine(xb, self.image_shape_, c.augment_shift, c.augment_rotation)

    def _check_augment(self) -> None:
        """Shifts and rotations need images: on flat feature vectors ``augment`` (on in the
        ``fast`` preset) is switched off with a warning."""
        if self.config.augment and not hasattr(self, "image_shape_"):
            warnings.warn("augment=True needs image inputs of shape (n, H, W) or (n, C, H, W); "
                          "these are flat feature vectors, so training runs without "
                          "augmentation (set augment=False to silence this)", stacklevel=3)
            self.config.augment = False

    def _pretrained_autoencoder(self, x: torch.Tensor, y) -> nn.Module:
        c = self.config
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
        elif c.pretrain != "end-to-end":
            raise ValueError(f"pretrain must be 'end-to-end' or 'layerwise', got {c.pretrain!r}")
        pretrain_autoencoder(ae, x, c.pretrain_epochs, c.pretrain_batch_size,
                             c.pretrain_optimizer, c.pretrain_lr, run=self.run_,
                             phase="pretrain", amp=c.amp,
                             lr_decay_every=c.pretrain_lr_decay_every,
                             augment=self._augment if c.augment else None,
                             log=lambda e, loss: self._log("pretrain", e, loss=loss))
        return ae

    def _pretrain_and_initialise(self, x: torch.Tensor, y) -> tuple[nn.Module, dict]:
        """Steps 1 and 2 of the pipeline: pretrained autoencoder, k-means on its embedding."""
        ae = self._pretrained_autoencoder(x, y)
        return ae, self._kmeans_init(embed(ae, x, amp=self.config.amp), y)

    def _kmeans_init(self, z: torch.Tensor, y) -> dict:
        """k-means on the embeddings (checkpointed as a one-epoch phase)."""
        km_state: dict = {}
        for _ in self.run_.epochs("kmeans", 1, state=km_state):
            km = KMeans(self.n_clusters, n_init=self.config.kmeans_n_init,
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
        return embed(self.autoencoder_, self._tensor(X), amp=self.config.amp).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """Nearest centre in the embedding (DEC/IDEC: the same as argmax q)."""
        self._check_fitted()
        z = torch.as_tensor(self.transform(X), device=self.device_)
        centers = torch.as_tensor(self.cluster_centers_, device=self.device_)
        return pairwise_sq_distances(z, centers).argmin(1).cpu().numpy()

    def _to_device(self, state: dict) -> None:
        """Checkpoints load onto the CPU: move restored centre tensors back."""
        for key in ("centers", "counts"):
            if key in state:
                state[key] = state[key].to(self.device_)

    def _check_fitted(self):
        if not hasattr(self, "cluster_centers_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(X) first")


@register
class AEKMeans(_AutoencoderMethod):
    """Pretrained autoencoder, then k-means on its embedding (the baseline of the family)."""

    name = "ae-kmeans"
    description = "autoencoder (d-500-500-2000-10 or conv) pretraining + k-means on embeddings"
    Config = AEConfig
    presets = AE_PRESETS

    def _fit(self, X, y):
        x = self._tensor(X)
        ae, km = self._pretrain_and_initialise(x, y)
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
        c = self.config
        with autocast(self.device_, c.amp):
            if self.uses_reconstruction:
                z, x_hat = ae(xb)
            else:
                z, x_hat = ae.encode(xb), None
        q = cluster(z.float())
        kl = dec_kl(pb, q)
        if x_hat is None:
            return kl, {"kl": kl}
        rec = reconstruction_loss(x_hat, xb)
        return c.gamma * kl + rec, {"kl": kl, "rec": rec}

    def _fit(self, X, y):
        c = self.config
        x = self._tensor(X)
        n = len(x)
        ae, km = self._pretrain_and_initialise(x, y)
        cluster = ClusteringLayer(km["centers"], c.alpha).to(self.device_)
        params = list(ae.parameters() if self.uses_reconstruction else ae.encoder.parameters())
        opt = make_optimizer(params + list(cluster.parameters()), c.optimizer, c.lr, c.momentum)
        state = {"labels": torch.as_tensor(km["labels"]), "iteration": 0, "converged": False}
        n_rounds = max(1, math.ceil(c.max_iter / c.update_interval))
        bs = min(c.batch_size, n)
        for rnd in self.run_.epochs("cluster", n_rounds, model=ae, cluster=cluster,
                                    optimizer=opt, state=state):
            # (1) targets from the whole data set (f_j is a data-set statistic)
            q_all = cluster(embed(ae, x, amp=c.amp))
            p_all = target_distribution(q_all)
            labels = q_all.argmax(1).cpu()
            changed = float((labels != state["labels"]).float().mean())
            state["labels"] = labels
            # (2) stop criterion: fewer than tol of the labels changed since the last refresh
            if rnd > 0 and changed < c.tol:
                state["converged"] = True
                self._log("cluster", rnd, y, labels.numpy(), changed=changed,
                          iteration=state["iteration"], converged=True)
                break
            # (3) T mini-batch steps towards the fixed target
            perm = torch.randperm(n).to(self.device_)
            totals: dict[str, float] = {}
            for it in range(c.update_interval):
                s = (it * bs) % n
                idx = perm[s:s + bs]
                xb = self._augment(x[idx], clustering=True)
                loss, parts = self._loss(ae, cluster, xb, p_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for k, v in parts.items():
                    totals[k] = totals.get(k, 0.0) + float(v.detach()) / c.update_interval
            state["iteration"] += c.update_interval
            self._log("cluster", rnd, y, labels.numpy(), changed=changed,
                      iteration=state["iteration"],
                      cluster_sizes=np.bincount(labels.numpy(), minlength=self.n_clusters
                                                ).tolist(), **totals)
        if state["converged"]:
            self.run_.finish("cluster")
        q_all = cluster(embed(ae, x, amp=c.amp)).detach()
        self.q_ = q_all.cpu().numpy()
        self.labels_ = self.q_.argmax(1)
        self.cluster_centers_ = cluster.centers.detach().cpu().numpy()
        self.n_iter_ = state["iteration"]
        self.converged_ = bool(state["converged"])
        self.clustering_layer_ = cluster

    def predict_proba(self, X) -> np.ndarray:
        """Soft assignments q of new samples."""
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

    def _fit(self, X, y):
        c = self.config
        x = self._tensor(X)
        n = len(x)
        ae, km = self._pretrain_and_initialise(x, y)
        opt = make_optimizer(ae.parameters(), c.optimizer, c.lr, c.momentum)
        state = {"centers": torch.as_tensor(km["centers"], device=self.device_),
                 "counts": torch.full((self.n_clusters,), float(c.count_init),
                                      device=self.device_),
                 "labels": torch.as_tensor(km["labels"]), "converged": False}
        bs = min(c.batch_size, n)
        for epoch in self.run_.epochs("cluster", c.epochs, model=ae, optimizer=opt,
                                      state=state):
            self._to_device(state)
            totals = {"rec": 0.0, "kmeans": 0.0}
            n_batches = 0
            for idx in torch.randperm(n).to(self.device_).split(bs):
                xb = self._augment(x[idx], clustering=True)
                with autocast(self.device_, c.amp):
                    zb, x_hat = ae(xb)
                zb = zb.float()
                assign = pairwise_sq_distances(zb.detach(), state["centers"]).argmin(1)
                rec = reconstruction_loss(x_hat, xb)
                km_loss = dcn_kmeans_loss(zb, state["centers"], assign)
                loss = rec + c.lam * km_loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                state["centers"], state["counts"] = dcn_update_centers(
                    zb, state["centers"], state["counts"], assign)
                totals["rec"] += float(rec.detach())
                totals["kmeans"] += float(km_loss.detach())
                n_batches += 1
            z = embed(ae, x, amp=c.amp)
            labels = pairwise_sq_distances(z, state["centers"]).argmin(1).cpu()
            changed = float((labels != state["labels"]).float().mean())
            state["labels"] = labels
            self._log("cluster", epoch, y, labels.numpy(), changed=changed,
                      **{k: v / n_batches for k, v in totals.items()})
            if changed < c.tol:
                state["converged"] = True
                break
        if state["converged"]:
            self.run_.finish("cluster")
        self._to_device(state)
        self.cluster_centers_ = state["centers"].cpu().numpy()
        self.labels_ = state["labels"].numpy()
        self.converged_ = bool(state["converged"])
