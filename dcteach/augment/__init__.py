"""Augmentations, batched with an independent random draw per sample, on the batch's device.

* :mod:`.image` — image tensors (n, C, H, W) in [0, 1]: functional ops with per-sample
  parameters (:func:`resized_crop`, :func:`hflip`, :func:`affine`, :func:`adjust_brightness`,
  :func:`adjust_contrast`, :func:`adjust_saturation`, :func:`adjust_hue`,
  :func:`rgb_to_grayscale`, :func:`gaussian_blur`, :func:`erase`, :func:`autocontrast`,
  :func:`equalize`, :func:`solarize`, :func:`posterize`, :func:`adjust_sharpness`), random
  transforms (:class:`RandomResizedCrop`, :class:`RandomCrop`, :class:`RandomHorizontalFlip`,
  :class:`RandomAffine`, :class:`ColorJitter`, :class:`RandomGrayscale`,
  :class:`GaussianBlur`, :class:`RandomErasing`, SCAN's :class:`RandAugment` and
  :class:`Cutout`, :class:`Compose`, :class:`Normalize`) and
  DEC-DA's :func:`random_affine` / :func:`affine_batch` (shift and rotation).
* :mod:`.recipes` — named pipelines: :func:`make_augment` (``none``, ``weak``, ``simclr``,
  ``cc``, ``digits``, ``strong``, ``scan``; see :data:`RECIPES`) and :func:`default_recipe`.
* :mod:`.embedding` — views made in a feature space when the encoder is frozen:
  :func:`embedding_view` (random neighbour swap, feature dropout, Gaussian noise).
* :mod:`.text` — views of texts on cached token states: :func:`token_dropout` (word deletion).
"""

from .embedding import embedding_view
from .image import (
    RAND_AUGMENT_OPS,
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
    affine_batch,
    autocontrast,
    equalize,
    erase,
    gaussian_blur,
    hflip,
    posterize,
    random_affine,
    resized_crop,
    rgb_to_grayscale,
    solarize,
)
from .recipes import OPTIONS, RECIPES, Augment, default_recipe, make_augment, recipe_options
from .text import token_dropout

__all__ = [
    "affine_batch", "random_affine", "embedding_view", "token_dropout",
    "resized_crop", "hflip", "affine", "adjust_brightness", "adjust_contrast",
    "adjust_saturation", "adjust_hue", "rgb_to_grayscale", "gaussian_blur", "erase",
    "autocontrast", "equalize", "solarize", "posterize", "adjust_sharpness",
    "RandomResizedCrop", "RandomCrop", "RandomHorizontalFlip", "RandomAffine", "ColorJitter",
    "RandomGrayscale", "GaussianBlur", "RandomErasing", "RandAugment", "Cutout", "Compose",
    "Normalize", "RAND_AUGMENT_OPS",
    "RECIPES", "OPTIONS", "Augment", "make_augment", "default_recipe", "recipe_options",
]
