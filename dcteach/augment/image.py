"""Batched image augmentations on tensors, with a fresh random draw for every sample.

torchvision's random transforms draw *one* set of parameters per call, so on a batch tensor
every image is cropped, flipped and jittered the same way (and a per-image pipeline needs a
Python loop or a DataLoader). Clustering methods that learn invariances (DEC-DA, SimCLR-style
contrastive pretext tasks, SCAN, CC) need an independent draw per image, on whatever device
the batch lives on. This module does that for whole batches ``x`` of shape (n, C, H, W),
float in [0, 1], C = 1 or 3, on CPU or CUDA:

* **functional ops** with per-sample parameters given as tensors of shape (n,) — each one
  reproduces the maths of the ``torchvision.transforms.v2.functional`` op of the same name
  applied to one image at a time (the tests check this image by image):
  :func:`resized_crop`, :func:`hflip`, :func:`affine` (with shear),
  :func:`adjust_brightness`, :func:`adjust_contrast`, :func:`adjust_saturation`,
  :func:`adjust_hue`, :func:`rgb_to_grayscale`, :func:`gaussian_blur`, :func:`erase`, and
  RandAugment's :func:`autocontrast`, :func:`equalize`, :func:`solarize`, :func:`posterize`
  (the last three on the 256 uint8 levels) and :func:`adjust_sharpness`;
* **random transforms** (classes called as ``t(x, generator=None)``) that draw all the
  parameters of a batch at once on the CPU — from ``generator`` when given, so that a seeded
  generator reproduces a batch exactly — and move them to ``x.device``:
  :class:`RandomResizedCrop`, :class:`RandomCrop`, :class:`RandomHorizontalFlip`,
  :class:`RandomAffine`, :class:`ColorJitter`, :class:`RandomGrayscale`,
  :class:`GaussianBlur`, :class:`RandomErasing`, SCAN's strong policy :class:`RandAugment`
  (4 of 14 ops per image) and :class:`Cutout`, chained by :class:`Compose` (which fuses
  consecutive geometric transforms into one resampling), and :class:`Normalize`;
* :func:`random_affine` / :func:`affine_batch` — random shift and rotation, as in DEC-DA
  (Guo, Zhu, Liu & Yin, "Deep Embedded Clustering with Data Augmentation", ACML 2018), which
  pretrains and clusters on images shifted by up to 10 % of their size and rotated by up to
  10°.

Every op computes in float32 with autocast disabled (so it behaves the same inside a
``torch.autocast(..., dtype=torch.bfloat16)`` region) and returns the input's dtype. The
named recipes built from these (SimCLR, CC, weak, digits, ...) are in
:mod:`dcteach.augment.recipes`.

**Geometry.** All geometric ops resample with one ``F.grid_sample`` (bilinear,
``align_corners=False``). Each op is written as the map from its *output* pixel coordinates
(pixel centres at 0, 1, ..., W−1) back to its *input* pixel coordinates; a chain of ops is
the composition of these maps, so :class:`Compose` crops, flips and rotates with a single
interpolation. Zero fill outside the image is reproduced exactly: sampling with border
clamping and multiplying by the weight ``clamp(min(p + 1, W − p), 0, 1)`` per axis equals
bilinear sampling with zero padding.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    # functional, per-sample parameters
    "resized_crop", "hflip", "affine", "adjust_brightness", "adjust_contrast",
    "adjust_saturation", "adjust_hue", "rgb_to_grayscale", "gaussian_blur", "erase",
    "autocontrast", "equalize", "solarize", "posterize", "adjust_sharpness",
    # random transforms
    "RandomResizedCrop", "RandomCrop", "RandomHorizontalFlip", "RandomAffine", "ColorJitter",
    "RandomGrayscale", "GaussianBlur", "RandomErasing", "RandAugment", "Cutout", "Compose",
    "Normalize", "RAND_AUGMENT_OPS",
    # DEC-DA
    "random_affine", "affine_batch",
]

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601 luma, as torchvision and PIL


# ---------------------------------------------------------------------------------------------
# checks and small helpers


def _check_images(x: torch.Tensor, name: str = "x") -> tuple[int, int, int, int]:
    """(n, C, H, W) of a float image batch, or a ValueError saying what is wrong."""
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be an image batch of shape (n, C, H, W); got {shape}")
    if x.shape[1] not in (1, 3):
        raise ValueError(f"{name} must have 1 or 3 channels (n, C, H, W); got shape "
                         f"{tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be float images in [0, 1]; got {x.dtype} (convert uint8 "
                         "with x.float() / 255, or use dcteach.augment.make_augment)")
    n, c, h, w = x.shape
    return n, c, h, w


def _no_autocast(x: torch.Tensor):
    """A context in which ``x``'s device runs in the tensors' own dtypes."""
    return torch.autocast(x.device.type, enabled=False)


def _per_sample(v, n: int, name: str, device: torch.device | None = None) -> torch.Tensor:
    """A number or an (n,) tensor as a float32 (n,) tensor (on ``device`` when given)."""
    t = torch.as_tensor(v, dtype=torch.float32)
    if t.ndim == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise ValueError(f"{name} must be a number or a tensor of shape ({n},); got shape "
                         f"{tuple(t.shape)}")
    return t if device is None else t.to(device)


def _per_sample_int(v, n: int, name: str, unit: str = "pixels") -> torch.Tensor:
    """A whole number or an (n,) tensor of whole numbers as a long (n,) tensor."""
    t = torch.as_tensor(v)
    if t.is_floating_point():
        if not bool((t == t.round()).all()):
            raise ValueError(f"{name} must hold whole numbers of {unit}")
        t = t.long()
    elif t.dtype == torch.bool or t.is_complex():
        raise ValueError(f"{name} must hold whole numbers of {unit}; got {t.dtype}")
    if t.ndim == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise ValueError(f"{name} must be an int or a tensor of shape ({n},); got shape "
                         f"{tuple(t.shape)}")
    return t.long()


def _per_sample_mask(mask, n: int, device: torch.device) -> torch.Tensor:
    """None (all True), a bool or an (n,) bool tensor as an (n,) bool tensor on ``device``."""
    if mask is None:
        return torch.ones(n, dtype=torch.bool, device=device)
    m = torch.as_tensor(mask)
    if m.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor; got {m.dtype}")
    if m.ndim == 0:
        m = m.expand(n)
    if m.shape != (n,):
        raise ValueError(f"mask must be a bool or a tensor of shape ({n},); got shape "
                         f"{tuple(m.shape)}")
    return m.to(device)


def _size_hw(size, name: str = "size") -> tuple[int, int]:
    """An int or an (h, w) pair of positive ints as (h, w)."""
    if isinstance(size, int) and not isinstance(size, bool):
        hw = (size, size)
    elif isinstance(size, Sequence) and len(size) == 2 and all(isinstance(s, int)
                                                                 for s in size):
        hw = (int(size[0]), int(size[1]))
    else:
        raise ValueError(f"{name} must be an int or an (h, w) pair of ints; got {size!r}")
    if min(hw) < 1:
        raise ValueError(f"{name} must be positive; got {size!r}")
    return hw


def _range(v, name: str, low: float = -math.inf, high: float = math.inf) -> tuple[float, float]:
    """A (lo, hi) pair with low <= lo <= hi <= high."""
    if not (isinstance(v, Sequence) and len(v) == 2):
        raise ValueError(f"{name} must be a (min, max) pair; got {v!r}")
    lo, hi = float(v[0]), float(v[1])
    if not low <= lo <= hi <= high:
        raise ValueError(f"{name} must satisfy {low} <= min <= max <= {high}; got {v!r}")
    return lo, hi


def _probability(p, name: str = "p") -> float:
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1]; got {p!r}")
    return float(p)


def _rand(shape, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform [0, 1) draws in float64 on the CPU (the parameters of a batch)."""
    return torch.rand(shape, generator=generator, dtype=torch.float64)


def _col(t: torch.Tensor) -> torch.Tensor:
    """(n,) -> (n, 1, 1, 1), for broadcasting against (n, C, H, W)."""
    return t.view(-1, 1, 1, 1)


