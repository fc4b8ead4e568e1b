"""Batched per-sample affine augmentation, checked against exact pixel shifts and
torchvision's single-image rotation."""

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from dcteach.augment import affine_batch, random_affine


def _shifted(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Brute force: move the content of an (H, W) image by (dx, dy) pixels, zero fill."""
    h, w = img.shape
    out = np.zeros_like(img)
    for i in range(h):
        for j in range(w):
            si, sj = i - dy, j - dx
            if 0 <= si < h and 0 <= sj < w:
                out[i, j] = img[si, sj]
    return out


def test_integer_shifts_move_each_image_by_its_own_amount():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 9, 11, generator=g)
    shift = torch.tensor([[2.0, 0.0], [0.0, -3.0], [-1.0, 1.0], [0.0, 0.0]])
    out = affine_batch(x, (1, 9, 11), shift, torch.zeros(4))
    for k in range(4):
        want = _shifted(x[k, 0].numpy(), int(shift[k, 0]), int(shift[k, 1]))
        np.testing.assert_allclose(out[k, 0].numpy(), want, atol=1e-5)


def test_flattened_input_keeps_its_shape():
    x = torch.rand(3, 1 * 8 * 8)
    out = affine_batch(x, (1, 8, 8), torch.tensor([[1.0, 0.0]] * 3), torch.zeros(3))
    assert out.shape == x.shape
    np.testing.assert_allclose(out.view(3, 8, 8)[:, :, 1:].numpy(),
                               x.view(3, 8, 8)[:, :, :-1].numpy(), atol=1e-5)


def test_rotation_matches_torchvision_in_the_interior():
    # a smooth image, so that both bilinear resamplers agree away from the border
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    img = (torch.sin(xx / 5) * torch.cos(yy / 7))[None]
    for angle in (90.0, 25.0, -10.0):
        out = affine_batch(img[None], (1, 32, 32), torch.zeros(1, 2), torch.tensor([angle]))[0]
        ref = TF.rotate(img, angle, interpolation=TF.InterpolationMode.BILINEAR)
        np.testing.assert_allclose(out[0, 8:24, 8:24].numpy(), ref[0, 8:24, 8:24].numpy(),
                                   atol=1e-3)


def test_random_affine_draws_independently_and_respects_bounds():
    x = torch.zeros(64, 1, 15, 15)
    x[:, 0, 7, 7] = 1.0  # one bright pixel in the centre
    out = random_affine(x, (1, 15, 15), max_shift=0.2, max_rotation=0.0,
                        generator=torch.Generator().manual_seed(1))
    # centre of mass of each output = the shift of that sample
    grid = torch.arange(15.0)
    mass = out[:, 0].sum((1, 2))
    cx = (out[:, 0].sum(1) * grid).sum(1) / mass - 7
    cy = (out[:, 0].sum(2) * grid).sum(1) / mass - 7
    assert cx.abs().max() <= 0.2 * 15 + 1e-4 and cy.abs().max() <= 0.2 * 15 + 1e-4
    assert len(torch.unique(cx.round(decimals=3))) > 32  # not one shift for the whole batch


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="image_shape"):
        affine_batch(torch.rand(2, 10), (1, 3, 3), torch.zeros(2, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="shift"):
        affine_batch(torch.rand(2, 9), (1, 3, 3), torch.zeros(3, 2), torch.zeros(2))
