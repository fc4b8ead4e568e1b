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


# ---------------------------------------------------------------------------------------------
# batched ops with per-sample parameters vs torchvision's single-image functional ops

import math  # noqa: E402

import torchvision.transforms as T1  # noqa: E402

from dcteach.augment import (  # noqa: E402
    RECIPES,
    ColorJitter,
    Compose,
    GaussianBlur,
    Normalize,
    RandomAffine,
    RandomCrop,
    RandomErasing,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomResizedCrop,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    affine,
    default_recipe,
    erase,
    gaussian_blur,
    hflip,
    make_augment,
    resized_crop,
    rgb_to_grayscale,
)

# Tolerances: our ops compute the same formulas as torchvision in float32 but in a different
# order (separable blur vs 2-D kernel, grid_sample's normalised coordinates vs
# F.interpolate's, a closed-form HSV->RGB vs the six-sector table), so results differ by a
# few float32 ulps — measured ≤ 3e-6; 1e-4 leaves room across CPUs and libraries while still
# catching any real difference (a half-pixel offset or a wrong coefficient gives ≥ 1e-2).
ATOL = 1e-4


def _images(n=5, c=3, h=20, w=24, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


def _close(a, b, atol=ATOL):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=atol, rtol=0)


def test_resized_crop_matches_torchvision_per_box():
    x = _images()
    boxes = [(0, 0, 20, 24), (3, 1, 10, 12), (5, 7, 15, 9), (2, 4, 3, 20), (19, 23, 1, 1)]
    top, left, hh, ww = (torch.tensor(col) for col in zip(*boxes, strict=True))
    for size in (16, (12, 30)):  # up- and down-scaling, non-square output
        out = resized_crop(x, top, left, hh, ww, size)
        hw = [size, size] if isinstance(size, int) else list(size)
        assert out.shape == (5, 3, *hw)
        for k, (t, l, h, w) in enumerate(boxes):
            _close(out[k], TF.resized_crop(x[k], t, l, h, w, hw, antialias=False))


def test_hflip_flips_only_the_masked_images():
    x = _images()
    mask = torch.tensor([True, False, True, False, False])
    out = hflip(x, mask)
    for k in range(5):
        _close(out[k], TF.horizontal_flip(x[k]) if mask[k] else x[k], atol=0)


@pytest.mark.parametrize("c", [3, 1])
def test_colour_adjustments_match_torchvision(c):
    x = _images(c=c)
    f = torch.tensor([0.0, 0.4, 1.0, 1.3, 2.5])
    hue = torch.tensor([-0.5, -0.2, 0.0, 0.07, 0.5])
    for ours, theirs, fac in [(adjust_brightness, TF.adjust_brightness, f),
                              (adjust_contrast, TF.adjust_contrast, f),
                              (adjust_saturation, TF.adjust_saturation, f),
                              (adjust_hue, TF.adjust_hue, hue)]:
        out = ours(x, fac)
        for k in range(5):
            _close(out[k], theirs(x[k], float(fac[k])))
    if c == 1:  # grey images: saturation and hue are the identity, as in torchvision
        _close(adjust_saturation(x, f), x, atol=0)
        _close(adjust_hue(x, hue), x, atol=0)


def test_hue_handles_grey_pixels_black_and_saturated_colours():
    # pixels with ties between channels, black, white and pure primaries: the branches of
    # the RGB -> HSV conversion
    px = torch.tensor([[0, 0, 0], [1, 1, 1], [0.5, 0.5, 0.5], [1, 0, 0], [0, 1, 0], [0, 0, 1],
                       [1, 1, 0], [0, 1, 1], [1, 0, 1], [0.2, 0.7, 0.7], [0.9, 0.9, 0.1],
                       [0.3, 0.1, 0.3]])
    x = px.T.reshape(1, 3, 3, 4).repeat(4, 1, 1, 1)
    hue = torch.tensor([0.25, -0.33, 0.5, 0.01])
    out = adjust_hue(x, hue)
    for k in range(4):
        _close(out[k], TF.adjust_hue(x[k], float(hue[k])))


def test_grayscale_keeps_channels_and_matches_torchvision():
    x = _images()
    mask = torch.tensor([True, True, False, True, False])
    out = rgb_to_grayscale(x, mask)
    assert out.shape == x.shape
    for k in range(5):
        want = TF.rgb_to_grayscale(x[k], num_output_channels=3) if mask[k] else x[k]
        _close(out[k], want)
    g = _images(c=1)
    _close(rgb_to_grayscale(g), g, atol=0)


