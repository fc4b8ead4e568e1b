"""Contrastive clustering of images (lecture 04): SimCLR + k-means, and CC.

SimCLR (Chen et al., ICML 2020) as a pretext for clustering::

    for every mini-batch x:  v₁, v₂ = two random augmentations of x
        h = f(v),  z = g(h) (projection head, L2-normalised)
        minimise NT-Xent(z₁, z₂; τ)
    then k-means on the L2-normalised features of the *un-augmented* images

CC — Contrastive Clustering (Li, Hu, Liu, Peng, Zhou & Peng, AAAI 2021, Algorithm 1)::

    for every mini-batch x:  v₁, v₂ = two augmentations;  h = f(v)
        instance head   z = normalize(g_I(h))          L_ins = NT-Xent(z₁, z₂; τ_I)
        cluster head    p = softmax(g_C(h)) ∈ Δ^K      L_clu = NT-Xent over the K columns
                                                               of P₁, P₂ (τ_C) + Σ_v (log K − H(p̄ᵛ))
        minimise L_ins + L_clu
    cluster of x = argmax of the cluster head on the un-augmented image

Both train through :func:`dcteach.pretext.train_on_views`; images stay uint8 and are
floated and augmented per batch on the device (:mod:`dcteach.augment`). With labels given,
each epoch logs the weighted k-NN accuracy of the features (k = 200, τ = 0.1) on a fixed
subset (and CC its ACC/NMI/ARI) — measurements only, never a training signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import distributed
from ..losses import cluster_contrastive_loss, nt_xent
from ..nn import MultiHeadNet, ProjectionHead
from ..pretext import cached_pretext, data_fingerprint, train_on_views
from .base import register
from .config import option
from .images import ImageConfig, ImageMethod

__all__ = ["ContrastiveConfig", "SimCLRConfig", "SimCLR", "CC", "CCConfig"]


@dataclass
class ContrastiveConfig(ImageConfig):
    proj_hidden: int = option(512, low=1)
    proj_dim: int = option(128, low=1)
    temperature: float = option(0.5, low=0.0, low_open=True)
    cache: bool = True  # store/load the trained pretext model (SimCLR)


# the settings a SimCLR pretext model depends on (its cache key, with the epochs)
PRETEXT_SETTINGS = ("backbone", "width", "augment", "standardize", "proj_hidden", "proj_dim",
                    "temperature", "batch_size", "optimizer", "lr", "weight_decay", "momentum",
                    "cosine", "amp")


# notebooks and tests: a couple of epochs, a small k-NN monitor
QUICK = {"epochs": 2, "batch_size": 128, "knn_queries": 500}


class ContrastiveMethod(ImageMethod):
    """What SimCLR and CC share: an encoder with heads trained on two augmented views."""

    Config = ContrastiveConfig

    def _train(self, phase: str, model, x, y, loss, epochs: int) -> None:
        c = self.config_
        augment = self._augment(x)
        monitor = self._monitor(x, y)
        net = distributed.wrap(model, self.device_)
        train_on_views(self.run_, phase, epochs, net, x, augment, loss,
                       self._trainer(model, len(x), epochs), c.batch_size,
                       log=lambda epoch, parts: self._log(phase, epoch, **parts,
                                                          **monitor(model)))

    def _simclr_pretext(self, model: MultiHeadNet, x, y, epochs: int) -> None:
        """Train ``model``'s encoder and projection head ``z`` with SimCLR's NT-Xent for
        ``epochs`` — or load them from the pretext cache, where every method with the same
        data, seed and pretext settings (SimCLR's own run, CC's warm start) finds them."""
        c = self.config_
        net = MultiHeadNet(model.encoder, z=model.heads["z"])  # shares the parameters

        def loss(o1, o2):
            return nt_xent(o1["z"], o2["z"], c.temperature)

        cached_pretext("simclr", net, self._pretext_key(x, epochs),
                       lambda: self._train("simclr", net, x, y, loss, epochs),
                       enabled=c.cache, verbose=self.verbose, run=self.run_)

    def _pretext_key(self, x, epochs: int) -> dict:
        """What a SimCLR pretext model depends on: the images, the pretext settings, the
        epochs, the seed and the number of processes."""
        settings = {k: getattr(self.config_, k) for k in PRETEXT_SETTINGS}
        return {"data": data_fingerprint(x), "config": dict(settings, epochs=epochs),
                "seed": self.seed, "world": distributed.world_size()}


@dataclass
class SimCLRConfig(ContrastiveConfig):
    # k-means on the normalised projection-head output z (where SCAN mines neighbours and
    # the loss is defined) or on the backbone features h (what a linear probe uses)
    kmeans_on: str = option("head", choices=("head", "backbone"))
    n_init: int = option(10, low=1)


@register
class SimCLR(ContrastiveMethod):
    """SimCLR pretext training (NT-Xent on two augmented views), then k-means on the
    L2-normalised features."""

    name = "simclr"
    description = "SimCLR (NT-Xent on two augmented views) + k-means on normalised features"
    Config = SimCLRConfig
    presets = {
        "quick": QUICK,
        # MNIST-70k on a 2-core CPU in about 5 minutes (small CNN)
        "fast": {"epochs": 10, "batch_size": 256, "lr": 1e-3},
        # SCAN's CIFAR pretext: SGD 0.4, wd 1e-4, batch 512, 500 epochs, τ 0.1, cosine
        "paper": {"epochs": 500, "batch_size": 512, "optimizer": "sgd", "lr": 0.4,
                  "weight_decay": 1e-4, "temperature": 0.1},
    }

    def _fit(self, X, y):
        c = self.config_
        x = self._images(X)
        model = self._build(z=lambda d: ProjectionHead(d, c.proj_hidden, c.proj_dim))
        self._simclr_pretext(model, x, y, c.epochs)
        self.model_ = model
        self._kmeans_final(self._kmeans_space(x), y, 0, c.n_init)

    def _kmeans_space(self, x) -> torch.Tensor:
        key = "z" if self.config_.kmeans_on == "head" else "features"
        return F.normalize(self._embed(self.model_, x, [key])[key], dim=1)

    def predict(self, X) -> np.ndarray:
        """Nearest k-means centre in the space k-means ran in."""
        x = self._new_images(X)
        return np.asarray(self.kmeans_.predict(self._kmeans_space(x)), dtype=np.int64)


@dataclass
class CCConfig(ContrastiveConfig):
    cluster_temperature: float = option(1.0, low=0.0, low_open=True)
    entropy_weight: float = option(1.0, low=0.0)
    # > 0: start from a SimCLR model trained this many epochs (the cached pretext artifact,
    # shared with `simclr`), then train CC for `epochs`; 0: from scratch as in the paper
    pretext_epochs: int = option(0, low=0)


@register
class CC(ContrastiveMethod):
    """Contrastive Clustering: instance-level NT-Xent + cluster-level NT-Xent on the
    assignment columns + the entropy term; clusters = argmax of the cluster head."""

    name = "cc"
    description = "Contrastive Clustering (instance + cluster-column contrast + entropy)"
    Config = CCConfig
    presets = {
        "quick": QUICK,
        # MNIST-70k on a 2-core CPU in about 6 minutes; from scratch, as in the paper
        "fast": {"epochs": 12, "batch_size": 256, "lr": 1e-3},
        # CC's settings (Adam 3e-4, batch 256, 1000 epochs, τ_I 0.5, τ_C 1.0, no
        # normalisation); deviation: 32-px CIFAR with the CIFAR stem instead of 224-px
        # upsampling into an ImageNet ResNet-34 (use backbone=resnet34-imagenet for that)
        "paper": {"epochs": 1000, "batch_size": 256, "lr": 3e-4, "standardize": False,
                  "cosine": False, "augment": "cc"},
    }

    def _fit(self, X, y):
        c = self.config_
        k = self.n_clusters
        x = self._images(X)
        model = self._build(z=lambda d: ProjectionHead(d, c.proj_hidden, c.proj_dim),
                            cluster=lambda d: ProjectionHead(d, c.proj_hidden, k))
        if c.pretext_epochs:
            self._simclr_pretext(model, x, y, c.pretext_epochs)

        def loss(o1, o2):
            inst = nt_xent(o1["z"], o2["z"], c.temperature)
            p1, p2 = o1["cluster"].float().softmax(1), o2["cluster"].float().softmax(1)
            clu, ent = cluster_contrastive_loss(p1, p2, c.cluster_temperature,
                                                c.entropy_weight)
            return inst + clu, {"instance": inst, "cluster": clu, "entropy_gap": ent}

        self._train("cc", model, x, y, loss, c.epochs)
        self.model_ = model
        p = self._embed(model, x, ["cluster"])["cluster"].softmax(1)
        self.probabilities_ = p.cpu().numpy()
        self.labels_ = p.argmax(1).cpu().numpy().astype(np.int64)
        self._log("cc-final", c.epochs, y, self.labels_,
                  empty_clusters=int(k - len(np.unique(self.labels_))))

    def predict(self, X) -> np.ndarray:
        """argmax of the cluster head on new images."""
        x = self._new_images(X)
        return self._embed(self.model_, x, ["cluster"])["cluster"].argmax(1).cpu().numpy(
        ).astype(np.int64)
