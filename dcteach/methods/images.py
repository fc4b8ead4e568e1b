"""What every image method shares: uint8 images in, a backbone with named heads, one
optimiser with an optional cosine schedule, embedding without augmentation, and a per-epoch
k-NN monitor that only measures.

SimCLR, CC and SCAN (contrastive family), DeepCluster, and the later image methods subclass
:class:`ImageMethod` and take their network options from :class:`ImageConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..augment import RECIPES, default_recipe, make_augment
from ..cluster import KMeans, knn_accuracy
from ..data.images import image_facts, to_float
from ..nn import BACKBONES, MultiHeadNet, image_encoder
from ..train import Trainer, embed_all
from .base import ClusterMethod
from .config import option

__all__ = ["ImageConfig", "ImageMethod"]


@dataclass
class ImageConfig:
    backbone: str = option("auto", choices=("auto", *BACKBONES))
    width: int = option(16, low=1)  # the small CNN's first-stage channels
    augment: str = option("auto", choices=("auto", *RECIPES))
    standardize: bool = True  # per-channel (x − mean) / std before the backbone
    epochs: int = option(20, low=0)
    batch_size: int = option(256, low=2)
    optimizer: str = option("adam", choices=("adam", "adamw", "sgd"))
    lr: float = option(3e-4, low=0.0, low_open=True)
    weight_decay: float = option(0.0, low=0.0)
    momentum: float = option(0.9, low=0.0, high=1.0)
    cosine: bool = True  # cosine learning-rate decay to lr · 1e-3 over all steps
    amp: bool = True
    knn_queries: int = option(2000, low=0)  # k-NN monitor queries per epoch (0: off)


class ImageMethod(ClusterMethod):
    """Images (n, C, H, W) in, kept uint8 on the device and floated/augmented per batch."""

    input_kind = "image"
    keeps_uint8 = True
    Config = ImageConfig

    def _images(self, X) -> torch.Tensor:
        x = np.asarray(X)
        if x.ndim != 4:
            raise ValueError(f"{self.name} clusters images (n, C, H, W); got shape {x.shape}")
        self.facts_ = image_facts(x)
        return torch.as_tensor(x).to(self.device_)

    def _new_images(self, X) -> torch.Tensor:
        """Images given to ``predict``/``transform``, checked against the fitted ones."""
        return torch.as_tensor(self._validate(X)).to(self.device_)

    def _augment(self, x):
        """The configured augmentation recipe (``auto``: by image size and channels)."""
        c = self.config_
        recipe = default_recipe(tuple(x.shape[1:])) if c.augment == "auto" else c.augment
        return make_augment(recipe, tuple(x.shape[1:]))

    def _build(self, **heads) -> MultiHeadNet:
        """``Standardize → backbone`` with heads ``name=make(feature_dim)``."""
        c = self.config_
        enc = image_encoder(self.facts_, c.backbone, c.width, c.standardize)
        heads = {name: make(enc.out_dim) for name, make in heads.items()}
        return MultiHeadNet(enc, **heads).to(self.device_)

    def _trainer(self, model, n: int, epochs: int) -> Trainer:
        c = self.config_
        steps = max(1, epochs * (n // c.batch_size))
        sched = ((lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps,
                                                                         c.lr * 1e-3))
                 if c.cosine else None)
        return Trainer(model.parameters(), c.optimizer, c.lr, momentum=c.momentum,
                       weight_decay=c.weight_decay, device=self.device_, amp=c.amp,
                       scheduler=sched, schedule_every="step")

    def _monitor(self, x, y):
        """Per-epoch measurements (labels only measure): weighted k-NN accuracy of the
        features, ``knn_queries`` leave-one-out queries against a fixed random memory of up to
        10 000 images (k = 200 needs a memory much larger than a class); for a cluster head
        also ACC/NMI/ARI on that memory."""
        c = self.config_
        if y is None or c.knn_queries == 0:
            return lambda model: {}
        idx = np.sort(np.random.default_rng(0).permutation(len(x))[:10_000])
        xs, ys = x[torch.as_tensor(idx, device=x.device)], y[idx]

        def measure(model) -> dict:
            from ..metrics import evaluate

            out = self._embed(model, xs, ["features", *model.heads])
            row = {"knn": knn_accuracy(out["features"], ys, k=min(200, len(ys) // 20 + 1),
                                       n_queries=c.knn_queries)}
            if "cluster" in out:
                row.update(evaluate(ys, out["cluster"].argmax(1).cpu().numpy()))
            return row

        return measure

    def _kmeans_final(self, z: torch.Tensor, y, epoch: int, n_init: int) -> None:
        """The last step of every method that clusters a learned space: k-means into
        ``n_clusters`` (``n_init`` restarts, the run's seed) on ``z``; sets ``kmeans_``,
        ``embedding_`` and ``labels_`` and logs the result (phase ``kmeans``)."""
        km = KMeans(self.n_clusters, n_init=n_init, random_state=self.seed,
                    device=self.device_).fit(z)
        self.kmeans_ = km
        self.embedding_ = z.cpu().numpy()
        self.labels_ = np.asarray(km.labels_, dtype=np.int64)
        self._log("kmeans", epoch, y, self.labels_)

    def _embed(self, model, x, keys) -> dict[str, torch.Tensor]:
        """Outputs ``keys`` of the model on un-augmented images, float32."""
        heads = [k for k in keys if k != "features"]
        return embed_all(lambda b: model(to_float(b), heads), x, 1024, self.config_.amp,
                         modules=[model])

    def transform(self, X) -> np.ndarray:
        """L2-normalised backbone features of new images."""
        x = self._new_images(X)
        return F.normalize(self._embed(self.model_, x, ["features"])["features"],
                           dim=1).cpu().numpy()
