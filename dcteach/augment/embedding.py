"""Views made in embedding space: augmentation for methods that keep the encoder frozen.

A sentence (or image) encoder that is run once and cached cannot see augmented *inputs*, so
the views of a contrastive loss are made from the cached vectors instead (lecture 08):

* with probability ``p_neighbour`` a row is replaced by one of its mined nearest neighbours
  (a "semantic augmentation": another sample about the same thing);
* features are dropped with probability ``dropout`` (inverted dropout, rescaled by 1/(1−p));
* Gaussian noise of standard deviation ``noise`` is added.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["embedding_view"]


def embedding_view(x: torch.Tensor, idx: torch.Tensor, neighbours: torch.Tensor | None = None,
                   dropout: float = 0.2, noise: float = 0.01, p_neighbour: float = 0.5
                   ) -> torch.Tensor:
    """A random view of the rows ``x[idx]`` (``neighbours``: (n, k) indices, or None)."""
    if neighbours is not None and p_neighbour > 0:
        swap = torch.rand(len(idx), device=x.device) < p_neighbour
        pick = neighbours[idx, torch.randint(0, neighbours.shape[1], (len(idx),),
                                             device=x.device)]
        idx = torch.where(swap, pick, idx)
    v = F.dropout(x[idx], dropout, training=True)
    return v + noise * torch.randn_like(v) if noise > 0 else v
