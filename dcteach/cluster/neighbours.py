"""Nearest neighbours in a feature space: mining (SCAN, text methods) and smoothing.

* :func:`mine_neighbours` — the k nearest neighbours of every sample by cosine similarity,
  computed as blocked matrix products of L2-normalised rows (on the features' device).
* :func:`neighbour_accuracy` — the share of mined neighbours that carry the anchor's label,
  SCAN's measure of how good a pretext space is for clustering.
* :func:`knn_accuracy` — weighted k-NN classification accuracy of a feature space
  (leave-one-out; k = 200, τ = 0.1: the monitor of Wu et al., CVPR 2018, used by SimCLR-style
  training logs). Labels only *measure* the features; no method trains on them.
* :func:`smooth_features` — ``normalize(x_i + Σ_{j ∈ kNN(i)} x_j)``, one step of neighbourhood
  averaging (a cheap denoiser before clustering short texts).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["mine_neighbours", "neighbour_accuracy", "knn_accuracy", "smooth_features"]


@torch.no_grad()
def mine_neighbours(x: torch.Tensor, k: int = 20, block: int = 2048,
                    backend: str = "torch") -> torch.Tensor:
    """Indices ``(n, k)`` of the k nearest neighbours by cosine similarity, most similar
    first, the sample itself excluded. ``k`` is capped at ``n − 1``.

    ``backend="torch"``: exact top-k of blocked products ``U_b Uᵀ`` of the L2-normalised rows
    (on the features' device, CPU or GPU; O(n²d) work, O(block·n) memory). ``"faiss"``: the
    exact inner-product index ``faiss.IndexFlatIP`` (when faiss is installed; same result up
    to ties). ``"auto"``: faiss when importable, else torch.
    """
    if backend not in ("torch", "faiss", "auto"):
        raise ValueError(f"backend must be 'torch', 'faiss' or 'auto', got {backend!r}")
    u = F.normalize(torch.as_tensor(x).float(), dim=1)
    k = max(1, min(k, len(u) - 1))
    if backend != "torch":
        try:
            import faiss
        except ImportError:
            if backend == "faiss":
                raise ImportError("backend='faiss' needs the faiss package "
                                  "(pip install faiss-cpu)") from None
        else:
            index = faiss.IndexFlatIP(u.shape[1])
            un = np.ascontiguousarray(u.cpu().numpy())
            index.add(un)
            _, idx = index.search(un, k + 1)
            idx = torch.as_tensor(idx, device=u.device)
            own = idx == torch.arange(len(u), device=u.device)[:, None]
            # drop the sample itself (or the last column when a duplicate outranked it)
            own[:, -1] |= ~own.any(1)
            return idx[~own].view(len(u), k)
    out = []
    for s in range(0, len(u), block):
        sim = u[s:s + block] @ u.T
        sim[torch.arange(sim.shape[0]), torch.arange(s, s + sim.shape[0])] = -2.0
        out.append(sim.topk(k, dim=1).indices)
    return torch.cat(out)


def neighbour_accuracy(neighbours, labels, k: int | None = None) -> float:
    """Mean over anchors i and their first ``k`` neighbours j (all when None) of
    ``[y_j = y_i]`` — SCAN's measure of how good a pretext space is for clustering."""
    nb = np.asarray(torch.as_tensor(neighbours).cpu())[:, :k]
    y = np.asarray(labels)
    return float((y[nb] == y[:, None]).mean())


@torch.no_grad()
def knn_accuracy(x: torch.Tensor, labels, k: int = 200, temperature: float = 0.1,
                 n_queries: int | None = 5000, seed: int = 0, block: int = 1024) -> float:
    """Leave-one-out weighted k-NN accuracy of the features ``x`` (n, d).

    For a query i with cosine similarities s_ij to the other samples, its k most similar
    neighbours N(i) vote with weights exp(s_ij / τ)::

        ŷ_i = argmax_c Σ_{j ∈ N(i)} exp(s_ij / τ) [y_j = c]

    ``n_queries`` random queries (all samples if None) against all n samples as the memory.
    """
    u = F.normalize(torch.as_tensor(x).float(), dim=1)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=u.device)
    n = len(u)
    k = max(1, min(k, n - 1))
    q = torch.arange(n, device=u.device)
    if n_queries is not None and n_queries < n:
        g = torch.Generator().manual_seed(seed)
        q = torch.randperm(n, generator=g)[:n_queries].to(u.device)
    n_classes = int(y.max()) + 1
    correct = 0
    for s in range(0, len(q), block):
        qi = q[s:s + block]
        sim = u[qi] @ u.T
        sim[torch.arange(len(qi), device=u.device), qi] = -float("inf")  # leave one out
        top, idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(qi), n_classes, device=u.device)
        votes.scatter_add_(1, y[idx], torch.exp((top - 1.0) / temperature))  # shift: no overflow
        correct += int((votes.argmax(1) == y[qi]).sum())
    return correct / len(q)


def smooth_features(x: torch.Tensor, neighbours: torch.Tensor, k: int) -> torch.Tensor:
    """``normalize(x_i + Σ_{j ∈ kNN(i)} x_j)`` with the first ``k`` columns of ``neighbours``.

    Short texts are noisy points; averaging each with its nearest neighbours pulls points
    towards their dense region. ``k = 0`` returns ``x`` unchanged.
    """
    if k <= 0:
        return x
    return F.normalize(x + x[neighbours[:, :k]].sum(1), dim=1)