@pytest.mark.parametrize("kernel_size", [3, 7])
def test_gaussian_blur_matches_torchvision_per_sigma(kernel_size):
    x = _images()
    sigma = torch.tensor([0.1, 0.5, 1.0, 2.0, 3.5])
    out = gaussian_blur(x, sigma, kernel_size)
    for k in range(5):
        s = float(sigma[k])
        _close(out[k], TF.gaussian_blur(x[k], [kernel_size, kernel_size], [s, s]))


def test_affine_matches_torchvision_everywhere_including_the_border():
    # same centre convention ((W-1)/2, (H-1)/2) and zero fill, so the whole image agrees
    x = _images(n=4, h=17, w=24)
    angle = torch.tensor([30.0, -90.0, 7.5, 0.0])
    translate = torch.tensor([[2.0, -3.0], [0.0, 0.0], [1.5, 0.5], [-4.0, 2.0]])
    scale = torch.tensor([1.2, 1.0, 0.8, 1.0])
    out = affine(x, angle, translate, scale)
    for k in range(4):
        want = TF.affine(x[k], float(angle[k]), translate[k].tolist(), float(scale[k]),
                         [0.0, 0.0], interpolation=TF.InterpolationMode.BILINEAR)
        _close(out[k], want)


def test_erase_matches_torchvision():
    x = _images()
    boxes = [(0, 0, 5, 5), (3, 4, 10, 2), (0, 0, 0, 0), (19, 23, 1, 1), (2, 2, 18, 22)]
    mask = torch.tensor([True, True, True, False, True])
    top, left, hh, ww = (torch.tensor(col) for col in zip(*boxes, strict=True))
    out = erase(x, top, left, hh, ww, 0.0, mask)
    for k, (t, l, h, w) in enumerate(boxes):
        want = TF.erase(x[k], t, l, h, w, torch.tensor(0.0)) if mask[k] else x[k]
        _close(out[k], want, atol=0)


def test_functional_ops_reject_bad_shapes_and_parameters():
    x = _images(n=2)
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        adjust_brightness(x[0], 1.0)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        adjust_contrast(torch.rand(2, 2, 4, 4), 1.0)
    with pytest.raises(ValueError, match="float"):
        adjust_brightness((x * 255).to(torch.uint8), 1.0)
    with pytest.raises(ValueError, match="factor"):
        adjust_saturation(x, torch.tensor([1.0, -0.1]))
    with pytest.raises(ValueError, match="factor"):
        adjust_hue(x, 0.6)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        adjust_brightness(x, torch.ones(3))
    with pytest.raises(ValueError, match="kernel_size"):
        gaussian_blur(x, 1.0, 4)
    with pytest.raises(ValueError, match="too large"):
        gaussian_blur(x, 1.0, 41)
    with pytest.raises(ValueError, match="inside"):
        resized_crop(x, 0, 0, 21, 5, 8)
    with pytest.raises(ValueError, match="whole numbers"):
        resized_crop(x, 0.5, 0, 4, 5, 8)
    with pytest.raises(ValueError, match="translate"):
        affine(x, 0.0, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="mask"):
        hflip(x, torch.ones(2))


# ---------------------------------------------------------------------------------------------
# random transforms: parameter distributions, independence, reproducibility


def _torchvision_boxes(n, h, w, scale, ratio, seed):
    torch.manual_seed(seed)
    img = torch.empty(1, h, w)
    return np.array([T1.RandomResizedCrop.get_params(img, list(scale), list(ratio))
                     for _ in range(n)], dtype=float)


@pytest.mark.parametrize("hw,scale,ratio", [((24, 40), (0.08, 1.0), (3 / 4, 4 / 3)),
                                            ((32, 32), (0.5, 1.0), (0.4, 2.5))])
