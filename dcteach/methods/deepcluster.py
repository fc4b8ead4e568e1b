"""DeepCluster (Caron, Bojanowski, Joulin & Douze, ECCV 2018), lecture 03.

Objective (seed 000 §2): a network f_θ and a classifier g_W trained on pseudo-labels ỹ that
k-means finds in the network's own features::

    min_{θ,W} (1/N) Σ_i ℓ(g_W(f_θ(x_i)), ỹ_i)         ỹ from  min_C Σ_i min_ỹ ‖f_θ(x_i) − C ỹ_i‖²

Algorithm (one epoch)::

    h_i = f_θ(x_i) on un-augmented images
    z_i = normalize(PCA-whiten(h_i))                       (256 components)
    ỹ = k-means(z, k)  with k ≫ classes (over-clustering); an empty cluster takes half of a
        random non-empty one (paper §3.3)
    log NMI(ỹ_t, ỹ_{t−1})                                  (the stability of the assignments)
    re-initialise g_W (its weights and optimiser state): cluster indices are arbitrary
    for one pass: x_i drawn uniformly over the non-empty pseudo-classes, augmented,
        minimise cross-entropy(g_W(f_θ(x_i)), ỹ_i)

Two trivial solutions and their remedies (§3.3): empty clusters (split a non-empty one) and
the trivial parametrisation, where one pseudo-class absorbs most images and the network
learns to predict it everywhere (sample uniformly over pseudo-classes). ``empty_clusters=keep``
and ``sampling=random`` switch them off for the lecture and the ablation benchmark.

The final clustering into ``n_clusters`` is k-means (``n_init`` restarts) with K = the
requested number of clusters on the trained network's PCA-whitened, L2-normalised features,
keeping only the leading components that explain 90 % of the variance
(``final_pca_variance``): whitening gives every kept direction the same weight, and the
low-variance directions that separate 100 pseudo-classes are noise for 10 clusters — with all
256 components the final k-means on MNIST fell to 44 % ACC in a trial run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import distributed
from ..cluster import KMeans, PCAWhitening, split_empty_clusters
from ..metrics import evaluate, nmi
from ..nn import FeatureMLP, MultiHeadNet, image_encoder
from ..train import class_uniform_indices, minibatches
from .base import register
from .config import option
from .images import ImageConfig, ImageMethod

__all__ = ["DeepCluster", "DeepClusterConfig"]


@dataclass
class DeepClusterConfig(ImageConfig):
    n_pseudo: int = option(100, low=2)  # k of every epoch's k-means (k ≫ classes)
    hidden: int = option(512, low=1)  # width of the two top layers (VGG's fc6/fc7, small)
    pca_dim: int = option(256, low=1)  # PCA components before every epoch's k-means
    whiten: bool = True  # scale the PCA components to unit variance
    # the final k-means (K = n_clusters) keeps only the leading components (≤ pca_dim) that
    # explain this share of the variance (1.0: all pca_dim)
    final_pca_variance: float = option(0.9, low=0.0, high=1.0, low_open=True)
    cosine: bool = False  # constant lr: the re-initialised classifier must learn every epoch
    kmeans_iter: int = option(20, low=1)  # Lloyd iterations of every epoch's k-means
    empty_clusters: str = option("split", choices=("split", "keep"))
    sampling: str = option("uniform", choices=("uniform", "random"))  # over pseudo-classes
    reinit: bool = True  # re-initialise the classifier every epoch
    n_init: int = option(10, low=1)  # restarts of the final k-means with K = n_clusters


@register
class DeepCluster(ImageMethod):
    """Alternate k-means on the network's PCA-whitened features and training the network
    to predict those pseudo-labels; k-means with K = n_clusters at the end."""

    name = "deepcluster"
    description = "DeepCluster (k-means pseudo-labels ↔ classification, k ≫ classes)"
    Config = DeepClusterConfig
    presets = {
        "quick": {"epochs": 2, "batch_size": 128, "n_pseudo": 50, "knn_queries": 500},
        # MNIST-70k on a 2-core CPU within 10 minutes (small CNN)
        "fast": {"epochs": 12, "batch_size": 256, "lr": 1e-3},
        # the paper's optimiser (SGD 0.05, momentum 0.9, wd 1e-5) and 500 epochs
        "paper": {"epochs": 500, "batch_size": 256, "optimizer": "sgd", "lr": 0.05,
                  "weight_decay": 1e-5},
    }

    def _fit(self, X, y):
        c = self.config_
        x = self._images(X)
        enc = image_encoder(self.facts_, c.backbone, c.width, c.standardize)
        top = FeatureMLP(enc.out_dim, c.hidden)
        body = nn.Sequential(enc, top)
        body.out_dim = top.out_dim
        self.model_ = model = MultiHeadNet(body, classifier=nn.Linear(top.out_dim, c.n_pseudo)
                                           ).to(self.device_)
        net = distributed.wrap(model, self.device_)
        trainer = self._trainer(model, len(x), c.epochs)
        augment, monitor = self._augment(x), self._monitor(x, y)
        pseudo = {"labels": None}  # last epoch's assignment (checkpointed)

        def step(idx):
            idx = distributed.shard(idx)  # under torchrun: this rank's share of the batch
            out = net(augment(x[idx]), ["classifier"])
            return F.cross_entropy(out["classifier"].float(), pseudo["labels"][idx])

        for epoch in self.run_.epochs("deepcluster", c.epochs, model=model, trainer=trainer,
                                      pseudo=pseudo):
            z = self._kmeans_space(x, fit=1.0)
            labels, facts = self._pseudo_labels(z, epoch)
            if pseudo["labels"] is not None:
                facts["stability_nmi"] = nmi(pseudo["labels"].cpu().numpy(),
                                             labels.cpu().numpy())
            pseudo["labels"] = labels
            if c.reinit:
                self._reinit_classifier(model.heads["classifier"], trainer)
            parts = trainer.run(step, self._batches(labels))
            self._log("deepcluster", epoch, **parts, **facts, **self._measure(z, y, labels),
                      **monitor(model))
        self._kmeans_final(self._kmeans_space(x, fit=c.final_pca_variance), y, c.epochs,
                           c.n_init)

    def _kmeans_space(self, x, fit: float | None = None) -> torch.Tensor:
        """normalize(PCA-whiten(features)); ``fit`` = a variance share: re-estimate the PCA
        on ``x``, keeping the leading components (≤ pca_dim) that explain that share."""
        c = self.config_
        h = self._embed(self.model_, x, ["features"])["features"]
        if fit is not None:
            self.pca_ = PCAWhitening(c.pca_dim, whiten=c.whiten, variance=fit).fit(h)
        return F.normalize(self.pca_.transform(h), dim=1)

    def _pseudo_labels(self, z, epoch: int) -> tuple[torch.Tensor, dict]:
        """k-means with k = n_pseudo (one k-means++ run, ``kmeans_iter`` Lloyd iterations),
        then the empty-cluster remedy; returns the labels and what the log shows."""
        c = self.config_
        km = KMeans(c.n_pseudo, n_init=1, max_iter=c.kmeans_iter, tol=0.0,
                    random_state=self.seed * 1000 + epoch, device=self.device_,
                    relocate_empty=False).fit(z)
        labels = torch.as_tensor(km.labels_, device=z.device)
        centers = torch.as_tensor(km.cluster_centers_, device=z.device)
        empty = int((torch.bincount(labels, minlength=c.n_pseudo) == 0).sum())
        if c.empty_clusters == "split" and empty:
            gen = torch.Generator().manual_seed(self.seed * 1000 + epoch)
            labels, centers = split_empty_clusters(z, labels, centers, gen)
        sizes = torch.bincount(labels, minlength=c.n_pseudo)
        return labels, {"empty_clusters": empty, "nonempty": int((sizes > 0).sum()),
                        "largest_share": float(sizes.max()) / len(labels)}

    def _batches(self, labels):
        """One epoch of index batches: uniform over pseudo-classes, or over images."""
        c = self.config_
        if c.sampling == "random":
            return minibatches(len(labels), c.batch_size, labels.device, drop_last=True)
        idx = class_uniform_indices(labels.cpu()).to(labels.device)
        return (b for b in idx.split(c.batch_size) if len(b) == c.batch_size)

    @staticmethod
    def _reinit_classifier(classifier: nn.Linear, trainer) -> None:
        """Fresh weights and a fresh optimiser state for g_W: after a new k-means the
        cluster indices are a new, arbitrary permutation."""
        classifier.reset_parameters()
        for p in classifier.parameters():
            trainer.optimizer.state.pop(p, None)

    def _measure(self, z, y, labels) -> dict:
        """With labels given (measurement only): NMI of the pseudo-labels with the classes
        and ACC/NMI/ARI of a one-restart k-means with K = n_clusters in the *epoch's* space
        (all ``pca_dim`` whitened components) — a trend, below what the final clustering
        (fewer components, ``n_init`` restarts) reaches on the same features."""
        if y is None:
            return {}
        km = KMeans(self.n_clusters, n_init=1, random_state=0, device=self.device_).fit(z)
        row = {f"kmeans_{k}": v for k, v in evaluate(y, km.labels_).items()}
        return {"pseudo_nmi": nmi(y, labels.cpu().numpy()), **row}

    def predict(self, X) -> np.ndarray:
        """Nearest final k-means centre in the PCA-whitened, normalised feature space."""
        x = self._new_images(X)
        return np.asarray(self.kmeans_.predict(self._kmeans_space(x)), dtype=np.int64)

    def transform(self, X) -> np.ndarray:
        """The space the final k-means ran in (PCA-whitened, L2-normalised features)."""
        return self._kmeans_space(self._new_images(X)).cpu().numpy()

