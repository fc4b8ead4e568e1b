"""MoCo and PCL (lecture 07): the momentum encoder and the queue, InfoNCE / ProtoNCE / the
concentration φ against brute force, and the method's mechanics. Accuracy goals are checked
by benchmarks/bench_pcl.py, not here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import needs_cifar_jpg
from torch import nn

from dcteach.data import load_dataset
from dcteach.losses import concentration, info_nce, proto_nce
from dcteach.methods import ConfigError, get_method
from dcteach.nn import FeatureQueue, MomentumEncoder


def _unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=1)


def _log_softmax_at(logits: list[float], at: int) -> float:
    top = max(logits)
    return logits[at] - top - math.log(sum(math.exp(s - top) for s in logits))


# ------------------------------------------------------------------------------ InfoNCE
def test_info_nce_matches_a_loop_over_queries():
    q, k, queue = _unit(7, 5, seed=1), _unit(7, 5, seed=2), _unit(40, 5, seed=3)
    tau = 0.2
    expected = 0.0
    for i in range(7):
        logits = [float(q[i].double() @ k[i].double()) / tau]
        logits += [float(q[i].double() @ queue[j].double()) / tau for j in range(40)]
        expected -= _log_softmax_at(logits, 0)
    assert float(info_nce(q, k, queue, tau)) == pytest.approx(expected / 7, rel=1e-5)


def test_info_nce_normalises_queries_and_keys_and_its_gradient_is_softmax_weighted():
    q, k, queue = _unit(4, 3, seed=4), _unit(4, 3, seed=5), _unit(10, 3, seed=6)
    tau = 0.5
    assert float(info_nce(3 * q, 0.5 * k, queue, tau)) == pytest.approx(
        float(info_nce(q, k, queue, tau)), rel=1e-6)
    # for unit q (before normalisation acts): ∂ℓ_i/∂q_i = (Σ_j p_ij n_j − k_i) / τ, projected
    # onto the tangent space of the sphere, divided by n for the mean
    qq = q.clone().requires_grad_()
    (grad,) = torch.autograd.grad(info_nce(qq, k, queue, tau), qq)
    cands = [torch.cat([k[i:i + 1], queue]) for i in range(4)]
    for i in range(4):
        p = torch.softmax(cands[i] @ q[i] / tau, 0)
        g = (p @ cands[i] - k[i]) / tau / 4
        g = g - (g @ q[i]) * q[i]
        torch.testing.assert_close(grad[i], g, rtol=1e-4, atol=1e-6)


def test_info_nce_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        info_nce(_unit(4, 3), _unit(5, 3), _unit(8, 3))


# -------------------------------------------------------------------------- concentration
def _phi_brute_force(v, labels, centroids, alpha, tau, clip):
    """The official recipe written out with numpy: mean distance / log(Z + α) per cluster,
    clusters with ≤ 1 member get the maximum, clip to percentiles, rescale to mean τ."""
    v, c, labels = np.asarray(v, float), np.asarray(centroids, float), np.asarray(labels)
    k = len(c)
    phi = np.zeros(k)
    for j in range(k):
        d = [np.linalg.norm(v[i] - c[j]) for i in range(len(v)) if labels[i] == j]
        if len(d) > 1:
            phi[j] = np.mean(d) / np.log(len(d) + alpha)
    dmax = phi.max()
    for j in range(k):
        if np.sum(labels == j) <= 1:
            phi[j] = dmax
    if clip is not None:
        phi = phi.clip(np.percentile(phi, clip[0]), np.percentile(phi, clip[1]))
    if tau is not None:
        phi = tau * phi / phi.mean()
    return phi


@pytest.mark.parametrize("tau, clip", [(None, None), (0.2, None), (0.2, (10, 90)),
                                       (0.1, (25, 75))])
def test_concentration_matches_the_official_recipe(tau, clip):
    gen = np.random.default_rng(0)
    v = gen.normal(size=(60, 4)).astype(np.float32)
    labels = gen.integers(0, 7, size=60)
    labels[labels == 6] = 5  # cluster 6 empty
    labels[0] = 6  # … and now a singleton
    labels[labels == 4] = 3  # cluster 4 empty
    centroids = gen.normal(size=(8, 4)).astype(np.float32)  # cluster 7 empty too
    got = concentration(torch.as_tensor(v), torch.as_tensor(labels), torch.as_tensor(centroids),
                        alpha=10.0, temperature=tau, clip=clip)
    expected = _phi_brute_force(v, labels, centroids, 10.0, tau, clip)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)
    if tau is not None:
        assert float(got.mean()) == pytest.approx(tau, rel=1e-5)


def test_concentration_is_low_for_tight_and_for_large_clusters():
    c = torch.zeros(3, 2)
    c[1, 0], c[2, 0] = 10.0, 20.0
    gen = torch.Generator().manual_seed(0)
    tight = c[0] + 0.1 * torch.randn(50, 2, generator=gen)
    loose = c[1] + 1.0 * torch.randn(50, 2, generator=gen)
    big_loose = c[2] + 1.0 * torch.randn(500, 2, generator=gen)
    v = torch.cat([tight, loose, big_loose])
    labels = torch.repeat_interleave(torch.arange(3), torch.tensor([50, 50, 500]))
    phi = concentration(v, labels, c, temperature=None, clip=None)
    assert phi[0] < phi[1] / 5  # ten times tighter
    assert phi[2] < phi[1]  # same spread, ten times the members: log(Z + α) grows


# ------------------------------------------------------------------------------ ProtoNCE
def test_proto_nce_over_all_prototypes_matches_a_loop():
    q, c = _unit(6, 4, seed=7), _unit(5, 4, seed=8)
    labels = torch.tensor([0, 1, 1, 3, 4, 0])
    phi = torch.tensor([0.1, 0.3, 0.2, 0.25, 0.15])
    expected = -sum(_log_softmax_at([float(q[i] @ c[j]) / float(phi[j]) for j in range(5)],
                                    int(labels[i])) for i in range(6)) / 6
    assert float(proto_nce(q, c, labels, phi)) == pytest.approx(expected, rel=1e-5)
    # r ≥ K − 1 is the same full softmax
    assert float(proto_nce(q, c, labels, phi, n_negatives=4)) == pytest.approx(expected,
                                                                               rel=1e-5)


def test_proto_nce_samples_negatives_only_from_clusters_the_batch_does_not_use():
    q, c = _unit(4, 3, seed=9), _unit(12, 3, seed=10)
    labels = torch.tensor([2, 2, 5, 9])
    phi = torch.linspace(0.1, 0.3, 12)
    unused = [j for j in range(12) if j not in (2, 5, 9)]  # 9 candidates, r = 9: all of them
    expected = -sum(_log_softmax_at(
        [float(q[i] @ c[labels[i]]) / float(phi[labels[i]])]
        + [float(q[i] @ c[j]) / float(phi[j]) for j in unused], 0) for i in range(4)) / 4
    got = proto_nce(q, c, labels, phi, n_negatives=9)
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # with r = 3 of the 9: a subset — every draw lies between the extreme subsets' values,
    # and the batch's own clusters never appear (replacing them would change the value)
    values = {round(float(proto_nce(q, c, labels, phi, 3, torch.Generator().manual_seed(s))), 6)
              for s in range(20)}
    assert len(values) > 1 and max(values) < expected + 1e-6


def test_proto_nce_falls_back_to_all_prototypes_when_the_batch_uses_every_cluster():
    q, c = _unit(6, 3, seed=13), _unit(3, 3, seed=14)
    labels, phi = torch.tensor([0, 1, 2, 0, 1, 2]), torch.tensor([0.1, 0.2, 0.3])
    full = proto_nce(q, c, labels, phi)
    assert float(full) > 0
    assert float(proto_nce(q, c, labels, phi, n_negatives=1)) == pytest.approx(float(full))


def test_proto_nce_divides_each_logit_by_its_own_concentration():
    q, c = _unit(3, 4, seed=11), _unit(4, 4, seed=12)
    labels = torch.tensor([0, 1, 2])
    flat = torch.full((4,), 0.2)
    assert float(proto_nce(q, c, labels, flat)) == pytest.approx(
        float(F.cross_entropy(q @ c.T / 0.2, labels)), rel=1e-6)
    sharp = flat.clone()
    sharp[3] = 0.05  # a tight negative prototype weighs more
    assert float(proto_nce(q, c, labels, sharp)) != pytest.approx(
        float(proto_nce(q, c, labels, flat)), rel=1e-3)


# ------------------------------------------------------------------ momentum encoder, queue
def test_momentum_update_is_the_exponential_moving_average():
    torch.manual_seed(0)
    query = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    key = MomentumEncoder(query, momentum=0.9)
    before = [p.detach().clone() for p in key.net.parameters()]
    assert all(not p.requires_grad for p in key.net.parameters())
    with torch.no_grad():
        for p in query.parameters():
            p.add_(1.0)
    key.update(query)
    for pk, old, pq in zip(key.net.parameters(), before, query.parameters(), strict=True):
        torch.testing.assert_close(pk, 0.9 * old + 0.1 * pq)
    MomentumEncoder.update(MomentumEncoder(query, 0.0), query)  # m = 0: a copy
    frozen = MomentumEncoder(query, 1.0)
    with torch.no_grad():
        query[0].weight.mul_(3)
    frozen.update(query)
    assert not torch.allclose(frozen.net[0].weight, query[0].weight)
    with pytest.raises(ValueError, match="momentum"):
        MomentumEncoder(query, 1.5)


def test_shuffled_batch_norm_uses_one_set_of_statistics_per_random_group():
    torch.manual_seed(0)
    key = MomentumEncoder(nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)), 0.99)
    x = torch.randn(12, 3)
    key.eval()  # running statistics: grouping cannot matter
    torch.testing.assert_close(key(x, groups=3), key(x))
    key.train()
    torch.manual_seed(5)
    got = key(x, groups=3)
    torch.manual_seed(5)
    perm = torch.randperm(12)
    expected = torch.empty_like(got)
    for part in perm.chunk(3):
        expected[part] = key.net(x[part])
    torch.testing.assert_close(got, expected)
    assert not torch.allclose(got, key.net(x), atol=1e-3)  # not the whole batch's statistics


def test_queue_keeps_the_newest_keys_first_and_leaves_earlier_losses_valid():
    queue = FeatureQueue(5, 3, seed=0)
    start = queue.keys.clone()
    torch.testing.assert_close(start.norm(dim=1), torch.ones(5))
    a, b = _unit(2, 3, seed=1), _unit(4, 3, seed=2)
    q = _unit(2, 3, seed=3).requires_grad_()
    loss = info_nce(q, a, queue.keys, 0.2)
    queue.push(a)
    torch.testing.assert_close(queue.keys, torch.cat([a, start[:3]]))
    loss.backward()  # the pushed-over keys were not modified in place
    queue.push(b)
    torch.testing.assert_close(queue.keys, torch.cat([b, a[:1]]))
    queue.push(_unit(7, 3, seed=4))
    assert len(queue) == 5 and queue.keys.shape == (5, 3)


# ------------------------------------------------------------------------------ the method
@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits", n_samples=300, seed=0)
    return np.round(np.asarray(data.x) * 255).astype(np.uint8), data.y


def _fit(digits, name="pcl", **options):
    x, y = digits
    opts = {"epochs": 3, "knn_queries": 0, "proj_dim": 16, "queue_size": 256, **options}
    if name == "pcl":
        opts.setdefault("warmup_epochs", 1)
    return get_method(name)(n_clusters=10, preset="quick", verbose=False, **opts).fit(x, y)


def test_pcl_warms_up_with_infonce_then_adds_the_prototype_terms(digits):
    m = _fit(digits, granularities=(1, 3))
    warm = [r for r in m.history_ if r["phase"] == "moco"]
    em = [r for r in m.history_ if r["phase"] == "pcl"]
    assert len(warm) == 1 and len(em) == 2
    assert "proto" not in warm[0] and warm[0]["loss"] == pytest.approx(warm[0]["infonce"])
    for r in em:
        assert r["proto"] > 0
        assert r["loss"] == pytest.approx(r["infonce"] + r["proto"], rel=1e-4)
        assert {"estep_acc", "phi_spread_10", "phi_spread_30"} <= set(r)
    assert m.history_[-1]["phase"] == "kmeans" and len(np.unique(m.labels_)) == 10


def test_moco_is_pcl_with_the_warm_up_lasting_the_whole_run(digits):
    a = _fit(digits, "moco", seed=2)
    b = _fit(digits, "pcl", seed=2, warmup_epochs=3)
    assert not any(r["phase"] == "pcl" for r in b.history_)
    np.testing.assert_allclose(a.embedding_, b.embedding_, atol=1e-5)
    assert np.array_equal(a.labels_, b.labels_)


def test_e_step_gives_unit_prototypes_and_concentrations_with_mean_tau(digits):
    m = _fit(digits, epochs=1, warmup_epochs=1, granularities=(1, 2))
    x = torch.as_tensor(digits[0])
    prototypes, stats = m._e_step(x, digits[1], 1)
    v = m._features(x)
    assert [len(p) for _, p, _ in prototypes] == [10, 20]
    for labels, proto, phi in prototypes:
        torch.testing.assert_close(proto.norm(dim=1), torch.ones(len(proto)))
        assert float(phi.mean()) == pytest.approx(m.config_.temperature, rel=1e-5)
        # labels are the nearest prototypes' clusters (k-means converged assignment)
        assert labels.shape == (300,) and int(labels.max()) < len(proto)
    assert len(v) == 300 and "estep_nmi" in stats


def test_every_key_enters_the_queue_and_the_key_encoder_lags_the_query_encoder(digits, monkeypatch):
    pushed = []
    original = FeatureQueue.push

    def spy(self, k):
        pushed.append(len(k))
        return original(self, k)

    monkeypatch.setattr(FeatureQueue, "push", spy)
    m = _fit(digits, "moco", epochs=1, batch_size=50, encoder_momentum=0.9)
    assert sum(pushed) == 300 and len(pushed) == 6
    # after 6 steps at m = 0.9 the key network has not caught up with the query network
    kq = [(pk - pq).norm() for pk, pq in zip(m.key_.net.parameters(), m.model_.parameters(),
                                             strict=True)]
    assert max(float(d.detach()) for d in kq) > 0


def test_predict_and_transform_use_the_momentum_features(digits):
    m = _fit(digits, epochs=1)
    x, _ = digits
    z = m.transform(x[:20])
    assert z.shape == (20, 16)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(z, m.embedding_[:20], atol=1e-4)
    assert np.array_equal(m.predict(x[:20]), m.kmeans_.predict(torch.as_tensor(z)))


def test_bad_options_name_the_option(digits):
    with pytest.raises(ConfigError, match="granularities"):
        _fit(digits, granularities=(1, 0))
    with pytest.raises(ConfigError, match="encoder_momentum"):
        _fit(digits, encoder_momentum=1.5)


@pytest.mark.slow
@needs_cifar_jpg
def test_quick_pcl_runs_on_cifar10_on_the_cpu():
    """The ResNet-18 pipeline with colour images: fit on a slice of the training split."""
    train = load_dataset("cifar10", split="train", n_samples=256, download=False)
    m = get_method("pcl")(n_clusters=10, preset="quick", epochs=2, batch_size=64,
                          verbose=False).fit(train.x, train.y)
    assert m.facts_.backbone == "resnet18"
    assert [r["phase"] for r in m.history_] == ["moco", "pcl", "kmeans"]
    assert m.embedding_.shape == (256, 128)
    pred = m.predict(train.x[:64])
    assert pred.shape == (64,) and pred.dtype == np.int64 and pred.max() < 10