def _randint_below(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """floor(u · k) for u in [0, 1): a uniform integer in {0, ..., k−1}, as torch.randint."""
    return torch.minimum((u * k).floor().long(), k - 1)


# ---------------------------------------------------------------------------------------------
# geometry: maps from output to input pixel coordinates, composed and sampled once


class _Step:
    """One geometric stage as the map from its output pixel coordinates back to its input's.

    ``__call__(px, py, wt)`` takes coordinates broadcastable to (n, H_out, W_out) (x and y,
    in pixels) and the zero-fill weight so far (or None), and returns them in the stage's
    input frame.
    """

    in_hw: tuple[int, int]
    out_hw: tuple[int, int]

    def __call__(self, px, py, wt):  # pragma: no cover - interface
        raise NotImplementedError


def _zero_fill_weight(p: torch.Tensor, size: int) -> torch.Tensor:
    """Weight of the image content at bilinear sample position ``p`` along an axis of
    ``size`` pixels with zero padding: 1 inside [0, size−1], falling linearly to 0 one pixel
    outside."""
    return torch.minimum(p + 1, size - p).clamp_(0, 1)


class _CropStep(_Step):
    """Box (top, left, height, width) resized to out_hw, as F.interpolate(bilinear,
    align_corners=False, antialias=False) of the crop: source = left + clamp((u + ½)·w/W_out
    − ½, 0, w − 1)."""

    def __init__(self, top, left, height, width, in_hw, out_hw):
        self.top, self.left = top.view(-1, 1, 1), left.view(-1, 1, 1)
        self.height, self.width = height.view(-1, 1, 1), width.view(-1, 1, 1)
        self.in_hw, self.out_hw = in_hw, out_hw

    def __call__(self, px, py, wt):
        ho, wo = self.out_hw
        sx = ((px + 0.5) * (self.width / wo) - 0.5).clamp_(min=0)
        sy = ((py + 0.5) * (self.height / ho) - 0.5).clamp_(min=0)
        px = self.left + torch.minimum(sx, self.width - 1)
        py = self.top + torch.minimum(sy, self.height - 1)
        return px, py, wt


class _FlipStep(_Step):
    """Mirror left-right where ``mask``: u -> W − 1 − u."""

    def __init__(self, mask, hw):
        self.mask = mask.view(-1, 1, 1)
        self.in_hw = self.out_hw = hw

    def __call__(self, px, py, wt):
        return torch.where(self.mask, (self.in_hw[1] - 1) - px, px), py, wt


class _ShiftStep(_Step):
    """Output pixel (u, v) shows input pixel (u + dx, v + dy); zero outside the input."""

    def __init__(self, dx, dy, in_hw, out_hw):
        self.dx, self.dy = dx.view(-1, 1, 1), dy.view(-1, 1, 1)
        self.in_hw, self.out_hw = in_hw, out_hw

    def __call__(self, px, py, wt):
        px, py = px + self.dx, py + self.dy
        w = _zero_fill_weight(px, self.in_hw[1]) * _zero_fill_weight(py, self.in_hw[0])
        return px, py, w if wt is None else wt * w


class _AffineStep(_Step):
    """Inverse affine map about the image centre c = ((W−1)/2, (H−1)/2):
    source = c + A⁻¹ (u − c − t), with ``inv`` = (A⁻¹ | −A⁻¹ t) as (n, 2, 3); zero fill."""

    def __init__(self, inv, hw):
        self.inv = inv.view(-1, 2, 3, 1, 1)
        self.in_hw = self.out_hw = hw

    def __call__(self, px, py, wt):
        h, w = self.in_hw
        cx, cy = (w - 1) / 2, (h - 1) / 2
        u, v = px - cx, py - cy
        m = self.inv
        sx = m[:, 0, 0] * u + m[:, 0, 1] * v + m[:, 0, 2] + cx
        sy = m[:, 1, 0] * u + m[:, 1, 1] * v + m[:, 1, 2] + cy
        z = _zero_fill_weight(sx, w) * _zero_fill_weight(sy, h)
        return sx, sy, z if wt is None else wt * z


def _resample(x: torch.Tensor, steps: Sequence[_Step]) -> torch.Tensor:
    """Apply a chain of geometric steps (first = applied first) with one bilinear sampling."""
    n, c, h, w = x.shape
    ho, wo = steps[-1].out_hw
    with _no_autocast(x):
        # coordinates stay (·, 1, W) / (·, H, 1) for as long as the steps are separable
        # (crop, flip, shift), and broadcast to (n, H, W) only when needed
        px = torch.arange(wo, device=x.device, dtype=torch.float32).view(1, 1, wo)
        py = torch.arange(ho, device=x.device, dtype=torch.float32).view(1, ho, 1)
        wt = None
        for step in reversed(steps):
            px, py, wt = step(px, py, wt)
        px, py = torch.broadcast_tensors(px, py, torch.empty(n, 1, 1, device=x.device))[:2]
        # pixel -> grid_sample's [-1, 1] (align_corners=False); border mode clamps to the
        # edge pixels, the zero-fill weight ``wt`` then restores zero padding exactly
        grid = torch.stack([(px + 0.5) * (2.0 / w) - 1, (py + 0.5) * (2.0 / h) - 1], dim=-1)
        out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border",
                            align_corners=False)
        if wt is not None:
            out = out * wt.unsqueeze(1)
    return out.to(x.dtype)


def _inverse_affine(angle: torch.Tensor, translate: torch.Tensor, scale: torch.Tensor,
                    shear: torch.Tensor | None = None) -> torch.Tensor:
    """(n, 2, 3) inverse of ``u -> M·u + t`` in centred pixel coordinates (y points down),
    with ``M = s·R(angle)·Sh_y(φ_y)·Sh_x(φ_x)``: R turns by ``angle`` degrees **clockwise** on
    screen, as torchvision's ``affine``; the shears are ``Sh_x(φ) = [[1, −tan φ], [0, 1]]`` and
    ``Sh_y(φ) = [[1, 0], [−tan φ, 1]]`` (``shear`` (n, 2) = (φ_x, φ_y) in degrees, or None).
    det M = s², so M⁻¹ = adj(M)/s² and the map back is ``M⁻¹ (u − t)``."""
    rad = angle.double() * (math.pi / 180)
    cos, sin, s = rad.cos(), rad.sin(), scale.double()
    one, zero = torch.ones_like(cos), torch.zeros_like(cos)
    m = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    if shear is not None:
        tx, ty = (shear.double() * (math.pi / 180)).tan().unbind(1)
        sh_y = torch.stack([torch.stack([one, zero], -1), torch.stack([-ty, one], -1)], -2)
        sh_x = torch.stack([torch.stack([one, -tx], -1), torch.stack([zero, one], -1)], -2)
        m = m @ sh_y @ sh_x  # det 1: rotations and shears keep areas
    # (R·Sh)⁻¹ / s = adj(R·Sh) / s
    a, b, c, d = m[:, 0, 0] / s, m[:, 0, 1] / s, m[:, 1, 0] / s, m[:, 1, 1] / s
    tx, ty = translate[:, 0].double(), translate[:, 1].double()
    inv = torch.stack([torch.stack([d, -b, -(d * tx - b * ty)], 1),
                       torch.stack([-c, a, -(-c * tx + a * ty)], 1)], 1)
    return inv.float()


def _check_box(top, left, height, width, n, h, w, *, allow_empty: bool = False):
    top, left = _per_sample_int(top, n, "top"), _per_sample_int(left, n, "left")
    height, width = _per_sample_int(height, n, "height"), _per_sample_int(width, n, "width")
    least = 0 if allow_empty else 1
    ok = ((top >= 0) & (left >= 0) & (height >= least) & (width >= least)
          & (top + height <= h) & (left + width <= w))
    if not bool(ok.all()):
        k = int((~ok).nonzero()[0, 0])
        raise ValueError(f"every box must lie inside the {h}×{w} image with at least {least} "
                         f"pixel(s) per side; sample {k} has top={int(top[k])}, "
                         f"left={int(left[k])}, height={int(height[k])}, "
                         f"width={int(width[k])}")
    return top, left, height, width


