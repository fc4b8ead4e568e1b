"""Batched image augmentations on tensors, with a fresh random draw for every sample.

torchvision's ``RandomAffine`` draws *one* transform per call, so on a batch tensor every
image moves the same way. Clustering methods that learn invariances (DEC-DA, contrastive
methods) need an independent draw per image, on whatever device the batch lives on; this
module does that with one ``affine_grid`` + ``grid_sample`` per batch.

* :func:`random_affine` — random shift and rotation, as in DEC-DA (Guo, Zhu, Liu & Yin,
  "Deep Embedded Clustering with Data Augmentation", ACML 2018), which pretrains and
  clusters on images shifted by up to 10 % of their size and rotated by up to 10°.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["random_affine", "affine_batch"]


def affine_batch(x: torch.Tensor, image_shape: Sequence[int], shift: torch.Tensor,
                 angle: torch.Tensor) -> torch.Tensor:
    """Move every image of ``x`` by its own ``shift`` (pixels, (n, 2) as (dx, dy)) and
    rotate it by its own ``angle`` (degrees, (n,); positive = anticlockwise on screen, as in
    torchvision) about its centre; bilinear, zero fill.

    ``x`` is (n, C, H, W) or flattened (n, C·H·W); the result has ``x``'s shape.
    """
    c, h, w = (int(s) for s in image_shape)
    n = len(x)
    if x[0].numel() != c * h * w:
        raise ValueError(f"x has {x[0].numel()} values per sample, image_shape {tuple(image_shape)}"
                         f" needs {c * h * w}")
    if shift.shape != (n, 2) or angle.shape != (n,):
        raise ValueError(f"shift must be ({n}, 2) and angle ({n},); got {tuple(shift.shape)} "
                         f"and {tuple(angle.shape)}")
    rad = angle.float() * (math.pi / 180)
    cos, sin = rad.cos(), rad.sin()
    # affine_grid maps output coordinates (in [-1, 1]) to input coordinates, so moving the
    # content by +d pixels means sampling at -d (2/w grid units per pixel)
    tx = -shift[:, 0].float() * (2.0 / w)
    ty = -shift[:, 1].float() * (2.0 / h)
    theta = torch.stack([torch.stack([cos, -sin, tx], 1),
                         torch.stack([sin, cos, ty], 1)], 1).to(x.device)
    with torch.autocast(x.device.type, enabled=False):  # sampling grids need float32
        grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
        out = F.grid_sample(x.reshape(n, c, h, w).float(), grid, mode="bilinear",
                            padding_mode="zeros", align_corners=False)
    return out.reshape(x.shape).to(x.dtype)


def random_affine(x: torch.Tensor, image_shape: Sequence[int], max_shift: float = 0.1,
                  max_rotation: float = 10.0, generator: torch.Generator | None = None
                  ) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` of its width/height and rotate it by up to
    ``max_rotation`` degrees, each drawn uniformly and independently per sample."""
    _, h, w = (int(s) for s in image_shape)
    n = len(x)
    u = torch.rand(n, 3, generator=generator) * 2 - 1
    shift = u[:, :2] * torch.tensor([max_shift * w, max_shift * h])
    return affine_batch(x, image_shape, shift, u[:, 2] * max_rotation)
