"""Losses of the DEC family (lecture 02).

* :func:`soft_assignment` — DEC's Student-t kernel ``q_ij``.
* :func:`target_distribution` — DEC's sharpened, frequency-normalised target ``p_ij``.
* :func:`dec_kl` — the DEC clustering loss ``KL(P ‖ Q)``.
* :func:`reconstruction_loss` — the autoencoder term (IDEC, DCN).
* :func:`dcn_kmeans_loss` — DCN's k-means-friendly term.

Every function works on torch tensors, batched over samples (rows).
"""

from __future__ import annotations

import torch

from ..cluster.kmeans import pairwise_sq_dists

__all__ = ["soft_assignment", "target_distribution", "dec_kl", "reconstruction_loss",
           "dcn_kmeans_loss", "dcn_update_centers"]


def soft_assignment(z: torch.Tensor, centers: torch.Tensor, alpha: float = 1.0
                    ) -> torch.Tensor:
    """Student-t soft assignment of DEC (Xie, Girshick & Farhadi, ICML 2016, eq. 1)::

        q_ij = (1 + ‖z_i − μ_j‖² / α)^(−(α+1)/2)  /  Σ_j' (1 + ‖z_i − μ_j'‖² / α)^(−(α+1)/2)

    ``z``: ``(n, d)`` embeddings, ``centers``: ``(k, d)``; returns ``(n, k)``, rows sum to 1.
    α is the degrees of freedom of the Student-t kernel (1 in the paper).
    """
    d2 = pairwise_sq_dists(z, centers)
    log_kernel = -(alpha + 1.0) / 2.0 * torch.log1p(d2 / alpha)
    return torch.softmax(log_kernel, dim=1)  # normalisation over j, computed stably


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """DEC's auxiliary target (Xie et al., 2016, eq. 3)::

        p_ij = (q_ij² / f_j) / Σ_j' (q_ij'² / f_j'),    f_j = Σ_i q_ij  (soft cluster size)

    Squaring sharpens confident assignments; dividing by the cluster frequency ``f_j``
    keeps large clusters from absorbing everything (without it, the trivial solution of one
    giant cluster is a fixed point). DEC computes ``q`` on the *whole* data set every ``T``
    steps: ``f_j`` is a data-set statistic, and a mini-batch of size B estimates it with a
    relative error of about √((K−1)/B). Methods whose batches are large against K and whose
    target moves with the encoder anyway compute it per batch (SCCL, :mod:`dcteach.methods.sccl`;
    lecture 02 measures both). The result is a constant target (no gradient).
    """
    q = q.detach()
    weight = q**2 / q.sum(0, keepdim=True)
    return weight / weight.sum(1, keepdim=True)


def dec_kl(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """DEC clustering loss ``L = (1/n) Σ_i KL(p_i ‖ q_i) = (1/n) Σ_i Σ_j p_ij log(p_ij / q_ij)``,
    the mean over the ``n`` rows (Xie et al., 2016, eq. 2 writes the sum; the official code and
    Keras' ``kld`` take the mean). ``p`` is treated as a constant; the gradient w.r.t. an
    embedding is the paper's eq. 4 divided by ``n``:
    ``∂L/∂z_i = (1/n)(α+1)/α Σ_j (1 + ‖z_i−μ_j‖²/α)^(−1) (p_ij − q_ij)(z_i − μ_j)``.
    """
    p = p.detach()
    return (p * (torch.log(p + eps) - torch.log(q + eps))).sum(1).mean()


def reconstruction_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``mean_i mean_d (x_id − x̂_id)²`` (the autoencoder term of IDEC,
    Guo et al., IJCAI 2017, eq. 6, with Keras' ``mse`` scaling)."""
    return torch.mean((x_hat.float() - x.float()) ** 2)


def dcn_kmeans_loss(z: torch.Tensor, centers: torch.Tensor,
                    assignments: torch.Tensor | None = None) -> torch.Tensor:
    """DCN's k-means-friendly term (Yang, Fu, Sidiropoulos & Hong, ICML 2017, eq. 5)::

        (1/n) Σ_i ½ ‖f(x_i) − M s_i‖²

    where ``M`` holds the centres as columns and ``s_i`` is the one-hot assignment of sample
    i (the nearest centre when ``assignments`` is None). The full DCN objective is
    ``reconstruction + λ · dcn_kmeans_loss``; centres and assignments are updated by
    :func:`dcn_update_centers`, not by gradient.
    """
    centers = centers.detach()
    if assignments is None:
        assignments = pairwise_sq_dists(z.detach(), centers).argmin(1)
    return 0.5 * ((z - centers[assignments]) ** 2).sum(1).mean()


@torch.no_grad()
def dcn_update_centers(z: torch.Tensor, centers: torch.Tensor, counts: torch.Tensor,
                       assignments: torch.Tensor | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """DCN's online centroid update with per-cluster counts (Yang et al., 2017, eq. 8)::

        c_k ← c_k + 1,   μ_k ← μ_k − (1/c_k)(μ_k − z_i)     for each sample i with s_i = k

    Applied sample by sample this is a running mean, so a mini-batch with ``m_k`` samples in
    cluster k and sum ``S_k`` gives exactly ``μ_k ← (c_k μ_k + S_k) / (c_k + m_k)``, which is
    what is computed here. Returns the new ``(centers, counts)``; the inputs are unchanged.
    """
    z = z.detach().to(centers.dtype)
    if assignments is None:
        assignments = pairwise_sq_dists(z, centers).argmin(1)
    k = centers.shape[0]
    m = torch.bincount(assignments, minlength=k).to(centers.dtype)
    sums = torch.zeros_like(centers).index_add_(0, assignments, z)
    new_counts = counts + m
    new_centers = (counts[:, None] * centers + sums) / new_counts.clamp_min(1e-12)[:, None]
    keep = m == 0
    new_centers[keep] = centers[keep]
    return new_centers, new_counts
