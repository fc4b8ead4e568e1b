"""Nearest neighbours in a feature space: mining (SCAN, text methods) and smoothing.

* :func:`mine_neighbours` — the k nearest neighbours of every sample by cosine similarity,
  computed as blocked matrix products of L2-normalised rows (on the features' device).
* :func:`neighbour_accuracy` — the share of mined neighbours that carry the anchor's label,
  SCAN's measure of how good a pretext space is for clustering.
* :func:`smooth_features` — ``normalize(x_i + Σ_{j ∈ kNN(i)} x_j)``, one step of neighbourhood
  averaging (a cheap denoiser before clustering short texts).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["mine_neighbours", "neighbour_accuracy", "smooth_features"]


@torch.no_grad()
def mine_neighbours(x: torch.Tensor, k: int = 20, block: int = 2048) -> torch.Tensor:
    """Indices ``(n, k)`` of the k nearest neighbours by cosine similarity, most similar
    first, the sample itself excluded. ``k`` is capped at ``n − 1``."""
    u = F.normalize(torch.as_tensor(x).float(), dim=1)
    k = max(1, min(k, len(u) - 1))
    out = []
    for s in range(0, len(u), block):
        sim = u[s:s + block] @ u.T
        sim[torch.arange(sim.shape[0]), torch.arange(s, s + sim.shape[0])] = -2.0
        out.append(sim.topk(k, dim=1).indices)
    return torch.cat(out)


def neighbour_accuracy(neighbours, labels) -> float:
    """Mean over anchors i and their neighbours j of ``[y_j = y_i]``."""
    nb = np.asarray(torch.as_tensor(neighbours).cpu())
    y = np.asarray(labels)
    return float((y[nb] == y[:, None]).mean())


def smooth_features(x: torch.Tensor, neighbours: torch.Tensor, k: int) -> torch.Tensor:
    """``normalize(x_i + Σ_{j ∈ kNN(i)} x_j)`` with the first ``k`` columns of ``neighbours``.

    Short texts are noisy points; averaging each with its nearest neighbours pulls points
    towards their dense region. ``k = 0`` returns ``x`` unchanged.
    """
    if k <= 0:
        return x
    return F.normalize(x + x[neighbours[:, :k]].sum(1), dim=1)
