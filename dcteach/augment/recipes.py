"""Named augmentation recipes: batched pipelines built from :mod:`dcteach.augment.image`.

``make_augment(name, image_shape, **overrides)`` returns a callable
``augment(x, generator=None)`` that takes a batch (n, C, H, W) — uint8 in [0, 255] or float in
[0, 1], on any device; a flattened (n, C·H·W) batch is accepted too — and returns float
images (n, C, H, W) in [0, 1] on the same device, with an independent random draw for every
image. ``default_recipe(image_shape)`` picks one for a data set.

The recipes (``RECIPES`` maps each name to a one-line description):

* ``none`` / ``original`` — identity (only the uint8 -> float conversion x/255).
* ``weak`` — the "weak" view of FixMatch (Sohn et al. 2020) and SCAN (Van Gansbeke et al.
  2020): random horizontal flip (p = ½; not for 1-channel images, i.e. digits) and a random
  crop after zero padding by size // 8 pixels (4 for 32-px images), i.e. a random integer
  shift of up to size // 8 pixels each way.
* ``simclr`` — SimCLR (Chen, Kornblith, Norouzi & Hinton 2020, appendix A) with SCAN's CIFAR
  settings: RandomResizedCrop(scale (0.2, 1)), flip p = ½, ColorJitter(0.4, 0.4, 0.4, 0.1)
  with p = 0.8, grayscale p = 0.2. No colour ops for 1-channel images.
* ``cc`` — Contrastive Clustering (Li et al. 2021): as ``simclr`` with colour strength
  s = 0.5, ColorJitter(0.8s, 0.8s, 0.8s, 0.2s) p = 0.8, grayscale p = 0.2,
  RandomResizedCrop(scale (0.08, 1)).
* ``idfd`` — IDFD (Tao et al. 2021, official code): RandomResizedCrop(scale (0.2, 1)),
  ColorJitter(0.4, 0.4, 0.4) always applied (no hue), grayscale p = 0.2, **no flip**. No
  colour ops for 1-channel images.
* ``digits`` — digit-friendly (no flip: mirrored digits change meaning; no colour):
  RandomResizedCrop(scale (0.7, 1), ratio (0.8, 1.25)), RandomAffine(±10°, shift ≤ 10 %)
  fused into one resampling. Milder than CIFAR's crops: k-means on the features of MNIST
  trained with crops down to 50 % and random erasing clustered far worse (0.43 vs 0.70 ACC).
* ``strong`` — the lectures' "strong" augmentation: ``simclr`` + GaussianBlur (kernel ≈ 10 %
  of the image size, odd, σ ∈ [0.1, 2], p = ½, as SimCLR) + RandomErasing(p = ½).
* ``scan`` — SCAN's strong view (Van Gansbeke et al., ECCV 2020, used in its
  self-labelling step): the ``weak`` flip and pad-and-crop, then :class:`RandAugment` — 4 ops
  per image drawn with replacement from SCAN's 14 (identity, autocontrast, equalize, rotate
  ±30°, solarize, colour / contrast / brightness / sharpness factors in [0.05, 0.95], shear
  x / y ±0.1, translate x / y ±10 %, posterize 4–7 bits) with uniform magnitudes — then
  :class:`Cutout`: one square hole of side 1 to size // 2 pixels (16 at 32 px) filled with
  0.5 (SCAN fills with 0 after normalising, i.e. with the mean colour). (SCAN's own
  ``RandomCrop(32)`` on 32-px images has no padding and crops nothing; the padding here is the
  ``weak`` recipe's.)

The ops (per image, factor f drawn per image, L = 0.2989 R + 0.587 G + 0.114 B):
brightness ``x·f``; contrast ``(x − mean L)·f + mean L``; saturation ``f·x + (1 − f)·L``;
hue ``H -> (H + f) mod 1`` in HSV; each clamped to [0, 1] — the maths of
``torchvision.transforms.v2.functional``, against which the tests check every op.

Every option of a recipe can be overridden by keyword, e.g.
``make_augment("simclr", (3, 32, 32), crop_scale=(0.08, 1.0), p_gray=0.0)``; see
:data:`OPTIONS` for the names and :func:`recipe_options` for a recipe's values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .image import (
    ColorJitter,
    Compose,
    Cutout,
    GaussianBlur,
    RandAugment,
    RandomAffine,
    RandomCrop,
    RandomErasing,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomResizedCrop,
)

__all__ = ["RECIPES", "OPTIONS", "Augment", "make_augment", "default_recipe", "recipe_options"]

RECIPES: dict[str, str] = {
    "none": "identity (uint8 -> float in [0, 1] only)",
    "original": "alias of 'none'",
    "weak": "flip p=0.5 (not for 1-channel images) + random shift of up to size//8 pixels "
            "(pad-and-crop; FixMatch/SCAN weak view)",
    "simclr": "RandomResizedCrop(0.2, 1) + flip + ColorJitter(0.4, 0.4, 0.4, 0.1) p=0.8 + "
              "grayscale p=0.2 (SimCLR, SCAN's CIFAR settings; no colour for 1 channel)",
    "cc": "as simclr with strength s=0.5: RandomResizedCrop(0.08, 1) + flip + "
          "ColorJitter(0.8s, 0.8s, 0.8s, 0.2s) p=0.8 + grayscale p=0.2 (Contrastive Clustering)",
    "idfd": "RandomResizedCrop(0.2, 1) + ColorJitter(0.4, 0.4, 0.4) p=1 + grayscale p=0.2, "
            "no flip (IDFD; no colour for 1 channel)",
    "digits": "RandomResizedCrop(0.7, 1; ratio 0.8-1.25) + RandomAffine(10 deg, 10 % shift) "
              "(no flip, no colour; MNIST-like digits)",
    "strong": "simclr + GaussianBlur(kernel ~10 % of size, p=0.5) + RandomErasing p=0.5",
    "scan": "weak (flip, shift <= size//8) + RandAugment 4 of SCAN's 14 ops per image + "
            "Cutout (one hole, side <= size//2, fill 0.5) (SCAN's strong view)",
}

#: Every option a recipe can take, with its meaning; a recipe uses the ones it sets.
OPTIONS: dict[str, str] = {
    "crop_scale": "RandomResizedCrop area fraction range (min, max); None: no resized crop",
    "crop_ratio": "RandomResizedCrop aspect-ratio range (min, max)",
    "pad": "random shift of up to this many pixels (pad-and-crop, zero fill); 0: none",
    "degrees": "RandomAffine rotation range ±degrees; 0 with translate 0: no affine",
    "translate": "RandomAffine shift as a fraction of the size (same for x and y)",
    "p_flip": "probability of a horizontal flip",
    "jitter": "ColorJitter (brightness, contrast, saturation, hue); None: no jitter",
    "p_jitter": "probability of applying the colour jitter",
    "p_gray": "probability of converting to grayscale",
    "blur_kernel": "GaussianBlur kernel size (odd) or None: no blur",
    "blur_sigma": "GaussianBlur sigma range (min, max)",
    "p_blur": "probability of blurring",
    "p_erase": "probability of RandomErasing; 0: none",
    "erase_scale": "RandomErasing area fraction range (min, max)",
    "erase_ratio": "RandomErasing aspect-ratio range (min, max)",
    "n_ops": "RandAugment: ops per image, drawn with replacement from SCAN's 14; 0: none",
    "cutout": "Cutout: largest side in pixels of the one square hole per image (side uniform "
              "in 1..cutout); 0: none",
    "cutout_fill": "Cutout: value of the hole (number or one per channel; 0.5: mid grey)",
}

_OFF = dict(crop_scale=None, crop_ratio=(3 / 4, 4 / 3), pad=0, degrees=0.0, translate=0.0,
            p_flip=0.0, jitter=None, p_jitter=0.8, p_gray=0.0, blur_kernel=None,
            blur_sigma=(0.1, 2.0), p_blur=0.5, p_erase=0.0, erase_scale=(0.02, 0.33),
            erase_ratio=(0.3, 3.3), n_ops=0, cutout=0, cutout_fill=0.5)


def _image_shape(image_shape: Sequence[int]) -> tuple[int, int, int]:
    if len(image_shape) != 3 or not all(int(s) == s and s > 0 for s in image_shape):
        raise ValueError(f"image_shape must be (C, H, W); got {tuple(image_shape)!r}")
    c, h, w = (int(s) for s in image_shape)
    if c not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels; image_shape is {(c, h, w)}")
    return c, h, w


def _blur_kernel(size: int) -> int:
    """An odd kernel of about 10 % of the image size, at least 3 (SimCLR)."""
    return max(3, int(0.1 * size)) | 1


def recipe_options(name: str, image_shape: Sequence[int]) -> dict:
    """The options (see :data:`OPTIONS`) of recipe ``name`` for images of ``image_shape``."""
    c, h, w = _image_shape(image_shape)
    key = name.lower() if isinstance(name, str) else name
    if key not in RECIPES:
        valid = ", ".join(repr(k) for k in RECIPES)
        raise ValueError(f"unknown augmentation recipe {name!r}; valid recipes: {valid}")
    size, colour = min(h, w), c == 3
    o = dict(_OFF)
    if key == "weak":
        o.update(pad=max(1, size // 8), p_flip=0.5 if colour else 0.0)
    elif key in ("simclr", "cc", "strong"):
        o.update(crop_scale=(0.2, 1.0), p_flip=0.5)
        if colour:
            o.update(jitter=(0.4, 0.4, 0.4, 0.1), p_jitter=0.8, p_gray=0.2)
        if key == "cc":
            s = 0.5
            o.update(crop_scale=(0.08, 1.0))
            if colour:
                o.update(jitter=(0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s))
        if key == "strong":
            o.update(blur_kernel=_blur_kernel(size), p_blur=0.5, p_erase=0.5)
    elif key == "idfd":
        o.update(crop_scale=(0.2, 1.0))
        if colour:
            o.update(jitter=(0.4, 0.4, 0.4, 0.0), p_jitter=1.0, p_gray=0.2)
    elif key == "scan":
        o.update(pad=max(1, size // 8), p_flip=0.5 if colour else 0.0, n_ops=4,
                 cutout=max(1, size // 2))
    elif key == "digits":
        # mild crops: on MNIST (10k images, 6 SimCLR epochs) k-means on the head output gave
        # 0.70 with crops of 70–100 % and no erasing, 0.43 with 50–100 % and erasing
        o.update(crop_scale=(0.7, 1.0), crop_ratio=(0.8, 1.25), degrees=10.0, translate=0.1)
    return o


def _pipeline(c: int, h: int, w: int, o: dict) -> Compose:
    ts = []
    if o["crop_scale"] is not None:
        ts.append(RandomResizedCrop((h, w), scale=o["crop_scale"], ratio=o["crop_ratio"]))
    if o["pad"]:
        ts.append(RandomCrop((h, w), padding=int(o["pad"])))
    if o["p_flip"] > 0:
        ts.append(RandomHorizontalFlip(o["p_flip"]))
    if o["degrees"] or o["translate"]:
        ts.append(RandomAffine(float(o["degrees"]),
                               translate=(float(o["translate"]),) * 2 if o["translate"] else None))
    if o["jitter"] is not None and o["p_jitter"] > 0:
        jitter = tuple(o["jitter"])
        if len(jitter) != 4:
            raise ValueError(f"jitter must be (brightness, contrast, saturation, hue); "
                             f"got {o['jitter']!r}")
        ts.append(ColorJitter(*jitter, p=o["p_jitter"]))
    if o["p_gray"] > 0:
        ts.append(RandomGrayscale(o["p_gray"]))
    if o["blur_kernel"] is not None and o["p_blur"] > 0:
        ts.append(GaussianBlur(int(o["blur_kernel"]), sigma=o["blur_sigma"], p=o["p_blur"]))
    if o["p_erase"] > 0:
        ts.append(RandomErasing(o["p_erase"], scale=o["erase_scale"], ratio=o["erase_ratio"]))
    if o["n_ops"]:
        ts.append(RandAugment(int(o["n_ops"])))
    if o["cutout"]:
        ts.append(Cutout(int(o["cutout"]), fill=o["cutout_fill"]))
    return Compose(ts)


class Augment:
    """A named recipe bound to an image shape: ``augment(x, generator=None)``.

    ``x``: (n, C, H, W) or (n, C·H·W), uint8 (converted to float x/255 on x's device) or
    float in [0, 1]; returns float (n, C, H, W) in [0, 1] (float32 for uint8 input, else
    x's dtype). ``generator``: a CPU ``torch.Generator`` for reproducible draws.
    """

    def __init__(self, name: str, image_shape: Sequence[int], options: dict):
        self.name = name
        self.image_shape = _image_shape(image_shape)
        self.options = dict(options)
        self.transform = _pipeline(*self.image_shape, self.options)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None
                 ) -> torch.Tensor:
        c, h, w = self.image_shape
        if not isinstance(x, torch.Tensor) or x.ndim not in (2, 4) \
                or math.prod(x.shape[1:]) != c * h * w:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"augment {self.name!r} expects (n, {c}, {h}, {w}) or "
                             f"(n, {c * h * w}) images; got {shape}")
        if x.ndim == 4 and tuple(x.shape[1:]) != (c, h, w):
            raise ValueError(f"augment {self.name!r} expects (n, {c}, {h}, {w}) images; got "
                             f"{tuple(x.shape)}")
        x = x.reshape(len(x), c, h, w)
        if x.dtype == torch.uint8:
            x = x.to(torch.float32).div_(255)
        elif not x.is_floating_point():
            raise ValueError(f"images must be uint8 or float; got {x.dtype}")
        return self.transform(x, generator)

    def __repr__(self) -> str:
        return f"Augment({self.name!r}, {self.image_shape}, {self.transform!r})"


def make_augment(name: str, image_shape: Sequence[int], **overrides) -> Augment:
    """The augmentation recipe ``name`` (see :data:`RECIPES`) for images of ``image_shape``
    (C, H, W), with any option of :data:`OPTIONS` overridden by keyword."""
    options = recipe_options(name, image_shape)
    unknown = sorted(set(overrides) - set(OPTIONS))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for augmentation recipe {name!r}; "
                         f"valid options: {', '.join(OPTIONS)}")
    options.update(overrides)
    return Augment(name.lower(), image_shape, options)


def default_recipe(image_shape: Sequence[int]) -> str:
    """``"digits"`` for 1-channel images of at most 32 px, else ``"simclr"``."""
    c, h, w = _image_shape(image_shape)
    return "digits" if c == 1 and max(h, w) <= 32 else "simclr"
