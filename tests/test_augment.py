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
    RAND_AUGMENT_OPS,
    RECIPES,
    ColorJitter,
    Compose,
    Cutout,
    GaussianBlur,
    Normalize,
    RandAugment,
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
    adjust_sharpness,
    affine,
    autocontrast,
    default_recipe,
    equalize,
    erase,
    gaussian_blur,
    hflip,
    make_augment,
    posterize,
    resized_crop,
    rgb_to_grayscale,
    solarize,
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
    idfd = make_augment("idfd", (3, 32, 32)).transform.transforms
    assert [type(t).__name__ for t in idfd] == ["RandomResizedCrop", "ColorJitter",
                                               "RandomGrayscale"]  # IDFD: no flip
    assert idfd[0].scale == (0.2, 1.0) and idfd[1].p == 1.0 and idfd[1].hue is None
    assert idfd[2].p == 0.2
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


# ---------------------------------------------------------------------------------------------
# SCAN's strong view: RandAugment's ops vs torchvision, the 4-of-14 policy, Cutout


def _uint8_images(n=6, c=3, h=32, w=40, seed=0):
    """uint8 images with the cases the level-based ops branch on: full range, a narrow range
    of levels, a constant image, a saturated band, two levels only, a dark image. (32 × 40 =
    1280 pixels: equalisation needs more than 255 pixels below the top level to do anything.)
    """
    x8 = torch.randint(0, 256, (n, c, h, w), dtype=torch.uint8,
                       generator=torch.Generator().manual_seed(seed))
    x8[1] = x8[1] // 8 + 100
    x8[2] = 77
    x8[3, :, :5] = 255
    x8[4] = torch.where(x8[4] > 200, 180, 20).to(torch.uint8)
    x8[5] = x8[5] // 16
    return x8


@pytest.mark.parametrize("c", [3, 1])
def test_equalize_matches_torchvision_on_uint8_images(c):
    for hw in [(32, 40), (9, 11)]:  # 9 × 11 < 256 pixels: nothing to equalise
        x8 = _uint8_images(c=c, h=hw[0], w=hw[1], seed=c)
        out = equalize(x8.float() / 255)
        for k in range(len(x8)):
            want = TF.equalize(x8[k])
            assert torch.equal((out[k] * 255).round().to(torch.uint8), want)  # same levels
            _close(out[k], want.float() / 255, atol=1e-6)
            # torchvision's float path bins with floor(255.999·x): the same on these images
            _close(out[k], TF.equalize(x8[k].float() / 255), atol=1e-6)
        changed = (out != x8.float() / 255).flatten(1).any(1)
        assert changed[[0, 1, 3, 5]].all() if hw == (32, 40) else not changed.any()


@pytest.mark.parametrize("c", [3, 1])
def test_posterize_matches_torchvision_on_uint8_images(c):
    x8 = _uint8_images(n=9, c=c, seed=c)
    bits = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8])
    out = posterize(x8.float() / 255, bits)
    for k in range(len(x8)):
        want = TF.posterize(x8[k], int(bits[k]))
        assert torch.equal((out[k] * 255).round().to(torch.uint8), want)
        _close(out[k], want.float() / 255, atol=1e-6)
    _close(posterize(x8.float() / 255, 8), x8.float() / 255, atol=0)


@pytest.mark.parametrize("c", [3, 1])
def test_solarize_matches_torchvision_on_float_and_uint8_images(c):
    x = _images(c=c)
    t = torch.tensor([0.0, 0.3, 0.5, 0.99, 1.0])
    out = solarize(x, t)
    for k in range(5):
        _close(out[k], TF.solarize(x[k], float(t[k])), atol=0)
    x8 = _uint8_images(c=c, seed=c)
    t8 = [0, 1, 128, 200, 255, 7]
    out = solarize(x8.float() / 255, torch.tensor(t8) / 255)
    for k in range(6):
        _close(out[k], TF.solarize(x8[k], t8[k]).float() / 255, atol=1e-6)
    _close(solarize(x, 1.5), x, atol=0)  # above the top level: nothing inverted