def test_random_resized_crop_boxes_follow_torchvision(hw, scale, ratio):
    h, w = hw
    n = 3000
    ours = torch.stack(RandomResizedCrop(8, scale, ratio).sample_boxes(
        n, h, w, torch.Generator().manual_seed(0)), 1).double().numpy()
    ref = _torchvision_boxes(n, h, w, scale, ratio, seed=0)
    for boxes in (ours, ref):
        top, left, bh, bw = boxes.T
        assert (top >= 0).all() and (left >= 0).all() and (bh >= 1).all() and (bw >= 1).all()
        assert (top + bh <= h).all() and (left + bw <= w).all()
    # area fraction and log aspect: means and quartiles agree within sampling noise
    # (standard errors are about 0.3/sqrt(3000) ≈ 0.006; 0.03 is 5 of them)
    for stat in (lambda b: b[:, 2] * b[:, 3] / (h * w), lambda b: np.log(b[:, 3] / b[:, 2])):
        a, b = stat(ours), stat(ref)
        assert abs(a.mean() - b.mean()) < 0.03
        np.testing.assert_allclose(np.quantile(a, [0.25, 0.5, 0.75]),
                                   np.quantile(b, [0.25, 0.5, 0.75]), atol=0.04)
    # the placement is uniform: the box centre is spread over the image like torchvision's
    cy = lambda b: (b[:, 0] + b[:, 2] / 2) / h  # noqa: E731
    assert abs(cy(ours).mean() - cy(ref).mean()) < 0.03


def test_random_resized_crop_falls_back_to_the_central_crop_like_torchvision():
    # no candidate can fit: every aspect ratio is >= 2 and the area is >= 90 % of the image
    rrc = RandomResizedCrop(8, scale=(0.9, 1.0), ratio=(2.0, 3.0))
    top, left, bh, bw = rrc.sample_boxes(6, 30, 20)
    want = _torchvision_boxes(1, 30, 20, (0.9, 1.0), (2.0, 3.0), seed=0)[0]
    assert (top == want[0]).all() and (left == want[1]).all()
    assert (bh == want[2]).all() and (bw == want[3]).all()


def test_random_transforms_draw_independently_per_image():
    x = _images(n=1, h=16, w=16).repeat(64, 1, 1, 1)  # 64 copies of one image
    g = torch.Generator().manual_seed(0)
    for t in [RandomResizedCrop(16), ColorJitter(0.4, 0.4, 0.4, 0.1), GaussianBlur(5),
              RandomAffine(20, (0.1, 0.1), (0.9, 1.1))]:
        out = t(x, g).flatten(1)
        distinct = len(torch.unique(out.round(decimals=4), dim=0))
        assert distinct >= 60, (t, distinct)  # integer crop boxes may coincide now and then
    flips = RandomHorizontalFlip(0.5)(x, g)
    flipped = (flips != x).flatten(1).any(1)
    assert 16 < int(flipped.sum()) < 48  # about half, not all or none


def test_color_jitter_equals_torchvision_ops_in_each_images_own_order():
    x = _images(n=24, h=6, w=7)
    cj = ColorJitter(0.5, 0.5, 0.5, 0.2, p=0.75)
    apply, order, factors = cj.sample(24, torch.Generator().manual_seed(3))
    out = cj(x, torch.Generator().manual_seed(3))
    ops = [TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue]
    for k in range(24):
        want = x[k]
        if apply[k]:
            for op in order[k].tolist():
                want = ops[op](want, float(factors[k, op]))
        _close(out[k], want)
    assert 8 < int(apply.sum()) < 24  # p = 0.75 of 24
    assert len({tuple(o) for o in order.tolist()}) > 10  # orders differ between images
    assert (factors[:, :3] >= 0.5).all() and (factors[:, :3] <= 1.5).all()
    assert (factors[:, 3].abs() <= 0.2).all()


def test_color_jitter_orders_are_uniform_permutations():
    _, order, _ = ColorJitter(0.1, 0.1, 0.1, 0.1).sample(4800, torch.Generator().manual_seed(0))
    assert (order.sort(1).values == torch.arange(4)).all()
    counts = torch.unique(order, dim=0, return_counts=True)[1]
    assert len(counts) == 24 and counts.min() > 140 and counts.max() < 260  # 200 expected


def test_random_erasing_boxes_and_probability():
    n, h, w = 4000, 20, 30
    top, left, bh, bw, m = RandomErasing(0.5).sample_boxes(
        n, h, w, torch.Generator().manual_seed(0))
    assert abs(m.float().mean().item() - 0.5) < 0.05
    assert (top >= 0).all() and (left >= 0).all() and (top + bh <= h).all()
    assert (left + bw <= w).all()
    area = (bh * bw).double() / (h * w)
    assert 0.0 <= area.min() and area.max() <= 0.45 and 0.12 < area.mean() < 0.22
    x = torch.ones(8, 3, h, w)
    out = RandomErasing(1.0)(x, torch.Generator().manual_seed(1))
    assert ((out == 0).flatten(1).any(1)).all()  # every image has a hole


