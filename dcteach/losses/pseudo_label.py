"""Losses that train on the model's own (or a neighbour's) predictions.

* :func:`scan_loss` — SCAN's clustering loss (Van Gansbeke et al., ECCV 2020, eq. 2).
* :func:`confident_pseudo_labels` — SCAN's self-labelling selection (§3.2).
* :func:`balanced_cross_entropy` — cross-entropy with class weights inversely proportional to
  the confident samples per class, SCAN's remedy for self-labelling's drift to big clusters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .contrastive import assignment_entropy

__all__ = ["scan_loss", "confident_pseudo_labels", "class_balance_weights",
           "balanced_cross_entropy"]


def scan_loss(p_anchor: torch.Tensor, p_neighbour: torch.Tensor, entropy_weight: float = 5.0,
              eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SCAN's clustering loss (Van Gansbeke et al., ECCV 2020, eq. 2)::

        L = −(1/n) Σ_i log⟨p_i, p_{n(i)}⟩  −  w · H(p̄),     p̄ = mean_i p_i,  H(p) = −Σ_k p_k log p_k

    The first term makes a sample agree with a mined neighbour; the second (the entropy of
    the mean prediction, to be maximised) forbids putting everything in one cluster.
    Returns ``(total, consistency, entropy)``.
    """
    consistency = -torch.log((p_anchor * p_neighbour).sum(1).clamp_min(eps)).mean()
    entropy = assignment_entropy(p_anchor, eps)
    return consistency - entropy_weight * entropy, consistency, entropy


@torch.no_grad()
def confident_pseudo_labels(probs: torch.Tensor, threshold: float = 0.99, min_per_cluster: int = 5
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """SCAN's self-labelling selection: ``(labels, mask)`` with mask = max_k p_ik > threshold.

    A cluster with fewer than ``min_per_cluster`` confident samples keeps its most confident
    ones, so no cluster silently disappears from the training set.
    """
    conf, labels = probs.max(1)
    mask = conf > threshold
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
    (from :func:`class_balance_weights` on the whole confident set; the batch's own counts
    when None): ``Σ_i w_{y_i} (−log softmax(logits_i)_{y_i}) / Σ_i w_{y_i}``."""
    if weight is None:
        weight = class_balance_weights(labels, logits.shape[1])
    return F.cross_entropy(logits, labels, weight=weight)