@pytest.mark.parametrize("c", [3, 1])
def test_autocontrast_matches_torchvision_per_channel(c):
    x = _images(n=4, c=c, seed=c) * 0.5 + 0.2  # in [0.2, 0.7]: stretched to [0, 1]
    x[1] = 0.4  # constant: left as it is
    x[2, 0] = x[2, 0] * 0.1  # one dark channel
    x[3] = torch.round(x[3] * 255) / 255  # uint8-valued
    out = autocontrast(x)
    for k in range(4):
        _close(out[k], TF.autocontrast(x[k]))
    assert out[0].amin() == 0 and out[0].amax() == 1
    _close(out[1], x[1], atol=0)


@pytest.mark.parametrize("c", [3, 1])
def test_adjust_sharpness_matches_torchvision(c):
    x = _images(n=6, c=c, seed=c)
    f = torch.tensor([0.0, 0.05, 0.5, 1.0, 2.3, 5.0])
    out = adjust_sharpness(x, f)
    for k in range(6):
        _close(out[k], TF.adjust_sharpness(x[k], float(f[k])))
    _close(out[:, :, 0], x[:, :, 0], atol=0)  # the border is kept
    small = _images(n=2, c=c, h=2, w=5)
    _close(adjust_sharpness(small, 0.0), small, atol=0)  # too small: unchanged, as torchvision


def test_affine_shear_matches_torchvision():
    x = _images(n=6, h=17, w=24)
    angle = torch.tensor([0.0, 0.0, 30.0, -12.0, 0.0, 5.0])
    translate = torch.tensor([[0.0, 0.0], [0.0, 0.0], [2.0, -1.0], [0.0, 3.0], [-2.0, 0.0],
                              [0.0, 0.0]])
    scale = torch.tensor([1.0, 1.0, 0.9, 1.1, 1.0, 1.0])
    shear = torch.tensor([[5.71, 0.0], [0.0, -5.71], [10.0, 20.0], [-30.0, 4.0], [45.0, 0.0],
                          [0.0, 0.0]])
    out = affine(x, angle, translate, scale, shear)
    for k in range(6):
        want = TF.affine(x[k], float(angle[k]), translate[k].tolist(), float(scale[k]),
                         shear[k].tolist(), interpolation=TF.InterpolationMode.BILINEAR)
        _close(out[k], want)
    # a number is an x shear, as torchvision
    _close(affine(x, 0.0, (0, 0), 1.0, 8.0)[0],
           TF.affine(x[0], 0.0, [0, 0], 1.0, 8.0, interpolation=TF.InterpolationMode.BILINEAR))
    # an x shear by atan(k) samples (u + k·v, v) about the centre: PIL's coefficient k
    yy, xx = torch.meshgrid(torch.arange(17.0), torch.arange(24.0), indexing="ij")
    ramp = (xx / 100 + 0.3)[None, None]  # linear in x: bilinear sampling is exact inside
    k = 0.1
    out = affine(ramp, 0.0, (0, 0), 1.0, (math.degrees(math.atan(k)), 0.0))
    want = ramp + k * (yy - 8) / 100
    _close(out[0, 0, :, 2:-2], want[0, 0, :, 2:-2], atol=1e-5)


def _scan_op(img, name, v):
    """SCAN's op ``name`` with magnitude v on one image (1, C, H, W), by the functional ops."""
    h, w = img.shape[-2:]
    if name == "Identity":
        return img
    if name == "AutoContrast":
        return autocontrast(img)
    if name == "Equalize":
        return equalize(img)
    if name == "Rotate":  # PIL's rotate(v) turns anticlockwise
        return affine(img, -v, (0, 0))
    if name == "Solarize":
        return solarize(img, v / 255)
    if name in ("Color", "Contrast", "Brightness", "Sharpness"):
        op = {"Color": adjust_saturation, "Contrast": adjust_contrast,
              "Brightness": adjust_brightness, "Sharpness": adjust_sharpness}[name]
        return op(img, v)
    if name in ("ShearX", "ShearY"):
        deg = math.degrees(math.atan(v))
        return affine(img, 0.0, (0, 0), 1.0, (deg, 0.0) if name == "ShearX" else (0.0, deg))
    if name == "TranslateX":
        return affine(img, 0.0, (-round(v * w), 0))
    if name == "TranslateY":
        return affine(img, 0.0, (0, -round(v * h)))
    assert name == "Posterize"
    return posterize(img, int(v))


