"""k-means in torch: k-means++ seeding, Lloyd iterations, several restarts, GPU-ready.

Objective (MacQueen 1967; Lloyd 1982):  min_{μ, c}  Σ_i ‖x_i − μ_{c_i}‖².
Lloyd alternates the assignment step c_i = argmin_k ‖x_i − μ_k‖² and the update step
μ_k = mean{x_i : c_i = k}. k-means++ (Arthur & Vassilvitskii 2007) picks the first centre
uniformly and each next one with probability ∝ D(x)², the squared distance to the nearest
centre chosen so far ("greedy" variant: the best of 2 + ⌊ln k⌋ candidates, as scikit-learn).

Squared distances are computed as ‖x‖² − 2 x·μ + ‖μ‖² in row blocks, so memory stays
bounded and the work is one matrix product per block.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..engine import pick_device

__all__ = ["KMeans", "kmeans_plusplus", "pairwise_sq_dists", "assign"]


def _as_tensor(X, device, dtype=torch.float32) -> torch.Tensor:
    if isinstance(X, torch.Tensor):
        t = X.detach().to(device=device, dtype=dtype)
    else:
        t = torch.as_tensor(np.asarray(X), dtype=dtype, device=device)
    if t.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise ValueError("X is empty: need at least one sample")
    return t


def pairwise_sq_dists(x: torch.Tensor, centers: torch.Tensor, x_sq: torch.Tensor | None = None
                      ) -> torch.Tensor:
    """‖x_i − μ_k‖² for all i, k (clamped at 0 against round-off)."""
    if x_sq is None:
        x_sq = (x * x).sum(1)
    d = x_sq[:, None] - 2.0 * (x @ centers.T) + (centers * centers).sum(1)[None, :]
    return d.clamp_min_(0.0)


def assign(x: torch.Tensor, centers: torch.Tensor, x_sq: torch.Tensor | None = None,
           block: int = 65536) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centre and squared distance to it for every row of ``x`` (blocked)."""
    if x_sq is None:
        x_sq = (x * x).sum(1)
    labels = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    dists = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    for s in range(0, x.shape[0], block):
        d = pairwise_sq_dists(x[s:s + block], centers, x_sq[s:s + block])
        dists[s:s + block], labels[s:s + block] = d.min(1)
    return labels, dists


def kmeans_plusplus(x: torch.Tensor, k: int, generator: torch.Generator,
                    x_sq: torch.Tensor | None = None, n_local_trials: int | None = None
                    ) -> torch.Tensor:
    """Greedy k-means++ seeding; returns ``(k, d)`` initial centres."""
    n = x.shape[0]
    if x_sq is None:
        x_sq = (x * x).sum(1)
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(k))
    first = torch.randint(n, (1,), generator=generator, device="cpu").item()
    centers = [x[first]]
    closest = pairwise_sq_dists(x, x[first:first + 1], x_sq)[:, 0]
    pot = closest.sum()
    for _ in range(1, k):
        if pot <= 0:  # fewer distinct points than k: pick uniformly
            cand = torch.randint(n, (n_local_trials,), generator=generator).to(x.device)
        else:
            u = torch.rand(n_local_trials, generator=generator, dtype=torch.float64)
            cum = torch.cumsum(closest.double(), 0)
            cand = torch.searchsorted(cum, (u.to(x.device) * cum[-1]).contiguous())
            cand = cand.clamp_max(n - 1)
        d_cand = pairwise_sq_dists(x, x[cand], x_sq)  # (n, trials)
        new_closest = torch.minimum(closest[:, None], d_cand)
        pots = new_closest.sum(0)
        best = int(torch.argmin(pots))
        centers.append(x[cand[best]])
        closest, pot = new_closest[:, best], pots[best]
    return torch.stack(centers)


def _two_nearest(x, x_sq, centers, block):
    """Index of the nearest centre and distances to the nearest and second nearest."""
    n, k = x.shape[0], centers.shape[0]
    labels = torch.empty(n, dtype=torch.long, device=x.device)
    upper = torch.empty(n, dtype=x.dtype, device=x.device)
    lower = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)
    for s in range(0, n, block):
        d = pairwise_sq_dists(x[s:s + block], centers, x_sq[s:s + block])
        if k > 1:
            top = torch.topk(d, 2, dim=1, largest=False)
            labels[s:s + block] = top.indices[:, 0]
            upper[s:s + block] = top.values[:, 0]
            lower[s:s + block] = top.values[:, 1]
        else:
            labels[s:s + block] = 0
            upper[s:s + block] = d[:, 0]
    return labels, upper.sqrt_(), lower.sqrt_()


