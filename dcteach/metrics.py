"""Clustering metrics: ACC (Hungarian), NMI, ARI, purity, aligned confusion matrix.

All functions accept numpy arrays, torch tensors or Python sequences of integer labels.
Cluster ids in ``y_pred`` are arbitrary: ACC and the aligned confusion matrix first find
the one-to-one mapping of clusters to classes that maximises agreement.

* ACC  = max_m (1/n) Σ_i 1{y_i = m(c_i)}, m a one-to-one map found by the Hungarian
  method (Kuhn 1955) on the contingency table.
* NMI  = I(Y;C) / mean(H(Y), H(C))  (arithmetic mean, as scikit-learn's default).
* ARI  = (Σ_ij C(n_ij,2) − E) / (½(Σ_i C(a_i,2)+Σ_j C(b_j,2)) − E),
  E = Σ_i C(a_i,2) Σ_j C(b_j,2) / C(n,2)   (Hubert & Arabie 1985).
* purity = (1/n) Σ_k max_j n_kj.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = [
    "as_labels",
    "subsample_stability",
    "contingency",
    "cluster_accuracy",
    "best_mapping",
    "nmi",
    "ari",
    "purity",
    "aligned_confusion_matrix",
    "evaluate",
]


def as_labels(labels, name: str = "labels") -> np.ndarray:
    """Convert ``labels`` (array, tensor, list) to a 1-D int64 numpy array, or raise ValueError."""
    if hasattr(labels, "detach"):  # torch tensor
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.ndim != 1:
        if arr.ndim == 2 and 1 in arr.shape:
            arr = arr.reshape(-1)
        else:
            raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one label")
    if arr.dtype == bool:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(
            arr == np.round(arr)
        ):
            return arr.astype(np.int64)
        raise ValueError(
            f"{name} must be integer class/cluster ids, got dtype {arr.dtype}"
            + (" with non-integer values" if np.issubdtype(arr.dtype, np.floating) else "")
        )
    return arr.astype(np.int64)


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = as_labels(y_true, "y_true")
    p = as_labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {t.shape[0]} and {p.shape[0]}"
        )
    return t, p


def contingency(y_true, y_pred) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Contingency table ``W[k, j]`` = #points in cluster k with class j.

    Returns ``(W, cluster_ids, class_ids)``.
    """
    t, p = _pair(y_true, y_pred)
    classes, t_idx = np.unique(t, return_inverse=True)
    clusters, p_idx = np.unique(p, return_inverse=True)
    table = np.zeros((clusters.size, classes.size), dtype=np.int64)
    np.add.at(table, (p_idx, t_idx), 1)
    return table, clusters, classes


def best_mapping(y_true, y_pred) -> dict[int, int]:
    """Cluster id → class id maximising agreement (Hungarian method on the contingency table).

    Clusters left without a class (more clusters than classes) map to -1.
    """
    table, clusters, classes = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = {int(c): -1 for c in clusters}
    for r, c in zip(rows, cols, strict=True):
        mapping[int(clusters[r])] = int(classes[c])
    return mapping


def cluster_accuracy(y_true, y_pred) -> float:
    """Unsupervised clustering accuracy: fraction correct under the best one-to-one mapping."""
    table, _, _ = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / table.sum())


acc = cluster_accuracy


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def nmi(y_true, y_pred) -> float:
    """Normalised mutual information, I(Y;C) / ((H(Y) + H(C)) / 2), from the contingency table.

    Equals scikit-learn's ``normalized_mutual_info_score`` (arithmetic normalisation); two
    single-cluster labelings count as identical (NMI 1).
    """
    table, _, _ = contingency(y_true, y_pred)
    n = table.sum()
    h_c, h_y = _entropy(table.sum(1)), _entropy(table.sum(0))
    if h_c == 0.0 and h_y == 0.0:
        return 1.0
    nz = table > 0
    outer = np.outer(table.sum(1), table.sum(0))[nz].astype(np.float64)
    w = table[nz].astype(np.float64)
    mi = float((w / n * (np.log(w) + np.log(n) - np.log(outer))).sum())
    mi = max(mi, 0.0)
    return float(mi / max((h_c + h_y) / 2.0, np.finfo(np.float64).eps))


