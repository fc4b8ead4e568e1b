"""Classical baselines as CLI methods: ``kmeans`` and ``spectral`` on (flattened) inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cluster import KMeans, SpectralClustering
from .base import ClusterMethod, register


def _flat(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim < 2:
        raise ValueError(f"X must have shape (n_samples, ...), got {X.shape}")
    return X.reshape(len(X), -1)


@dataclass
class KMeansConfig:
    n_init: int = 10
    max_iter: int = 300
    tol: float = 1e-4
    init: str = "k-means++"


@register
class KMeansMethod(ClusterMethod):
    """k-means on the raw (flattened) features; each restart is one checkpointed 'epoch'."""

    name = "kmeans"
    description = "k-means (k-means++, Lloyd, n_init restarts) on raw features, in torch"
    Config = KMeansConfig
    presets = {"quick": {"n_init": 3}, "paper": {"n_init": 10}, "fast": {"n_init": 10}}

    def _fit(self, X, y):
        x = _flat(X)
        c = self.config
        best: dict = {}  # checkpointed: best centres and inertia so far
        for restart in self.run_.epochs("restarts", c.n_init, state=best):
            km = KMeans(self.n_clusters, n_init=1, max_iter=c.max_iter, tol=c.tol, init=c.init,
                        random_state=self.seed * 1000 + restart, device=self.device_).fit(x)
            if not best or km.inertia_ < best["inertia"]:
                best.update(inertia=km.inertia_, centers=km.cluster_centers_,
                            labels=km.labels_)
            self._log("restarts", restart, y, km.labels_, inertia=km.inertia_,
                      best_inertia=best["inertia"])
        self.cluster_centers_ = best["centers"]
        self.labels_ = best["labels"]
        self.inertia_ = best["inertia"]
        self._km = KMeans.from_centers(self.cluster_centers_, self.device_)

    def predict(self, X) -> np.ndarray:
        return self._km.predict(_flat(X))

    def transform(self, X) -> np.ndarray:
        return self._km.transform(_flat(X))


@dataclass
class SpectralConfig:
    affinity: str = "knn"
    n_neighbors: int = 10
    gamma: float | None = None
    n_init: int = 10


@register
class SpectralMethod(ClusterMethod):
    """Normalised spectral clustering (k-NN or RBF graph) on the raw (flattened) features."""

    name = "spectral"
    description = "spectral clustering: k-NN/RBF graph, normalised Laplacian, k-means"
    Config = SpectralConfig
    presets = {"quick": {}, "paper": {}, "fast": {}}

    def _fit(self, X, y):
        c = self.config
        sc = SpectralClustering(self.n_clusters, c.affinity, c.n_neighbors, c.gamma, c.n_init,
                                self.seed).fit(_flat(X))
        self.labels_ = sc.labels_
        self.embedding_ = sc.embedding_
        self._log("fit", 0, y, self.labels_)

    def transform(self, X) -> np.ndarray:
        return self.embedding_
