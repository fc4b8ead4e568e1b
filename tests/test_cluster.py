"""k-means and spectral clustering against scikit-learn and brute-force checks."""

import numpy as np
import pytest
from sklearn.cluster import KMeans as SkKMeans
from sklearn.datasets import load_digits, make_blobs

from dcteach.cluster import KMeans, SpectralClustering, affinity_matrix, normalized_laplacian
from dcteach.cluster.kmeans import pairwise_sq_dists
from dcteach.data import make_toy
from dcteach.metrics import ari, cluster_accuracy


def test_pairwise_distances_brute_force():
    rng = np.random.default_rng(0)
    x, c = rng.normal(size=(7, 3)), rng.normal(size=(4, 3))
    import torch

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
    with pytest.raises(ValueError, match="2-D"):
        KMeans(2).fit(np.zeros(5))
    with pytest.raises(ValueError, match="n_clusters"):
        KMeans(10).fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        KMeans(2).fit(np.array([[0.0, np.nan], [1, 1], [2, 2]]))
    with pytest.raises(RuntimeError, match="not fitted"):
        KMeans(2).predict(np.zeros((3, 2)))


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
