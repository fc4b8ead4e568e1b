"""Classical baselines as CLI methods: ``kmeans`` and ``spectral`` on (flattened) inputs, and
``text-kmeans`` — the same k-means on text features (lecture 08's baseline).

``text-kmeans-hybrid`` is a registered variant: MiniLM ⊕ 0.7·LSA features, each averaged with
its 10 nearest neighbours, best of 50 k-means restarts by inertia (the space was chosen by
subsample stability and the restart by inertia: never by the labels). Other text
features are an option: ``--set embedding=tfidf`` (sparse), ``lsa``, ``minilm+lsa``; and
``--set smooth_neighbours=20`` averages any dense features with their neighbours first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..cluster import KMeans, SpectralClustering, mine_neighbours, smooth_features
from .base import ClusterMethod, register
from .config import option
from .inputs import TextFeatureConfig, TextInput


def _flat(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    return X.reshape(len(X), -1)


@dataclass
class KMeansConfig:
    n_init: int = option(10, low=1)
    max_iter: int = option(300, low=1)
    tol: float = option(1e-4, low=0.0)
    init: str = option("k-means++", choices=("k-means++", "random"))


@register
class KMeansMethod(ClusterMethod):
    """k-means on the raw (flattened) features; each restart is one checkpointed 'epoch'."""

    name = "kmeans"
    description = "k-means (k-means++, Lloyd, n_init restarts) on raw features, in torch"
    Config = KMeansConfig
    presets = {"quick": {"n_init": 3}, "paper": {"n_init": 10}, "fast": {"n_init": 10}}

    def _fit(self, X, y):
        x = _flat(X)
        c = self.config_
        best: dict = {}  # checkpointed: best centres and inertia so far
        for restart in self.run_.epochs("restarts", c.n_init, state=best):
            km = KMeans(self.n_clusters, n_init=1, max_iter=c.max_iter, tol=c.tol, init=c.init,
                        random_state=self.seed * 1000 + restart, device=self.device_).fit(x)
            if not best or km.inertia_ < best["inertia"]:
                best.update(inertia=km.inertia_, centers=km.cluster_centers_,
                            labels=km.labels_, n_iter=int(km.n_iter_))
            self._log("restarts", restart, y, km.labels_, inertia=km.inertia_,
                      best_inertia=best["inertia"])
        self.cluster_centers_ = best["centers"]
        self.labels_ = best["labels"]
        self.inertia_ = best["inertia"]
        self.n_iter_ = best.get("n_iter", 0)
        self._km = KMeans.from_centers(self.cluster_centers_, self.device_)

    def predict(self, X) -> np.ndarray:
        """Nearest of the fitted centres."""
        x = _flat(self._validate(X))
        return self._km.predict(x)

    def transform(self, X) -> np.ndarray:
        """Distances to the fitted centres, ``(n, k)``."""
        x = _flat(self._validate(X))
        return self._km.transform(x)


@dataclass
class SpectralConfig:
    affinity: str = option("knn", choices=("knn", "rbf"))
    n_neighbors: int = option(10, low=1)
    gamma: float | None = option(None, low=0.0, low_open=True)
    n_init: int = option(10, low=1)


@register
class SpectralMethod(ClusterMethod):
    """Normalised spectral clustering (k-NN or RBF graph) on the raw (flattened) features."""

    name = "spectral"
    description = "spectral clustering: k-NN/RBF graph, normalised Laplacian, k-means"
    Config = SpectralConfig
    presets = {"quick": {}, "paper": {}, "fast": {}}

    def _fit(self, X, y):
        c = self.config_
        sc = SpectralClustering(self.n_clusters, c.affinity, c.n_neighbors, c.gamma, c.n_init,
                                self.seed).fit(_flat(X))
        self.labels_ = sc.labels_
        self.embedding_ = sc.embedding_
        self._log("fit", 0, y, self.labels_)



def clustered_space(feats, smooth_neighbours: int = 0, device="cpu"):
    """The space ``text-kmeans`` clusters: the features, or — with ``smooth_neighbours`` > 0
    and dense features — ``normalize(x_i + Σ_{j ∈ kNN(i)} x_j)`` on unit rows."""
    if smooth_neighbours <= 0 or hasattr(feats, "toarray"):
        return feats
    x = F.normalize(torch.as_tensor(np.asarray(feats, dtype=np.float32), device=device), dim=1)
    return smooth_features(x, mine_neighbours(x, smooth_neighbours),
                           smooth_neighbours).cpu().numpy()


@dataclass
class TextKMeansConfig(KMeansConfig, TextFeatureConfig):
    smooth_neighbours: int = option(0, low=0)  # > 0: average each embedding with its k-NN


@register
class TextKMeans(TextInput, ClusterMethod):
    """k-means on text features: the baseline every text method must beat."""

    name = "text-kmeans"
    description = "k-means on MiniLM sentence embeddings (or TF-IDF / LSA: --set embedding=tfidf)"
    Config = TextKMeansConfig
    presets = {"quick": {}, "fast": {}, "paper": {}}

    def _fit(self, X, y):
        c = self.config_
        feats = clustered_space(self._features(X), c.smooth_neighbours, self.device_)
        self.embedding_ = feats
        if hasattr(feats, "toarray"):  # sparse TF-IDF: scikit-learn's k-means handles CSR
            from sklearn.cluster import KMeans as SKMeans

            km = SKMeans(self.n_clusters, n_init=c.n_init, max_iter=c.max_iter,
                         random_state=self.seed).fit(feats)
        else:
            km = KMeans(self.n_clusters, n_init=c.n_init, max_iter=c.max_iter,
                        random_state=self.seed, device=self.device_).fit(feats)
        self.labels_ = np.asarray(km.labels_, dtype=np.int64)
        self.cluster_centers_ = km.cluster_centers_
        self._log("kmeans", 0, y, self.labels_)

    def transform(self, X) -> np.ndarray:
        """The features k-means clustered (before smoothing, for new texts)."""
        feats = self._features(X)
        return feats.toarray() if hasattr(feats, "toarray") else np.asarray(feats)


@register
class TextKMeansHybrid(TextKMeans):
    """``text-kmeans`` on ``z_i = normalize(x_i + Σ_{j ∈ kNN₁₀(i)} x_j)`` with
    ``x_i = [m_i ; 0.7 · l_i]`` (unit MiniLM and unit LSA rows), best of 50 restarts by inertia.

    The space (LSA or not, 0 / 10 / 20 neighbours) was chosen without labels: it is the most
    stable one under subsampling, averaged over the three development corpora
    (``benchmarks/select_text_defaults.py``: stability 0.989 / 0.906 / 0.993 on AgNews /
    SearchSnippets / StackOverflow; SearchSnippets alone would have picked MiniLM with 20)."""

    name = "text-kmeans-hybrid"
    description = "k-means on neighbour-smoothed MiniLM + LSA features, 50 restarts"
    defaults = {"embedding": "minilm+lsa", "smooth_neighbours": 10, "n_init": 50}
