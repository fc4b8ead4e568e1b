"""Metrics against independent references: brute force over permutations and scikit-learn."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from dcteach import metrics


def brute_force_acc(y_true, y_pred):
    """Best accuracy over every injective map of clusters to classes (small cases only)."""
    clusters, classes = np.unique(y_pred), np.unique(y_true)
    targets = list(classes) + [-1] * max(0, len(clusters) - len(classes))
    best = 0
    for perm in itertools.permutations(targets, len(clusters)):
        mapping = dict(zip(clusters, perm, strict=True))
        best = max(best, sum(mapping[p] == t for p, t in zip(y_pred, y_true, strict=True)))
    return best / len(y_true)


label_pairs = st.integers(1, 30).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 4), min_size=n, max_size=n),
        st.lists(st.integers(0, 4), min_size=n, max_size=n),
    )
)


@settings(max_examples=150, deadline=None)
@given(label_pairs)
def test_acc_matches_brute_force(pair):
    y_true, y_pred = map(np.asarray, pair)
    assert metrics.cluster_accuracy(y_true, y_pred) == pytest.approx(
        brute_force_acc(y_true, y_pred), abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(label_pairs)
def test_nmi_ari_match_sklearn(pair):
    y_true, y_pred = map(np.asarray, pair)
    reference_nmi = skm.normalized_mutual_info_score(y_true, y_pred)
    assert abs(metrics.nmi(y_true, y_pred) - reference_nmi) < 1e-9
    assert abs(metrics.ari(y_true, y_pred) - skm.adjusted_rand_score(y_true, y_pred)) < 1e-9


def test_hand_computed_case():
    # 6 points; clusters {0,0,1}->class 0 mostly. Best map: 0->0 (2 right), 1->1 (2 right).
    y_true = [0, 0, 0, 1, 1, 1]
    y_pred = [1, 1, 0, 0, 0, 1]
    assert metrics.cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    assert metrics.best_mapping(y_true, y_pred) == {0: 1, 1: 0}
    assert metrics.purity(y_true, y_pred) == pytest.approx(4 / 6)
    # ARI by hand: n_ij = [[1,2],[2,1]] -> sum C(n_ij,2) = 2; a=b=(3,3) -> 3+3=6; C(6,2)=15
    expected = (2 - 6 * 6 / 15) / (0.5 * (6 + 6) - 6 * 6 / 15)
    assert metrics.ari(y_true, y_pred) == pytest.approx(expected)


def test_permutation_invariance_and_perfect():
    y = np.array([0, 0, 1, 1, 2, 2])
    relabelled = np.array([5, 5, 3, 3, 9, 9])
    assert metrics.evaluate(y, relabelled) == {"acc": 1.0, "nmi": 1.0, "ari": 1.0}


def test_aligned_confusion_matrix_is_diagonal_for_permutation():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    p = np.array([2, 2, 0, 0, 1, 1, 0])
    m, classes = metrics.aligned_confusion_matrix(y, p)
    assert classes.tolist() == [0, 1, 2]
    assert np.trace(m) == round(metrics.cluster_accuracy(y, p) * len(y))
    assert m.sum() == len(y)
    # more clusters than classes: extra columns keep every point
    m2, _ = metrics.aligned_confusion_matrix([0, 0, 1, 1], [0, 1, 2, 3])
    assert m2.shape == (2, 4) and m2.sum() == 4 and np.trace(m2) == 2


def test_torch_and_list_inputs():
    y = torch.tensor([0, 1, 1, 0])
    assert metrics.cluster_accuracy(y, [1, 0, 0, 1]) == 1.0
    assert metrics.cluster_accuracy(np.array([0.0, 1.0]), [0, 1]) == 1.0  # integral floats


@pytest.mark.parametrize(
    "y_true, y_pred, match",
    [
        ([0, 1, 2], [0, 1], "same length"),
        ([], [], "empty"),
        ([0.5, 1.0], [0, 1], "integer"),
        (["a", "b"], [0, 1], "integer"),
        (np.zeros((2, 2)), [0, 1], "1-D"),
    ],
)
def test_bad_input_raises_value_error(y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        metrics.evaluate(y_true, y_pred)


def test_subsample_stability_separates_structure_from_noise():
    from sklearn.cluster import KMeans as SKMeans
    from sklearn.datasets import make_blobs

    blobs, _ = make_blobs(600, centers=4, cluster_std=0.3, random_state=0)
    noise = np.random.default_rng(0).uniform(size=(600, 8))

    def kmeans_on(x):
        return lambda idx: SKMeans(4, n_init=1, random_state=int(idx[0])).fit_predict(x[idx])

    assert metrics.subsample_stability(kmeans_on(blobs), 600) > 0.99
    rng = np.random.default_rng(1)
    arbitrary = metrics.subsample_stability(lambda idx: rng.integers(0, 4, len(idx)), 600)
    assert abs(arbitrary) < 0.05  # fresh random labels agree by chance only
    assert metrics.subsample_stability(kmeans_on(noise), 600) < 0.9


def test_subsample_stability_compares_on_the_shared_rows():
    """A procedure whose labels depend only on the row itself is perfectly stable, whatever
    the subsample; one that numbers rows by their position in the subsample is not."""
    assert metrics.subsample_stability(lambda idx: idx % 3, 300, n_pairs=4) == 1.0
    seen = []
    metrics.subsample_stability(lambda idx: seen.append(idx) or idx % 2, 100, 2, 0.5, seed=3)
    assert len(seen) == 4 and all(len(s) == 50 and np.all(np.diff(s) > 0) for s in seen)
    positional = metrics.subsample_stability(lambda idx: np.arange(len(idx)) % 3, 300)
    assert positional < 0.5
    with pytest.raises(ValueError, match="fraction"):
        metrics.subsample_stability(lambda idx: idx, 10, fraction=0)


def test_format_table_columns_line_up_with_long_names():
    rows = [{"name": "text-kmeans-hybrid / searchsnippets (seed 0)", "acc": 0.8, "nmi": 0.7,
             "ari": 0.6}, {"name": "k", "acc": 0.5, "nmi": 0.25, "ari": 0.125}]
    lines = metrics.format_table(rows).splitlines()
    assert len({len(line) for line in lines}) == 1  # every line as long as the header
    assert lines[1].endswith("0.8000   0.7000   0.6000")
    assert lines[0].rstrip().endswith("ARI") and lines[2].startswith("k ")
