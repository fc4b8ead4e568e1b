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
import numbers

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ..engine import pick_device

__all__ = ["KMeans", "kmeans_plusplus", "pairwise_sq_dists", "assign", "split_empty_clusters"]


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


def pairwise_sq_dists(x: torch.Tensor, centers: torch.Tensor, x_sq: torch.Tensor | None = None,
                      exact: bool = False) -> torch.Tensor:
    """‖x_i − μ_k‖² = ‖x_i‖² − 2 x_i·μ_k + ‖μ_k‖² for all i, k, shape ``(n, k)``, clamped at 0
    against round-off; differentiable in ``x`` and ``centers``.

    The package's one squared-distance function (k-means, DEC's Student-t kernel, DCN's
    assignments, prediction). Computed in at least float32 even inside a bf16/fp16 autocast
    region: nearest-centre choices and the Student-t kernel are sensitive to rounding.
    ``exact=True`` sums squared differences instead (no cancellation; memory n·k·d), for
    small sets where round-off matters, such as the centre-to-centre bounds of Hamerly's
    k-means.
    """
    dtype = torch.promote_types(torch.promote_types(x.dtype, centers.dtype), torch.float32)
    with torch.autocast(x.device.type, enabled=False):
        x, centers = x.to(dtype), centers.to(dtype)
        if exact:
            return ((x[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
        if x_sq is None:
            x_sq = (x * x).sum(1)
        d = x_sq.to(dtype)[:, None] - 2.0 * (x @ centers.T) + (centers * centers).sum(1)[None, :]
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


def _lloyd(x, x_sq, centers, max_iter, tol, block, relocate_empty=True):
    """Lloyd's algorithm from ``centers``, accelerated with Hamerly's bounds (Hamerly 2010).

    Exactly Lloyd's iterations, but a point whose distance to its own centre (upper bound
    u_i) is below both its lower bound l_i on the distance to any other centre and half the
    distance from its centre to the nearest other centre cannot change cluster, so its
    distances are not recomputed. After the centres move by δ_k, u_i += δ_{c_i} and
    l_i −= max_k δ_k keep the bounds valid. Cluster sums are updated incrementally from the
    points that changed cluster. An empty cluster is re-seeded at the points farthest from
    their centres (``relocate_empty``, as scikit-learn) or keeps its centre, and so stays
    empty while no point comes nearer to it. Returns (centres, labels, inertia, n_iter).
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
        if not relocate_empty:
            new[empty] = centers[empty]
            empty = torch.zeros_like(empty)
        elif empty.any():  # re-seed empty clusters at the points farthest from their centre
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
            cc = pairwise_sq_dists(centers, centers, exact=True).sqrt_()
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


_TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64,
                 "float16": torch.float16, "bfloat16": torch.bfloat16}


def _torch_dtype(dtype) -> torch.dtype:
    """The torch dtype named by ``dtype`` (a key of ``_TORCH_DTYPES`` or a torch dtype)."""
    dtype = _TORCH_DTYPES.get(dtype, dtype) if isinstance(dtype, str) else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be one of {sorted(_TORCH_DTYPES)} or a floating-point "
                         f"torch dtype, got {dtype!r}")
    return dtype


def _torch_seed(random_state) -> int:
    """Seed for a torch.Generator: an int as is; None or a RandomState draw one."""
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31))


def _numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    return (t.float() if t.dtype in (torch.bfloat16, torch.float16) else t).numpy()


def _validate_X(estimator, X, *, reset: bool, device, dtype) -> torch.Tensor:
    """``X`` as a finite 2-D tensor of ``dtype`` on ``device``, checked like ``validate_data``.

    Array-likes (NumPy, lists, memmaps, DataFrames) go through scikit-learn's
    ``validate_data``; torch tensors (on any device, any dtype) are checked here without a
    round trip through the host, and ``validate_data(skip_check_array=True)`` still sets
    (``reset``) or checks ``n_features_in_`` with scikit-learn's messages.
    """
    if isinstance(X, torch.Tensor):
        if X.ndim != 2:
            raise ValueError(f"Expected 2D array, got a {X.ndim}D tensor instead: X must have "
                             f"shape (n_samples, n_features), got {tuple(X.shape)}")
        if X.is_complex():
            raise ValueError("Complex data not supported")
        for axis, what in ((0, "sample"), (1, "feature")):
            if X.shape[axis] < 1:
                raise ValueError(f"Found array with {X.shape[axis]} {what}(s) (shape="
                                 f"{tuple(X.shape)}) while a minimum of 1 is required.")
        validate_data(estimator, X, reset=reset, skip_check_array=True)
        x = X.detach().to(device=device, dtype=dtype)
    else:
        X = validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32])
        if type(X) is not np.ndarray or not X.flags.writeable:
            X = np.array(X)  # torch.from_numpy warns on read-only arrays (memmaps)
        x = torch.from_numpy(X).to(device=device, dtype=dtype)
    if not torch.isfinite(x).all():
        raise ValueError(f"Input X contains NaN or infinity (as {dtype})")
    return x


class KMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """k-means, a scikit-learn estimator written in torch.

    Parameters follow :class:`sklearn.cluster.KMeans`: ``n_clusters``, ``n_init`` restarts
    (the run with the lowest inertia wins), ``max_iter``, ``tol`` (relative to the mean
    feature variance, like scikit-learn), ``init`` ("k-means++", "random" or an array of
    centres, then one run), ``random_state`` (int, None or a RandomState). ``device`` picks
    where it runs (None or "auto": cuda → mps → cpu), ``dtype`` the precision it computes in
    ("float32", "float64", "float16", "bfloat16" or a torch dtype), ``block_size`` the rows
    per distance block, ``relocate_empty`` whether a cluster that loses all its points is
    re-seeded at the farthest points (scikit-learn's behaviour; False: it keeps its centre,
    which DeepCluster's lecture uses to show empty clusters). Parameters are validated when
    ``fit`` starts.

    ``X`` may be anything scikit-learn accepts or a torch tensor on any device and of any
    dtype (it is moved to ``device`` and cast to ``dtype``).

    Attributes after ``fit``: ``cluster_centers_``, ``labels_``, ``inertia_``, ``n_iter_``,
    ``n_features_in_`` (and ``feature_names_in_`` for a DataFrame).
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), "array-like"],
        "random_state": ["random_state"],
        "device": [str, torch.device, None],
        "block_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "dtype": [StrOptions(set(_TORCH_DTYPES)), torch.dtype],
        "relocate_empty": ["boolean"],
    }

    def __init__(self, n_clusters: int = 8, n_init: int = 10, max_iter: int = 300,
                 tol: float = 1e-4, init="k-means++", random_state: int | None = 0,
                 device: str | None = "cpu", block_size: int = 65536, dtype="float32",
                 relocate_empty: bool = True):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.device = device
        self.block_size = block_size
        self.dtype = dtype
        self.relocate_empty = relocate_empty

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # transform computes (and returns) in the model's dtype whatever X's dtype is
        name = self.dtype if isinstance(self.dtype, str) else str(self.dtype).split(".")[-1]
        tags.transformer_tags.preserves_dtype = [name] if name in ("float32", "float64") else []
        return tags

    @property
    def _n_features_out(self) -> int:
        """Number of output features of ``transform`` (for ``get_feature_names_out``)."""
        return self.cluster_centers_.shape[0]

    def _init_centers(self, n_features: int, device, dtype) -> torch.Tensor:
        """The explicit ``init`` array as a ``(n_clusters, n_features)`` tensor."""
        init = self.init
        if isinstance(init, torch.Tensor):
            c0 = init.detach().to(device=device, dtype=dtype)
        else:
            init = check_array(init, dtype=[np.float64, np.float32], copy=True,
                               input_name="init")
            c0 = torch.from_numpy(init).to(device=device, dtype=dtype)
        if tuple(c0.shape) != (self.n_clusters, n_features):
            raise ValueError(f"init centres must have shape ({self.n_clusters}, {n_features}), "
                             f"got {tuple(c0.shape)}")
        if not torch.isfinite(c0).all():
            raise ValueError("init centres contain NaN or infinity")
        return c0

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None) -> KMeans:
        """Run ``n_init`` seeded Lloyd runs on ``X`` (``y`` is ignored) and keep the best."""
        dtype = _torch_dtype(self.dtype)
        dev = pick_device(self.device)
        x = _validate_X(self, X, reset=True, device=dev, dtype=dtype)
        n = x.shape[0]
        if self.n_clusters > n:
            raise ValueError(f"n_clusters={self.n_clusters} must be between 1 and "
                             f"n_samples={n}")
        explicit = not isinstance(self.init, str)
        c_init = self._init_centers(x.shape[1], dev, dtype) if explicit else None
        x_sq = (x * x).sum(1)
        tol = self.tol * float(x.var(0).mean()) if n > 1 else 0.0
        gen = torch.Generator().manual_seed(_torch_seed(self.random_state))
        best = None
        for _ in range(1 if explicit else self.n_init):
            if explicit:
                c0 = c_init
            elif self.init == "k-means++":
                c0 = kmeans_plusplus(x, self.n_clusters, gen, x_sq)
            else:  # "random"
                c0 = x[torch.randperm(n, generator=gen)[: self.n_clusters].to(dev)]
            res = _lloyd(x, x_sq, c0.clone(), self.max_iter, tol, self.block_size,
                         self.relocate_empty)
            if best is None or res[2] < best[2]:
                best = res
        centers, labels, inertia, n_iter = best
        self.cluster_centers_ = _numpy(centers)
        self.labels_ = _numpy(labels)
        self.inertia_ = inertia
        self.n_iter_ = n_iter
        self._centers_t = centers
        return self

    @classmethod
    def from_centers(cls, centers, device: str | None = "cpu") -> KMeans:
        """A fitted KMeans with the given centres (for predict/transform)."""
        km = cls(n_clusters=len(centers), device=device)
        km._centers_t = _as_tensor(centers, pick_device(device))
        km.cluster_centers_ = _numpy(km._centers_t)
        km.n_features_in_ = km._centers_t.shape[1]
        return km

    def _validate_fitted_X(self, X) -> torch.Tensor:
        check_is_fitted(self)
        c = self._centers_t
        return _validate_X(self, X, reset=False, device=c.device, dtype=c.dtype)

    def predict(self, X) -> np.ndarray:
        """Index of the nearest centre for every row of ``X``."""
        x = self._validate_fitted_X(X)
        return _numpy(assign(x, self._centers_t, block=self.block_size)[0])

    def fit_predict(self, X, y=None) -> np.ndarray:
        """``fit(X).labels_``."""
        return self.fit(X, y).labels_

    def transform(self, X) -> np.ndarray:
        """Distances to every centre, ``(n, k)``."""
        x = self._validate_fitted_X(X)
        return _numpy(pairwise_sq_dists(x, self._centers_t).sqrt())


