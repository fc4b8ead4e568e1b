"""Assignment 01 (clustering basics): wrong submissions, graded by nbgrader.

Broken submissions (syntax error, infinite loop) and a submission
that calls the reference library are graded zero for those parts without stopping the batch.
Scores come from the gradebook, never from exit codes.
"""

from __future__ import annotations

import nbformat
import pytest
from helpers_nb import (
    assignments,
    copy_course,
    nbgrader,
    scores,
    submit,
    with_solution,
)

ASSIGNMENTS = assignments()
pytestmark = pytest.mark.slow

A01 = "01_clustering_basics"
A01_NB = f"{A01}.ipynb"


@pytest.fixture(scope="module")
def broken_submissions(tmp_path_factory):
    if A01 not in ASSIGNMENTS:
        pytest.skip(f"{A01} is not in solutions/")
    course = copy_course(tmp_path_factory.mktemp("course-broken"))
    nbgrader(course, "generate_assignment", A01, "--force")
    solution = nbformat.read(course / "solutions" / A01 / A01_NB, as_version=4)
    loop = with_solution(solution, "nmi-solution",
                          "def nmi(y_true, y_pred):\n    while True:\n        pass")
    syntax = with_solution(solution, "acc-solution",
                            "def cluster_accuracy(y_true, y_pred)\n    return 1.0")
    cheat = with_solution(solution, "acc-solution",
                           "from dcteach.metrics import cluster_accuracy")
    cheat = with_solution(cheat, "nmi-solution",
                           "from sklearn.metrics import normalized_mutual_info_score\n\n"
                           "def nmi(y_true, y_pred):\n"
                           "    return float(normalized_mutual_info_score(y_true, y_pred))")
    cheat = with_solution(cheat, "kmeans-solution",
                           "import dcteach.cluster as dcc\n\n"
                           "def kmeans(X, k, n_iter=100, seed=0):\n"
                           "    km = dcc.KMeans(k, random_state=seed).fit(X)\n"
                           "    return km.labels_, km.cluster_centers_.astype(float)")
    # "a_..." sorts first: the loop must not stop the students graded after it
    for student, nb in [("a_loop", loop), ("b_syntax", syntax), ("c_cheat", cheat)]:
        submit(course, A01, student, {A01_NB: nb})
    nbgrader(course, "autograde", A01, "--force", "--Execute.timeout=30")
    return course


FULL = {"contingency-tests": 1, "acc-tests": 2, "nmi-tests": 3, "kmeanspp-tests": 2,
        "kmeans-tests": 3, "spectral-tests": 3, "spectral-clustering-tests": 2}


def test_infinite_loop_costs_only_that_part(broken_submissions):
    assert scores(broken_submissions, "a_loop", A01) == {**FULL, "nmi-tests": 0}


def test_syntax_error_costs_only_that_part(broken_submissions):
    assert scores(broken_submissions, "b_syntax", A01) == {**FULL, "acc-tests": 0}


def test_calling_the_reference_library_earns_nothing(broken_submissions):
    # ACC from dcteach.metrics, NMI from sklearn.metrics, k-means from dcteach.cluster (and
    # hence the spectral clustering built on it) score zero; the honest parts keep their marks.
    expected = {**FULL, "acc-tests": 0, "nmi-tests": 0, "kmeans-tests": 0,
                "spectral-clustering-tests": 0}
    assert scores(broken_submissions, "c_cheat", A01) == expected