@pytest.mark.parametrize("c", [3, 1])
def test_rand_augment_applies_each_images_ops_in_its_drawn_order(c):
    x = _uint8_images(n=40, c=c, h=16, w=16).float() / 255
    ra = RandAugment(4)
    op, mag = ra.sample(40, torch.Generator().manual_seed(2))
    out = ra(x, torch.Generator().manual_seed(2))
    for k in range(40):
        want = x[k:k + 1]
        for j in range(4):
            want = _scan_op(want, ra.ops[int(op[k, j])], float(mag[k, j]))
        _close(out[k], want[0], atol=1e-5)
    assert len(set(op.flatten().tolist())) == 14  # every op was used somewhere


def test_rand_augment_draws_every_op_equally_often_with_its_own_magnitude():
    ra = RandAugment(4)
    n = 7000
    op, mag = ra.sample(n, torch.Generator().manual_seed(0))
    assert op.shape == mag.shape == (n, 4)
    # 28000 draws, 2000 per op expected, sd ≈ 43: ±250 is about 6 sd
    counts = torch.bincount(op.flatten(), minlength=14)
    assert counts.min() > 1750 and counts.max() < 2250, counts
    # each position on its own is uniform too, and the draws are with replacement
    for j in range(4):
        pos = torch.bincount(op[:, j], minlength=14)
        assert pos.min() > 380 and pos.max() < 620  # 500 expected, sd ≈ 21
    assert (op == op[:, :1]).all(1).float().mean() > 0  # the same op four times happens
    for k, name in enumerate(ra.ops):
        lo, hi = RAND_AUGMENT_OPS[name]
        m = mag[op == k].double()
        assert m.min() >= lo and m.max() <= hi
        # uniform over the range: mean and spread within sampling noise
        assert abs((m.mean() - (lo + hi) / 2) / (hi - lo)) < 0.02
        assert abs(m.std() / (hi - lo) - 1 / math.sqrt(12)) < 0.02
    assert RAND_AUGMENT_OPS["Rotate"] == (-30.0, 30.0)
    assert RAND_AUGMENT_OPS["Solarize"] == (0.0, 256.0)
    assert RAND_AUGMENT_OPS["Posterize"] == (4.0, 8.0)
    assert RAND_AUGMENT_OPS["ShearX"] == RAND_AUGMENT_OPS["TranslateY"] == (-0.1, 0.1)


@pytest.mark.parametrize("c", [3, 1])
def test_rand_augment_keeps_shape_dtype_range_and_is_reproducible(c):
    x8 = _uint8_images(n=64, c=c, h=20, w=24, seed=c)
    x = x8.float() / 255
    ra = RandAugment()
    a = ra(x, torch.Generator().manual_seed(5))
    assert a.shape == x.shape and a.dtype == torch.float32
    assert a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, ra(x, torch.Generator().manual_seed(5)))
    assert not torch.allclose(a, ra(x, torch.Generator().manual_seed(6)))
    # uint8 in, uint8 out: the same draws, rounded back to levels
    a8 = ra(x8, torch.Generator().manual_seed(5))
    assert a8.dtype == torch.uint8 and a8.shape == x8.shape
    assert torch.equal(a8, (a * 255).round().to(torch.uint8))
    # bf16 in, bf16 out (computed in float32)
    assert ra(x.bfloat16(), torch.Generator().manual_seed(5)).dtype == torch.bfloat16
    # an independent draw per image: 64 copies of one image give (nearly) 64 results
    same = x[:1].expand(64, -1, -1, -1)
    out = ra(same, torch.Generator().manual_seed(0)).flatten(1)
    assert len(torch.unique(out.round(decimals=4), dim=0)) >= 56  # Identity ×4 etc. repeat
    assert ra(x[:0]).shape == (0, *x.shape[1:])


def test_rand_augment_colour_only_op_is_the_identity_on_grey_images_and_ops_subset():
    g = _images(n=8, c=1)
    _close(RandAugment(4, ops=["Color", "Identity"])(g), g, atol=0)
    x = _images(n=8)
    out = RandAugment(1, ops=["Brightness"])(x, torch.Generator().manual_seed(0))
    ratio = out / x  # brightness only: every image scaled by one factor in [0.05, 0.95]
    assert ((ratio.flatten(1).std(1)) < 1e-4).all()
    assert ratio.min() > 0.05 - 1e-4 and ratio.max() < 0.95 + 1e-4
    with pytest.raises(ValueError, match="ops must be names"):
        RandAugment(ops=["Invert"])
    with pytest.raises(ValueError, match="n_ops"):
        RandAugment(-1)


