"""Prototypical contrastive learning (Li, Zhou, Xiong & Hoi, PCL, ICLR 2021), lecture 07.

* :func:`info_nce` — MoCo's InfoNCE: the query's positive is its key (the other view through
  the momentum encoder), the negatives are the r keys in the queue (PCL eq. 1)::

      L_InfoNCE = −(1/n) Σ_i log  exp(v_i·v′_i / τ)
                                  / (exp(v_i·v′_i / τ) + Σ_{j=1}^r exp(v_i·v′_j / τ))

* :func:`concentration` — φ of every cluster, from the distances of its members' momentum
  features v′_z to its centroid c (PCL eq. 12)::

      φ = Σ_{z=1}^{Z} ‖v′_z − c‖₂ / (Z log(Z + α))           (α = 10)

  A tight or large cluster gets a small φ — a low temperature: its members already lie close
  to the prototype, their logits are scaled up and their softmax saturates, so they are
  hardly pulled further, while the members of a loose cluster (large φ) keep being pulled in
  (the paper's §3.3: the clusters end with similar concentrations instead of collapsing into
  a few tight ones). Clusters with ≤ 1 member get the largest φ; then, as in the official
  code, φ is clipped to its 10th–90th percentiles and rescaled so that its mean is τ.
* :func:`proto_nce` — the prototype term of one granularity m: the positive is the prototype
  c_s of the query's own cluster, the negatives r other prototypes, each logit divided by that
  prototype's concentration (PCL eq. 11, second term)::

      L_m = −(1/n) Σ_i log  exp(v_i·c_s / φ_s) / Σ_{j ∈ {s} ∪ negatives} exp(v_i·c_j / φ_j)

  ProtoNCE = InfoNCE + (1/M) Σ_m L_m over the M granularities (the method adds them up).

The slides print the prototype term with a + sign in front of the log; it is a loss to
minimise, so it enters with −log like InfoNCE (the paper's eq. 11).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["info_nce", "concentration", "proto_nce"]


def info_nce(q: torch.Tensor, k: torch.Tensor, negatives: torch.Tensor,
             temperature: float = 0.2) -> torch.Tensor:
    """InfoNCE of queries ``q`` (n, d) against their keys ``k`` (n, d) and a shared set of
    ``negatives`` (r, d) — the queue. ``q`` and ``k`` are L2-normalised here (normalising
    twice changes nothing); the negatives are expected to be unit vectors already (the queue
    stores normalised keys). The positive logit is column 0 of each row."""
    if q.shape != k.shape:
        raise ValueError(f"queries and keys must have the same shape: {tuple(q.shape)}, "
                         f"{tuple(k.shape)}")
    q, k = F.normalize(q.float(), dim=1), F.normalize(k.float(), dim=1)
    pos = (q * k).sum(1, keepdim=True)
    neg = q @ negatives.float().T
    logits = torch.cat([pos, neg], dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


def concentration(v: torch.Tensor, labels: torch.Tensor, centroids: torch.Tensor,
                  alpha: float = 10.0, temperature: float | None = 0.2,
                  clip: tuple[float, float] | None = (10.0, 90.0)) -> torch.Tensor:
    """φ (K,) of the K clusters of the features ``v`` (n, d) with ``labels`` (n,) and
    ``centroids`` (K, d), by the formula above.

    φ_c = Σ_{z ∈ c} ‖v_z − c‖ / (Z_c log(Z_c + α)) for clusters with Z_c ≥ 2 members; clusters
    with 0 or 1 member get the largest φ of the others. ``clip``: (low, high) percentiles to
    clip φ to (None: no clipping); ``temperature``: rescale so that mean φ = τ (None: the raw
    estimate). Distances are measured to the centroids as given (PCL: k-means centroids,
    before they are normalised into prototypes)."""
    labels = torch.as_tensor(labels, device=v.device).long()
    v, c = v.float(), centroids.float().to(v.device)
    k = len(c)
    dist = (v - c[labels]).norm(dim=1)
    total = torch.zeros(k, device=v.device, dtype=torch.float64).index_add_(0, labels,
                                                                            dist.double())
    count = torch.bincount(labels, minlength=k).double()
    phi = total / (count.clamp_min(1) * torch.log(count + alpha))
    small = count <= 1
    if bool(small.all()):
        phi = torch.ones_like(phi)
    elif bool(small.any()):
        phi[small] = phi[~small].max()
    if clip is not None:
        low, high = torch.quantile(phi, torch.tensor([clip[0] / 100, clip[1] / 100],
                                                     dtype=phi.dtype, device=phi.device))
        phi = phi.clamp(low, high)
    if temperature is not None:
        phi = temperature * phi / phi.mean()
    return phi.float()


def proto_nce(q: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
              phi: torch.Tensor, n_negatives: int | None = None,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """The prototype term L_m of one granularity for queries ``q`` (n, d) whose clusters are
    ``labels`` (n,), with ``prototypes`` (K, d; PCL: the normalised centroids) and their
    concentrations ``phi`` (K,). ``q`` is L2-normalised here; the prototypes are used as
    given.

    Negatives: with ``n_negatives`` None or ≥ K − 1, every other prototype (the softmax over
    all K, as in the slides' derivation). Otherwise ``n_negatives`` prototypes drawn at
    random (``generator``; default: torch's global one) from the clusters that *no* query of
    the batch belongs to, shared by all rows — so no row meets its own prototype, or another
    row's positive, among its negatives (the official code also samples negatives outside the
    batch's clusters, but places the batch's positives in every row's logits). When fewer
    clusters than ``n_negatives`` are unused, all of them are taken; when the batch uses every
    cluster there is nothing to sample, and the full softmax over all K is used instead (a
    term of 0 would silently switch the granularity off)."""
    q = F.normalize(q.float(), dim=1)
    c, phi = prototypes.float(), phi.float().to(q.device)
    labels = torch.as_tensor(labels, device=q.device).long()
    k = len(c)
    if n_negatives is None or n_negatives >= k - 1:
        return F.cross_entropy(q @ c.T / phi, labels)
    unused = torch.ones(k, dtype=torch.bool, device=q.device)
    unused[labels] = False
    candidates = unused.nonzero().squeeze(1)
    if len(candidates) == 0:
        return F.cross_entropy(q @ c.T / phi, labels)
    pick = torch.randperm(len(candidates), generator=generator)[:n_negatives]
    neg = candidates[pick.to(candidates.device)]
    pos = (q * c[labels]).sum(1, keepdim=True) / phi[labels].unsqueeze(1)
    logits = torch.cat([pos, q @ c[neg].T / phi[neg]], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))