def _lloyd(x, x_sq, centers, max_iter, tol, block):
    """Lloyd's algorithm from ``centers``, accelerated with Hamerly's bounds (Hamerly 2010).

    Exactly Lloyd's iterations, but a point whose distance to its own centre (upper bound
    u_i) is below both its lower bound l_i on the distance to any other centre and half the
    distance from its centre to the nearest other centre cannot change cluster, so its
    distances are not recomputed. After the centres move by δ_k, u_i += δ_{c_i} and
    l_i −= max_k δ_k keep the bounds valid. Cluster sums are updated incrementally from the
    points that changed cluster. Returns (centres, labels, inertia, n_iter).
    """
    k = centers.shape[0]
    labels, upper, lower = _two_nearest(x, x_sq, centers, block)
    sums = torch.zeros(k, x.shape[1], dtype=torch.float64, device=x.device)
    sums.index_add_(0, labels, x.double())
    counts = torch.bincount(labels, minlength=k).double()
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        new = (sums / counts.clamp_min(1)[:, None]).to(x.dtype)
        empty = counts == 0
        if empty.any():  # re-seed empty clusters at the points farthest from their centre
            far = torch.topk(upper, int(empty.sum())).indices
            new[empty] = x[far]
        delta = (new - centers).norm(dim=1)
        shift = float((delta.double() ** 2).sum())
        centers = new
        if empty.any():  # exact recomputation after a re-seed
            labels, upper, lower = _two_nearest(x, x_sq, centers, block)
            sums.zero_().index_add_(0, labels, x.double())
            counts = torch.bincount(labels, minlength=k).double()
            continue
        if shift <= tol:
            break
        upper += delta[labels]
        lower -= delta.max()
        if k > 1:
            cc = torch.cdist(centers, centers)
            cc.fill_diagonal_(float("inf"))
            half_gap = 0.5 * cc.min(1).values
        else:
            half_gap = torch.full((1,), float("inf"), device=x.device)
        bound = torch.maximum(half_gap[labels], lower)
        active = (upper > bound).nonzero().squeeze(1)
        if active.numel() == 0:
            continue
        xa, xa_sq = x[active], x_sq[active]
        new_labels, new_upper, new_lower = _two_nearest(xa, xa_sq, centers, block)
        old_labels = labels[active]
        changed = new_labels != old_labels
        labels[active], upper[active], lower[active] = new_labels, new_upper, new_lower
        if changed.any():
            xc = xa[changed].double()
            sums.index_add_(0, new_labels[changed], xc).index_add_(0, old_labels[changed], -xc)
            counts += torch.bincount(new_labels[changed], minlength=k).double()
            counts -= torch.bincount(old_labels[changed], minlength=k).double()
    labels, dists = assign(x, centers, x_sq, block)
    return centers, labels, float(dists.double().sum()), n_iter


class KMeans:
    """k-means with the scikit-learn interface, written in torch.

    Parameters follow :class:`sklearn.cluster.KMeans`: ``n_clusters``, ``n_init`` restarts
    (the run with the lowest inertia wins), ``max_iter``, ``tol`` (relative to the mean
    feature variance, like scikit-learn), ``init`` ("k-means++", "random" or an array of
    centres). ``device`` picks where it runs (auto: cuda → mps → cpu).

    Attributes after ``fit``: ``cluster_centers_``, ``labels_``, ``inertia_``, ``n_iter_``.
    """

    def __init__(self, n_clusters: int = 8, n_init: int = 10, max_iter: int = 300,
                 tol: float = 1e-4, init="k-means++", random_state: int | None = 0,
                 device: str | None = "cpu", block_size: int = 65536, dtype=torch.float32):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.device = device
        self.block_size = block_size
        self.dtype = dtype

    def fit(self, X, y=None) -> KMeans:
        dev = pick_device(self.device)
        x = _as_tensor(X, dev, self.dtype)
        n = x.shape[0]
        if not 1 <= self.n_clusters <= n:
            raise ValueError(f"n_clusters={self.n_clusters} must be between 1 and "
                             f"n_samples={n}")
        if not torch.isfinite(x).all():
            raise ValueError("X contains NaN or infinite values")
        x_sq = (x * x).sum(1)
        tol = self.tol * float(x.var(0).mean())
        gen = torch.Generator().manual_seed(
            self.random_state if self.random_state is not None else
            int(np.random.randint(2**31)))
        best = None
        explicit = not isinstance(self.init, str)
        for _ in range(1 if explicit else self.n_init):
            if explicit:
                c0 = _as_tensor(self.init, dev, self.dtype)
                if c0.shape != (self.n_clusters, x.shape[1]):
                    raise ValueError(f"init centres must have shape "
                                     f"({self.n_clusters}, {x.shape[1]}), got {tuple(c0.shape)}")
            elif self.init == "k-means++":
                c0 = kmeans_plusplus(x, self.n_clusters, gen, x_sq)
            elif self.init == "random":
                c0 = x[torch.randperm(n, generator=gen)[: self.n_clusters].to(dev)]
            else:
                raise ValueError(f"init must be 'k-means++', 'random' or an array, "
                                 f"got {self.init!r}")
            res = _lloyd(x, x_sq, c0.clone(), self.max_iter, tol, self.block_size)
            if best is None or res[2] < best[2]:
                best = res
        centers, labels, inertia, n_iter = best
        self.cluster_centers_ = centers.cpu().numpy()
        self.labels_ = labels.cpu().numpy()
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        self._centers_t = centers
        return self

    @classmethod
    def from_centers(cls, centers, device: str | None = "cpu") -> KMeans:
        """A fitted KMeans with the given centres (for predict/transform)."""
        km = cls(n_clusters=len(centers), device=device)
        km._centers_t = _as_tensor(centers, pick_device(device))
        km.cluster_centers_ = km._centers_t.cpu().numpy()
        return km

    def predict(self, X) -> np.ndarray:
        self._check_fitted()
        x = _as_tensor(X, self._centers_t.device, self.dtype)
        if x.shape[1] != self._centers_t.shape[1]:
            raise ValueError(f"X has {x.shape[1]} features, the model was fitted on "
                             f"{self._centers_t.shape[1]}")
        return assign(x, self._centers_t, block=self.block_size)[0].cpu().numpy()

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_

    def transform(self, X) -> np.ndarray:
        """Distances to every centre, ``(n, k)``."""
        self._check_fitted()
        x = _as_tensor(X, self._centers_t.device, self.dtype)
        return pairwise_sq_dists(x, self._centers_t).sqrt().cpu().numpy()

    def _check_fitted(self):
        if not hasattr(self, "_centers_t"):
            raise RuntimeError("KMeans is not fitted yet: call fit(X) first")
