"""The autoencoder family's shared pipeline, and its baseline AE + k-means (lecture 02).

Every method of the family (:mod:`.dec`: DEC, IDEC; :mod:`.dcn`: DCN) starts the same way::

    1. pretrain an autoencoder  x ↦ z = f(x) ↦ x̂ = g(z)        (end-to-end or layer-wise)
    2. k-means on the embeddings z → initial centres μ

and then runs its own clustering loop. AE + k-means stops after step 2.

* DEC-DA — Guo, Zhu, Liu & Yin, "Deep Embedded Clustering with Data Augmentation",
  ACML 2018: the same losses, trained on randomly shifted and rotated images
  (``augment=True``; the targets still come from the clean images).

Presets: ``paper`` (the papers' settings, see REFERENCES), ``fast`` (tuned for
time-to-accuracy on a 2-core CPU: Adam, short end-to-end pretraining with DEC-DA's
augmentation, bf16 matrix products where the CPU has them, full-batch tensors in memory) and
``quick`` (seconds, for notebooks and tests).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..augment import random_affine
from ..cluster import KMeans, pairwise_sq_dists
from ..nn import build_autoencoder
from ..pretext import embed, pretrain_autoencoder, pretrain_layerwise
from .base import ClusterMethod, register
from .config import option

__all__ = ["AEConfig", "AE_PRESETS", "OPTIMIZERS", "PAPER_AE", "FAST_AE", "QUICK_AE",
           "AutoencoderMethod", "AEKMeans"]


OPTIMIZERS = ("adam", "adamw", "sgd")


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
    pretrain_optimizer: str = option("adam", choices=OPTIMIZERS)
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




_ITERS_PER_EPOCH_MNIST = 70000 / 256
PAPER_AE = dict(pretrain="layerwise", layerwise_epochs=round(50000 / _ITERS_PER_EPOCH_MNIST),
                 pretrain_epochs=round(100000 / _ITERS_PER_EPOCH_MNIST), dropout=0.2,
                 pretrain_optimizer="sgd", pretrain_lr=0.1, pretrain_batch_size=256,
                 pretrain_lr_decay_every=round(20000 / _ITERS_PER_EPOCH_MNIST),
                 kmeans_n_init=20)
# fast: short end-to-end pretraining on randomly shifted/rotated images (DEC-DA), which
# gives a better embedding per epoch than clean images; the clustering phase sees them too
FAST_AE = dict(pretrain="end-to-end", pretrain_epochs=20, pretrain_optimizer="adam",
                pretrain_lr=1e-3, pretrain_batch_size=512, kmeans_n_init=10, augment=True)
# quick: a narrower autoencoder so that notebooks and tests finish in seconds
QUICK_AE = dict(hidden=(256, 256, 512), pretrain="end-to-end", pretrain_epochs=50,
                 pretrain_optimizer="adam", pretrain_lr=1e-3, pretrain_batch_size=128,
                 kmeans_n_init=5)

AE_PRESETS = {"paper": dict(PAPER_AE), "fast": dict(FAST_AE), "quick": dict(QUICK_AE)}


class AutoencoderMethod(ClusterMethod):
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
class AEKMeans(AutoencoderMethod):
    """Pretrained autoencoder, then k-means on its embedding (the baseline of the family)."""

    name = "ae-kmeans"
    description = "autoencoder (d-500-500-2000-10 or conv) pretraining + k-means on embeddings"
    Config = AEConfig
    presets = AE_PRESETS

    def _fit(self, X, y):
        ae, km = self._pretrain_and_initialise(self._input(X, fitting=True), y)
        self.cluster_centers_ = np.asarray(km["centers"])
        self.labels_ = self.init_labels_
