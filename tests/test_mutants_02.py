"""Assignment 02 (autoencoders and DEC): wrong submissions, graded by nbgrader.

A dec_fit that uses the library's DEC, or only its target, loses that part.
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

A02 = "02_autoencoders_dec"
A02_NB = f"{A02}.ipynb"
FULL_02 = {"soft-assignment-tests": 2, "target-tests": 2, "loss-tests": 1, "step-tests": 2,
           "fit-tests": 5}


@pytest.fixture(scope="module")
def dec_shortcuts(tmp_path_factory):
    """Two dec_fit shortcuts: the library's DEC, and the library's DEC target inside an
    otherwise hand-written loop. The guard allows the library's autoencoder pretraining (which
    uses the shared reconstruction loss) and nothing of the reference DEC."""
    if A02 not in ASSIGNMENTS:
        pytest.skip(f"{A02} is not in solutions/")
    course = copy_course(tmp_path_factory.mktemp("course-02-shortcuts"))
    nbgrader(course, "generate_assignment", A02, "--force")
    solution = nbformat.read(course / "solutions" / A02 / A02_NB, as_version=4)
    fit = next(c for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == "fit-solution").source
    library_dec = with_solution(solution, "fit-solution",
                                 "from dcteach.methods import get_method\n\n"
                                 "def dec_fit(X, n_clusters, seed=0):\n"
                                 "    return get_method('dec')(n_clusters=n_clusters, seed=seed,"
                                 " verbose=False).fit_predict(X)")
    library_target = with_solution(
        solution, "fit-solution",
        "from dcteach.losses import target_distribution as library_target\n"
        + fit.replace("p = target_distribution(q)", "p = library_target(q)"))
    for student, nb in [("a_library_dec", library_dec), ("b_library_target", library_target)]:
        submit(course, A02, student, {A02_NB: nb})
    nbgrader(course, "autograde", A02, "--force")
    return course


@pytest.mark.parametrize("student", ["a_library_dec", "b_library_target"])
def test_reference_dec_in_dec_fit_costs_only_that_part(dec_shortcuts, student):
    assert scores(dec_shortcuts, student, A02) == {**FULL_02, "fit-tests": 0}
