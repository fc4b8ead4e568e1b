"""Losses that train on the model's own (or a neighbour's) predictions.

* :func:`scan_loss` — SCAN's clustering loss (Van Gansbeke et al., ECCV 2020, eq. 2).
* :func:`neighbour_weights` and :func:`structured_scan_loss` — the structure-learning variant
  of seed 004: similarity-weighted consistency + a cluster-level contrastive term + entropy.
* :func:`confident_pseudo_labels` — SCAN's self-labelling selection (§3.2).
* :func:`balanced_cross_entropy` — cross-entropy with class weights inversely proportional to
  the confident samples per class, SCAN's remedy for self-labelling's drift to big clusters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .contrastive import assignment_entropy, cluster_contrastive_loss

__all__ = ["scan_loss", "neighbour_weights", "structured_scan_loss", "confident_pseudo_labels",
           "class_balance_weights", "balanced_cross_entropy"]


def scan_loss(p_anchor: torch.Tensor, p_neighbour: torch.Tensor, entropy_weight: float = 5.0,
              eps: float = 1e-8, weights: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SCAN's clustering loss (Van Gansbeke et al., ECCV 2020, eq. 2)::

        L = −(1/n) Σ_i w_i log⟨p_i, p_{n(i)}⟩  −  λ · H(p̄),     p̄ = mean_i p_i,
                                                               H(p) = −Σ_k p_k log p_k

    The first term makes a sample agree with a mined neighbour n(i); the second (λ =
    ``entropy_weight``; the entropy of the mean prediction, to be maximised) forbids putting
    everything in one cluster. ``weights`` w_i (default 1) weigh each anchor–neighbour pair
    (the structure-learning variant, :func:`structured_scan_loss`).
    Returns ``(total, consistency, entropy)``.
    """
    nll = -torch.log((p_anchor * p_neighbour).sum(1).clamp_min(eps))
    consistency = nll.mean() if weights is None else (weights * nll).mean()
    entropy = assignment_entropy(p_anchor, eps)
    return consistency - entropy_weight * entropy, consistency, entropy


@torch.no_grad()
def neighbour_weights(z_anchor: torch.Tensor, z_neighbour: torch.Tensor,
                      temperature: float = 8.0) -> torch.Tensor:
    """Seed 004, eq. 5: ``w_ij = exp(z_iᵀ z_j / τ_c)`` for a mined pair (i, j), with z the
    L2-normalised pretext features (τ_c = 8 in its experiments: weights in [e^(−1/8), e^(1/8)],
    so closer neighbours count a little more). Constants, not trained through."""
    za, zn = F.normalize(z_anchor.float(), dim=1), F.normalize(z_neighbour.float(), dim=1)
    return torch.exp((za * zn).sum(1) / temperature)


def structured_scan_loss(p_anchor: torch.Tensor, p_neighbour: torch.Tensor,
                         weights: torch.Tensor, entropy_weight: float = 5.0,
                         contrast_weight: float = 1.0, cluster_temperature: float = 1.0,
                         eps: float = 1e-8) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The structure-learning loss of seed 004 (eq. 3)::

        L_sl = L_cl + η_cc · L_cc + λ_b · L_b

        L_cl = −(1/n) Σ_i w_ij log(q_iᵃᵀ q_jᵇ)          (eq. 4, j a random mined neighbour,
                                                          w_ij from :func:`neighbour_weights`)
        L_cc = NT-Xent between the cluster columns of Qᵃ (anchors, view a) and of Q̃ᵇ (their
               neighbours, view b), cosine similarity / τ_cc           (eqs. 6–7)
        L_b  = Σ_l q̄_l log q̄_l = −H(q̄)                   (eq. 8)

    Deviation, stated: eq. 6 writes raw dot products of the columns with only cross-view
    negatives and unspecified weights γ; the kit uses CC's column NT-Xent
    (:func:`cluster_contrastive_loss` with no entropy part, cosine similarity, both views'
    columns as negatives), which the seed cites and whose scale does not grow with the batch.
    Returns ``(total, parts)``.
    """
    _, consistency, entropy = scan_loss(p_anchor, p_neighbour, 0.0, eps, weights)
    contrast, _ = cluster_contrastive_loss(p_anchor, p_neighbour, cluster_temperature, 0.0)
    total = consistency + contrast_weight * contrast - entropy_weight * entropy
    return total, {"consistency": consistency, "cluster_contrast": contrast, "entropy": entropy}


@torch.no_grad()
def confident_pseudo_labels(probs: torch.Tensor, threshold: float = 0.99, min_per_cluster: int = 0
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """SCAN's self-labelling selection: ``(labels, mask)`` with labels = argmax_k p_ik and
    mask = max_k p_ik ≥ threshold.

    ``min_per_cluster`` > 0: a cluster with fewer confident samples than that keeps its
    most confident ones, so no cluster silently disappears from the training set (a safeguard
    for selecting once over a whole data set; SCAN selects per mini-batch without it).
    """
    conf, labels = probs.max(1)
    mask = conf >= threshold
    if min_per_cluster <= 0:
        return labels, mask
    for c in range(probs.shape[1]):
        members = (labels == c).nonzero().squeeze(1)
        if 0 < int(mask[members].sum()) < min_per_cluster or (
                len(members) and not mask[members].any()):
            top = members[conf[members].argsort(descending=True)[:min_per_cluster]]
            mask[top] = True
    return labels, mask


@torch.no_grad()
def class_balance_weights(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``w_c = n / (k · count_c)`` over the given labels (0 for a class with no sample)."""
    counts = torch.bincount(labels, minlength=n_classes).float()
    return torch.where(counts > 0, counts.sum() / (n_classes * counts.clamp_min(1)),
                       torch.zeros_like(counts))


def balanced_cross_entropy(logits: torch.Tensor, labels: torch.Tensor,
                           weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of ``logits`` against pseudo-``labels`` with class weights ``weight``
    (from :func:`class_balance_weights`; the given labels' own counts when None — SCAN's
    choice, each mini-batch's confident samples):
    ``Σ_i w_{y_i} (−log softmax(logits_i)_{y_i}) / Σ_i w_{y_i}``. Since the loss is a weighted
    *mean*, ``n / count_c`` (REFERENCES) and ``n / (K · count_c)`` give the same value."""
    if weight is None:
        weight = class_balance_weights(labels, logits.shape[1])
    return F.cross_entropy(logits, labels, weight=weight)