def resized_crop(x: torch.Tensor, top, left, height, width, size) -> torch.Tensor:
    """Crop every image of ``x`` to its own box and resize it to ``size`` (bilinear).

    ``top``, ``left``, ``height``, ``width``: ints or (n,) integer tensors, one box per image,
    inside the image. ``size``: int or (h, w). Returns (n, C, h, w) in ``x``'s dtype.

    Output pixel u (of W_out) samples the crop at ``clamp((u + ½)·width/W_out − ½, 0,
    width − 1)`` — ``F.interpolate(..., "bilinear", align_corners=False)`` of the cropped
    image, i.e. ``torchvision.transforms.v2.functional.resized_crop(..., antialias=False)``.
    No antialiasing is done when downscaling: a crop larger than the output is sampled
    bilinearly at the output's pixel centres only (fine details may alias). For a crop no
    larger than the output — the usual case of RandomResizedCrop on small images —
    antialiasing would change nothing.
    """
    n, _, h, w = _check_images(x)
    out_hw = _size_hw(size)
    box = _check_box(top, left, height, width, n, h, w)
    box = [b.to(device=x.device, dtype=torch.float32) for b in box]
    return _resample(x, [_CropStep(*box, in_hw=(h, w), out_hw=out_hw)])


def hflip(x: torch.Tensor, mask=None) -> torch.Tensor:
    """Mirror left-right the images where ``mask`` ((n,) bool; None = all) is True."""
    n, *_ = _check_images(x)
    if mask is None:
        return x.flip(-1)
    m = _per_sample_mask(mask, n, x.device)
    return torch.where(_col(m), x.flip(-1), x)


def affine(x: torch.Tensor, angle, translate, scale=1.0, shear=0.0) -> torch.Tensor:
    """Rotate, scale, shear and translate every image by its own parameters (bilinear, zero
    fill).

    ``angle``: degrees, number or (n,), **clockwise** on screen — the convention of
    ``torchvision.transforms.v2.functional.affine`` (whereas ``rotate`` and
    :func:`affine_batch` turn anticlockwise); ``translate``: pixels (dx, dy), a pair or
    (n, 2); ``scale``: number or (n,), positive; ``shear``: degrees (φ_x, φ_y), as torchvision
    takes it — a number φ_x (no y shear), a pair, or (n, 2), each in (−90°, 90°). About the
    centre c = ((W−1)/2, (H−1)/2) a point u moves to ``M·(u − c) + c + t`` with
    ``M = s·R(angle)·Sh_y(φ_y)·Sh_x(φ_x)``, ``Sh_x(φ) = [[1, −tan φ], [0, 1]]``,
    ``Sh_y(φ) = [[1, 0], [−tan φ, 1]]``, so output pixel u samples the input at
    ``c + M⁻¹ (u − c − t)``; a pure x shear samples ``(u + tan φ_x · v, v)`` (centred), i.e.
    PIL's affine shear coefficient k is ``φ_x = atan(k)`` in degrees (about the centre instead
    of PIL's top-left corner). Matches TF.affine(..., shear=[φ_x, φ_y],
    interpolation=BILINEAR) with the default fill 0.
    """
    n, _, h, w = _check_images(x)
    angle = _per_sample(angle, n, "angle")
    scale = _per_sample(scale, n, "scale")
    t = _pairs(translate, n, "translate", "(dx, dy)")
    sh = torch.as_tensor(shear, dtype=torch.float32)
    sh = torch.stack([sh, torch.zeros_like(sh)]) if sh.ndim == 0 else sh
    sh = _pairs(sh, n, "shear", "(shear_x, shear_y)")
    if not bool((scale > 0).all()):
        raise ValueError("scale must be positive")
    if not bool((sh.abs() < 90).all()):
        raise ValueError("shear must lie in (-90, 90) degrees")
    inv = _inverse_affine(angle.cpu(), t.cpu(), scale.cpu(), sh.cpu()).to(x.device)
    return _resample(x, [_AffineStep(inv, (h, w))])


def _pairs(v, n: int, name: str, what: str) -> torch.Tensor:
    """A pair or an (n, 2) tensor as a float32 (n, 2) tensor."""
    t = torch.as_tensor(v, dtype=torch.float32)
    if t.shape == (2,):
        t = t.expand(n, 2)
    if t.shape != (n, 2):
        raise ValueError(f"{name} must be a {what} pair or a tensor of shape ({n}, 2); got "
                         f"shape {tuple(t.shape)}")
    return t


# ---------------------------------------------------------------------------------------------
# colour: kernels on float32 (n, C, H, W) with factors as (n,) tensors on the batch's device


def _gray(x: torch.Tensor) -> torch.Tensor:
    """(n, 1, H, W) luma L = 0.2989 R + 0.587 G + 0.114 B (the image itself when C = 1)."""
    if x.shape[1] == 1:
        return x
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return r * GRAY_WEIGHTS[0] + g * GRAY_WEIGHTS[1] + b * GRAY_WEIGHTS[2]


