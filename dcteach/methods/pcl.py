"""MoCo and PCL — Prototypical Contrastive Learning (Li, Zhou, Xiong & Hoi, ICLR 2021),
lecture 07.

MoCo (He et al., CVPR 2020; the v2 MLP head) learns by instance discrimination against a
queue; PCL adds the clusters, as an EM algorithm whose E-step is k-means::

    f_q: backbone + MLP head (trained);  f_k: its momentum copy;  queue: r keys
    for every mini-batch x (indices i):
        θ_k ← m θ_k + (1 − m) θ_q                               (momentum update)
        v′ = normalize(f_k(aug(x)))   (shuffled batch-norm)    keys, no gradient
        v  = normalize(f_q(aug(x)))                             queries
        warm-up epochs (= MoCo):   minimise L_InfoNCE(v, v′; queue, τ)
        PCL epochs:                 minimise L_InfoNCE + (1/M) Σ_m L_m(v; C^m, φ^m)
        enqueue v′, drop the oldest
    at the start of every PCL epoch (E-step), on the momentum features of all N images:
        for each granularity m:  k-means with K_m clusters → labels, centroids
                                 φ^m = concentration of each cluster (α = 10, clipped,
                                       mean rescaled to τ);  C^m = normalize(centroids)
    clusters = k-means (K = n_clusters) on the momentum features

Granularities are given as multiples of ``n_clusters`` (the paper's 25 000 / 50 000 / 100 000
prototypes on 1 000-class ImageNet are 25×, 50×, 100×: the ``paper`` preset). The kit's
default, (1, 4, 16)×, includes the number of clusters asked for: the E-step at K itself is
the partition the method reports, so ProtoNCE pulls every image toward the prototype of the
cluster it will be reported in. Chosen by that argument, not by trials against labels.

``moco`` is the same network, queue and schedule with the warm-up lasting the whole run —
the fair "InfoNCE alone on the same budget" baseline of lecture 07.

With labels given (measurement only) every epoch logs the weighted k-NN accuracy of the
query network's features and, in PCL epochs, ACC/NMI/ARI of the E-step's K = n_clusters
k-means and the spread of φ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import distributed
from ..cluster import KMeans
from ..losses import concentration, info_nce, proto_nce
from ..metrics import evaluate
from ..nn import FeatureQueue, MomentumEncoder, ProjectionHead
from ..train import minibatches
from .base import register
from .config import option
from .images import ImageConfig, ImageMethod

__all__ = ["MoCo", "MoCoConfig", "PCL", "PCLConfig"]


@dataclass
class MoCoConfig(ImageConfig):
    proj_hidden: int = option(512, low=1)  # MoCo v2 / PCL v2 MLP head: d → hidden → proj_dim
    proj_dim: int = option(128, low=1)
    temperature: float = option(0.2, low=0.0, low_open=True)  # τ of InfoNCE (and mean φ)
    encoder_momentum: float = option(0.999, low=0.0, high=1.0)  # m of the key encoder
    queue_size: int = option(16384, low=1)  # r keys kept as negatives
    shuffle_groups: int = option(4, low=1)  # shuffled batch-norm groups for the keys (1: off)
    n_init: int = option(10, low=1)  # restarts of the final k-means


@dataclass
class PCLConfig(MoCoConfig):
    warmup_epochs: int = option(20, low=0)  # InfoNCE only (the paper: 20 of 200)
    # numbers of prototypes per granularity, as multiples of n_clusters
    granularities: tuple[int, ...] = option((1, 4, 16), low=1)
    alpha: float = option(10.0, low=0.0, low_open=True)  # α of the concentration estimate
    kmeans_iter: int = option(20, low=1)  # Lloyd iterations of each E-step k-means (official: 20)
    # r negative prototypes per granularity, drawn from the clusters the batch does not use;
    # ≥ K_m − 1 means every other prototype (the full softmax)
    n_negatives: int = option(16384, low=1)


# the quick profile of notebooks and tests, and the MNIST-70k budget on a 2-core CPU
QUICK = {"epochs": 2, "batch_size": 128, "knn_queries": 500, "queue_size": 1024, "lr": 1e-3,
         "encoder_momentum": 0.99}
# m = 0.99: with 0.999 the key encoder's time constant (1 000 steps ≈ 4 MNIST epochs) is a
# large part of an 18-epoch run (MoCo's own CIFAR demo uses 0.99); r = 4 096 keys: the
# queue's logits cost ≈ 13 ms of a ≈ 85 ms step at 16 384 on this CPU, and 4 096 negatives
# are 400 per class of MNIST
FAST = {"epochs": 18, "batch_size": 256, "lr": 1e-3, "encoder_momentum": 0.99, "queue_size": 4096}
# PCL v2: SGD 0.03 (batch 256), momentum 0.9, wd 1e-4, 200 epochs, cosine, τ 0.2, m 0.999,
# r 16 384, MLP head, 20 warm-up epochs; granularities 25k/50k/100k on ImageNet's 1 000
PAPER = {"epochs": 200, "batch_size": 256, "optimizer": "sgd", "lr": 0.03,
         "momentum": 0.9, "weight_decay": 1e-4}


@register
class MoCo(ImageMethod):
    """MoCo v2: InfoNCE between a query and its momentum-encoder key against a queue of
    negatives, then k-means on the momentum features."""

    name = "moco"
    description = "MoCo v2 (InfoNCE against a queue, momentum encoder) + k-means"
    Config = MoCoConfig
    presets = {"quick": QUICK, "fast": FAST, "paper": PAPER}

    def _warmup_epochs(self) -> int:
        return self.config_.epochs

    def _fit(self, X, y):
        c = self.config_
        x = self._images(X)
        self.model_ = model = self._build(
            z=lambda d: ProjectionHead(d, c.proj_hidden, c.proj_dim))
        self.key_ = key = MomentumEncoder(model, c.encoder_momentum)
        queue = FeatureQueue(c.queue_size, c.proj_dim, seed=self.seed).to(self.device_)
        net = distributed.wrap(model, self.device_)
        trainer = self._trainer(model, len(x), c.epochs)
        augment, monitor = self._augment(x), self._monitor(x, y)
        state = {"model": model, "key": key, "queue": queue, "trainer": trainer}

        def step(idx, prototypes):
            idx = distributed.shard(idx)
            xb = x[idx]
            key.update(net)
            k = F.normalize(key(augment(xb), ["z"], groups=c.shuffle_groups)["z"].float(),
                            dim=1)
            q = F.normalize(net(augment(xb), ["z"])["z"].float(), dim=1)
            l_nce = info_nce(q, k, queue.keys, c.temperature)
            queue.push(k)  # a new tensor: the loss keeps the old one
            if not prototypes:
                return l_nce, {"infonce": l_nce}
            l_proto = torch.stack([proto_nce(q, proto, labels[idx], phi, c.n_negatives)
                                   for labels, proto, phi in prototypes]).mean()
            return l_nce + l_proto, {"infonce": l_nce, "proto": l_proto}

        def run_epoch(prototypes) -> dict:
            """One pass over the data (InfoNCE, + ProtoNCE when given prototypes)."""
            model.train()
            key.train()
            parts = trainer.run(lambda idx: step(idx, prototypes),
                                minibatches(len(x), c.batch_size, x.device, drop_last=True))
            trainer.end_epoch()
            return {**parts, **monitor(model)}

        warm = min(self._warmup_epochs(), c.epochs)
        for epoch in self.run_.epochs("moco", warm, **state):
            self._log("moco", epoch, **run_epoch(()))
        for epoch in self.run_.epochs("pcl", c.epochs - warm, **state):
            prototypes, stats = self._e_step(x, y, warm + epoch)
            self._log("pcl", warm + epoch, **run_epoch(prototypes), **stats)

        self._kmeans_final(self._features(x), y, c.epochs, c.n_init)

    def _e_step(self, x, y, epoch: int):
        """Not used by MoCo (no prototypes)."""
        return (), {}

    def _features(self, x) -> torch.Tensor:
        """v′ = normalize(f_k(x)): the momentum encoder's head output on un-augmented images
        (under torchrun with rank 0's batch-norm statistics, so that every rank gets the same
        features and the same k-means partitions)."""
        distributed.broadcast_buffers(self.key_)
        return F.normalize(self._embed(self.key_.net, x, ["z"])["z"].float(), dim=1)

    def predict(self, X) -> np.ndarray:
        """Nearest k-means centre to the new images' momentum features."""
        return np.asarray(self.kmeans_.predict(self._features(self._new_images(X))),
                          dtype=np.int64)

    def transform(self, X) -> np.ndarray:
        """The unit momentum features v′ of new images (the space k-means ran in)."""
        return self._features(self._new_images(X)).cpu().numpy()


