"""The record type shared by every loader: :class:`ClusterData`, and :class:`DatasetNotFound`.

Nothing here imports the loaders (``datasets``) or the text readers (``corpora``): both import
this module, so neither has to import the other to build a :class:`ClusterData`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ClusterData", "DatasetNotFound"]


class DatasetNotFound(FileNotFoundError):
    """A data set is not on disk and could not be downloaded."""


@dataclass
class ClusterData:
    """A data set split held in memory.

    ``x`` is an image array ``(n, C, H, W)`` — uint8 for image files, float32 in [0, 1] for
    the embedded 8×8 digits —, a float32 array of vectors ``(n, d)``, or a list of strings for
    text corpora. ``y`` holds integer labels, or ``None`` for unlabelled data. Image data sets
    carry their :class:`~dcteach.data.images.ImageFacts` in ``meta["facts"]``.
    """

    name: str
    x: np.ndarray | list[str]
    y: np.ndarray | None
    n_clusters: int
    class_names: list[str]
    kind: str = "vector"  # "vector" | "image" | "text"
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def flat(self) -> np.ndarray:
        """Samples as flat float32 vectors ``(n, d)`` (images flattened, uint8 scaled to
        [0, 1])."""
        return self.floats.reshape(len(self.x), -1)

    @property
    def floats(self) -> np.ndarray:
        """``x`` as float32, uint8 images scaled to [0, 1] (a copy for uint8 data)."""
        if self.kind == "text":
            raise ValueError(f"{self.name} is a text corpus: embed it first (dcteach.features)")
        x = np.asarray(self.x)
        if x.dtype == np.uint8:
            return x.astype(np.float32) / np.float32(255.0)
        return x.astype(np.float32, copy=False)

    @property
    def facts(self):
        """Image facts (size, channels, mean/std, default backbone) of an image data set."""
        if self.kind != "image":
            raise ValueError(f"{self.name} is not an image data set")
        if "facts" not in self.meta:
            from .images import image_facts

            self.meta["facts"] = image_facts(self.x)
        return self.meta["facts"]

    def subset(self, n: int | None, seed: int = 0) -> ClusterData:
        """A random subset of ``n`` samples (stratification-free, reproducible)."""
        if n is None or n >= len(self):
            return self
        idx = np.sort(np.random.default_rng(seed).choice(len(self), size=n, replace=False))
        x = [self.x[i] for i in idx] if self.kind == "text" else self.x[idx]
        y = None if self.y is None else self.y[idx]
        return ClusterData(self.name, x, y, self.n_clusters, self.class_names, self.kind,
                           dict(self.meta, subset=n))

    def __repr__(self) -> str:
        shape = (len(self.x),) if self.kind == "text" else tuple(np.shape(self.x))
        return (f"ClusterData(name={self.name!r}, kind={self.kind}, x={shape}, "
                f"n_clusters={self.n_clusters})")
