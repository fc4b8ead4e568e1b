"""SCCL — Supporting Clustering with Contrastive Learning (Zhang et al., NAACL 2021), lecture 08.

Algorithm (the paper's, with the official code's weighting), per mini-batch of texts x::

    x̃₁, x̃₂  = two augmented copies of x                        (word deletion here)
    e, e₁, e₂ = f(x), f(x̃₁), f(x̃₂)                               the sentence encoder, trained
    L_inst  = NT-Xent(g(e₁), g(e₂); τ)                            instance-wise contrastive term
    q       = Student-t soft assignment of e to centres μ          (initialised by k-means on f(x))
    L_clu   = KL(P ‖ Q), P = DEC's target computed on the batch
    L       = η · L_inst + L_clu                                   (η = 10 in the official scripts)

The paper writes ``L_inst + η·L_clu``; its code weights the contrastive term, and so does the kit.

``sccl`` trains the encoder as the paper does, but only its top layers: the sentence model's
lower ``layer`` layers run once per corpus (:func:`dcteach.features.token_states`), the layers
above are trained (:class:`dcteach.nn.SentenceTop`), and the augmentation deletes words at that
level (:func:`dcteach.augment.token_dropout`) instead of the paper's masked-language-model
substitutions. The encoder learns with ``encoder_lr``, head and centres with ``lr``
(1e-5 and 100× that in the official code; the kit takes fewer, larger steps).

``sccl-frozen`` is the same objective on a frozen encoder: a trainable residual MLP on the
cached sentence embeddings, views made in embedding space (:func:`dcteach.augment.embedding_view`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..augment import embedding_view, token_dropout
from ..cluster import KMeans, mine_neighbours
from ..features import DEFAULT_MODEL, load_sentence_model, token_states
from ..losses import dec_kl, nt_xent, target_distribution
from ..nn import ClusteringLayer, ProjectionHead, ResidualMLP, SentenceTop
from ..train import Trainer, embed_all, minibatches
from .base import ClusterMethod, register
from .config import option
from .inputs import TextFeatureConfig, TextInput, as_texts

__all__ = ["SCCL", "SCCLConfig", "SCCLFrozen", "SCCLFrozenConfig", "sccl_loss"]


def sccl_loss(e: torch.Tensor, e1: torch.Tensor, e2: torch.Tensor, head, cluster,
              temperature: float, eta: float) -> tuple[torch.Tensor, dict]:
    """``η · NT-Xent(g(e₁), g(e₂)) + KL(P ‖ Q(e))`` with P computed on the batch (see above)."""
    inst = nt_xent(head(e1), head(e2), temperature)
    q = cluster(e)
    kl = dec_kl(target_distribution(q), q)
    return eta * inst + kl, {"instance": inst, "kl": kl}


@dataclass
class SCCLOptions:
    """What both SCCL variants share."""

    proj_dim: int = option(128, low=1)
    temperature: float = option(0.5, low=0.0, low_open=True)
    eta: float = option(10.0, low=0.0)  # weight of the instance contrastive term (official)
    alpha: float = option(1.0, low=0.0, low_open=True)
    batch_size: int = option(256, low=2)
    lr: float = option(1e-3, low=0.0, low_open=True)  # projection head and centres
    n_init: int = option(10, low=1)
    amp: bool = False


class _SCCLBase(TextInput, ClusterMethod):
    """The training loop both variants share: k-means start, rounds of SCCL steps, labels."""

    Config = SCCLOptions

    def _cluster_start(self, e: torch.Tensor, y) -> ClusteringLayer:
        c = self.config_
        km = KMeans(self.n_clusters, n_init=c.n_init, random_state=self.seed,
                    device=self.device_).fit(e)
        self._log("kmeans-init", 0, y, km.labels_)
        return ClusteringLayer(km.cluster_centers_, c.alpha).to(self.device_)

    def _train(self, phase, epochs, steps, n, y, step, embed, trainer, **objects):
        """``epochs`` × (at most ``steps`` updates from one shuffled pass), checkpointed and
        logged after each."""
        c = self.config_
        for r in self.run_.epochs(phase, epochs, trainer=trainer, **objects):
            batches = itertools.islice(minibatches(n, c.batch_size, self.device_, min_size=2),
                                       steps)
            parts = trainer.run(step, batches)
            labels = objects["cluster"](embed()).argmax(1).cpu().numpy()
            self._log(phase, r, y, labels, **parts)

    def _finish(self, e: torch.Tensor, cluster: ClusteringLayer) -> None:
        q = cluster(e).detach()
        self.embedding_ = e.cpu().numpy()
        self.cluster_centers_ = cluster.centers.detach().cpu().numpy()
        self.probabilities_ = q.cpu().numpy()
        self.labels_ = q.argmax(1).cpu().numpy().astype(np.int64)
        self.clustering_layer_ = cluster

    def predict(self, X) -> np.ndarray:
        """argmax of the Student-t soft assignment of new texts."""
        z = torch.as_tensor(self.transform(X), device=self.device_)
        return self.clustering_layer_(z).argmax(1).cpu().numpy().astype(np.int64)


# --------------------------------------------------------------------------- the paper's SCCL
@dataclass
class SCCLConfig(SCCLOptions):
    model: str = DEFAULT_MODEL  # a sentence-transformers BERT model (name or folder)
    layer: int = option(4, low=0)  # train the transformer layers above this one
    max_length: int = option(48, low=4)  # tokens per text (longer texts are cut)
    word_dropout: float = option(0.2, low=0.0, high=0.95)  # the augmentation
    encoder_lr: float = option(3e-4, low=0.0)  # picked by the loss rule (README)
    epochs: int = option(5, low=0)
    steps_per_epoch: int = option(20, low=1)  # updates per epoch (fewer: one pass over the data)


@register
class SCCL(_SCCLBase):
    """SCCL with the top layers of the sentence encoder trained on word-deletion views."""

    name = "sccl"
    description = ("SCCL: fine-tunes MiniLM's top layers with η·NT-Xent on word-deletion "
                   "views + Student-t cluster head (KL to the DEC target)")
    Config = SCCLConfig
    trains_sentence_model = True  # its input is texts through the sentence model, not features
    defaults = {"amp": True}
    presets = {"quick": {"epochs": 2, "steps_per_epoch": 10}, "fast": {"epochs": 5},
               "paper": {"epochs": 50, "batch_size": 400, "encoder_lr": 1e-5}}

    def _states(self, X):
        c = self.config_
        st = load_sentence_model(c.model, verbose=self.verbose)
        states, mask = token_states(as_texts(X), c.model, c.layer, c.max_length,
                                    verbose=self.verbose)
        return (st, torch.as_tensor(states, device=self.device_),
                torch.as_tensor(mask, device=self.device_))

    def _embed(self, f, states, mask):
        return embed_all(lambda i: f(states[i], mask[i]),
                         torch.arange(len(mask), device=self.device_), batch_size=512,
                         amp=self.config_.amp, modules=[f])

    def _fit(self, X, y):
        c = self.config_
        st, states, mask = self._states(X)
        f = SentenceTop(st, c.layer).to(self.device_)
        g = ProjectionHead(f.out_dim, f.out_dim, c.proj_dim).to(self.device_)
        cluster = self._cluster_start(self._embed(f, states, mask), y)
        trainer = Trainer([{"params": list(f.parameters()), "lr": c.encoder_lr},
                           {"params": [*g.parameters(), *cluster.parameters()], "lr": c.lr}],
                          "adam", c.lr, device=self.device_, amp=c.amp)

        def step(idx):
            h, m = states[idx], mask[idx]
            e1, e2 = (f(h, token_dropout(m, c.word_dropout)) for _ in range(2))
            return sccl_loss(f(h, m), e1, e2, g, cluster, c.temperature, c.eta)

        self._train("sccl", c.epochs, c.steps_per_epoch, len(mask), y, step,
                    lambda: self._embed(f, states, mask), trainer,
                    encoder=f, head=g, cluster=cluster)
        self.encoder_ = f
        self._finish(self._embed(f, states, mask), cluster)

    def transform(self, X) -> np.ndarray:
        """Sentence embeddings of the fine-tuned encoder (the space the centres live in)."""
        _, states, mask = self._states(X)
        return self._embed(self.encoder_, states, mask).cpu().numpy()


# ---------------------------------------------------------------------- frozen-encoder variant
@dataclass
class SCCLFrozenConfig(SCCLOptions, TextFeatureConfig):
    hidden: int = option(768, low=1)
    scale: float = option(4.0, low=0.0, low_open=True)  # unit rows × this before Student-t
    epochs: int = option(30, low=0)
    dropout: float = option(0.2, low=0.0, high=0.99)
    noise: float = option(0.01, low=0.0)
    p_neighbour: float = option(0.5, low=0.0, high=1.0)
    n_neighbours: int = option(10, low=1)


@register
class SCCLFrozen(_SCCLBase):
    """SCCL's objective on frozen embeddings: residual MLP, embedding-space views."""

    name = "sccl-frozen"
    description = ("SCCL's objective on frozen MiniLM: residual MLP, embedding-space views "
                   "(neighbour swap, dropout, noise)")
    Config = SCCLFrozenConfig
    presets = {"quick": {"epochs": 10}, "paper": {"epochs": 50}, "fast": {"epochs": 5}}

    def _fit(self, X, y):
        c = self.config_
        x = F.normalize(self._input(X, fitting=True), dim=1) * c.scale
        n, dim = x.shape
        nbrs = mine_neighbours(x, c.n_neighbours) if c.p_neighbour > 0 else None
        f = ResidualMLP(dim, c.hidden).to(self.device_)
        g = ProjectionHead(dim, dim, c.proj_dim).to(self.device_)
        cluster = self._cluster_start(x, y)
        trainer = Trainer([*f.parameters(), *g.parameters(), *cluster.parameters()], "adam",
                          c.lr, device=self.device_, amp=c.amp)

        def step(idx):
            e1, e2 = (f(embedding_view(x, idx, nbrs, c.dropout, c.noise, c.p_neighbour))
                      for _ in range(2))
            return sccl_loss(f(x[idx]), e1, e2, g, cluster, c.temperature, c.eta)

        steps = max(1, -(-n // c.batch_size))  # one round = one pass over the data
        self._train("sccl", c.epochs, steps, n, y, step, lambda: embed_all(f, x), trainer,
                    encoder=f, head=g, cluster=cluster)
        self.encoder_ = f
        self._finish(embed_all(f, x), cluster)

    def transform(self, X) -> np.ndarray:
        """Embeddings ``f(x)`` of the trained residual MLP (the space the centres live in)."""
        x = F.normalize(self._input(X), dim=1) * self.config_.scale
        return embed_all(self.encoder_, x).cpu().numpy()
