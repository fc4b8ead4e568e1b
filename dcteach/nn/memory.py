"""Stored feature vectors that a loss reads but gradients do not train.

* :class:`MemoryBank` — one L2-normalised feature vector per training sample (instance
  discrimination, IDFD).
* :class:`FeatureQueue` — the most recent r keys of a momentum encoder (MoCo, PCL).

**Memory bank.**

Instance discrimination (Wu, Xiong, Yu & Lin, CVPR 2018) and IDFD (Tao, Takagi & Nakata,
ICLR 2021) treat every sample i as its own class whose "weight vector" is the stored feature
``m_i``. The bank is not trained by gradients; after a batch it moves each touched entry
toward the new feature and re-projects it onto the unit sphere::

    m_i ← normalize(μ · m_i + (1 − μ) · v_i)          (μ = momentum, 0.5 in IDFD)

At the end of training the bank holds a smoothed feature of every sample and is what IDFD
clusters with k-means.

**Queue** (He et al., MoCo, CVPR 2020, §3.2). The negatives of a query are the keys of the
last r samples, not of every sample: after each step the batch's keys are enqueued and the
oldest are dropped, so the number of negatives (r = 16 384 in MoCo and PCL) is decoupled from
the batch size and no per-sample bank has to stay fresh.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import distributed

__all__ = ["MemoryBank", "FeatureQueue"]


class MemoryBank(nn.Module):
    """``n`` unit vectors of dimension ``dim`` (buffer ``vectors``), initialised uniformly on
    the sphere from ``seed``; :meth:`update` applies the momentum rule above.

    (The official IDFD code starts from uniform values in ±1/√(dim/3), whose rows have norm
    ≈ 1 but are not normalised; after one epoch every row has been replaced either way.)"""

    def __init__(self, n: int, dim: int, momentum: float = 0.5, seed: int = 0):
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("vectors", F.normalize(torch.randn(n, dim, generator=gen), dim=1))

    def __len__(self) -> int:
        return len(self.vectors)

    @torch.no_grad()
    def update(self, idx: torch.Tensor, v: torch.Tensor) -> None:
        """``m_idx ← normalize(μ m_idx + (1 − μ) v)`` in place; under ``torchrun`` with every
        rank's rows, so that all replicas of the bank stay identical."""
        idx, v = distributed.gather(idx), distributed.gather(v.detach().float())
        m = self.momentum * self.vectors[idx] + (1 - self.momentum) * v
        self.vectors[idx] = F.normalize(m, dim=1)


class FeatureQueue(nn.Module):
    """The ``size`` most recent keys (buffer ``keys``, newest first), started from random unit
    vectors drawn from ``seed``. :meth:`push` enqueues a batch of keys and drops the oldest.

    ``push`` replaces the buffer by a new tensor instead of writing into it, so a loss
    computed from the old ``keys`` before the push keeps valid saved tensors for its backward
    pass (an in-place write would make autograd refuse)."""

    def __init__(self, size: int, dim: int, seed: int = 0):
        super().__init__()
        if size < 1:
            raise ValueError(f"queue size must be ≥ 1, got {size}")
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("keys", F.normalize(torch.randn(size, dim, generator=gen), dim=1))

    def __len__(self) -> int:
        return len(self.keys)

    @torch.no_grad()
    def push(self, k: torch.Tensor) -> None:
        """Enqueue the keys ``k`` (n, dim) — under ``torchrun`` every rank's, in rank order,
        so that all replicas of the queue stay identical — and drop the oldest n."""
        k = distributed.gather(k.detach().float())
        self.keys = torch.cat([k.to(self.keys.device), self.keys])[:len(self.keys)]
