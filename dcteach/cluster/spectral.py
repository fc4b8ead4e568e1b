"""Spectral clustering written out (Ng, Jordan & Weiss 2002; von Luxburg 2007).

1. Affinity W: a symmetric k-NN graph (w_ij = 1 if j is among the k nearest neighbours of
   i or vice versa) or a dense RBF kernel w_ij = exp(−γ‖x_i − x_j‖²).
2. Degrees D = diag(Σ_j w_ij) and the normalised Laplacian L_sym = I − D^{-1/2} W D^{-1/2}.
3. Spectral embedding: the eigenvectors of the k smallest eigenvalues of L_sym (the largest
   of D^{-1/2} W D^{-1/2}), stacked as columns of U ∈ R^{n×k}.
4. Normalise each row of U to unit length and run k-means on the rows.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import eigsh
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.neighbors import kneighbors_graph
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .kmeans import KMeans, _torch_seed, pairwise_sq_dists

__all__ = ["affinity_matrix", "normalized_laplacian", "spectral_embedding", "SpectralClustering"]


def affinity_matrix(X, affinity: str = "knn", n_neighbors: int = 10,
                    gamma: float | None = None):
    """Symmetric affinity matrix W (sparse for k-NN, dense for RBF)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    n = X.shape[0]
    if affinity == "knn":
        if not 1 <= n_neighbors < n:
            raise ValueError(f"n_neighbors={n_neighbors} must be in [1, n_samples - 1] "
                             f"(n_samples={n})")
        A = kneighbors_graph(X, n_neighbors, include_self=False)
        return ((A + A.T) > 0).astype(np.float64).tocsr()
    if affinity == "rbf":
        if gamma is None:
            gamma = 1.0 / X.shape[1]
        Xt = torch.as_tensor(X)
        W = np.exp(-gamma * pairwise_sq_dists(Xt, Xt).numpy())
        np.fill_diagonal(W, 0.0)
        return W
    raise ValueError(f"affinity must be 'knn' or 'rbf', got {affinity!r}")


def normalized_laplacian(W):
    """L_sym = I − D^{-1/2} W D^{-1/2} (isolated nodes get degree 1)."""
    deg = np.asarray(W.sum(1)).ravel()
    d = 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0))
    n = W.shape[0]
    if sp.issparse(W):
        S = sp.diags(d) @ W @ sp.diags(d)
        return sp.identity(n, format="csr") - S
    return np.eye(n) - d[:, None] * W * d[None, :]


def spectral_embedding(W, n_components: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvectors of the ``n_components`` smallest eigenvalues of L_sym, and the eigenvalues.

    Computed as the largest eigenpairs of S = D^{-1/2} W D^{-1/2} (eigenvalue μ of S is
    1 − λ of L_sym), which Lanczos finds quickly.
    """
    n = W.shape[0]
    S_minus = normalized_laplacian(W)
    S = (sp.identity(n) - S_minus) if sp.issparse(S_minus) else np.eye(n) - S_minus
    if n_components >= n - 1 or not sp.issparse(S) and n <= 2000:
        vals, vecs = np.linalg.eigh(np.asarray(S.todense() if sp.issparse(S) else S))
        vals, vecs = vals[::-1][:n_components], vecs[:, ::-1][:, :n_components]
    else:
        v0 = np.random.default_rng(seed).uniform(-1, 1, n)
        vals, vecs = eigsh(S, k=n_components, which="LA", v0=v0)
        order = np.argsort(vals)[::-1]
        vals, vecs = vals[order], vecs[:, order]
    return vecs, 1.0 - vals


class SpectralClustering(ClusterMixin, BaseEstimator):
    """Normalised spectral clustering, a scikit-learn estimator.

    ``affinity`` is "knn" (symmetric k-NN graph on ``n_neighbors`` neighbours) or "rbf"
    (``gamma``, default 1 / n_features); the row-normalised embedding is clustered with
    :class:`~dcteach.cluster.KMeans` (``n_init`` restarts). ``random_state`` (int, None or a
    RandomState) seeds both the eigensolver and k-means. Parameters are validated when
    ``fit`` starts. ``X`` may also be a torch tensor (any device/dtype; it is copied to the
    host as float64).

    Attributes after ``fit``: ``labels_``, ``embedding_`` (row-normalised spectral
    embedding), ``eigenvalues_`` (of L_sym, ascending), ``affinity_matrix_``,
    ``n_features_in_``.
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "affinity": [StrOptions({"knn", "rbf"})],
        "n_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "gamma": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_clusters: int = 8, affinity: str = "knn", n_neighbors: int = 10,
                 gamma: float | None = None, n_init: int = 10, random_state: int | None = 0):
        self.n_clusters = n_clusters
        self.affinity = affinity
        self.n_neighbors = n_neighbors
        self.gamma = gamma
        self.n_init = n_init
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None) -> SpectralClustering:
        """Build the affinity graph of ``X``, embed it and cluster it (``y`` is ignored)."""
        if isinstance(X, torch.Tensor):
            X = X.detach().to(device="cpu", dtype=torch.float64).numpy()
        X = validate_data(self, X, dtype=np.float64)
        if self.n_clusters > X.shape[0]:
            raise ValueError(f"n_clusters={self.n_clusters} must be between 1 and "
                             f"n_samples={X.shape[0]}")
        seed = _torch_seed(self.random_state)
        W = affinity_matrix(X, self.affinity, self.n_neighbors, self.gamma)
        U, lam = spectral_embedding(W, self.n_clusters, seed)
        U = U / np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-12)
        km = KMeans(self.n_clusters, n_init=self.n_init, random_state=seed)
        self.labels_ = km.fit(U).labels_
        self.embedding_, self.eigenvalues_, self.affinity_matrix_ = U, lam, W
        return self

    def fit_predict(self, X, y=None) -> np.ndarray:
        """``fit(X).labels_``."""
        return self.fit(X, y).labels_