def ari(y_true, y_pred) -> float:
    """Adjusted Rand index from pair counts of the contingency table (Hubert & Arabie 1985)."""
    table, _, _ = contingency(y_true, y_pred)
    n = int(table.sum())
    comb = lambda v: v * (v - 1) / 2.0  # noqa: E731 - C(v, 2)
    sum_ij = comb(table.astype(np.float64)).sum()
    sum_a = comb(table.sum(1).astype(np.float64)).sum()
    sum_b = comb(table.sum(0).astype(np.float64)).sum()
    total = comb(float(n))
    expected = sum_a * sum_b / total if total > 0 else 0.0
    max_index = (sum_a + sum_b) / 2.0
    if max_index == expected:  # both labelings trivial (one cluster, or all singletons)
        return 1.0
    return float((sum_ij - expected) / (max_index - expected))


def purity(y_true, y_pred) -> float:
    """Purity: each cluster votes for its majority class (many-to-one)."""
    table, _, _ = contingency(y_true, y_pred)
    return float(table.max(axis=1).sum() / table.sum())


def aligned_confusion_matrix(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Confusion matrix with clusters reordered by the best mapping.

    Returns ``(matrix, classes)``: ``matrix[i, j]`` counts points of class ``classes[i]``
    in the cluster mapped to ``classes[j]``, so a perfect clustering is diagonal. A class
    that no cluster maps to gets a zero column; clusters mapped to no class (more clusters
    than classes) are appended as extra columns.
    """
    table, _, classes = contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    matrix[:, cols] = table[rows].T
    unmatched = sorted(set(range(table.shape[0])) - set(rows.tolist()))
    if unmatched:
        matrix = np.concatenate([matrix, table[unmatched].T], axis=1)
    return matrix, classes


def evaluate(y_true, y_pred) -> dict[str, float]:
    """ACC, NMI and ARI in one dict."""
    return {"acc": cluster_accuracy(y_true, y_pred), "nmi": nmi(y_true, y_pred),
            "ari": ari(y_true, y_pred)}


def subsample_stability(cluster_fn, n: int, n_pairs: int = 3, fraction: float = 0.8,
                        seed: int = 0) -> float:
    """A label-free score of a clustering procedure: how much it agrees with itself.

    ``cluster_fn(idx)`` clusters the rows ``idx`` (sorted indices into the data) and returns
    their labels. For each of ``n_pairs`` pairs of random subsamples of ``fraction · n`` rows,
    the two partitions are compared on the rows the subsamples share, with the ARI; the score
    is the mean (Ben-Hur, Elisseeff & Guyon 2002; Lange, Roth, Braun & Buhmann 2004). A
    procedure that finds structure in the data finds it again on another sample (score near
    1); one that cuts structureless data arbitrarily does not (near 0). It compares settings
    whose objectives or feature spaces differ — where inertia or a loss cannot — and reads no
    labels, so it can choose defaults (``benchmarks/select_text_defaults.py``).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be at least 1, got {n_pairs}")
    rng = np.random.default_rng(seed)
    m = max(2, int(round(fraction * n)))
    scores = []
    for _ in range(n_pairs):
        a, b = (np.sort(rng.choice(n, m, replace=False)) for _ in range(2))
        la, lb = as_labels(cluster_fn(a)), as_labels(cluster_fn(b))
        _, ia, ib = np.intersect1d(a, b, assume_unique=True, return_indices=True)
        scores.append(ari(la[ia], lb[ib]))
    return float(np.mean(scores))


def format_table(rows: Sequence[dict], keys: Sequence[str] = ("acc", "nmi", "ari")) -> str:
    """Plain-text table of results (one dict per row, with a ``name`` key); the name column is
    as wide as the longest name, so the columns line up."""
    width = max([24] + [len(str(r.get("name", ""))) + 2 for r in rows])
    header = f"{'':<{width}}" + "".join(f"{k.upper():>9}" for k in keys)
    lines = [header]
    for r in rows:
        cells = "".join(
            f"{r[k]:>9.4f}" if isinstance(r.get(k), float) else f"{str(r.get(k, '')):>9}"
            for k in keys
        )
        lines.append(f"{str(r.get('name', '')):<{width}}{cells}")
    return "\n".join(lines)
