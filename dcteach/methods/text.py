"""Text clustering methods (lecture 08): every one embeds the texts first, then clusters.

=================  ==========================================================================
CLI name           algorithm
=================  ==========================================================================
``text-kmeans``    k-means on TF-IDF (sparse), LSA or sentence embeddings (MiniLM by default);
                   preset ``smoothed`` averages each embedding with its 20 nearest neighbours
                   first, preset ``hybrid`` does so on MiniLM ⊕ 0.7·LSA and keeps the best of
                   50 k-means restarts by inertia (the kit's best)
``text-dec``       DEC on sentence embeddings: autoencoder pretraining, k-means init,
                   Student-t soft assignment, KL(P‖Q) to the sharpened target
``text-idec``      IDEC: DEC plus the reconstruction term (γ = 0.1), which keeps the
                   embedding from collapsing
``sccl``           SCCL on a frozen encoder: instance contrastive loss (NT-Xent, τ = 0.5)
                   between two augmented views plus a Student-t cluster head trained with
                   DEC's KL (η = 10). Views are made in embedding space (feature dropout,
                   Gaussian noise, a random k-NN neighbour), so the sentence model is run
                   once and cached instead of being fine-tuned
``text-scan``      SCAN on sentence embeddings: k-NN mined in embedding space, a cluster
                   head trained with neighbour consistency + entropy, best of several heads
``text-selflabel`` the kit's strongest pipeline: ``text-scan``, then self-labelling with
                   confident pseudo-labels (class-balanced cross-entropy on the samples with
                   p > threshold), classifiers over MiniLM ⊕ TF-IDF features
=================  ==========================================================================

All take a list of strings (``input_kind = "text"``), accept ``embedding="minilm"`` (any
sentence-transformers model name or folder via ``model``), ``"tfidf"``, ``"lsa"`` or
``"minilm+lsa"`` (unit MiniLM rows next to ``lsa_weight`` × unit LSA rows), and
cache the sentence embeddings on disk (:func:`dcteach.text.embed_texts`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..cluster import KMeans
from ..text import DEFAULT_MODEL, embed_texts, lsa_features, tfidf_features
from .base import ClusterMethod, register

try:  # the DEC losses live in dcteach.losses (lecture 02); keep a fallback for old checkouts
    from ..losses import dec_kl, soft_assignment, target_distribution
except ImportError:  # pragma: no cover
    def soft_assignment(z, centers, alpha=1.0):
        d2 = torch.cdist(z, centers) ** 2
        return torch.softmax(-(alpha + 1.0) / 2.0 * torch.log1p(d2 / alpha), dim=1)

    def target_distribution(q):
        q = q.detach()
        w = q**2 / q.sum(0, keepdim=True)
        return w / w.sum(1, keepdim=True)

    def dec_kl(p, q, eps=1e-10):
        p = p.detach()
        return (p * (torch.log(p + eps) - torch.log(q + eps))).sum(1).mean()

__all__ = [
    "instance_contrastive_loss",
    "scan_loss",
    "mine_neighbours",
    "confident_pseudo_labels",
    "TextKMeans",
    "TextDEC",
    "TextIDEC",
    "SCCL",
    "TextSCAN",
    "TextSelfLabel",
]


# ----------------------------------------------------------------------------- losses
def instance_contrastive_loss(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.5
                              ) -> torch.Tensor:
    """NT-Xent / InfoNCE over a batch of pairs (SimCLR, Chen et al. 2020; SCCL's instance loss).

    With unit vectors ``u = normalize([a; b])`` (2m rows) and ``s_ij = u_i·u_j / τ``, the
    positive of row i is its other view ``i ± m`` and the loss is::

        ℓ_i = −log( exp(s_{i,pos(i)}) / Σ_{j≠i} exp(s_ij) ),    L = mean_i ℓ_i
    """
    if a.shape != b.shape:
        raise ValueError(f"views must have the same shape: {tuple(a.shape)}, {tuple(b.shape)}")
    m = a.shape[0]
    u = F.normalize(torch.cat([a, b]), dim=1)
    sim = u @ u.T / temperature
    sim = sim.masked_fill(torch.eye(2 * m, dtype=torch.bool, device=u.device), float("-inf"))
    pos = torch.cat([torch.arange(m, 2 * m), torch.arange(0, m)]).to(u.device)
    return F.cross_entropy(sim, pos)


def scan_loss(p_anchor: torch.Tensor, p_neighbour: torch.Tensor, entropy_weight: float = 5.0,
              eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SCAN's clustering loss (Van Gansbeke et al., ECCV 2020, eq. 2)::

        L = −(1/n) Σ_i log⟨p_i, p_{n(i)}⟩  +  w · Σ_k p̄_k log p̄_k,     p̄ = mean_i p_i

    The first term makes a sample agree with a mined neighbour; the second (negative
    entropy of the mean prediction) forbids putting everything in one cluster.
    Returns ``(total, consistency, entropy)``.
    """
    consistency = -torch.log((p_anchor * p_neighbour).sum(1).clamp_min(eps)).mean()
    mean = p_anchor.mean(0)
    entropy = -(mean * torch.log(mean.clamp_min(eps))).sum()
    return consistency - entropy_weight * entropy, consistency, entropy


@torch.no_grad()
def mine_neighbours(x: torch.Tensor, k: int = 20, block: int = 2048) -> torch.Tensor:
    """Indices ``(n, k)`` of the k nearest neighbours by cosine similarity (self excluded)."""
    u = F.normalize(x.float(), dim=1)
    k = max(1, min(k, len(u) - 1))
    out = []
    for s in range(0, len(u), block):
        sim = u[s:s + block] @ u.T
        sim[torch.arange(sim.shape[0]), torch.arange(s, s + sim.shape[0])] = -2.0
        out.append(sim.topk(k, dim=1).indices)
    return torch.cat(out)


@torch.no_grad()
def confident_pseudo_labels(probs: torch.Tensor, threshold: float = 0.99, min_per_cluster: int = 5
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """SCAN's self-labelling selection: ``(labels, mask)`` with mask = max_k p_ik > threshold.

    A cluster with fewer than ``min_per_cluster`` confident samples keeps its most confident
    ones, so no cluster silently disappears from the training set.
    """
    conf, labels = probs.max(1)
    mask = conf > threshold
    for c in range(probs.shape[1]):
        members = (labels == c).nonzero().squeeze(1)
        if 0 < int(mask[members].sum()) < min_per_cluster or (
                len(members) and not mask[members].any()):
            top = members[conf[members].argsort(descending=True)[:min_per_cluster]]
            mask[top] = True
    return labels, mask


# ----------------------------------------------------------------------------- shared parts
def _as_texts(X) -> list[str]:
    if isinstance(X, str):
        raise ValueError("X must be a list of texts, not one string")
    texts = ["" if t is None else str(t) for t in X]
    if not texts:
        raise ValueError("no texts to cluster")
    return texts


class _TextMethod(ClusterMethod):
    """Base of the text methods: ``_features`` turns the texts into the configured vectors."""

    input_kind = "text"

    def _features(self, texts: list[str]):
        """Dense float32 ``(n, d)`` features (a sparse matrix for ``embedding='tfidf'``)."""
        c = self.config
        kind = c.embedding.lower()
        if kind == "tfidf":
            X, self.vectorizer_ = tfidf_features(texts)
            return X
        if kind == "lsa":
            return lsa_features(texts, c.lsa_dim, self.seed)
        if kind == "minilm+lsa":  # sentence meaning and the corpus' own keywords, side by side
            emb = embed_texts(texts, c.model, verbose=self.verbose)
            emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            lsa = lsa_features(texts, c.lsa_dim, self.seed)
            return np.hstack([emb, getattr(c, "lsa_weight", 0.7) * lsa]).astype(np.float32)
        model = c.model if kind in ("minilm", "sentence") else c.embedding
        return embed_texts(texts, model, verbose=self.verbose)

    def _tensor(self, X) -> torch.Tensor:
        if hasattr(X, "toarray"):
            X = X.toarray()
        return torch.as_tensor(np.asarray(X, dtype=np.float32), device=self.device_)

    def transform(self, X) -> np.ndarray:
        """The features the method clustered (for plots); for new texts, embeds them."""
        if X is None or X is getattr(self, "_fit_texts", None):
            return np.asarray(self.embedding_)
        return np.asarray(self._features(_as_texts(X)))


def _kmeans(x: torch.Tensor, k: int, n_init: int, seed: int, device) -> KMeans:
    return KMeans(k, n_init=n_init, random_state=seed, device=device).fit(x)


@dataclass
class TextEmbeddingConfig:
    """How texts become vectors; shared by every text method's config."""

    embedding: str = "minilm"  # minilm | tfidf | lsa | a sentence-transformers model name/path
    model: str = DEFAULT_MODEL
    lsa_dim: int = 100
    lsa_weight: float = 0.7  # weight of the LSA block in embedding='minilm+lsa'


@dataclass
class TextKMeansConfig(TextEmbeddingConfig):
    n_init: int = 10
    max_iter: int = 300
    smooth_neighbours: int = 0  # > 0: average each embedding with its k-NN first


@register
class TextKMeans(_TextMethod):
    """k-means on text features: the baseline every text method must beat.

    Preset ``hybrid`` (the kit's best text method) clusters ``z_i = normalize(x_i +
    Σ_{j ∈ kNN₂₀(i)} x_j)`` with ``x_i = normalize([m_i ; 0.7 · l_i])``, ``m_i`` the unit
    MiniLM embedding and ``l_i`` the unit LSA (TF-IDF → 100-d SVD) vector: sentence meaning
    plus the corpus' own keywords, denoised by neighbourhood averaging. Its k-means keeps
    the lowest-inertia run of 50 k-means++ restarts (``n_init=50``): with 10 the k-means
    objective on AgNews sometimes stops in a worse local optimum (ACC 78.8 instead of
    84.5); the choice uses the unsupervised objective only, never the labels.
    """

    name = "text-kmeans"
    description = "k-means on MiniLM sentence embeddings (or TF-IDF / LSA: --set embedding=tfidf)"
    Config = TextKMeansConfig
    presets = {"quick": {}, "paper": {}, "fast": {}, "tfidf": {"embedding": "tfidf"},
               "lsa": {"embedding": "lsa"}, "smoothed": {"smooth_neighbours": 20},
               "hybrid": {"embedding": "minilm+lsa", "smooth_neighbours": 20, "n_init": 50}}

    def _fit(self, X, y):
        texts = _as_texts(X)
        self._fit_texts = X
        c = self.config
        feats = self._features(texts)
        if c.smooth_neighbours > 0 and not hasattr(feats, "toarray"):
            x = F.normalize(self._tensor(feats), dim=1)
            feats = smooth_features(x, mine_neighbours(x, c.smooth_neighbours),
                                    c.smooth_neighbours).cpu().numpy()
        self.embedding_ = feats
        if hasattr(feats, "toarray"):  # sparse TF-IDF: scikit-learn's k-means handles CSR
            from sklearn.cluster import KMeans as SKMeans

            km = SKMeans(self.n_clusters, n_init=c.n_init, max_iter=c.max_iter,
                         random_state=self.seed).fit(feats)
            self.labels_ = km.labels_.astype(np.int64)
            self.cluster_centers_ = km.cluster_centers_
        else:
            km = KMeans(self.n_clusters, n_init=c.n_init, max_iter=c.max_iter,
                        random_state=self.seed, device=self.device_).fit(feats)
            self.labels_ = km.labels_
            self.cluster_centers_ = km.cluster_centers_
        self._log("kmeans", 0, y, self.labels_)


# ----------------------------------------------------------------------------- DEC / IDEC
@dataclass
class TextDECConfig(TextEmbeddingConfig):
    hidden: tuple = (500, 500, 2000)
    latent_dim: int = 10
    pretrain_epochs: int = 30
    epochs: int = 30  # DEC epochs; the target P is refreshed once per epoch (whole data set)
    batch_size: int = 256
    lr: float = 1e-3
    alpha: float = 1.0
    gamma: float = 0.0  # weight of the reconstruction term: 0 = DEC, > 0 = IDEC
    cluster_weight: float = 1.0
    tol: float = 0.001  # stop when fewer than this fraction of labels change
    n_init: int = 20


@register
class TextDEC(_TextMethod):
    """DEC (Xie et al. 2016) on standardised sentence embeddings."""

    name = "text-dec"
    description = "DEC on MiniLM embeddings: AE pretraining, k-means init, KL(P||Q) refinement"
    Config = TextDECConfig
    presets = {"quick": {}, "paper": {"pretrain_epochs": 100, "epochs": 100},
               "fast": {"pretrain_epochs": 15, "epochs": 15}}

    def _fit(self, X, y):
        from ..models.autoencoder import MLPAutoencoder, pretrain_autoencoder

        texts = _as_texts(X)
        self._fit_texts = X
        c = self.config
        feats = self._tensor(self._features(texts))
        # unit-length MiniLM rows have tiny coordinates: standardise so the AE sees O(1) inputs
        x = (feats - feats.mean(0)) / feats.std(0).clamp_min(1e-6)
        ae = MLPAutoencoder(x.shape[1], c.hidden, c.latent_dim).to(self.device_)
        pretrain_autoencoder(ae, x, c.pretrain_epochs, c.batch_size, lr=c.lr, run=self.run_,
                             phase="pretrain")
        with torch.no_grad():
            z = ae.encode(x)
        km = _kmeans(z, self.n_clusters, c.n_init, self.seed, self.device_)
        self._log("kmeans-init", 0, y, km.labels_)
        centers = nn.Parameter(torch.as_tensor(km.cluster_centers_, device=self.device_))
        opt = torch.optim.Adam([*ae.parameters(), centers], lr=c.lr)
        state = {"labels": torch.as_tensor(km.labels_), "done": False}
        n = len(x)
        for epoch in self.run_.epochs("dec", c.epochs, model=ae, centers_=_ParamBox(centers),
                                      optimizer=opt, state=state):
            with torch.no_grad():
                q_all = soft_assignment(ae.encode(x), centers, c.alpha)
                p_all = target_distribution(q_all)
                labels = q_all.argmax(1).cpu()
            changed = float((labels != state["labels"]).float().mean())
            state["labels"] = labels
            self._log("dec", epoch, y, labels.numpy(), changed=changed)
            if epoch > 0 and changed < c.tol:
                self.run_.finish("dec")
                break
            for idx in torch.randperm(n, device=self.device_).split(c.batch_size):
                z_b, x_hat = ae(x[idx])
                loss = c.cluster_weight * dec_kl(p_all[idx], soft_assignment(z_b, centers,
                                                                              c.alpha))
                if c.gamma > 0:
                    loss = loss * c.gamma + F.mse_loss(x_hat, x[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        with torch.no_grad():
            z = ae.encode(x)
            q = soft_assignment(z, centers, c.alpha)
        self.embedding_ = z.cpu().numpy()
        self.cluster_centers_ = centers.detach().cpu().numpy()
        self.probabilities_ = q.cpu().numpy()
        self.labels_ = q.argmax(1).cpu().numpy().astype(np.int64)
        self._log("final", 0, y, self.labels_)


class _ParamBox(nn.Module):
    """Wrap a bare parameter so the checkpointing engine can save and restore it."""

    def __init__(self, param: nn.Parameter):
        super().__init__()
        self.param = param


@register
class TextIDEC(TextDEC):
    """IDEC (Guo et al. 2017): DEC's KL term weighted by γ = 0.1 plus the reconstruction loss."""

    name = "text-idec"
    description = "IDEC on MiniLM embeddings: 0.1 * KL(P||Q) + reconstruction"
    presets = {k: dict(v, gamma=0.1) for k, v in TextDEC.presets.items()}


# ----------------------------------------------------------------------------- SCCL
class ResidualMLP(nn.Module):
    """``f(x) = x + W₂ σ(W₁ x)``, with W₂ = 0 at start: training begins at the frozen embedding."""

    def __init__(self, dim: int, hidden: int = 768):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        nn.init.zeros_(self.inner[-1].weight)
        nn.init.zeros_(self.inner[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.inner(x)


def embedding_augment(x: torch.Tensor, neighbours: torch.Tensor | None, idx: torch.Tensor,
                      dropout: float = 0.2, noise: float = 0.01, p_neighbour: float = 0.5
                      ) -> torch.Tensor:
    """A random view of the rows ``x[idx]`` made in embedding space.

    With probability ``p_neighbour`` a row is replaced by one of its mined k-NN (a "semantic
    augmentation": a text about the same thing); then features are dropped with probability
    ``dropout`` (rescaled) and Gaussian noise of std ``noise`` is added.
    """
    if neighbours is not None and p_neighbour > 0:
        swap = torch.rand(len(idx), device=x.device) < p_neighbour
        pick = neighbours[idx, torch.randint(0, neighbours.shape[1], (len(idx),),
                                             device=x.device)]
        idx = torch.where(swap, pick, idx)
    v = F.dropout(x[idx], dropout, training=True)
    return v + noise * torch.randn_like(v) if noise > 0 else v


@dataclass
class SCCLConfig(TextEmbeddingConfig):
    hidden: int = 768
    proj_dim: int = 128
    temperature: float = 0.5
    eta: float = 10.0  # weight of the clustering (KL) term
    alpha: float = 1.0
    scale: float = 4.0  # unit-length embeddings are multiplied by this before the Student-t
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    dropout: float = 0.2
    noise: float = 0.01
    p_neighbour: float = 0.5
    n_neighbours: int = 10
    n_init: int = 10


@register
class SCCL(_TextMethod):
    """SCCL (Zhang et al., NAACL 2021) on a frozen sentence encoder with a trainable MLP on top.

    Loss per mini-batch: ``L = L_instance(g(f(v₁)), g(f(v₂)); τ) + η · KL(P ‖ Q)`` where
    ``v₁, v₂`` are two embedding-space views, ``g`` the projection head, and Q the Student-t
    assignment of ``f(x)`` to learnable centres initialised by k-means; the target P is
    computed on the batch, as in the paper.
    """

    name = "sccl"
    description = ("SCCL on frozen MiniLM: embedding-space views, NT-Xent + Student-t "
                   "cluster head (KL to DEC target)")
    Config = SCCLConfig
    presets = {"quick": {"epochs": 10}, "paper": {"epochs": 50}, "fast": {"epochs": 5}}

    def _fit(self, X, y):
        texts = _as_texts(X)
        self._fit_texts = X
        c = self.config
        x = F.normalize(self._tensor(self._features(texts)), dim=1) * c.scale
        n, dim = x.shape
        nbrs = mine_neighbours(x, c.n_neighbours) if c.p_neighbour > 0 else None
        f = ResidualMLP(dim, c.hidden).to(self.device_)
        g = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, c.proj_dim)
                          ).to(self.device_)
        km = _kmeans(x, self.n_clusters, c.n_init, self.seed, self.device_)
        self._log("kmeans-init", 0, y, km.labels_)
        centers = nn.Parameter(torch.as_tensor(km.cluster_centers_, device=self.device_))
        box = _ParamBox(centers)
        opt = torch.optim.Adam([*f.parameters(), *g.parameters(), centers], lr=c.lr)
        for epoch in self.run_.epochs("sccl", c.epochs, encoder=f, head=g, centers_=box,
                                      optimizer=opt):
            total = inst_total = 0.0
            for idx in torch.randperm(n, device=self.device_).split(c.batch_size):
                if len(idx) < 2:
                    continue
                v1 = embedding_augment(x, nbrs, idx, c.dropout, c.noise, c.p_neighbour)
                v2 = embedding_augment(x, nbrs, idx, c.dropout, c.noise, c.p_neighbour)
                inst = instance_contrastive_loss(g(f(v1)), g(f(v2)), c.temperature)
                q = soft_assignment(f(x[idx]), centers, c.alpha)
                loss = inst + c.eta * dec_kl(target_distribution(q), q)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                inst_total += float(inst.detach()) * len(idx)
            with torch.no_grad():
                labels = soft_assignment(f(x), centers, c.alpha).argmax(1).cpu().numpy()
            self._log("sccl", epoch, y, labels, loss=total / n, instance=inst_total / n)
        with torch.no_grad():
            z = f(x)
            q = soft_assignment(z, centers, c.alpha)
        self.embedding_ = z.cpu().numpy()
        self.cluster_centers_ = centers.detach().cpu().numpy()
        self.probabilities_ = q.cpu().numpy()
        self.labels_ = q.argmax(1).cpu().numpy().astype(np.int64)


# ----------------------------------------------------------------------------- SCAN + self-label
class ClusterHeads(nn.Module):
    """``n_heads`` linear cluster heads on shared frozen features, computed as one matmul."""

    def __init__(self, dim: int, k: int, n_heads: int = 5):
        super().__init__()
        self.k, self.n_heads = k, n_heads
        self.linear = nn.Linear(dim, k * n_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n_heads, n, k)``."""
        return self.linear(x).view(len(x), self.n_heads, self.k).transpose(0, 1)


@dataclass
class TextSCANConfig(TextEmbeddingConfig):
    smooth_neighbours: int = 20  # features averaged with their k-NN before clustering (0 = off)
    n_neighbours: int = 20  # k-NN mined for the SCAN consistency term
    entropy_weight: float = 1.0  # SCAN's 5.0 forces balanced clusters; text corpora are not
    n_heads: int = 5
    epochs: int = 5
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    dropout: float = 0.1  # feature dropout on anchor and neighbour (the "augmentation")
    init: str = "kmeans"  # "kmeans": heads start at the k-means solution; "random" as in SCAN
    init_temperature: float = 0.05
    # self-labelling (text-selflabel)
    selflabel_epochs: int = 0
    threshold: float = 0.99
    selflabel_dropout: float = 0.3
    n_init: int = 10


def smooth_features(x: torch.Tensor, neighbours: torch.Tensor, k: int) -> torch.Tensor:
    """``normalize(x_i + Σ_{j ∈ kNN(i)} x_j)``: one step of neighbourhood averaging.

    Short texts are noisy points; averaging each with its nearest neighbours in embedding
    space pulls points towards their dense region, a cheap denoiser before clustering.
    """
    if k <= 0:
        return x
    return F.normalize(x + x[neighbours[:, :k]].sum(1), dim=1)


@register
class TextSCAN(_TextMethod):
    """SCAN (Van Gansbeke et al. 2020) with a frozen sentence encoder as the pretext model.

    1. mine the k nearest neighbours of every text in MiniLM space;
    2. train linear cluster heads on the (standardised, neighbour-smoothed) embeddings with
       the SCAN loss; keep the head with the lowest loss;
    3. (``text-selflabel``) self-label: the confident predictions (p > threshold) become
       targets of a class-balanced cross-entropy on dropout-augmented inputs.
    """

    name = "text-scan"
    description = "SCAN on MiniLM: k-NN consistency + entropy on linear cluster heads"
    Config = TextSCANConfig
    presets = {"quick": {}, "paper": {"epochs": 50, "entropy_weight": 5.0},
               "fast": {"epochs": 3}}

    def _fit(self, X, y):
        texts = _as_texts(X)
        self._fit_texts = X
        c, k = self.config, self.n_clusters
        x = F.normalize(self._tensor(self._features(texts)), dim=1)
        n = len(x)
        nbrs = mine_neighbours(x, max(c.n_neighbours, c.smooth_neighbours, 1))
        z = smooth_features(x, nbrs, c.smooth_neighbours)
        self.embedding_ = z.cpu().numpy()
        zs = (z - z.mean(0)) / z.std(0).clamp_min(1e-6)  # standardised inputs of the heads
        heads = ClusterHeads(zs.shape[1], k, c.n_heads).to(self.device_)
        if c.init == "kmeans":  # start every head at a k-means solution (different seeds)
            self._init_heads(heads, z, zs)
        opt = torch.optim.Adam(heads.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        mined = nbrs[:, :max(1, c.n_neighbours)]
        for epoch in self.run_.epochs("scan", c.epochs, heads=heads, optimizer=opt):
            for idx in torch.randperm(n, device=self.device_).split(c.batch_size):
                j = mined[idx, torch.randint(0, mined.shape[1], (len(idx),),
                                             device=self.device_)]
                pa = heads(F.dropout(zs[idx], c.dropout)).softmax(-1)
                pb = heads(F.dropout(zs[j], c.dropout)).softmax(-1)
                loss = sum(scan_loss(pa[h], pb[h], c.entropy_weight)[0]
                           for h in range(c.n_heads))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            best, probs, losses = self._best_head(heads, zs, mined)
            self._log("scan", epoch, y, probs.argmax(1).cpu().numpy(), loss=losses[best],
                      head=best)
        self.head_ = best
        if c.selflabel_epochs > 0:
            probs = self._self_label(heads, best, zs, probs, y)
        self.probabilities_ = probs.cpu().numpy()
        self.labels_ = probs.argmax(1).cpu().numpy().astype(np.int64)
        self._log("final", 0, y, self.labels_)

    @torch.no_grad()
    def _init_heads(self, heads: ClusterHeads, z: torch.Tensor, zs: torch.Tensor) -> None:
        """Fit each head by least squares to a k-means solution's soft assignments."""
        c, k = self.config, self.n_clusters
        design = torch.cat([zs, torch.ones(len(zs), 1, device=zs.device)], 1)
        weights = []
        for h in range(c.n_heads):
            km = _kmeans(z, k, max(1, c.n_init // c.n_heads), self.seed * 100 + h, self.device_)
            cen = F.normalize(torch.as_tensor(km.cluster_centers_, device=z.device), dim=1)
            logits = z @ cen.T / c.init_temperature
            sol = torch.linalg.lstsq(design, logits - logits.mean(1, keepdim=True)).solution
            weights.append(sol)
        w = torch.stack(weights, 1)  # (dim+1, heads, k)
        heads.linear.weight.copy_(w[:-1].reshape(zs.shape[1], -1).T)
        heads.linear.bias.copy_(w[-1].reshape(-1))

    @torch.no_grad()
    def _best_head(self, heads, zs, mined):
        probs = heads(zs).softmax(-1)
        pn = probs[:, mined[:, 0]]
        losses = [float(scan_loss(probs[h], pn[h], self.config.entropy_weight)[0])
                  for h in range(len(probs))]
        best = int(np.argmin(losses))
        return best, probs[best], losses

    def _self_label(self, heads, best, zs, probs, y):
        """SCAN's self-labelling step on the chosen head."""
        c, k = self.config, self.n_clusters
        head = nn.Linear(zs.shape[1], k).to(self.device_)
        with torch.no_grad():
            w = heads.linear.weight.view(heads.n_heads, k, -1)[best]
            b = heads.linear.bias.view(heads.n_heads, k)[best]
            head.weight.copy_(w)
            head.bias.copy_(b)
        opt = torch.optim.Adam(head.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        n = len(zs)
        for epoch in self.run_.epochs("selflabel", c.selflabel_epochs, head=head, optimizer=opt):
            with torch.no_grad():
                labels, mask = confident_pseudo_labels(head(zs).softmax(1), c.threshold)
                counts = torch.bincount(labels[mask], minlength=k).float()
                weight = torch.where(counts > 0, counts.sum() / (k * counts.clamp_min(1)),
                                     torch.zeros_like(counts))
            chosen = mask.nonzero().squeeze(1)
            for idx in chosen[torch.randperm(len(chosen), device=self.device_)].split(
                    c.batch_size):
                logits = head(F.dropout(zs[idx], c.selflabel_dropout))
                loss = F.cross_entropy(logits, labels[idx], weight=weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            with torch.no_grad():
                probs = head(zs).softmax(1)
            self._log("selflabel", epoch, y, probs.argmax(1).cpu().numpy(),
                      confident=float(mask.float().mean()), n=n)
        return probs


@register
class TextSelfLabel(TextSCAN):
    """``text-scan`` followed by SCAN's self-labelling step: the kit's strongest text method."""

    name = "text-selflabel"
    description = "SCAN on MiniLM, then self-labelling with confident pseudo-labels (p > 0.99)"
    presets = {k: dict(v, selflabel_epochs=5) for k, v in TextSCAN.presets.items()}
