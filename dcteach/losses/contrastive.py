"""Contrastive losses: pull two views of the same sample together, push the others apart.

* :func:`nt_xent` — NT-Xent (normalised temperature-scaled cross-entropy), the InfoNCE loss of
  SimCLR (Chen, Kornblith, Norouzi & Hinton, ICML 2020, eq. 1) and the instance-wise
  contrastive loss of SCCL (Zhang et al., NAACL 2021) and CC (Li et al., AAAI 2021, eq. 2–3).
* :func:`cluster_contrastive_loss` — CC's cluster-level loss (Li et al. 2021, eq. 4–6): the
  same NT-Xent on the K *columns* of the two views' assignment matrices — column k is the
  representation of cluster k — plus the entropy term log K − H(column mean) per view,
  which keeps all the mass from going to one cluster.
* :func:`assignment_entropy` — H of the mean assignment (the entropy term's H).

Under ``torchrun`` both losses gather the rows of every rank first
(:func:`dcteach.distributed.gather`), so the negatives and the cluster columns are those of
the whole global batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..distributed import gather

__all__ = ["nt_xent", "cluster_contrastive_loss", "assignment_entropy"]


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent over a batch of ``m`` pairs ``(a_i, b_i)``, symmetric in the two views.

    With unit vectors ``u = normalize([a; b])`` (2m rows) and ``s_ij = u_i·u_j / τ``, the
    positive of row i is its other view ``i ± m`` and every other row is a negative::

        ℓ_i = −log( exp(s_{i,pos(i)}) / Σ_{j≠i} exp(s_ij) ),    L = (1/2m) Σ_i ℓ_i

    Both views are anchors (the symmetric loss of SimCLR; SCAN's pretext code anchors only
    the first view). The log-sum-exp is computed stably (``cross_entropy``), so τ may be
    small; the self-similarity s_ii is excluded, not merely down-weighted.
    """
    if a.shape != b.shape:
        raise ValueError(f"views must have the same shape: {tuple(a.shape)}, {tuple(b.shape)}")
    return _nt_xent(gather(a), gather(b), temperature)


def _nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    m = a.shape[0]
    u = F.normalize(torch.cat([a, b]).float(), dim=1)
    sim = u @ u.T / temperature
    sim = sim.masked_fill(torch.eye(2 * m, dtype=torch.bool, device=u.device), float("-inf"))
    pos = torch.cat([torch.arange(m, 2 * m), torch.arange(0, m)]).to(u.device)
    return F.cross_entropy(sim, pos)


def assignment_entropy(p: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``H(p̄) = −Σ_k p̄_k log p̄_k`` of the mean assignment ``p̄ = (1/m) Σ_i p_i`` (p: (m, K)
    rows on the simplex). Maximal (log K) when the clusters are used equally."""
    mean = p.float().mean(0)
    return -(mean * torch.log(mean.clamp_min(eps))).sum()


def cluster_contrastive_loss(p1: torch.Tensor, p2: torch.Tensor, temperature: float = 1.0,
                             entropy_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """CC's cluster-level loss on soft assignments ``p1, p2`` (m, K) of two views.

    Column k of P, ``y_k ∈ R^m``, represents cluster k. NT-Xent over the 2K columns (the
    positive of ``y¹_k`` is ``y²_k``; the other 2K − 2 columns are negatives), plus for each
    view the entropy term ``log K − H(p̄)`` (Li et al. 2021, eq. 6; ≥ 0, zero when the batch
    is spread evenly over the clusters)::

        L_C = NT-Xent(P¹ᵀ, P²ᵀ; τ_C) + w · Σ_v (log K − H(p̄ᵛ))

    Returns ``(L_C, entropy term)``; the entropy term is included in ``L_C`` with weight
    ``entropy_weight`` and returned separately for the log.
    """
    if p1.shape != p2.shape:
        raise ValueError(f"assignments must have the same shape: {tuple(p1.shape)}, "
                         f"{tuple(p2.shape)}")
    p1, p2 = gather(p1), gather(p2)
    k = p1.shape[1]
    contrast = _nt_xent(p1.T, p2.T, temperature)  # rows gathered: the columns are global
    ent = 2 * math.log(k) - assignment_entropy(p1) - assignment_entropy(p2)
    return contrast + entropy_weight * ent, ent