@register
class PCL(MoCo):
    """PCL: MoCo warm-up, then every epoch k-means at several granularities on the momentum
    features (E-step) and ProtoNCE = InfoNCE + prototype terms with per-cluster
    concentrations φ (M-step); clusters = k-means on the momentum features."""

    name = "pcl"
    description = "PCL (MoCo + ProtoNCE with k-means prototypes at several granularities)"
    Config = PCLConfig
    presets = {
        "quick": {**QUICK, "warmup_epochs": 1},
        # MNIST-70k on a 2-core CPU in under 10 minutes (small CNN): 5 warm-up epochs of 18
        "fast": {**FAST, "warmup_epochs": 5},
        "paper": {**PAPER, "warmup_epochs": 20, "granularities": (25, 50, 100)},
    }

    def _warmup_epochs(self) -> int:
        return self.config_.warmup_epochs

    def e_step(self, X, epoch: int = 0):
        """The E-step on images ``X`` with the fitted momentum encoder: per granularity
        (labels, prototypes, φ) as the M-step uses them (for lectures and inspection)."""
        return self._e_step(self._new_images(X), None, epoch)[0]

    def _e_step(self, x, y, epoch: int):
        """k-means at every granularity on the momentum features of all images: a list of
        (labels, prototypes C = normalize(centroids), φ) and the statistics to log."""
        c = self.config_
        v = self._features(x)
        prototypes, stats = [], {}
        for m, multiple in enumerate(c.granularities):
            k = min(len(x), multiple * self.n_clusters)
            km = KMeans(k, n_init=1, max_iter=c.kmeans_iter,
                        random_state=self.seed * 1000 + epoch * 10 + m, device=self.device_).fit(v)
            labels = torch.as_tensor(km.labels_, device=v.device).long()
            centroids = torch.as_tensor(km.cluster_centers_, device=v.device).float()
            phi = concentration(v, labels, centroids, c.alpha, c.temperature)
            prototypes.append((labels, F.normalize(centroids, dim=1), phi))
            stats[f"phi_spread_{k}"] = float(phi.max() / phi.min())
            if y is not None and multiple == 1:
                stats.update({f"estep_{key}": val for key, val in
                              evaluate(y, km.labels_).items()})
        return prototypes, stats
