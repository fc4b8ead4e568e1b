"""MoCo's two blocks (He, Fan, Wu, Xie & Girshick, CVPR 2020): a momentum encoder that makes
the keys, and (:class:`~dcteach.nn.memory.FeatureQueue`) the queue that keeps them as negatives.

The query encoder f_q is trained by gradients; the key encoder f_k is never back-propagated
but follows f_q slowly, after every optimiser step::

    θ_k ← m θ_k + (1 − m) θ_q                           (m = 0.999 in MoCo and PCL)

so that the keys in the queue — made over the last r / batch steps — come from nearly the
same network, and are consistent negatives for the current query (MoCo §3.2; in its momentum
ablation, §4.1, m = 0 — keys from a copy of the rapidly changing query encoder — fails to
train, while 0.99–0.9999 work).

**Shuffled batch-norm** (MoCo §3.3). With batch-norm, a query and its positive key, computed
in the same batch, share batch statistics that the negatives in the queue (older batches) do
not have; the network can use that to find the positive without learning anything. MoCo
computes the keys of a *shuffled* batch split over GPUs, each with its own statistics; here
``forward(..., groups=g)`` does the same on one device: shuffle, split into g groups, one
forward (one set of statistics) per group, unshuffle.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["MomentumEncoder"]


class MomentumEncoder(nn.Module):
    """A copy of ``model`` (deep-copied at construction) that moves by :meth:`update` only.

    ``momentum`` m ∈ [0, 1]: 0 copies the query network every step, 1 freezes the copy.
    Batch-norm running statistics are the key network's own (updated by its own forwards),
    as in MoCo."""

    def __init__(self, model: nn.Module, momentum: float = 0.999):
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.momentum = float(momentum)
        self.net = copy.deepcopy(model)
        self.net.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """θ_k ← m θ_k + (1 − m) θ_q for every parameter (``model``: the query network, or
        its DDP wrapper)."""
        model = getattr(model, "module", model)
        keys = [p.data for p in self.net.parameters()]
        queries = [p.detach() for p in model.parameters()]
        if len(keys) != len(queries):
            raise ValueError("the query network does not match the key network's parameters")
        torch._foreach_lerp_(keys, queries, 1.0 - self.momentum)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, *args, groups: int = 1, **kwargs):
        """The key network on ``x`` (no gradient). ``groups`` > 1: shuffled batch-norm — a
        random permutation of the batch (the global torch generator) is split into ``groups``
        parts, each forwarded on its own; outputs come back in the original order. Tensor
        outputs and dicts of tensors (:class:`~dcteach.nn.MultiHeadNet`) are supported."""
        groups = max(1, min(int(groups), len(x)))
        if groups == 1:
            return self.net(x, *args, **kwargs)
        perm = torch.randperm(len(x), device=x.device)
        parts = [self.net(chunk, *args, **kwargs) for chunk in x[perm].chunk(groups)]
        inverse = torch.empty_like(perm)
        inverse[perm] = torch.arange(len(perm), device=perm.device)
        if isinstance(parts[0], dict):
            return {key: torch.cat([p[key] for p in parts])[inverse] for key in parts[0]}
        return torch.cat(parts)[inverse]
