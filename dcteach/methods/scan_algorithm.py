"""SCAN's steps 2–4 for any input kind (see :mod:`dcteach.methods.scan` for the paper's
algorithm box). A method supplies step 1 as a :class:`PretextStage`; images
(:mod:`~dcteach.methods.scan`) train the whole network on augmented views, texts
(:mod:`~dcteach.methods.text_scan`) train heads on fixed features with dropout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import distributed
from ..cluster import KMeans, mine_neighbours, neighbour_accuracy
from ..losses import (
    balanced_cross_entropy,
    class_balance_weights,
    confident_pseudo_labels,
    neighbour_weights,
    scan_loss,
    structured_scan_loss,
)
from ..nn import ClusterHeads, MultiHeadNet
from ..pretext import cached_pretext
from ..train import Trainer, embed_all, minibatches
from .config import option

__all__ = ["SCANOptions", "PretextStage", "SCANAlgorithm", "StructureLoss"]


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
                           verbose=self.verbose, run=self.run_)
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


class StructureLoss:
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


