"""DeepCluster's blocks against independent computations, and the method's mechanics.

PCA whitening against scikit-learn; the empty-cluster split, the class-uniform sampler and
k-means without relocation against hand-built cases; the method's per-epoch steps
(re-initialised classifier, stability log, the remedies and their switches)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import needs_cifar_jpg
from sklearn.decomposition import PCA

from dcteach.cluster import KMeans, PCAWhitening, split_empty_clusters
from dcteach.data import load_dataset
from dcteach.methods import ConfigError, get_method
from dcteach.methods import _load_all as _load_methods
from dcteach.train import class_uniform_indices

_load_methods()


# ---------------------------------------------------------------------------- PCA whitening
@pytest.mark.parametrize("whiten", [True, False])
def test_pca_whitening_matches_sklearn(whiten):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 12)) @ rng.normal(size=(12, 12)) + 3.0
    ours = PCAWhitening(5, whiten=whiten, eps=0.0).fit_transform(torch.tensor(x)).numpy()
    ref = PCA(5, whiten=whiten).fit_transform(x)
    signs = np.sign((ours * ref).sum(0))  # eigenvectors are defined up to their sign
    np.testing.assert_allclose(ours * signs, ref, atol=1e-4)
    if whiten:
        np.testing.assert_allclose(np.cov(ours.T), np.eye(5), atol=1e-4)


@pytest.mark.parametrize("share", [0.5, 0.8, 0.9, 0.99])
def test_pca_variance_share_keeps_as_many_components_as_sklearn(share):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(500, 20)) * np.geomspace(5, 0.1, 20)
    ours = PCAWhitening(256, variance=share).fit(torch.tensor(x))
    assert ours.components_.shape[1] == PCA(share, svd_solver="full").fit(x).n_components_
    assert PCAWhitening(3, variance=share).fit(torch.tensor(x)).components_.shape[1] <= 3
    with pytest.raises(ValueError, match="variance"):
        PCAWhitening(3, variance=0.0)


def test_pca_whitening_clips_to_the_rank_and_does_not_blow_up_flat_directions():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(20, 50)), dtype=torch.float32)
    pca = PCAWhitening(256).fit(x)
    assert pca.components_.shape == (50, 19)  # min(d, m − 1)
    flat = torch.cat([x[:, :3], torch.zeros(20, 5)], 1)  # 5 dead units
    z = PCAWhitening(8).fit_transform(flat)
    assert float(z.abs().max()) < 1e3  # the zero-variance directions stay ~0, not noise × 1e4


# ---------------------------------------------------------------------- empty clusters
def test_split_empty_cluster_halves_a_cluster_along_the_perturbation():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(60, 2)) + [5, 0]
    b = rng.normal(size=(40, 2)) - [5, 0]
    x = torch.tensor(np.vstack([a, b]), dtype=torch.float64)
    labels = torch.tensor([0] * 60 + [1] * 40)
    centers = torch.tensor([[5.0, 0.0], [-5.0, 0.0], [100.0, 100.0]], dtype=torch.float64)
    new_labels, new_centers = split_empty_clusters(x, labels, centers,
                                                   torch.Generator().manual_seed(0), eps=1e-3)
    counts = torch.bincount(new_labels, minlength=3)
    assert (counts > 0).all()
    # only one cluster was split: the other keeps its members and its centre
    split = 0 if counts[0] < 60 else 1
    other = 1 - split
    assert torch.equal(new_labels == other, labels == other)
    assert torch.allclose(new_centers[other], centers[other])
    # the new centre is the split one's, perturbed by ε in opposite directions
    assert torch.allclose(new_centers[2] + new_centers[split], 2 * centers[split])
    assert float((new_centers[2] - new_centers[split]).norm()) == pytest.approx(2e-3)
    # and every moved point is nearer to the new centre than to the old one
    members = (new_labels == 2) | (new_labels == split)
    d = torch.cdist(x[members], torch.stack([new_centers[split], new_centers[2]]))
    assert torch.equal(d.argmin(1) == 1, new_labels[members] == 2)


def test_split_prefers_large_clusters_and_never_a_singleton():
    x = torch.randn(101, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    labels = torch.tensor([0] * 100 + [1])
    centers = torch.zeros(3, 3, dtype=torch.float64)
    for seed in range(20):
        new, _ = split_empty_clusters(x, labels, centers, torch.Generator().manual_seed(seed))
        assert new[100] == 1  # the singleton is never chosen
        assert int((new == 2).sum()) > 0


def test_split_cannot_divide_coinciding_points():
    x = torch.ones(10, 2, dtype=torch.float64)
    labels = torch.zeros(10, dtype=torch.long)
    new, _ = split_empty_clusters(x, labels, torch.zeros(2, 2, dtype=torch.float64))
    assert torch.bincount(new, minlength=2).tolist() in ([10, 0], [0, 10])


def test_kmeans_without_relocation_keeps_an_empty_cluster_where_it_was():
    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 8]).astype(np.float32)
    init = np.array([[0, 0], [8, 8], [100, 100]], dtype=np.float32)
    kept = KMeans(3, init=init, relocate_empty=False).fit(x)
    assert np.bincount(kept.labels_, minlength=3)[2] == 0
    np.testing.assert_allclose(kept.cluster_centers_[2], [100, 100])
    moved = KMeans(3, init=init).fit(x)  # scikit-learn's behaviour: re-seeded
    assert np.bincount(moved.labels_, minlength=3).min() > 0


# ---------------------------------------------------------------------- uniform sampling
def test_class_uniform_indices_draw_every_class_equally():
    labels = torch.tensor([0] * 900 + [1] * 90 + [2] * 10)  # 90 % in one class
    idx = class_uniform_indices(labels, generator=torch.Generator().manual_seed(0))
    assert len(idx) == 1000
    counts = torch.bincount(labels[idx], minlength=3)
    assert counts.min() >= 330 and counts.max() <= 334  # ⌈1000/3⌉ = 334 each, cut to 1000
    # the big class is drawn without replacement, the small ones with
    big = idx[labels[idx] == 0]
    assert len(torch.unique(big)) == len(big)
    assert set(idx[labels[idx] == 2].tolist()) == set(range(990, 1000))


def test_class_uniform_indices_ignore_empty_classes_and_take_n():
    labels = torch.tensor([3] * 5 + [7] * 5)
    idx = class_uniform_indices(labels, 7, torch.Generator().manual_seed(1))
    assert len(idx) == 7 and idx.max() < 10


# ---------------------------------------------------------------------------- the method
@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits", n_samples=400, seed=0)
    return np.round(np.asarray(data.x) * 255).astype(np.uint8), data.y


def _fit(digits, **options):
    x, y = digits
    opts = {"epochs": 3, "n_pseudo": 20, "knn_queries": 0, **options}
    return get_method("deepcluster")(n_clusters=10, preset="quick", verbose=False,
                                     **opts).fit(x, y)


def test_every_epoch_logs_its_pseudo_labels_and_their_stability(digits):
    m = _fit(digits)
    rows = [r for r in m.history_ if r["phase"] == "deepcluster"]
    assert len(rows) == 3
    assert "stability_nmi" not in rows[0]  # nothing to compare with in the first epoch
    assert all(0.0 <= r["stability_nmi"] <= 1.0 for r in rows[1:])
    assert all(r["nonempty"] == 20 and r["empty_clusters"] >= 0 for r in rows)
    assert m.embedding_.shape[1] <= 256
    np.testing.assert_allclose(np.linalg.norm(m.embedding_, axis=1), 1.0, atol=1e-5)
    assert m.history_[-1]["phase"] == "kmeans" and len(np.unique(m.labels_)) == 10


def test_the_classifier_is_reinitialised_every_epoch(digits, monkeypatch):
    cls = get_method("deepcluster")
    calls = []
    original = cls._reinit_classifier

    def spy(classifier, trainer):
        before = classifier.weight.detach().clone()
        had_state = any(p in trainer.optimizer.state for p in classifier.parameters())
        original(classifier, trainer)
        calls.append((had_state, not torch.equal(before, classifier.weight)))
        assert not any(p in trainer.optimizer.state for p in classifier.parameters())

    monkeypatch.setattr(cls, "_reinit_classifier", staticmethod(spy))
    _fit(digits)
    assert len(calls) == 3
    assert [c[0] for c in calls] == [False, True, True]  # Adam state existed, was dropped
    assert all(c[1] for c in calls)
    calls.clear()
    _fit(digits, reinit=False)
    assert calls == []


def test_uniform_sampling_is_what_trains(digits, monkeypatch):
    import dcteach.methods.deepcluster as dc

    seen = []
    original = dc.class_uniform_indices
    monkeypatch.setattr(dc, "class_uniform_indices",
                        lambda labels, *a, **k: seen.append(len(labels)) or original(labels))
    _fit(digits)
    assert seen == [400] * 3
    seen.clear()
    _fit(digits, sampling="random")
    assert seen == []


def test_empty_clusters_are_split_only_when_asked(digits, monkeypatch):
    import dcteach.methods.deepcluster as dc

    # force empty clusters: k-means whose last 5 centres never get a point
    real = dc.KMeans

    class Leaky(real):
        def fit(self, X, y=None):
            super().fit(X)
            if self.n_clusters == 20:
                self.labels_ = np.minimum(self.labels_, 14)
            return self

    monkeypatch.setattr(dc, "KMeans", Leaky)
    split = [r for r in _fit(digits).history_ if r["phase"] == "deepcluster"]
    assert all(r["empty_clusters"] >= 5 and r["nonempty"] == 20 for r in split)
    kept = [r for r in _fit(digits, empty_clusters="keep").history_
            if r["phase"] == "deepcluster"]
    assert all(r["nonempty"] == 15 for r in kept)


def test_bad_options_name_the_option(digits):
    with pytest.raises(ConfigError, match="sampling"):
        _fit(digits, sampling="proportional")
    with pytest.raises(ConfigError, match="empty_clusters"):
        _fit(digits, empty_clusters="drop")


@pytest.mark.slow
@needs_cifar_jpg
def test_quick_deepcluster_runs_on_cifar10_on_the_cpu():
    """The ResNet-18 pipeline with colour images: fit on a slice of the training split,
    predict the test split in the same PCA-whitened space."""
    train = load_dataset("cifar10", split="train", n_samples=256, download=False)
    test = load_dataset("cifar10", split="test", n_samples=64, download=False)
    m = get_method("deepcluster")(n_clusters=10, preset="quick", epochs=1, batch_size=64,
                                  n_pseudo=20, verbose=False).fit(train.x, train.y)
    assert m.facts_.backbone == "resnet18"
    pred = m.predict(test.x)
    assert pred.shape == (64,) and pred.dtype == np.int64 and pred.max() < 10
    np.testing.assert_allclose(np.linalg.norm(m.transform(test.x), axis=1), 1.0, atol=1e-5)
