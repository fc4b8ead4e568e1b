"""SCAN — Semantic Clustering by Adopting Nearest neighbours (Van Gansbeke, Vandenhende,
Georgoulis, Proesmans & Van Gool, ECCV 2020), lecture 06; on texts, lecture 08.

Algorithm (the paper's three steps)::

    1. pretext     learn features Φ(x) with a pretext task (images: SimCLR, the cached
                   artifact shared with `simclr`; texts: the frozen sentence encoder)
    2. mining      N(i) = the k nearest neighbours of every sample in that space
    3. SCAN        train the network with H cluster heads on
                       −(1/n) Σ_i log⟨p_i, p_j⟩  −  λ · H(p̄)      (j drawn from N(i),
                   both strongly augmented); keep the head with the lowest loss on the
                   *training* data
    4. self-label  (``scan-selflabel``) samples whose weak-view prediction is ≥ 0.99 confident
                   supervise their strong view through a class-balanced cross-entropy

``scan-sl`` swaps step 3's loss for the structure-learning loss of seed 004
(:func:`dcteach.losses.structured_scan_loss`). The input kind only decides what step 1
delivers (:class:`PretextStage`): images are augmented on the fly and the whole network trains;
texts are fixed features with dropout as the augmentation (``text-scan``, ``text-selflabel``).
Each stage checkpoints (``--out``, ``--resume``) and the trained SCAN network is a cached
artifact, so ``scan-selflabel`` after ``scan`` with the same settings starts at step 4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import distributed
from ..augment import RECIPES, make_augment
from ..cluster import KMeans, mine_neighbours, neighbour_accuracy, smooth_features
from ..data.images import to_float
from ..losses import (
    balanced_cross_entropy,
    class_balance_weights,
    confident_pseudo_labels,
    neighbour_weights,
    scan_loss,
    structured_scan_loss,
)
from ..nn import ClusterHeads, MultiHeadNet, ProjectionHead
from ..pretext import cached_pretext
from ..train import Trainer, embed_all, minibatches
from .base import ClusterMethod, option, register
from .contrastive import QUICK, ContrastiveConfig, ContrastiveMethod
from .inputs import TextFeatureConfig, TextInput

__all__ = ["SCANOptions", "SCANConfig", "PretextStage", "SCANAlgorithm", "SCAN",
           "SCANSelfLabel", "StructureSCAN", "TextSCAN", "TextSelfLabel", "TextSCANConfig"]


@dataclass
class SCANOptions:
    """Steps 2–4 (every input kind)."""

    n_neighbours: int = option(20, low=1)  # k of the mined k-NN (one drawn per anchor)
    entropy_weight: float = option(5.0, low=0.0)  # λ
    n_heads: int = option(10, low=1)  # heads trained at once; the lowest-loss one is kept
    scan_epochs: int = option(50, low=0)
    scan_batch_size: int = option(128, low=2)
    scan_lr: float = option(1e-4, low=0.0, low_open=True)  # Adam, the encoder's
    scan_head_lr: float = option(1e-4, low=0.0, low_open=True)  # Adam, the cluster heads'
    scan_weight_decay: float = option(1e-4, low=0.0)
    init: str = option("random", choices=("random", "kmeans"))  # heads start at k-means?
    init_temperature: float = option(0.05, low=0.0, low_open=True)
    n_init: int = option(10, low=1)  # k-means restarts for init=kmeans (split over heads)
    selflabel_epochs: int = option(0, low=0)  # > 0: step 4
    selflabel_batch_size: int = option(1000, low=2)
    selflabel_lr: float = option(1e-4, low=0.0, low_open=True)
    threshold: float = option(0.99, low=0.0, high=1.0)  # confidence of a pseudo-label
    # the structure-learning variant (scan-sl); ignored by plain SCAN
    neighbour_temperature: float = option(8.0, low=0.0, low_open=True)  # τ_c of w_ij
    contrast_weight: float = option(1.0, low=0.0)  # η_cc
    cluster_temperature: float = option(1.0, low=0.0, low_open=True)  # τ_cc


@dataclass
class SCANConfig(SCANOptions, ContrastiveConfig):
    """Images: ``epochs``, ``lr``, ``batch_size``, ... are the SimCLR pretext's (the same
    names and cache key as ``simclr``); the ``scan_*`` and ``selflabel_*`` ones steps 3–4."""

    strong_augment: str = option("scan", choices=tuple(RECIPES))  # SCAN's strong view
    weak_augment: str = option("weak", choices=tuple(RECIPES))  # self-labelling's weak view
    train_backbone: bool = True  # False: only the cluster heads train (SCAN's ablation)


@dataclass
class PretextStage:
    """What step 1 hands to steps 2–4, whatever the input kind."""

    data: torch.Tensor  # what mini-batches index: uint8 images or feature rows
    encoder: nn.Module  # clean(batch) or a view of it -> features h
    space: torch.Tensor  # (n, d) pretext features where neighbours are mined (and k-means
    #                      runs for init=kmeans)
    clean: Callable  # batch -> encoder input without augmentation
    scan_view: Callable  # batch -> SCAN's augmented view
    weak_view: Callable  # batch -> self-labelling's view for confidences
    selflabel_view: Callable  # batch -> self-labelling's view to train on
    neighbours: torch.Tensor | None = None  # mined already (else mined in `space`)
    cache_key: dict | None = field(default=None)  # None: the SCAN stage is not cached


class SCANAlgorithm:
    """Steps 2–4 of SCAN on any :class:`PretextStage`; a method supplies ``_pretext_stage``."""

    loss_name = "scan"  # step 3's loss (part of the SCAN stage's cache key)

    def _pretext_stage(self, X, y) -> PretextStage:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, X, y):
        c, k = self.config_, self.n_clusters
        stage = self._pretext_stage(X, y)                                       # step 1
        nbrs = stage.neighbours
        if nbrs is None:
            nbrs = mine_neighbours(stage.space, c.n_neighbours)                # step 2
        self.neighbours_ = nbrs = nbrs[:, :c.n_neighbours]
        if y is not None:
            self._log("mining", 0, neighbour_accuracy=neighbour_accuracy(nbrs, y),
                      k=int(nbrs.shape[1]))
        model = MultiHeadNet(stage.encoder, cluster=ClusterHeads(stage.encoder.out_dim, k,
                                                                 c.n_heads)).to(self.device_)
        self.model_, self.stage_ = model, stage
        if c.init == "kmeans":
            self._init_heads(model, stage)
        if stage.cache_key is not None:                                         # step 3
            key = dict(stage.cache_key, loss=self.loss_name, steps=self._step_settings())
            cached_pretext("scan", model, key, lambda: self._scan(model, stage, nbrs, y),
                           verbose=self.verbose)
        else:
            self._scan(model, stage, nbrs, y)
        self.head_, probs, losses = self._best_head(model, stage, nbrs)
        self._log("scan-final", c.scan_epochs, y, probs.argmax(1).cpu().numpy(),
                  head=self.head_, best_loss=losses[self.head_])
        if c.selflabel_epochs > 0:                                              # step 4
            probs = self._self_label(model, stage, y)
        self.probabilities_ = probs.cpu().numpy()
        self.labels_ = probs.argmax(1).cpu().numpy().astype(np.int64)
        self._log("final", 0, y, self.labels_)

    def _step_settings(self) -> dict:
        """The settings of step 3 (the SCAN stage's cache key, with the pretext's)."""
        return {name: getattr(self.config_, name) for name in SCANOptions.__dataclass_fields__
                if not name.startswith(("selflabel", "threshold"))}

    # -- step 3 -------------------------------------------------------------------------
    def _pair_weights(self, anchors, neighbours):
        """Per-pair weights of step 3's loss (None: all 1), computed once for every head."""
        return None

    def _pair_loss(self, pa, pn, weights):
        """Step 3's loss for one head on anchor / neighbour predictions (n, K)."""
        total, consistency, entropy = scan_loss(pa, pn, self.config_.entropy_weight)
        return total, {"consistency": consistency, "entropy": entropy}

    def _scan(self, model, stage: PretextStage, nbrs, y) -> None:
        c = self.config_
        params = [{"params": model.heads.parameters(), "lr": c.scan_head_lr}]
        if self._trains_encoder():
            params.append({"params": model.encoder.parameters(), "lr": c.scan_lr})
        trainer = Trainer(params, "adam", c.scan_lr, weight_decay=c.scan_weight_decay,
                          device=self.device_, amp=getattr(c, "amp", False))
        net = distributed.wrap(model, self.device_)
        x = stage.data

        def step(idx):
            idx = distributed.shard(idx)
            j = nbrs[idx, torch.randint(0, nbrs.shape[1], (len(idx),), device=idx.device)]
            m = len(idx)
            logits = net(torch.cat([stage.scan_view(x[idx]), stage.scan_view(x[j])]),
                         ["cluster"])["cluster"].float()                  # (heads, 2m, K)
            p = logits.softmax(-1)
            total, parts, w = 0.0, {}, self._pair_weights(idx, j)
            for h in range(c.n_heads):
                loss, hp = self._pair_loss(p[h, :m], p[h, m:], w)
                total = total + loss
                parts = {kk: parts.get(kk, 0.0) + v / c.n_heads for kk, v in hp.items()}
            return total, parts

        for epoch in self.run_.epochs("scan", c.scan_epochs, model=model, trainer=trainer):
            self._train_mode(model)
            parts = trainer.run(step, minibatches(len(x), c.scan_batch_size, self.device_,
                                                  drop_last=len(x) > c.scan_batch_size))
            best, probs, losses = self._best_head(model, stage, nbrs)
            self._log("scan", epoch, y, probs.argmax(1).cpu().numpy(), head=best,
                      best_loss=losses[best], **parts)

    def _trains_encoder(self) -> bool:
        return bool(getattr(self.config_, "train_backbone", False)) and any(
            p.requires_grad for p in self.stage_.encoder.parameters())

    def _train_mode(self, model) -> None:
        model.train()
        if not self._trains_encoder():  # a frozen encoder keeps its batch-norm statistics
            model.encoder.eval()

    def _predict_all(self, model, stage: PretextStage, x) -> torch.Tensor:
        """Cluster-head logits ``(heads, n, K)`` of un-augmented inputs."""
        return embed_all(lambda b: model(stage.clean(b), ["cluster"])["cluster"].transpose(0, 1),
                         x, 1024, getattr(self.config_, "amp", False),
                         modules=[model]).transpose(0, 1)

    @torch.no_grad()
    def _best_head(self, model, stage: PretextStage, nbrs):
        """The head with the lowest step-3 loss on the *training* data, every anchor against
        each of its mined neighbours, un-augmented (the official code selects on test-set
        neighbours; the kit never looks at data it reports on)."""
        probs = self._predict_all(model, stage, stage.data).softmax(-1)
        anchors = torch.arange(len(nbrs), device=nbrs.device).repeat_interleave(nbrs.shape[1])
        flat = nbrs.reshape(-1)
        w = self._pair_weights(anchors, flat)
        losses = [float(self._pair_loss(p[anchors], p[flat], w)[0]) for p in probs]
        best = int(np.argmin(losses))
        return best, probs[best], losses

    @torch.no_grad()
    def _init_heads(self, model, stage: PretextStage) -> None:
        """Fit each head by least squares to the soft assignments of a k-means solution in
        the pretext space (k-means with a different seed per head)."""
        c, k = self.config_, self.n_clusters
        heads = model.heads["cluster"]
        h = embed_all(lambda b: model.encoder(stage.clean(b)), stage.data, 1024, modules=[model])
        design = torch.cat([h, torch.ones(len(h), 1, device=h.device)], 1)
        weights = []
        for i in range(c.n_heads):
            km = KMeans(k, n_init=max(1, c.n_init // c.n_heads), random_state=self.seed * 100 + i,
                        device=self.device_).fit(stage.space)
            cen = F.normalize(torch.as_tensor(km.cluster_centers_, device=h.device).float(), dim=1)
            logits = F.normalize(stage.space.float(), dim=1) @ cen.T / c.init_temperature
            weights.append(torch.linalg.lstsq(design, logits - logits.mean(1, keepdim=True)
                                              ).solution)
        w = torch.stack(weights, 1)  # (dim+1, heads, k)
        heads.linear.weight.copy_(w[:-1].reshape(h.shape[1], -1).T)
        heads.linear.bias.copy_(w[-1].reshape(-1))

    # -- step 4 -------------------------------------------------------------------------
    def _self_label(self, model, stage: PretextStage, y) -> torch.Tensor:
        """SCAN's self-labelling on the chosen head: per mini-batch, the samples whose
        prediction on the weak view is ≥ ``threshold`` confident get their argmax as a label,
        and the strong view is trained on it with class weights ``n / (K · count_c)`` from the
        batch's confident samples (balanced cross-entropy)."""
        c, k = self.config_, self.n_clusters
        model.heads["cluster"] = _one_head(model.heads["cluster"], self.head_)
        trainer = Trainer(model.parameters() if self._trains_encoder()
                          else model.heads.parameters(), "adam", c.selflabel_lr,
                          weight_decay=c.scan_weight_decay, device=self.device_,
                          amp=getattr(c, "amp", False))
        net = distributed.wrap(model, self.device_)
        x = stage.data

        def step(idx):
            xb = x[distributed.shard(idx)]
            with torch.no_grad():
                p = net(stage.weak_view(xb), ["cluster"])["cluster"][0].float().softmax(1)
            labels, mask = confident_pseudo_labels(p, c.threshold)
            logits = net(stage.selflabel_view(xb), ["cluster"])["cluster"][0].float()
            if not mask.any():  # nothing confident in this batch: no signal, no update
                return logits.sum() * 0.0, {"confident": torch.zeros(())}
            weight = class_balance_weights(labels[mask], k)
            loss = balanced_cross_entropy(logits[mask], labels[mask], weight)
            return loss, {"confident": mask.float().mean()}

        for epoch in self.run_.epochs("selflabel", c.selflabel_epochs, model=model,
                                      trainer=trainer):
            self._train_mode(model)
            parts = trainer.run(step, minibatches(len(x), c.selflabel_batch_size,
                                                  self.device_, min_size=2))
            probs = self._predict_all(model, stage, x)[0].softmax(1)
            self._log("selflabel", epoch, y, probs.argmax(1).cpu().numpy(), **parts)
        return self._predict_all(model, stage, x)[0].softmax(1)

    def predict(self, X) -> np.ndarray:
        """argmax of the chosen cluster head on new inputs (un-augmented)."""
        x = self._new_input(X)
        logits = self._predict_all(self.model_, self.stage_, x)
        head = 0 if logits.shape[0] == 1 else self.head_
        return logits[head].argmax(1).cpu().numpy().astype(np.int64)


@torch.no_grad()
def _one_head(heads: ClusterHeads, h: int) -> ClusterHeads:
    """A one-head :class:`ClusterHeads` holding head ``h`` of ``heads``."""
    single = ClusterHeads(heads.linear.in_features, heads.k, 1).to(heads.linear.weight.device)
    lin = heads.head(h)
    single.linear.weight.copy_(lin.weight)
    single.linear.bias.copy_(lin.bias)
    return single


# ------------------------------------------------------------------------------- images
@register
class SCAN(SCANAlgorithm, ContrastiveMethod):
    """SCAN on images: SimCLR pretext (cached), neighbours mined on its normalised head
    output, the whole network trained with cluster heads on strongly augmented pairs."""

    name = "scan"
    description = "SCAN: SimCLR pretext, k-NN mining, neighbour-consistency heads (images)"
    Config = SCANConfig
    presets = {
        "quick": {**QUICK, "scan_epochs": 2, "n_heads": 3, "knn_queries": 0,
                  "scan_head_lr": 1e-2},
        # MNIST-70k on a 2-core CPU in about 10 minutes: 8 SimCLR epochs (small CNN), then 3
        # SCAN epochs of the whole network. The heads learn at 1e-2 (the paper: 1e-4 for
        # everything over 50+ epochs; at 1e-4 random heads on the 64-d features stay near
        # uniform for the first epochs: ACC 14 % after one epoch instead of 92 %)
        "fast": {"epochs": 8, "batch_size": 256, "lr": 1e-3, "scan_epochs": 3,
                 "scan_batch_size": 256, "scan_lr": 1e-4, "scan_head_lr": 1e-2},
        # SCAN's CIFAR-10 settings: SimCLR 500 epochs (SGD 0.4, batch 512, τ 0.1), SCAN
        # 50 epochs (Adam 1e-4, wd 1e-4, batch 128, λ 5, 10 heads, 20 neighbours)
        "paper": {"epochs": 500, "batch_size": 512, "optimizer": "sgd", "lr": 0.4,
                  "weight_decay": 1e-4, "temperature": 0.1, "scan_epochs": 50},
    }

    def _pretext_stage(self, X, y) -> PretextStage:
        c = self.config_
        x = self._images(X)
        shape = tuple(x.shape[1:])
        model = self._build(z=lambda d: ProjectionHead(d, c.proj_hidden, c.proj_dim))
        self._simclr_pretext(model, x, y, c.epochs)
        space = F.normalize(self._embed(model, x, ["z"])["z"], dim=1)
        if not c.train_backbone:
            model.encoder.requires_grad_(False)
        strong = make_augment(c.strong_augment, shape)
        settings = {k: getattr(c, k) for k in ("strong_augment", "weak_augment",
                                               "train_backbone", "amp")}
        return PretextStage(
            data=x, encoder=model.encoder, space=space, clean=to_float, scan_view=strong,
            weak_view=make_augment(c.weak_augment, shape), selflabel_view=strong,
            cache_key=None if not c.cache else {
                "pretext": self._pretext_key(x, c.epochs), "views": settings,
                "seed": self.seed})

    def _new_input(self, X):
        return self._new_images(X)

    def transform(self, X) -> np.ndarray:
        """L2-normalised backbone features of new images (after SCAN's training)."""
        return ContrastiveMethod.transform(self, X)


@register
class SCANSelfLabel(SCAN):
    """``scan`` followed by self-labelling (step 4)."""

    name = "scan-selflabel"
    description = "SCAN, then self-labelling on confident (≥ 0.99) weak-view predictions"
    defaults = {"selflabel_epochs": 200}
    presets = {
        "quick": {**SCAN.presets["quick"], "selflabel_epochs": 1, "selflabel_batch_size": 256},
        "fast": {**SCAN.presets["fast"], "selflabel_epochs": 2, "selflabel_batch_size": 500},
        # SCAN: Adam 1e-4, wd 1e-4, batch 1000, 200 epochs
        "paper": {**SCAN.presets["paper"], "selflabel_epochs": 200},
    }


class _StructureLoss:
    """Step 3 with seed 004's structure-learning loss (mixin for any input kind)."""

    loss_name = "structure"

    def _pair_weights(self, anchors, neighbours):
        """w_ij = exp(z_iᵀ z_j / τ_c) in the mining space, in blocks (all mined pairs at
        once when the head is chosen)."""
        space, tau = self.stage_.space, self.config_.neighbour_temperature
        return torch.cat([neighbour_weights(space[a], space[b], tau) for a, b in
                          zip(anchors.split(65536), neighbours.split(65536), strict=True)])

    def _pair_loss(self, pa, pn, weights):
        c = self.config_
        return structured_scan_loss(pa, pn, weights, c.entropy_weight, c.contrast_weight,
                                    c.cluster_temperature)


@register
class StructureSCAN(_StructureLoss, SCAN):
    """SCAN with seed 004's structure-learning loss: similarity-weighted neighbour
    consistency + cluster-level contrast between anchors and neighbours + entropy
    (``--set selflabel_epochs=N`` continues with self-labelling as ``scan-selflabel``)."""

    name = "scan-sl"
    description = ("SCAN with seed 004's structure-learning loss (weighted consistency + "
                   "cluster contrast + entropy)")


# -------------------------------------------------------------------------------- texts
@dataclass
class TextSCANConfig(SCANOptions, TextFeatureConfig):
    smooth_neighbours: int = option(20, low=0)  # average features with their k-NN first (0: off)
    dropout: float = option(0.1, low=0.0, high=0.99)  # feature dropout: SCAN's "augmentation"
    selflabel_dropout: float = option(0.3, low=0.0, high=0.99)
    amp: bool = False


class _Frozen(nn.Identity):
    """The text "encoder": the (fixed) features themselves."""

    def __init__(self, dim: int):
        super().__init__()
        self.out_dim = dim


@register
class TextSCAN(TextInput, SCANAlgorithm, ClusterMethod):
    """SCAN with a frozen sentence encoder as the pretext model: neighbours mined on the
    normalised embeddings, the heads trained on k-NN-smoothed, standardised features with
    feature dropout as the augmentation."""

    name = "text-scan"
    description = "SCAN on MiniLM: k-NN consistency + entropy on linear cluster heads"
    Config = TextSCANConfig
    defaults = {"entropy_weight": 1.0, "n_heads": 5, "scan_epochs": 5, "scan_batch_size": 256,
                "scan_head_lr": 1e-3, "init": "kmeans", "selflabel_lr": 1e-3}
    presets = {"quick": {}, "fast": {"scan_epochs": 3},
               "paper": {"scan_epochs": 50, "entropy_weight": 5.0}}

    def _pretext_stage(self, X, y) -> PretextStage:
        c = self.config_
        x = F.normalize(self._input(X, fitting=True), dim=1)
        nbrs = mine_neighbours(x, max(c.n_neighbours, c.smooth_neighbours, 1))
        z = smooth_features(x, nbrs, c.smooth_neighbours)
        self.embedding_ = z.cpu().numpy()
        self.space_mean_, self.space_std_ = z.mean(0), z.std(0).clamp_min(1e-6)
        zs = (z - self.space_mean_) / self.space_std_  # standardised inputs of the heads

        def drop(p):
            return lambda b: F.dropout(b, p, training=True)

        return PretextStage(data=zs, encoder=_Frozen(zs.shape[1]), space=z,
                            clean=lambda b: b, scan_view=drop(c.dropout),
                            weak_view=lambda b: b, selflabel_view=drop(c.selflabel_dropout),
                            neighbours=nbrs)

    def _new_input(self, X):
        z = F.normalize(self._input(X), dim=1)
        return (z - self.space_mean_) / self.space_std_

    def transform(self, X) -> np.ndarray:
        """The unit-length text features (before neighbour smoothing)."""
        return F.normalize(self._input(X), dim=1).cpu().numpy()


@register
class TextSelfLabel(TextSCAN):
    """``text-scan`` followed by SCAN's self-labelling step: the kit's strongest text method."""

    name = "text-selflabel"
    description = "SCAN on MiniLM, then self-labelling with confident pseudo-labels (p > 0.99)"
    defaults = {**TextSCAN.defaults, "selflabel_epochs": 5}