def test_cutout_one_clipped_square_hole_per_image():
    n, h, w = 4000, 32, 32
    cut = Cutout(16)
    top, left, bh, bw = cut.sample_boxes(n, h, w, torch.Generator().manual_seed(0))
    assert (top >= 0).all() and (left >= 0).all() and (top + bh <= h).all()
    assert (left + bw <= w).all() and (bh >= 1).all() and (bw >= 1).all()
    assert bh.max() == 16 and bw.max() == 16
    clipped = (top == 0) | (left == 0) | (top + bh == h) | (left + bw == w)
    assert clipped.float().mean() > 0.2  # the centre is uniform over the whole image
    assert (bh == bw)[~clipped].all()  # squares where not clipped
    # on a large image (clipping rare) the side is uniform in 1..16: 250 each expected
    _, _, bh, bw = cut.sample_boxes(n, 1000, 1000, torch.Generator().manual_seed(0))
    side = torch.bincount(bh[bh == bw], minlength=17)[1:]
    assert side.min() > 180 and side.max() < 320, side
    x = torch.ones(64, 3, h, w)
    out = cut(x, torch.Generator().manual_seed(1))
    top, left, bh, bw = cut.sample_boxes(64, h, w, torch.Generator().manual_seed(1))
    _close(out, erase(x, top, left, bh, bw, 0.5), atol=0)
    assert ((out == 0.5).flatten(1).sum(1) == 3 * bh * bw).all()
    out = Cutout(8, fill=(0.1, 0.2, 0.3))(x, torch.Generator().manual_seed(1))
    assert ((out[:, 0] == 0.1).flatten(1).sum(1) >= 1).all()
    x8 = torch.full((4, 1, h, w), 255, dtype=torch.uint8)
    out8 = Cutout(8, fill=0.0)(x8)
    assert out8.dtype == torch.uint8 and ((out8 == 0).flatten(1).sum(1) >= 1).all()
    with pytest.raises(ValueError, match="size"):
        Cutout(0)


def test_new_ops_reject_bad_parameters():
    x = _images(n=2)
    with pytest.raises(ValueError, match="bits"):
        posterize(x, 9)
    with pytest.raises(ValueError, match="whole numbers of bits"):
        posterize(x, 4.5)
    with pytest.raises(ValueError, match="threshold"):
        solarize(x, -0.1)
    with pytest.raises(ValueError, match="factor"):
        adjust_sharpness(x, torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="shear"):
        affine(x, 0.0, (0, 0), 1.0, (90.0, 0.0))
    with pytest.raises(ValueError, match="shear"):
        affine(x, 0.0, (0, 0), 1.0, torch.zeros(3, 2))
    with pytest.raises(ValueError, match="float"):
        equalize((x * 255).to(torch.uint8))


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_scan_recipe_follows_scan_strong_view(shape):
    aug = make_augment("scan", shape)
    names = [type(t).__name__ for t in aug.transform.transforms]
    colour = shape[0] == 3
    assert names == (["RandomCrop", "RandomHorizontalFlip", "RandAugment", "Cutout"] if colour
                     else ["RandomCrop", "RandAugment", "Cutout"])  # no mirrored digits
    ts = aug.transform.transforms
    assert ts[0].padding == shape[1] // 8 and ts[-2].n_ops == 4
    assert ts[-1].size == shape[1] // 2 and ts[-1].fill == 0.5  # 16 px at 32 px
    x8 = _uint8_images(n=32, c=shape[0], h=shape[1], w=shape[2])
    out = aug(x8, torch.Generator().manual_seed(0))
    assert out.shape == x8.shape and out.dtype == torch.float32
    assert 0 <= out.min() and out.max() <= 1
    assert torch.equal(out, aug(x8, torch.Generator().manual_seed(0)))
    assert (out == 0.5).flatten(1).any(1).float().mean() > 0.9  # the Cutout holes
    fewer = make_augment("scan", shape, n_ops=2, cutout=0, cutout_fill=0.0)
    assert fewer.transform.transforms[-1].n_ops == 2
    assert default_recipe(shape) in ("digits", "simclr")  # unchanged
