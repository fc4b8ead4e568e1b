"""Contrastive losses: pull two views of the same sample together, push the others apart.

* :func:`nt_xent` — NT-Xent (normalised temperature-scaled cross-entropy), the InfoNCE loss of
  SimCLR (Chen, Kornblith, Norouzi & Hinton, ICML 2020, eq. 1) and the instance-wise
  contrastive loss of SCCL (Zhang et al., NAACL 2021) and CC (Li et al., AAAI 2021).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["nt_xent"]


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent over a batch of ``m`` pairs ``(a_i, b_i)``, symmetric in the two views.

    With unit vectors ``u = normalize([a; b])`` (2m rows) and ``s_ij = u_i·u_j / τ``, the
    positive of row i is its other view ``i ± m`` and every other row is a negative::

        ℓ_i = −log( exp(s_{i,pos(i)}) / Σ_{j≠i} exp(s_ij) ),    L = (1/2m) Σ_i ℓ_i
    """
    if a.shape != b.shape:
        raise ValueError(f"views must have the same shape: {tuple(a.shape)}, {tuple(b.shape)}")
    m = a.shape[0]
    u = F.normalize(torch.cat([a, b]).float(), dim=1)
    sim = u @ u.T / temperature
    sim = sim.masked_fill(torch.eye(2 * m, dtype=torch.bool, device=u.device), float("-inf"))
    pos = torch.cat([torch.arange(m, 2 * m), torch.arange(0, m)]).to(u.device)
    return F.cross_entropy(sim, pos)
