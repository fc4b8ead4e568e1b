"""Assignment 03 (DeepCluster): wrong submissions, graded by nbgrader.

PCA whitening without centring, a sampler uniform over the images, an empty
cluster left empty, Parts 1-3 answered by the library, and an epoch that clusters features that
are not L2-normalised each lose exactly their parts.
Scores come from the gradebook, never from exit codes.
"""

from __future__ import annotations

import pytest
from helpers_nb import (
    grade_mutants,
    mutate,
    scores,
    with_solution,
)

pytestmark = pytest.mark.slow

A03 = "03_deepcluster"
FULL_03 = {"pca-tests": 3, "sampler-tests": 3, "empty-tests": 3, "epoch-tests": 2}

# Part 2 uniform over the images instead of over the pseudo-classes (sizes ∝ cluster sizes)
PROPORTIONAL_SAMPLER = '''def uniform_sampler(labels, n, rng=None):
    labels = torch.as_tensor(np.asarray(labels))
    return torch.randint(len(labels), (int(n),), generator=rng)
'''
# Parts 1-3 answered with the library's reference code (each would pass its tests otherwise)
LIBRARY_PCA = '''from dcteach.cluster import PCAWhitening


def pca_whiten(features, n_components, normalize=True):
    z = PCAWhitening(n_components).fit_transform(torch.as_tensor(np.asarray(features)))
    return F.normalize(z, dim=1) if normalize else z
'''
LIBRARY_SAMPLER = '''from dcteach.train import class_uniform_indices


def uniform_sampler(labels, n, rng=None):
    return class_uniform_indices(torch.as_tensor(np.asarray(labels)), n, rng)
'''
LIBRARY_FIX = '''from dcteach.cluster import split_empty_clusters


def fix_empty_clusters(features, labels, centers, rng, eps=1e-4):
    return split_empty_clusters(torch.as_tensor(features), labels, centers, rng, eps)
'''


def build_submissions(solution):
    """Assignment 03 submissions, graded in one autograde run. Part 4 is graded with the
    reference Parts 1-3, so none of a-d may cost it.

    a: PCA whitening without centring. b: a sampler uniform over the images (each pseudo-class
    drawn in proportion to its size). c: an empty-cluster fix that moves the centre but no
    point, so the cluster stays empty. d: Parts 1-3 answered with the library's PCAWhitening,
    class_uniform_indices and split_empty_clusters. e: an epoch whose k-means runs on whitened
    features that are not L2-normalised. a, b and c (bugs in three different parts) are graded
    as one submission, to save two notebook runs."""
    a = mutate(solution, "pca-solution", "xc = x - x.mean(0)", "xc = x")
    b = with_solution(a, "sampler-solution", PROPORTIONAL_SAMPLER)          # a + b
    c = mutate(b, "empty-solution", "        labels[members[to_e]] = e\n", "")  # a + b + c
    d = with_solution(solution, "pca-solution", LIBRARY_PCA)
    d = with_solution(d, "sampler-solution", LIBRARY_SAMPLER)
    d = with_solution(d, "empty-solution", LIBRARY_FIX)
    e = mutate(solution, "epoch-solution", "z = pca_whiten(features, n_components)",
                "z = pca_whiten(features, n_components, normalize=False)")
    return [("abc_no_centring_proportional_empty_stays", c), ("d_library", d),
            ("e_no_l2", e)]


@pytest.fixture(scope="module")
def dc_mutants(tmp_path_factory):
    return grade_mutants(tmp_path_factory, A03, build_submissions)


@pytest.mark.parametrize("student, lost", [
    ("abc_no_centring_proportional_empty_stays", ("pca-tests", "sampler-tests", "empty-tests")),
    ("d_library", ("pca-tests", "sampler-tests", "empty-tests")),
    ("e_no_l2", ("epoch-tests",)),
])
def test_03_each_bug_costs_only_its_part(dc_mutants, student, lost):
    assert scores(dc_mutants, student, A03) == {**FULL_03, **dict.fromkeys(lost, 0)}
