"""k-means and spectral clustering against scikit-learn and brute-force checks."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans as SkKMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_estimator,
    check_estimators_nan_inf,
    check_fit2d_1feature,
)

from dcteach.cluster import KMeans, SpectralClustering, affinity_matrix, normalized_laplacian
from dcteach.cluster.kmeans import pairwise_sq_dists
from dcteach.data import make_toy
from dcteach.metrics import ari, cluster_accuracy


def test_pairwise_distances_brute_force():
    rng = np.random.default_rng(0)
    x, c = rng.normal(size=(7, 3)), rng.normal(size=(4, 3))
    d = pairwise_sq_dists(torch.tensor(x), torch.tensor(c)).numpy()
    brute = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(d, brute, rtol=1e-10, atol=1e-10)


def test_kmeans_matches_sklearn_inertia_on_digits():
    x = load_digits().data.astype(np.float32)
    ours = KMeans(10, n_init=10, random_state=0).fit(x)
    ref = SkKMeans(10, n_init=10, random_state=0).fit(x)
    assert ours.inertia_ <= ref.inertia_ * 1.01
    # inertia reported equals the inertia of the labels reported
    recomputed = sum(((x[ours.labels_ == k] - ours.cluster_centers_[k]) ** 2).sum()
                     for k in range(10))
    assert ours.inertia_ == pytest.approx(recomputed, rel=1e-4)
    # every point is assigned to its nearest centre
    d = ((x[:, None] - ours.cluster_centers_[None]) ** 2).sum(-1)
    assert (d.argmin(1) == ours.labels_).mean() > 0.999


def test_kmeans_same_iterations_as_lloyd_from_same_start():
    x, _ = make_blobs(600, centers=5, cluster_std=2.5, random_state=1)
    init = x[:5]
    ours = KMeans(5, init=init, n_init=1).fit(x)
    ref = SkKMeans(5, init=init, n_init=1, algorithm="lloyd").fit(x)
    assert (ours.labels_ == ref.labels_).mean() > 0.99
    np.testing.assert_allclose(np.sort(ours.cluster_centers_, 0), np.sort(ref.cluster_centers_, 0),
                               atol=1e-3)


def test_kmeans_recovers_blobs_and_predicts():
    x, y = make_blobs(500, centers=4, cluster_std=0.5, random_state=0)
    km = KMeans(4, n_init=3, random_state=0).fit(x)
    assert cluster_accuracy(y, km.labels_) == 1.0
    assert (km.predict(x) == km.labels_).all()
    assert km.transform(x).shape == (500, 4)


def test_kmeans_bad_input():
    with pytest.raises(ValueError, match="2D"):
        KMeans(2).fit(np.zeros(5))
    with pytest.raises(ValueError, match="n_clusters"):
        KMeans(10).fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        KMeans(2).fit(np.array([[0.0, np.nan], [1, 1], [2, 2]]))
    with pytest.raises(NotFittedError, match="not fitted"):
        KMeans(2).predict(np.zeros((3, 2)))
    with pytest.raises(NotFittedError, match="not fitted"):
        KMeans(2).transform(np.zeros((3, 2)))


def test_laplacian_properties():
    x = make_toy("moons", n=200).x
    W = affinity_matrix(x, "knn", 8)
    assert (abs(W - W.T)).max() == 0  # symmetric
    L = normalized_laplacian(W).toarray()
    deg = np.asarray(W.sum(1)).ravel()
    # D^{1/2} 1 is in the null space of L_sym
    np.testing.assert_allclose(L @ np.sqrt(deg), 0, atol=1e-10)
    eig = np.linalg.eigvalsh(L)
    assert eig.min() > -1e-10 and eig.max() < 2 + 1e-10


@pytest.mark.parametrize("name", ["moons", "circles"])
def test_spectral_beats_kmeans_on_nonconvex(name):
    data = make_toy(name, n=1000)
    sc = SpectralClustering(2, affinity="knn", n_neighbors=10).fit(data.x)
    km = KMeans(2, n_init=10).fit(data.x)
    assert ari(data.y, sc.labels_) >= 0.95
    assert ari(data.y, km.labels_) < 0.5


# ------------------------------------------------------------------ scikit-learn compliance
# Checks that may fail, with the reason; test_check_estimator_* assert that exactly these fail.
KMEANS_EXPECTED_FAILED: dict[str, str] = {}
SPECTRAL_EXPECTED_FAILED = {
    "check_estimators_nan_inf": (
        "after the NaN/inf inputs are rejected it fits 10 samples, too few for the default "
        "k-NN graph (n_neighbors=10 needs n_samples > 10); passes with n_neighbors=5"),
    "check_fit2d_1feature": (
        "fits 10 samples, too few for the default k-NN graph (n_neighbors=10 needs "
        "n_samples > 10); passes with n_neighbors=5"),
}


def _assert_checks(estimator, expected_failed):
    results = check_estimator(estimator, expected_failed_checks=expected_failed,
                              on_fail=None, on_skip=None)
    failed = [f"{r['check_name']}: {r['exception']!r}" for r in results
              if r["status"] == "failed"]
    assert not failed, "\n".join(failed)
    assert {r["check_name"] for r in results if r["status"] == "xfail"} == set(expected_failed)
    # a listed check that passes should come off the list
    assert not [r["check_name"] for r in results
                if r["expected_to_fail"] and r["status"] == "passed"]


# n_init=2 (as scikit-learn's own tests of its KMeans) keeps these fast; the checks are
# about the interface, which does not depend on the number of restarts.
def test_check_estimator_kmeans():
    _assert_checks(KMeans(n_init=2), KMEANS_EXPECTED_FAILED)


def test_check_estimator_spectral():
    _assert_checks(SpectralClustering(n_init=2), SPECTRAL_EXPECTED_FAILED)
    # the two expected failures are only about the default n_neighbors on tiny data
    for check in (check_estimators_nan_inf, check_fit2d_1feature):
        check("SpectralClustering", SpectralClustering(n_neighbors=5, n_init=2))


def _same_params(a, b):
    pa, pb = a.get_params(), b.get_params()
    assert pa.keys() == pb.keys()
    for key, value in pa.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, pb[key])
        else:
            assert value == pb[key], key


@pytest.mark.parametrize("est", [
    KMeans(3, n_init=2, max_iter=50, tol=1e-3, init=np.array([[0.0, 0], [1, 1], [5, 5]]),
           random_state=7, device="cpu", block_size=16, dtype="float64"),
    KMeans(3, init="random", random_state=None, dtype=torch.float64),
    SpectralClustering(3, "rbf", 5, 0.5, 2, 1),
], ids=["kmeans-array-init", "kmeans-random", "spectral"])
def test_clone_round_trip(est):
    x, _ = make_blobs(60, centers=3, random_state=0)
    copy = clone(est)
    assert copy is not est and type(copy) is type(est)
    _same_params(est, copy)
    _same_params(clone(copy), est)
    fitted = clone(est).set_params(random_state=3).fit(x)
    again = clone(fitted)  # a clone is unfitted, with the same parameters
    assert not hasattr(again, "labels_") and not hasattr(again, "n_features_in_")
    _same_params(again, fitted)
    np.testing.assert_array_equal(again.fit(x).labels_, fitted.labels_)  # deterministic


@pytest.mark.parametrize("cls, param, value", [
    (KMeans, "n_clusters", 0),
    (KMeans, "n_clusters", 2.5),
    (KMeans, "init", "foo"),
    (KMeans, "n_init", 0),
    (KMeans, "max_iter", 0),
    (KMeans, "tol", -1.0),
    (KMeans, "random_state", "seed"),
    (KMeans, "block_size", 0),
    (KMeans, "dtype", "int8"),
    (SpectralClustering, "n_clusters", 0),
    (SpectralClustering, "affinity", "cosine"),
    (SpectralClustering, "n_neighbors", 0),
    (SpectralClustering, "gamma", -1.0),
    (SpectralClustering, "n_init", 0),
])
def test_bad_parameter_raises_at_fit_naming_it(cls, param, value):
    est = cls(**{param: value})  # construction stores the value, unchecked
    assert est.get_params()[param] == value
    with pytest.raises(ValueError, match=f"The '{param}' parameter of {cls.__name__} must be"):
        est.fit(np.random.default_rng(0).normal(size=(30, 2)))


def test_kmeans_bad_torch_dtype_and_init_shape():
    x = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match="dtype"):
        KMeans(2, dtype=torch.int64).fit(x)
    with pytest.raises(ValueError, match="init centres must have shape"):
        KMeans(2, init=np.zeros((3, 2))).fit(x)


def test_kmeans_torch_tensor_input():
    x, _ = make_blobs(200, centers=3, n_features=4, random_state=0)
    ref = KMeans(3, n_init=2).fit(x.astype(np.float32))
    for t in (torch.tensor(x, dtype=torch.float32), torch.tensor(x)):
        km = KMeans(3, n_init=2).fit(t)
        assert km.n_features_in_ == 4
        np.testing.assert_array_equal(km.labels_, ref.labels_)
        np.testing.assert_array_equal(km.predict(t), ref.labels_)
        assert km.transform(t).shape == (200, 3)
    km = KMeans(3, n_init=2).fit(torch.tensor(x, dtype=torch.bfloat16))
    assert km.labels_.dtype == np.int64 and km.cluster_centers_.shape == (3, 4)
    with pytest.raises(ValueError, match="X has 3 features, but KMeans is expecting 4"):
        km.predict(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="NaN"):
        KMeans(2).fit(torch.tensor([[0.0, float("nan")], [1, 1], [2, 2]]))
    with pytest.raises(ValueError, match="2D"):
        KMeans(2).fit(torch.zeros(5))
    # from_centers gives a fitted estimator that checks n_features too
    fc = KMeans.from_centers(ref.cluster_centers_)
    assert fc.n_features_in_ == 4
    np.testing.assert_array_equal(fc.predict(torch.tensor(x)), ref.predict(x))
    with pytest.raises(ValueError, match="X has 2 features"):
        fc.transform(np.zeros((1, 2)))


def test_random_state_instances_are_deterministic():
    x, _ = make_blobs(100, centers=3, random_state=0)
    for cls in (KMeans, SpectralClustering):
        a = cls(3, random_state=np.random.RandomState(5)).fit(x).labels_
        b = cls(3, random_state=np.random.RandomState(5)).fit(x).labels_
        np.testing.assert_array_equal(a, b)


def test_spectral_accepts_tensors():
    x = make_toy("moons", n=300).x
    a = SpectralClustering(2).fit(x)
    b = SpectralClustering(2).fit(torch.tensor(x))
    assert b.n_features_in_ == 2
    np.testing.assert_array_equal(a.labels_, b.labels_)