def _blend(x: torch.Tensor, other: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """clamp(f·x + (1 − f)·other, 0, 1), f per sample."""
    f = _col(f)
    return (x * f + other * (1 - f)).clamp_(0, 1)


def _brightness(x, f):
    return (x * _col(f)).clamp_(0, 1)


def _contrast(x, f):
    return _blend(x, _gray(x).mean(dim=(1, 2, 3), keepdim=True), f)


def _saturation(x, f):
    return x if x.shape[1] == 1 else _blend(x, _gray(x), f)


def _rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(n, 3, H, W) RGB in [0, 1] -> HSV, each in [0, 1] (hue in turns).

    V = max, S = (max − min)/max (0 for black), H = the sector formula of the channel that
    holds the maximum (ties: red, then green), divided by 6, taken modulo 1.
    """
    r, g, b = x.unbind(1)
    lo, v = torch.aminmax(x, dim=1)
    delta = v - lo
    s = delta / torch.where(v > 0, v, torch.ones_like(v))
    d = torch.where(delta > 0, delta, torch.ones_like(delta))  # grey: hue 0, no 0/0
    h = torch.where(v == r, (g - b) / d,
                    torch.where(v == g, 2 + (b - r) / d, 4 + (r - g) / d))
    return torch.stack([torch.remainder(h / 6, 1.0), s, v], dim=1)


_HSV_OFFSETS = (5.0, 3.0, 1.0)  # R, G, B


def _hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """HSV -> RGB by the closed form channel_k = V − V·S·clamp(min(m, 4 − m), 0, 1) with
    m = (k + 6H) mod 6 and k = 5, 3, 1 for R, G, B (the usual six-sector table)."""
    h, s, v = hsv[:, 0:1], hsv[:, 1:2], hsv[:, 2:3]
    k = torch.tensor(_HSV_OFFSETS, device=hsv.device, dtype=hsv.dtype).view(1, 3, 1, 1)
    m = torch.remainder(k + 6 * h, 6.0)
    return v - v * s * torch.minimum(m, 4 - m).clamp_(0, 1)


def _hue(x, f):
    if x.shape[1] == 1:
        return x
    hsv = _rgb_to_hsv(x)
    hsv[:, 0] = torch.remainder(hsv[:, 0] + f.view(-1, 1, 1), 1.0)
    return _hsv_to_rgb(hsv).clamp_(0, 1)


def _float_op(x: torch.Tensor, kernel: Callable, *args) -> torch.Tensor:
    """Run ``kernel(x_float32, *args)`` with autocast off; return ``x``'s dtype."""
    with _no_autocast(x):
        out = kernel(x.float(), *args)
    return out.to(x.dtype)


def _factor(f, n: int, name: str, x: torch.Tensor, low: float = 0.0,
            high: float = math.inf) -> torch.Tensor:
    t = _per_sample(f, n, name)
    if not bool(((t >= low) & (t <= high)).all()):
        raise ValueError(f"{name} must lie in [{low}, {high}]; got values in "
                         f"[{float(t.min())}, {float(t.max())}]")
    return t.to(x.device)


def adjust_brightness(x: torch.Tensor, factor) -> torch.Tensor:
    """``clamp(x · f, 0, 1)`` with f ≥ 0 per image (number or (n,)); as TF.adjust_brightness."""
    n, *_ = _check_images(x)
    return _float_op(x, _brightness, _factor(factor, n, "factor", x))


def adjust_contrast(x: torch.Tensor, factor) -> torch.Tensor:
    """``clamp((x − m) · f + m, 0, 1)``, m = mean of the image's grayscale (one number per
    image), f ≥ 0 per image; as TF.adjust_contrast."""
    n, *_ = _check_images(x)
    return _float_op(x, _contrast, _factor(factor, n, "factor", x))


def adjust_saturation(x: torch.Tensor, factor) -> torch.Tensor:
    """``clamp(f · x + (1 − f) · L, 0, 1)`` with L = 0.2989 R + 0.587 G + 0.114 B per pixel
    (f = 0: grayscale, f = 1: unchanged); identity for 1-channel images, as
    TF.adjust_saturation."""
    n, *_ = _check_images(x)
    return _float_op(x, _saturation, _factor(factor, n, "factor", x))


def adjust_hue(x: torch.Tensor, factor) -> torch.Tensor:
    """Rotate the hue by ``f`` turns (f in [−½, ½] per image): RGB -> HSV, H -> (H + f) mod 1,
    HSV -> RGB; saturation and value are kept. Identity for 1-channel images, as
    TF.adjust_hue."""
    n, *_ = _check_images(x)
    return _float_op(x, _hue, _factor(factor, n, "factor", x, -0.5, 0.5))


def rgb_to_grayscale(x: torch.Tensor, mask=None) -> torch.Tensor:
    """Replace the images where ``mask`` ((n,) bool; None = all) by their luma
    L = 0.2989 R + 0.587 G + 0.114 B, repeated over the 3 channels (the channel count is kept,
    as TF.rgb_to_grayscale(num_output_channels=3)). Identity for 1-channel images."""
    n, c, _, _ = _check_images(x)
    m = _per_sample_mask(mask, n, x.device)
    if c == 1:
        return x
    return _float_op(x, lambda xf: torch.where(_col(m), _gray(xf).expand_as(xf), xf))


def _gaussian_kernels(sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """(n, k) normalised 1-D Gaussians exp(−i²/(2σ²)), i = −(k−1)/2, ..., (k−1)/2."""
    i = torch.arange(kernel_size, device=sigma.device, dtype=torch.float32) - (kernel_size - 1) / 2
    k = torch.exp(-(i.view(1, -1) ** 2) / (2 * sigma.view(-1, 1) ** 2))
    return k / k.sum(1, keepdim=True)


def _blur(x: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Separable Gaussian blur, reflect padding, one depthwise (grouped) conv per axis."""
    n, c, h, w = x.shape
    r = kernel_size // 2
    kern = _gaussian_kernels(sigma, kernel_size).repeat_interleave(c, dim=0)  # (n·C, k)
    xp = F.pad(x, (r, r, r, r), mode="reflect").reshape(1, n * c, h + 2 * r, w + 2 * r)
    xp = F.conv2d(xp, kern.view(n * c, 1, 1, kernel_size), groups=n * c)
    xp = F.conv2d(xp, kern.view(n * c, 1, kernel_size, 1), groups=n * c)
    return xp.view(n, c, h, w)


def _check_kernel_size(kernel_size, h: int | None = None, w: int | None = None) -> int:
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 \
            or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be an odd positive int; got {kernel_size!r}")
    if h is not None and w is not None and kernel_size // 2 >= min(h, w):
        raise ValueError(f"kernel_size {kernel_size} is too large for {h}×{w} images "
                         f"(reflect padding needs kernel_size // 2 < {min(h, w)})")
    return kernel_size


def gaussian_blur(x: torch.Tensor, sigma, kernel_size: int) -> torch.Tensor:
    """Blur every image with its own Gaussian of standard deviation ``sigma`` (number or (n,),
    positive; pixels) on a ``kernel_size`` × ``kernel_size`` window (odd), reflect padding.

    Kernel g_i ∝ exp(−i² / (2σ²)) for i = −(k−1)/2, ..., (k−1)/2, normalised to sum 1, applied
    along rows then columns (separable, grouped conv over n·C channels); as
    TF.gaussian_blur(img, [k, k], [σ, σ]).
    """
    n, _, h, w = _check_images(x)
    kernel_size = _check_kernel_size(kernel_size, h, w)
    s = _per_sample(sigma, n, "sigma")
    if not bool((s > 0).all()):
        raise ValueError("sigma must be positive")
    return _float_op(x, _blur, s.to(x.device), kernel_size)


def _erase(x, top, left, height, width, value, mask):
    """Set the rectangle [top, top+height) × [left, left+width) of every masked image to
    ``value`` (tensors on x's device; value broadcastable to (n, C, 1, 1))."""
    _, _, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, 1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, 1, w)
    inside = ((rows >= _col(top)) & (rows < _col(top + height))
              & (cols >= _col(left)) & (cols < _col(left + width)) & _col(mask))
    return torch.where(inside, value.to(x.dtype), x)


def _erase_value(value, c: int, device) -> torch.Tensor:
    v = torch.as_tensor(value, dtype=torch.float32)
    if v.numel() == 1:
        return v.reshape(1, 1, 1, 1).to(device)
    if v.shape == (c,):
        return v.view(1, c, 1, 1).to(device)
    raise ValueError(f"value must be a number or one value per channel ({c},); got shape "
                     f"{tuple(v.shape)}")


def erase(x: torch.Tensor, top, left, height, width, value=0.0, mask=None) -> torch.Tensor:
    """Set a rectangle of every image where ``mask`` ((n,) bool; None = all) to ``value`` (a
    number or one per channel): rows [top, top + height), columns [left, left + width), one
    box per image (ints or (n,) integer tensors; empty boxes allowed); as TF.erase."""
    n, c, h, w = _check_images(x)
    box = _check_box(top, left, height, width, n, h, w, allow_empty=True)
    box = [b.to(x.device) for b in box]
    m = _per_sample_mask(mask, n, x.device)
    return _erase(x, *box, _erase_value(value, c, x.device), m)


# ---------------------------------------------------------------------------------------------
# RandAugment's ops: autocontrast, sharpness and the point ops on the 256 uint8 levels


def _levels(x: torch.Tensor) -> torch.Tensor:
    """The nearest of the 256 uint8 levels, ``round(255·x)`` clamped to {0, ..., 255}, as long
    (the uint8 image itself when x = k/255, e.g. a uint8 batch divided by 255)."""
    return (x * 255).round_().clamp_(0, 255).long()


def _autocontrast(x):
    lo = x.amin(dim=(2, 3), keepdim=True)
    hi = x.amax(dim=(2, 3), keepdim=True)
    flat = hi <= lo
    scale = torch.where(flat, torch.ones_like(hi), hi - lo)
    return ((x - torch.where(flat, torch.zeros_like(lo), lo)) / scale).clamp_(0, 1)


def autocontrast(x: torch.Tensor) -> torch.Tensor:
    """Stretch every channel of every image to the full range: ``(x − lo) / (hi − lo)`` with
    lo, hi the channel's minimum and maximum (channels with hi = lo are left as they are); as
    TF.autocontrast (and PIL's ``ImageOps.autocontrast`` without cutoff, before its rounding to
    uint8)."""
    _check_images(x)
    return _float_op(x, _autocontrast)


def _equalize(x):
    n, c, h, w = x.shape
    k = _levels(x).view(n * c, h * w)
    hist = torch.zeros(n * c, 256, dtype=torch.long, device=x.device)
    hist.scatter_add_(1, k, torch.ones_like(k))
    cum = hist.cumsum(1)
    # PIL's rule: the pixels that are not at the channel's top level, in 255 equal steps;
    # level j -> floor((cum[j − 1] + step // 2) / step), level 0 -> 0
    top = hist.gather(1, k.amax(1, keepdim=True))
    step = (h * w - top).div(255, rounding_mode="floor")
    lut = (cum[:, :-1] + step // 2).div(step.clamp(min=1), rounding_mode="floor").clamp_(0, 255)
    lut = torch.cat([torch.zeros_like(lut[:, :1]), lut], 1)
    out = torch.where(step > 0, lut.gather(1, k), k)  # step 0 (near-constant): unchanged
    return out.view(n, c, h, w).float() / 255


def equalize(x: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation of every channel of every image on the 256 uint8 levels.

    The image is taken to its levels k = round(255·x) (exact for uint8-valued images); with
    hist the channel's histogram, cum its cumulative sum, top the count of its highest level
    present and step = ⌊(H·W − top)/255⌋, level j becomes ⌊(cum[j−1] + ⌊step/2⌋) / step⌋
    (level 0 stays 0), clamped to 255, and the result is returned as level/255. Channels with
    step = 0 (almost constant) are left as they are. PIL's ``ImageOps.equalize`` rule, as
    TF.equalize on uint8 images; batched over all images and channels with one
    ``scatter_add_`` and one ``cumsum``. (On float images TF.equalize takes the levels as
    ⌊x·255.999⌋ instead of the nearest level; the two agree on uint8-valued images.)
    """
    _check_images(x)
    if x.numel() == 0:
        return x
    return _float_op(x, _equalize)


def _solarize(x, threshold):
    return torch.where(x >= _col(threshold), 1 - x, x)


def solarize(x: torch.Tensor, threshold) -> torch.Tensor:
    """Invert the pixels at or above ``threshold``: ``x ≥ t ? 1 − x : x`` with t ≥ 0 per image
    (number or (n,)); t > 1 leaves the image unchanged (TF.solarize accepts t ≤ 1 only). On a
    uint8-valued image, t = T/255 inverts the levels k ≥ T, as TF.solarize(img_uint8, T) and
    PIL's ``ImageOps.solarize``."""
    n, *_ = _check_images(x)
    return _float_op(x, _solarize, _factor(threshold, n, "threshold", x))


def _posterize(x, bits):
    drop = (8 - bits).view(-1, 1, 1, 1)
    mask = (255 >> drop) << drop  # keep the top ``bits`` bits of every level
    return (_levels(x) & mask).float() / 255


def posterize(x: torch.Tensor, bits) -> torch.Tensor:
    """Keep the ``bits`` most significant bits (0 ≤ bits ≤ 8, an int or (n,) per image) of
    every uint8 level: ``(k & (255 − (2^(8−bits) − 1))) / 255`` with k = round(255·x); as
    TF.posterize on uint8 images and PIL's ``ImageOps.posterize`` (bits = 8: unchanged up to
    the rounding to levels, bits = 0: black). (On float images TF.posterize works on 2^bits
    levels of [0, 1] instead, ``⌊x·2^bits⌋ / 2^bits``.)"""
    n, *_ = _check_images(x)
    b = _per_sample_int(bits, n, "bits", unit="bits")
    if not bool(((b >= 0) & (b <= 8)).all()):
        raise ValueError(f"bits must lie in [0, 8]; got values in [{int(b.min())}, "
                         f"{int(b.max())}]")
    return _float_op(x, _posterize, b.to(x.device))


_SMOOTH = ((1.0, 1.0, 1.0), (1.0, 5.0, 1.0), (1.0, 1.0, 1.0))  # PIL's SMOOTH filter, / 13


def _sharpness(x, f):
    n, c, h, w = x.shape
    if h <= 2 or w <= 2:
        return x
    kernel = torch.tensor(_SMOOTH, device=x.device, dtype=x.dtype).div_(13).view(1, 1, 3, 3)
    smooth = F.conv2d(x.reshape(n * c, 1, h, w), kernel).view(n, c, h - 2, w - 2)
    out = x.clone()
    inner = x[:, :, 1:-1, 1:-1]
    out[:, :, 1:-1, 1:-1] = (smooth + _col(f) * (inner - smooth)).clamp_(0, 1)
    return out


def adjust_sharpness(x: torch.Tensor, factor) -> torch.Tensor:
    """``clamp(f·x + (1 − f)·S(x), 0, 1)`` with f ≥ 0 per image (number or (n,)) and S the
    3×3 smoothing [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13 (PIL's SMOOTH filter) on the inner
    pixels; the one-pixel border is kept (f = 0: smoothed, f = 1: unchanged, f > 1:
    sharpened). Images of at most 2 pixels in height or width are returned unchanged. As
    TF.adjust_sharpness and PIL's ``ImageEnhance.Sharpness``."""
    n, *_ = _check_images(x)
    return _float_op(x, _sharpness, _factor(factor, n, "factor", x))


# ---------------------------------------------------------------------------------------------
# DEC-DA's shift + rotation (normalised coordinates; kept as they are for DEC-DA's numbers)


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


# ---------------------------------------------------------------------------------------------
# random transforms: all parameters of a batch drawn at once on the CPU, one draw per image


class RandomTransform:
    """Base of the random transforms: ``t(x, generator=None)`` -> transformed batch.

    ``generator`` is a CPU ``torch.Generator`` (or None for the global one); every transform
    draws a fixed number of values per image and call, so a seeded generator reproduces the
    output exactly, whatever the device of ``x``.
    """

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None
                 ) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class GeometricTransform(RandomTransform):
    """A random transform that only moves pixels; :class:`Compose` fuses consecutive ones into
    one resampling through :meth:`plan`."""

    def plan(self, n: int, in_hw: tuple[int, int], device: torch.device,
             generator: torch.Generator | None = None) -> _Step:
        """Draw the parameters of ``n`` images of size ``in_hw`` as one geometric step."""
        raise NotImplementedError  # pragma: no cover - interface

    def __call__(self, x, generator=None):
        n, _, h, w = _check_images(x)
        return _resample(x, [self.plan(n, (h, w), x.device, generator)])


class RandomResizedCrop(GeometricTransform):
    """Crop a random box of every image and resize it to ``size`` (bilinear, no antialias).

    Boxes are drawn as ``torchvision.transforms.RandomResizedCrop.get_params``: area fraction
    a ~ U(scale), log aspect ratio log(w/h) ~ U(log ratio), w = round(√(a·H·W·r)),
    h = round(√(a·H·W/r)); the first of ``tries`` (10) candidates that fits in the image is
    placed uniformly (top ~ U{0, ..., H − h}, left ~ U{0, ..., W − w}); when none fits, the
    central crop of the largest box whose aspect ratio is clamped into ``ratio``. Vectorised:
    all candidates of the batch are drawn at once.
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), tries: int = 10):
        self.size = _size_hw(size)
        self.scale = _range(scale, "scale", 0.0, math.inf)
        if self.scale[1] <= 0:
            raise ValueError(f"scale must contain positive area fractions; got {scale!r}")
        self.ratio = _range(ratio, "ratio", 0.0, math.inf)
        if self.ratio[0] <= 0:
            raise ValueError(f"ratio must be positive; got {ratio!r}")
        if tries < 1:
            raise ValueError(f"tries must be at least 1; got {tries}")
        self.tries = int(tries)

    def sample_boxes(self, n: int, height: int, width: int,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        """(top, left, box_height, box_width), each an (n,) long tensor on the CPU."""
        area = height * width
        u = _rand((n, self.tries, 2), generator)
        pos = _rand((n, 2), generator)
        target = area * (self.scale[0] + (self.scale[1] - self.scale[0]) * u[..., 0])
        lo, hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        aspect = torch.exp(lo + (hi - lo) * u[..., 1])
        bw = torch.sqrt(target * aspect).round().long()
        bh = torch.sqrt(target / aspect).round().long()
        fits = (bw > 0) & (bw <= width) & (bh > 0) & (bh <= height)
        first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # first fitting candidate
        found = fits.any(dim=1)
        # fallback: central crop with the aspect ratio clamped into ``ratio``
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            fw, fh = width, int(round(width / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            fw, fh = int(round(height * self.ratio[1])), height
        else:
            fw, fh = width, height
        bw = torch.where(found, bw.gather(1, first)[:, 0], fw)
        bh = torch.where(found, bh.gather(1, first)[:, 0], fh)
        top = torch.where(found, _randint_below(pos[:, 0], height - bh + 1), (height - fh) // 2)
        left = torch.where(found, _randint_below(pos[:, 1], width - bw + 1), (width - fw) // 2)
        return top, left, bh, bw

    def plan(self, n, in_hw, device, generator=None):
        box = self.sample_boxes(n, in_hw[0], in_hw[1], generator)
        box = [b.to(device=device, dtype=torch.float32) for b in box]
        return _CropStep(*box, in_hw=in_hw, out_hw=self.size)


class RandomCrop(GeometricTransform):
    """Pad by ``padding`` zero pixels on every side, then take a random ``size`` crop (as
    torchvision's ``RandomCrop(size, padding)`` with constant fill 0): every image is moved by
    its own integer shift, up to ``padding`` pixels each way when ``size`` is the image size —
    the "weak" augmentation of FixMatch / SCAN."""

    def __init__(self, size, padding: int = 0):
        self.size = _size_hw(size)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be a non-negative int; got {padding!r}")
        self.padding = padding

    def plan(self, n, in_hw, device, generator=None):
        (h, w), (th, tw), p = in_hw, self.size, self.padding
        if th > h + 2 * p or tw > w + 2 * p:
            raise ValueError(f"crop size {self.size} is larger than the padded image "
                             f"({h + 2 * p}, {w + 2 * p})")
        u = _rand((n, 2), generator)
        dy = _randint_below(u[:, 0], torch.tensor(h + 2 * p - th + 1)) - p
        dx = _randint_below(u[:, 1], torch.tensor(w + 2 * p - tw + 1)) - p
        return _ShiftStep(dx.to(device, torch.float32), dy.to(device, torch.float32), in_hw,
                          self.size)


class RandomHorizontalFlip(GeometricTransform):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        self.p = _probability(p)

    def _mask(self, n, generator):
        return _rand(n, generator) < self.p

    def plan(self, n, in_hw, device, generator=None):
        return _FlipStep(self._mask(n, generator).to(device), in_hw)

    def __call__(self, x, generator=None):
        n, *_ = _check_images(x)
        return hflip(x, self._mask(n, generator))  # exact, no resampling


class RandomAffine(GeometricTransform):
    """Random rotation, translation and scale per image (bilinear, zero fill), drawn as
    torchvision's ``RandomAffine``: angle ~ U(degrees), dx = round(U(−a·W, a·W)),
    dy = round(U(−b·H, b·H)) pixels for ``translate`` = (a, b), scale ~ U(scale). No shear.
    ``degrees``: number d (-> (−d, d)) or (min, max)."""

    def __init__(self, degrees, translate=None, scale=None):
        if isinstance(degrees, (int, float)):
            if degrees < 0:
                raise ValueError(f"degrees must be non-negative; got {degrees}")
            degrees = (-float(degrees), float(degrees))
        self.degrees = _range(degrees, "degrees")
        self.translate = None if translate is None else self._fractions(translate)
        self.scale = None if scale is None else _range(scale, "scale", 0.0, math.inf)
        if self.scale is not None and self.scale[0] <= 0:
            raise ValueError(f"scale must be positive; got {scale!r}")

    @staticmethod
    def _fractions(translate) -> tuple[float, float]:
        if not (isinstance(translate, Sequence) and len(translate) == 2
                and all(0.0 <= float(t) <= 1.0 for t in translate)):
            raise ValueError(f"translate must be a pair of fractions (a, b) in [0, 1]; got "
                             f"{translate!r}")
        return float(translate[0]), float(translate[1])

    def plan(self, n, in_hw, device, generator=None):
        h, w = in_hw
        u = _rand((n, 4), generator)
        angle = self.degrees[0] + (self.degrees[1] - self.degrees[0]) * u[:, 0]
        if self.translate is None:
            t = torch.zeros(n, 2, dtype=torch.float64)
        else:
            mx, my = self.translate[0] * w, self.translate[1] * h
            t = torch.stack([(mx * (2 * u[:, 1] - 1)).round(),
                             (my * (2 * u[:, 2] - 1)).round()], 1)
        s = (torch.ones(n, dtype=torch.float64) if self.scale is None
             else self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 3])
        return _AffineStep(_inverse_affine(angle, t, s).to(device), in_hw)


def _jitter_range(v, name: str, center: float, bound: tuple[float, float], clip: bool
                  ) -> tuple[float, float] | None:
    """torchvision's ColorJitter convention: a number v -> [center − v, center + v] (clipped at
    0 for the multiplicative factors), or an explicit (min, max); None when it is the
    identity."""
    if v is None:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if v < 0:
            raise ValueError(f"{name} must be non-negative; got {v}")
        lo, hi = center - float(v), center + float(v)
        if clip:
            lo = max(lo, 0.0)
    else:
        lo, hi = _range(v, name)
    if not bound[0] <= lo <= hi <= bound[1]:
        raise ValueError(f"{name} range ({lo}, {hi}) must lie in {bound}")
    return None if lo == hi == center else (lo, hi)


class ColorJitter(RandomTransform):
    """Random brightness, contrast, saturation and hue, in a random order per image, applied to
    each image with probability ``p`` (SimCLR: ``ColorJitter(0.8s, 0.8s, 0.8s, 0.2s)`` with
    p = 0.8, Chen et al. 2020, appendix A).

    Factors are drawn as torchvision's ``ColorJitter``: brightness, contrast and saturation
    f ~ U[max(0, 1 − v), 1 + v] (or an explicit (min, max)), hue f ~ U[−h, h] with h ≤ ½.
    The ops: brightness ``x·f``, contrast ``(x − mean(L))·f + mean(L)``, saturation
    ``f·x + (1 − f)·L``, hue ``H -> (H + f) mod 1`` in HSV (L: luma), each clamped to [0, 1].
    The order is a uniformly random permutation per image; stage s applies to every image
    the op that its permutation puts at position s (a loop over 4 stages × 4 ops, each on
    the subset of the batch concerned).
    """

    def __init__(self, brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0, p: float = 1.0):
        self.brightness = _jitter_range(brightness, "brightness", 1.0, (0, math.inf), True)
        self.contrast = _jitter_range(contrast, "contrast", 1.0, (0, math.inf), True)
        self.saturation = _jitter_range(saturation, "saturation", 1.0, (0, math.inf), True)
        self.hue = _jitter_range(hue, "hue", 0.0, (-0.5, 0.5), False)
        self.p = _probability(p)

    def sample(self, n: int, generator: torch.Generator | None = None):
        """(apply (n,) bool, order (n, 4) long permutations, factors (n, 4) float32) on the
        CPU; factor columns: brightness, contrast, saturation, hue (identity where off)."""
        u = _rand((n, 9), generator)
        apply = u[:, 0] < self.p
        order = u[:, 1:5].argsort(dim=1)  # a uniformly random permutation per image
        factors = torch.empty(n, 4, dtype=torch.float64)
        for k, (rng, identity) in enumerate([(self.brightness, 1.0), (self.contrast, 1.0),
                                             (self.saturation, 1.0), (self.hue, 0.0)]):
            factors[:, k] = identity if rng is None else rng[0] + (rng[1] - rng[0]) * u[:, 5 + k]
        return apply, order, factors.float()

    def __call__(self, x, generator=None):
        n, c, _, _ = _check_images(x)
        apply, order, factors = self.sample(n, generator)
        ops = [(_brightness, self.brightness), (_contrast, self.contrast),
               (_saturation, None if c == 1 else self.saturation),
               (_hue, None if c == 1 else self.hue)]
        factors = factors.to(x.device)
        with _no_autocast(x):
            out = x.float().clone()
            for stage in range(4):
                for k, (op, rng) in enumerate(ops):
                    if rng is None:
                        continue
                    idx = (apply & (order[:, stage] == k)).nonzero()[:, 0]
                    if len(idx) == 0:
                        continue
                    idx = idx.to(x.device)
                    out.index_copy_(0, idx, op(out.index_select(0, idx), factors[idx, k]))
        return out.to(x.dtype)


class RandomGrayscale(RandomTransform):
    """Replace each image by its luma (3 channels kept) with probability ``p``."""

    def __init__(self, p: float = 0.1):
        self.p = _probability(p)

    def __call__(self, x, generator=None):
        n, *_ = _check_images(x)
        return rgb_to_grayscale(x, _rand(n, generator) < self.p)


class GaussianBlur(RandomTransform):
    """Gaussian blur with σ ~ U(sigma) per image on a ``kernel_size`` window, applied with
    probability ``p`` (SimCLR: kernel 10 % of the image size, σ ∈ [0.1, 2.0], p = 0.5)."""

    def __init__(self, kernel_size: int, sigma=(0.1, 2.0), p: float = 1.0):
        self.kernel_size = _check_kernel_size(kernel_size)
        self.sigma = _range(sigma, "sigma", 0.0, math.inf)
        if self.sigma[0] <= 0:
            raise ValueError(f"sigma must be positive; got {sigma!r}")
        self.p = _probability(p)

    def __call__(self, x, generator=None):
        n, _, h, w = _check_images(x)
        _check_kernel_size(self.kernel_size, h, w)
        u = _rand((n, 2), generator)
        sigma = (self.sigma[0] + (self.sigma[1] - self.sigma[0]) * u[:, 1]).float()
        idx = (u[:, 0] < self.p).nonzero()[:, 0]
        if len(idx) == 0:
            return x
        if len(idx) == n:
            return _float_op(x, _blur, sigma.to(x.device), self.kernel_size)
        idx, sigma = idx.to(x.device), sigma[idx].to(x.device)
        with _no_autocast(x):
            out = x.float().clone()
            out.index_copy_(0, idx, _blur(out.index_select(0, idx), sigma, self.kernel_size))
        return out.to(x.dtype)


class RandomErasing(RandomTransform):
    """Erase a random rectangle of each image with probability ``p`` (Zhong et al. 2020), drawn
    as torchvision's ``RandomErasing``: area fraction ~ U(scale), log(h/w) ~ U(log ratio),
    h = round(√(a·H·W·r)), w = round(√(a·H·W/r)); the first of 10 candidates with h < H and
    w < W is placed uniformly; none fits: nothing is erased. Pixels are set to ``value``."""

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0,
                 tries: int = 10):
        self.p = _probability(p)
        self.scale = _range(scale, "scale", 0.0, 1.0)
        self.ratio = _range(ratio, "ratio", 0.0, math.inf)
        if self.ratio[0] <= 0:
            raise ValueError(f"ratio must be positive; got {ratio!r}")
        self.value = value
        self.tries = int(tries)

    def sample_boxes(self, n: int, height: int, width: int,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        """(top, left, box_height, box_width, erase) as (n,) CPU tensors."""
        u = _rand((n, self.tries, 2), generator)
        v = _rand((n, 3), generator)
        target = height * width * (self.scale[0] + (self.scale[1] - self.scale[0]) * u[..., 0])
        lo, hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        aspect = torch.exp(lo + (hi - lo) * u[..., 1])
        bh = torch.sqrt(target * aspect).round().long()
        bw = torch.sqrt(target / aspect).round().long()
        fits = (bh < height) & (bw < width)
        first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)
        found = fits.any(dim=1)
        bh, bw = bh.gather(1, first)[:, 0], bw.gather(1, first)[:, 0]
        top = _randint_below(v[:, 0], height - bh + 1)
        left = _randint_below(v[:, 1], width - bw + 1)
        return top, left, bh, bw, found & (v[:, 2] < self.p)

    def __call__(self, x, generator=None):
        n, c, h, w = _check_images(x)
        top, left, bh, bw, m = self.sample_boxes(n, h, w, generator)
        dev = x.device
        return _erase(x, top.to(dev), left.to(dev), bh.to(dev), bw.to(dev),
                      _erase_value(self.value, c, dev), m.to(dev))


def _uint8_through(t: RandomTransform, x: torch.Tensor, generator) -> torch.Tensor:
    """Run float transform ``t`` on a uint8 batch: x/255 in, round(255·y) back to uint8."""
    y = t(x.to(torch.float32).div_(255), generator)
    return y.mul_(255).round_().clamp_(0, 255).to(torch.uint8)


def _affine_op(x: torch.Tensor, angle=None, translate=None, shear=None) -> torch.Tensor:
    """:func:`affine`'s resampling on a float32 batch, parameters as CPU (n,) / (n, 2)."""
    n, _, h, w = x.shape
    inv = _inverse_affine(torch.zeros(n) if angle is None else angle,
                          torch.zeros(n, 2) if translate is None else translate,
                          torch.ones(n), shear)
    return _resample(x, [_AffineStep(inv.to(x.device), (h, w))])


def _shear_deg(k: torch.Tensor, axis: int) -> torch.Tensor:
    """PIL's affine shear coefficient k as (n, 2) shear angles atan(k) in degrees (float32,
    as :func:`affine` takes them)."""
    sh = torch.zeros(len(k), 2)
    sh[:, axis] = (torch.atan(k.double()) * (180 / math.pi)).float()
    return sh


def _shift_px(v: torch.Tensor, size: int, axis: int) -> torch.Tensor:
    """A shift of v·size pixels, rounded, along ``axis`` (0: x, 1: y), as (n, 2); PIL's
    ``transform(AFFINE, (1, 0, v·W, 0, 1, 0))`` samples x + v·W, i.e. moves the content by
    −v·W."""
    t = torch.zeros(len(v), 2)
    t[:, axis] = -(v.double() * size).round().float()
    return t


# SCAN's ops: kernel(x float32 on its device, m (k,) float32 CPU magnitudes) -> x
_RAND_AUGMENT_OPS: dict[str, tuple[float, float, Callable]] = {
    "Identity": (0.0, 1.0, lambda x, m: x),
    "AutoContrast": (0.0, 1.0, lambda x, m: _autocontrast(x)),
    "Equalize": (0.0, 1.0, lambda x, m: _equalize(x)),
    # PIL's rotate(v) turns anticlockwise; affine's angle is clockwise
    "Rotate": (-30.0, 30.0, lambda x, m: _affine_op(x, angle=-m)),
    # threshold v on the 0–255 scale: levels k ≥ v are inverted (v > 255: none)
    "Solarize": (0.0, 256.0, lambda x, m: _solarize(x, (m.double() / 255).float().to(x.device))),
    "Color": (0.05, 0.95, lambda x, m: _saturation(x, m.float().to(x.device))),
    "Contrast": (0.05, 0.95, lambda x, m: _contrast(x, m.float().to(x.device))),
    "Brightness": (0.05, 0.95, lambda x, m: _brightness(x, m.float().to(x.device))),
    "Sharpness": (0.05, 0.95, lambda x, m: _sharpness(x, m.float().to(x.device))),
    "ShearX": (-0.1, 0.1, lambda x, m: _affine_op(x, shear=_shear_deg(m, 0))),
    "TranslateX": (-0.1, 0.1, lambda x, m: _affine_op(x, translate=_shift_px(m, x.shape[3], 0))),
    "TranslateY": (-0.1, 0.1, lambda x, m: _affine_op(x, translate=_shift_px(m, x.shape[2], 1))),
    # bits = int(v) as SCAN: 4, 5, 6 or 7 (v < 8; the clamp guards float32 rounding to 8)
    "Posterize": (4.0, 8.0, lambda x, m: _posterize(x, m.floor().clamp(4, 7).long().to(x.device))),
    "ShearY": (-0.1, 0.1, lambda x, m: _affine_op(x, shear=_shear_deg(m, 1))),
}

#: SCAN's 14 ops (Van Gansbeke et al. 2020, ``data/augment.py``) with their magnitude ranges.
RAND_AUGMENT_OPS: dict[str, tuple[float, float]] = {
    k: (lo, hi) for k, (lo, hi, _) in _RAND_AUGMENT_OPS.items()}

_COLOUR_ONLY = ("Color",)  # the identity on 1-channel images


class RandAugment(RandomTransform):
    """SCAN's strong policy (Van Gansbeke et al., "SCAN: Learning to Classify Images without
    Labels", ECCV 2020), after RandAugment (Cubuk et al. 2020): every image draws ``n_ops``
    ops independently, uniformly *with replacement* from ``ops`` (default: the 14 of
    :data:`RAND_AUGMENT_OPS`), each with its own magnitude v ~ U(range), and applies them in
    the drawn order:

    ======================  ==============  ==================================================
    op                      v               on the image
    ======================  ==============  ==================================================
    Identity                —               unchanged
    AutoContrast            —               :func:`autocontrast`
    Equalize                —               :func:`equalize` (256 levels)
    Rotate                  [−30, 30]       v degrees anticlockwise (PIL's ``rotate``)
    Solarize                [0, 256)        :func:`solarize` with threshold v/255 (levels ≥ v)
    Color                   [0.05, 0.95)    :func:`adjust_saturation` (none for 1 channel)
    Contrast                [0.05, 0.95)    :func:`adjust_contrast`
    Brightness              [0.05, 0.95)    :func:`adjust_brightness`
    Sharpness               [0.05, 0.95)    :func:`adjust_sharpness`
    ShearX / ShearY         [−0.1, 0.1]     PIL shear coefficient v: :func:`affine` with
                                            shear atan(v) (about the centre)
    TranslateX / Y          [−0.1, 0.1]     shift by round(v·W) (or v·H) pixels
    Posterize               [4, 8)          :func:`posterize` with int(v) ∈ {4, 5, 6, 7} bits
    ======================  ==============  ==================================================

    Geometric ops resample bilinearly with zero fill (SCAN's PIL ops: nearest, fill 0).
    Batched: for each of the ``n_ops`` positions and each op, the op runs once on the subset
    of images that drew it (``index_select`` / ``index_copy_``), so a call costs at most
    ``n_ops × len(ops)`` batched calls, whatever the batch size. Float images in [0, 1] come
    back in their dtype; uint8 images are run as x/255 and returned as uint8
    (round(255·y)).
    """

    def __init__(self, n_ops: int = 4, ops: Sequence[str] | None = None):
        if isinstance(n_ops, bool) or not isinstance(n_ops, int) or n_ops < 0:
            raise ValueError(f"n_ops must be a non-negative int; got {n_ops!r}")
        self.n_ops = n_ops
        self.ops = tuple(RAND_AUGMENT_OPS) if ops is None else tuple(ops)
        unknown = [o for o in self.ops if o not in RAND_AUGMENT_OPS]
        if unknown or not self.ops:
            raise ValueError(f"ops must be names from {', '.join(RAND_AUGMENT_OPS)}; got "
                             f"{list(self.ops)!r}")

    def sample(self, n: int, generator: torch.Generator | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(op, magnitude), each (n, n_ops) on the CPU: ``op`` indexes ``self.ops`` (long),
        ``magnitude`` is v in the op's range (float32)."""
        u = _rand((n, self.n_ops, 2), generator)
        op = _randint_below(u[..., 0], torch.tensor(len(self.ops)))
        lo, hi = torch.tensor([RAND_AUGMENT_OPS[o] for o in self.ops],
                              dtype=torch.float64).unbind(1)
        return op, (lo[op] + (hi[op] - lo[op]) * u[..., 1]).float()

    def __call__(self, x, generator=None):
        if isinstance(x, torch.Tensor) and x.dtype == torch.uint8:
            return _uint8_through(self, x, generator)
        n, c, _, _ = _check_images(x)
        op, magnitude = self.sample(n, generator)
        with _no_autocast(x):
            out = x.float().clone()
            for pos in range(self.n_ops):
                for k, name in enumerate(self.ops):
                    if name == "Identity" or (c == 1 and name in _COLOUR_ONLY):
                        continue
                    sel = (op[:, pos] == k).nonzero()[:, 0]
                    if len(sel) == 0:
                        continue
                    kernel = _RAND_AUGMENT_OPS[name][2]
                    if len(sel) == n:
                        out = kernel(out, magnitude[:, pos])
                        continue
                    idx = sel.to(x.device)
                    out.index_copy_(0, idx, kernel(out.index_select(0, idx), magnitude[sel, pos]))
        return out.to(x.dtype)


class Cutout(RandomTransform):
    """Cutout (DeVries & Taylor 2017) as in SCAN's strong view: one square hole per image, of
    side L ~ U{1, ..., ``size``} pixels, centred on a pixel (cy, cx) drawn uniformly over the
    image, rows [cy − ⌊L/2⌋, cy − ⌊L/2⌋ + L) and the same for columns, clipped at the borders,
    set to ``fill`` (a number or one per channel). SCAN fills with 0 *after* normalising by the
    data set's mean and std, i.e. with the mean colour; on images in [0, 1] the default 0.5
    (mid grey) stands for it. uint8 images are run as x/255 and returned as uint8.
    """

    def __init__(self, size: int, fill=0.5):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int; got {size!r}")
        self.size = size
        self.fill = fill

    def sample_boxes(self, n: int, height: int, width: int,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        """(top, left, box_height, box_width) as (n,) long CPU tensors, clipped to the image."""
        u = _rand((n, 3), generator)
        side = _randint_below(u[:, 0], torch.tensor(self.size)) + 1
        cy = _randint_below(u[:, 1], torch.tensor(height))
        cx = _randint_below(u[:, 2], torch.tensor(width))
        top, left = cy - side // 2, cx - side // 2
        bottom, right = (top + side).clamp(max=height), (left + side).clamp(max=width)
        top, left = top.clamp(min=0), left.clamp(min=0)
        return top, left, bottom - top, right - left

    def __call__(self, x, generator=None):
        if isinstance(x, torch.Tensor) and x.dtype == torch.uint8:
            return _uint8_through(self, x, generator)
        n, c, h, w = _check_images(x)
        box = [b.to(x.device) for b in self.sample_boxes(n, h, w, generator)]
        return _erase(x, *box, _erase_value(self.fill, c, x.device),
                      torch.ones(n, dtype=torch.bool, device=x.device))


class Normalize:
    """``(x − mean_c) / std_c`` per channel (not random; the output leaves [0, 1])."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if len(self.mean) != len(self.std) or len(self.mean) == 0:
            raise ValueError(f"mean and std need one value per channel; got {len(self.mean)} "
                             f"and {len(self.std)}")
        if min(self.std) <= 0:
            raise ValueError(f"std must be positive; got {self.std}")

    def __call__(self, x, generator=None):
        _, c, _, _ = _check_images(x)
        if len(self.mean) != c:
            raise ValueError(f"Normalize has {len(self.mean)} channel(s), x has {c}")
        mean = torch.tensor(self.mean, device=x.device).view(1, c, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, c, 1, 1)
        return _float_op(x, lambda xf: (xf - mean) / std)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Compose:
    """Apply ``transforms`` in order, passing ``generator`` to each.

    With ``fuse=True`` (default) every run of consecutive :class:`GeometricTransform` s
    (crop, flip, affine, shift) is done with a single ``grid_sample``: their maps from output
    to input coordinates are composed, so the batch is interpolated once. The random draws
    are the same as without fusing; crop + flip gives the same pixels, a chain with an affine
    differs only by the interpolation that is saved (one bilinear sampling instead of two).
    """

    def __init__(self, transforms: Sequence[Callable], fuse: bool = True):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise ValueError(f"not a transform: {t!r}")
        self._takes_generator = [_takes_generator(t) for t in self.transforms]
        self.fuse = fuse

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
        ts, i = self.transforms, 0
        while i < len(ts):
            j = i
            while self.fuse and j < len(ts) and isinstance(ts[j], GeometricTransform):
                j += 1
            if j - i >= 2:
                n, _, h, w = _check_images(x)
                steps, hw = [], (h, w)
                for t in ts[i:j]:
                    steps.append(t.plan(n, hw, x.device, generator))
                    hw = steps[-1].out_hw
                x = _resample(x, steps)
                i = j
            else:
                x = ts[i](x, generator) if self._takes_generator[i] else ts[i](x)
                i += 1
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n], fuse={self.fuse})"


def _takes_generator(t: Callable) -> bool:
    """Whether ``t(x, generator)`` is the way to call ``t`` (else ``t(x)``): our transforms,
    recipes and any callable with a ``generator`` parameter."""
    if isinstance(t, (RandomTransform, Compose, Normalize)):
        return True
    try:
        return "generator" in inspect.signature(t).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