def test_random_crop_is_an_integer_shift_of_at_most_the_padding():
    x = _images(n=6, h=12, w=12)
    out = RandomCrop(12, padding=2)(x, torch.Generator().manual_seed(0))
    for k in range(6):
        matches = [(dx, dy) for dx in range(-2, 3) for dy in range(-2, 3)
                   if np.allclose(out[k, 0].numpy(), _shifted(x[k, 0].numpy(), dx, dy),
                                  atol=1e-6)]
        assert len(matches) == 1, matches


def test_seeded_generator_reproduces_and_different_seeds_differ():
    x = _images(n=8)
    t = Compose([RandomResizedCrop(20), RandomHorizontalFlip(), ColorJitter(0.4, 0.4, 0.4, 0.1),
                 RandomGrayscale(0.2), GaussianBlur(3, p=0.5), RandomErasing(0.5)])
    a = t(x, torch.Generator().manual_seed(5))
    b = t(x, torch.Generator().manual_seed(5))
    c = t(x, torch.Generator().manual_seed(6))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_fused_geometry_equals_the_sequential_ops():
    x = _images(n=16)
    ops = [RandomResizedCrop((10, 14), scale=(0.3, 1.0)), RandomHorizontalFlip()]
    fused = Compose(ops)(x, torch.Generator().manual_seed(0))
    plain = Compose(ops, fuse=False)(x, torch.Generator().manual_seed(0))
    _close(fused, plain, atol=1e-5)  # crop + flip: the same pixels
    # with an affine: one interpolation instead of two, so close on a smooth image (same
    # draws, same geometry), not equal
    yy, xx = torch.meshgrid(torch.arange(20.0), torch.arange(24.0), indexing="ij")
    x = (0.5 + 0.5 * torch.sin(xx / 3 + torch.arange(16.0).view(16, 1, 1, 1))
         * torch.cos(yy / 4)).expand(16, 3, 20, 24)
    ops = [RandomResizedCrop(20, scale=(0.5, 1.0)), RandomAffine(15, (0.1, 0.1))]
    fused = Compose(ops)(x, torch.Generator().manual_seed(0))
    plain = Compose(ops, fuse=False)(x, torch.Generator().manual_seed(0))
    assert (fused - plain).abs().mean() < 0.01
    assert not torch.equal(fused, plain)


def test_ops_run_in_float32_inside_a_bf16_autocast_region_on_cpu():
    x = _images(n=8)
    aug = make_augment("strong", (3, 20, 24))
    want = aug(x, torch.Generator().manual_seed(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = aug(x, torch.Generator().manual_seed(0))
        blurred = gaussian_blur(x, 1.0, 5)  # conv2d would run in bf16 under autocast
    assert got.dtype == torch.float32 and blurred.dtype == torch.float32
    _close(got, want, atol=1e-6)
    _close(blurred, gaussian_blur(x, 1.0, 5), atol=1e-6)
    # bf16 input comes back as bf16
    assert adjust_hue(x.bfloat16(), 0.1).dtype == torch.bfloat16
    assert resized_crop(x.bfloat16(), 0, 0, 10, 10, 8).dtype == torch.bfloat16


def test_normalize_and_transform_parameter_errors():
    x = _images(n=2)
    out = Normalize([0.5, 0.5, 0.5], [0.25, 0.5, 1.0])(x)
    _close(out, (x - 0.5) / torch.tensor([0.25, 0.5, 1.0]).view(1, 3, 1, 1), atol=1e-6)
    with pytest.raises(ValueError, match="channel"):
        Normalize([0.5], [0.5])(x)
    with pytest.raises(ValueError, match="probability"):
        RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match="hue"):
        ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="scale"):
        RandomResizedCrop(8, scale=(0.9, 0.1))
    with pytest.raises(ValueError, match="kernel_size"):
        GaussianBlur(4)
    with pytest.raises(ValueError, match="translate"):
        RandomAffine(10, translate=(0.1, 2.0))


