"""Augmentations, batched with an independent random draw per sample, on the batch's device.

* :mod:`.image` — image tensors: :func:`random_affine` / :func:`affine_batch` (shift and
  rotation; DEC-DA).
* :mod:`.embedding` — views made in a feature space when the encoder is frozen:
  :func:`embedding_view` (random neighbour swap, feature dropout, Gaussian noise).
"""

from .embedding import embedding_view
from .image import affine_batch, random_affine

__all__ = ["affine_batch", "random_affine", "embedding_view"]
