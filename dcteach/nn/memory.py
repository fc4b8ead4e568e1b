"""A memory bank: one stored, L2-normalised feature vector per training sample.

Instance discrimination (Wu, Xiong, Yu & Lin, CVPR 2018) and IDFD (Tao, Takagi & Nakata,
ICLR 2021) treat every sample i as its own class whose "weight vector" is the stored feature
``m_i``. The bank is not trained by gradients; after a batch it moves each touched entry
toward the new feature and re-projects it onto the unit sphere::

    m_i ← normalize(μ · m_i + (1 − μ) · v_i)          (μ = momentum, 0.5 in IDFD)

At the end of training the bank holds a smoothed feature of every sample and is what IDFD
clusters with k-means.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import distributed

__all__ = ["MemoryBank"]


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