# ---------------------------------------------------------------------------------------------
# recipes


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28)])
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipes_give_float_images_in_the_unit_interval(name, shape):
    x8 = torch.randint(0, 256, (16, *shape), dtype=torch.uint8,
                       generator=torch.Generator().manual_seed(0))
    aug = make_augment(name, shape)
    out = aug(x8, torch.Generator().manual_seed(1))
    assert out.shape == (16, *shape) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    # uint8 input = float input / 255, same draws
    _close(out, aug(x8.float() / 255, torch.Generator().manual_seed(1)), atol=1e-6)
    # flattened input is accepted
    _close(out, aug(x8.flatten(1), torch.Generator().manual_seed(1)), atol=1e-6)
    if name in ("none", "original"):
        _close(out, x8.float() / 255, atol=0)
    else:
        assert not torch.allclose(out, x8.float() / 255)


def test_recipe_contents_follow_the_papers():
    simclr = make_augment("simclr", (3, 32, 32)).transform.transforms
    names = [type(t).__name__ for t in simclr]
    assert names == ["RandomResizedCrop", "RandomHorizontalFlip", "ColorJitter",
                     "RandomGrayscale"]
    assert simclr[0].scale == (0.2, 1.0) and simclr[2].p == 0.8 and simclr[3].p == 0.2
    assert simclr[2].brightness == (0.6, 1.4) and simclr[2].hue == (-0.1, 0.1)
    cc = make_augment("cc", (3, 32, 32)).transform.transforms
    assert cc[0].scale == (0.08, 1.0) and cc[2].saturation == (0.6, 1.4)
    grey = [type(t).__name__ for t in make_augment("simclr", (1, 28, 28)).transform.transforms]
    assert "ColorJitter" not in grey and "RandomGrayscale" not in grey
    digits = [type(t).__name__ for t in make_augment("digits", (1, 28, 28)).transform.transforms]
    assert "RandomHorizontalFlip" not in digits and "ColorJitter" not in digits
    weak = make_augment("weak", (3, 32, 32)).transform.transforms
    assert weak[0].padding == 4 and weak[1].p == 0.5
    assert [type(t).__name__ for t in make_augment("weak", (1, 28, 28)).transform.transforms] \
        == ["RandomCrop"]
    strong = make_augment("strong", (3, 96, 96)).transform.transforms
    blur = next(t for t in strong if isinstance(t, GaussianBlur))
    assert blur.kernel_size == 9 and blur.p == 0.5
    assert any(isinstance(t, RandomErasing) and t.p == 0.5 for t in strong)


def test_digit_views_differ_but_stay_close_to_the_digit():
    # a bar "digit": two views differ, but most of the ink stays in the frame
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 6:22, 12:16] = 1.0
    aug = make_augment("digits", (1, 28, 28))
    a, b = aug(x, torch.Generator().manual_seed(0)), aug(x, torch.Generator().manual_seed(1))
    assert (a - b).abs().flatten(1).sum(1).min() > 1.0  # every pair of views differs
    ink = a.flatten(1).sum(1) / x.flatten(1).sum(1)
    assert ink.median() > 0.8 and ink.min() > 0.3


def test_make_augment_errors_and_default_recipe():
    with pytest.raises(ValueError, match="valid recipes: 'none'.*'strong'"):
        make_augment("simclrr", (3, 32, 32))
    with pytest.raises(ValueError, match="unknown option"):
        make_augment("simclr", (3, 32, 32), crop_scael=(0.1, 1.0))
    with pytest.raises(ValueError, match="image_shape"):
        make_augment("simclr", (32, 32))
    aug = make_augment("simclr", (3, 32, 32), p_gray=0.0)
    assert not any(isinstance(t, RandomGrayscale) for t in aug.transform.transforms)
    with pytest.raises(ValueError, match=r"\(n, 3, 32, 32\)"):
        aug(torch.rand(4, 3, 28, 28))
    assert default_recipe((1, 28, 28)) == "digits"
    assert default_recipe((3, 32, 32)) == "simclr"
    assert default_recipe((1, 64, 64)) == "simclr"
    assert math.isclose(make_augment("cc", (3, 32, 32)).transform.transforms[2].hue[1], 0.1)


def test_empty_batches_and_plain_callables_in_compose():
    for name in RECIPES:
        out = make_augment(name, (3, 16, 16))(torch.zeros(0, 3, 16, 16, dtype=torch.uint8))
        assert out.shape == (0, 3, 16, 16)
    x = _images(n=3)
    t = Compose([RandomHorizontalFlip(1.0), lambda v: v * 0.5])
    _close(t(x), x.flip(-1) * 0.5, atol=0)
