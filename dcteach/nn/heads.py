"""Heads that sit on a backbone's features.

* :class:`ClusteringLayer` — DEC's trainable centres μ with the Student-t soft assignment q
  (DEC, IDEC, SCCL's cluster head).
* :class:`ClusterHeads` — several linear cluster heads over the same features, computed as one
  matrix product (SCAN trains several and keeps the one with the lowest loss).
* :class:`ProjectionHead` — the MLP ``d → hidden → out`` between features and a contrastive
  loss (SimCLR's g(·), SCCL's and CC's instance head; CC's cluster head with out = K).
* :class:`MultiHeadNet` — an encoder with named heads on its features, one ``forward`` for
  all (so DistributedDataParallel sees one module).
* :class:`ResidualMLP` — ``x + W₂σ(W₁x)`` with W₂ = 0 at the start, a trainable layer on
  frozen embeddings that starts as the identity.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..losses.dec import soft_assignment

__all__ = ["ClusteringLayer", "ClusterHeads", "FeatureMLP", "ProjectionHead", "MultiHeadNet",
           "ResidualMLP"]


class ClusteringLayer(nn.Module):
    """Trainable centres ``μ`` (k, d); ``forward(z)`` gives DEC's soft assignment q (n, k)."""

    def __init__(self, centers, alpha: float = 1.0):
        super().__init__()
        # torch.tensor copies: the caller's array (k-means centres) must not train in place
        self.centers = nn.Parameter(torch.tensor(np.asarray(centers), dtype=torch.float32))
        self.alpha = alpha

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return soft_assignment(z.float(), self.centers, self.alpha)


class ClusterHeads(nn.Module):
    """``n_heads`` linear cluster heads ``dim → k`` on shared features, as one matmul."""

    def __init__(self, dim: int, k: int, n_heads: int = 5):
        super().__init__()
        self.k, self.n_heads = k, n_heads
        self.linear = nn.Linear(dim, k * n_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n_heads, n, k)``."""
        return self.linear(x).view(len(x), self.n_heads, self.k).transpose(0, 1)

    @torch.no_grad()
    def head(self, h: int) -> nn.Linear:
        """Head ``h`` as a stand-alone ``nn.Linear(dim, k)`` (a copy)."""
        lin = nn.Linear(self.linear.in_features, self.k).to(self.linear.weight.device)
        lin.weight.copy_(self.linear.weight.view(self.n_heads, self.k, -1)[h])
        lin.bias.copy_(self.linear.bias.view(self.n_heads, self.k)[h])
        return lin


class ProjectionHead(nn.Sequential):
    """``Linear(d, hidden) → ReLU → Linear(hidden, out)``: SimCLR's projection g(·)."""

    def __init__(self, dim: int, hidden: int, out: int):
        super().__init__(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out))


class FeatureMLP(nn.Sequential):
    """``(Linear → BatchNorm → ReLU) × n_layers``, ``dim → hidden``: the fully connected top
    layers whose output DeepCluster clusters (VGG's fc6–fc7, narrower). Has ``out_dim``."""

    def __init__(self, dim: int, hidden: int = 512, n_layers: int = 2):
        layers = []
        for i in range(n_layers):
            layers += [nn.Linear(dim if i == 0 else hidden, hidden), nn.BatchNorm1d(hidden),
                       nn.ReLU()]
        super().__init__(*layers)
        self.out_dim = hidden


class MultiHeadNet(nn.Module):
    """``encoder`` plus named ``heads``: ``forward(x)`` returns ``{"features": h, name:
    head(h), ...}`` with ``h = encoder(x)``, every output with the batch first;
    ``heads=[...]`` restricts which heads run."""

    def __init__(self, encoder: nn.Module, **heads: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.heads = nn.ModuleDict(heads)

    def forward(self, x: torch.Tensor, heads=None) -> dict[str, torch.Tensor]:
        h = self.encoder(x)
        out = {"features": h}
        for name in (self.heads if heads is None else heads):
            out[name] = self.heads[name](h)
        return out


class ResidualMLP(nn.Module):
    """``f(x) = x + W₂ σ(W₁ x)``, with W₂ = 0 at start: training begins at the input."""

    def __init__(self, dim: int, hidden: int = 768):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        nn.init.zeros_(self.inner[-1].weight)
        nn.init.zeros_(self.inner[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.inner(x)