def split_empty_clusters(x: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor,
                         generator: torch.Generator | None = None, eps: float = 1e-4
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """DeepCluster's remedy for empty clusters (Caron et al., ECCV 2018, §3.3): for every
    empty cluster e, pick a non-empty cluster j at random, give e the centroid of j with a
    small random perturbation (c_e = c_j + εu, c_j ← c_j − εu, u a random direction), and
    reassign the points of j to the nearer of the two.

    j is drawn with probability ∝ (size − 1), as faiss's k-means does, so large clusters
    are split first and a singleton is never chosen. Points that all coincide cannot be
    split (they fall on one side); such an e stays empty. Returns new (labels, centers).
    """
    labels, centers = labels.clone(), centers.clone()
    k, d = centers.shape
    counts = torch.bincount(labels, minlength=k)
    for e in (counts == 0).nonzero().flatten().tolist():
        weight = (counts - 1).clamp_min(0).double().cpu()
        if weight.sum() == 0:
            break
        j = int(torch.multinomial(weight, 1, generator=generator))
        u = torch.randn(d, generator=generator, dtype=torch.float64).to(centers)
        u = eps * u / u.norm().clamp_min(1e-12)
        centers[e], centers[j] = centers[j] + u, centers[j] - u
        members = (labels == j).nonzero().flatten()
        # nearer to c_j + εu than to c_j − εu  ⟺  (x − c_j)·u > 0  (no round-off in ε)
        to_e = ((x[members].double() - (centers[j] + u).double()) @ u.double()) > 0
        labels[members[to_e]] = e
        counts[e], counts[j] = int(to_e.sum()), int((~to_e).sum())
    return labels, centers
