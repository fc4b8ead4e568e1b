"""nbgrader round trip on a throw-away copy of the course.

For every assignment in solutions/: the committed release in assignments/ is what
``nbgrader generate_assignment`` produces, it hides solutions, hidden tests and mark schemes,
the instructor solution autogrades to full marks (within the notebook time limit) and the
untouched release to zero.
The wrong submissions of each assignment (mutants) are in tests/test_mutants_NN.py.
Scores come from the gradebook, never from exit codes.
"""

from __future__ import annotations

import re
import time

import nbformat
import pytest
from helpers_nb import (
    NOTEBOOK_TIME_LIMIT_S,
    REPO,
    assignments,
    copy_course,
    grades,
    nbgrader,
    normalise_release,
    read_notebooks,
    submit,
)

ASSIGNMENTS = assignments()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not ASSIGNMENTS, reason="no assignments in solutions/")]

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME")


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded_course(request, tmp_path_factory):
    """Course copy with the release regenerated, and two submissions autograded:
    ``instructor`` (the solution notebooks) and ``untouched`` (the release as handed out)."""
    name = request.param
    course = copy_course(tmp_path_factory.mktemp(f"course-{name}"))
    nbgrader(course, "generate_assignment", name, "--force")
    submit(course, name, "instructor", read_notebooks(course / "solutions" / name))
    submit(course, name, "untouched", read_notebooks(course / "assignments" / name))
    start = time.perf_counter()
    nbgrader(course, "autograde", name, "--force")
    graded_course_seconds[name] = time.perf_counter() - start
    return name, course


graded_course_seconds: dict[str, float] = {}


def test_committed_release_is_up_to_date(graded_course):
    name, course = graded_course
    generated, committed = course / "assignments" / name, REPO / "assignments" / name
    assert committed.is_dir(), (f"assignments/{name} is missing: run "
                                f"`python -m dcteach.nbgrading generate {name}` and commit it")
    files = sorted(p.relative_to(generated) for p in generated.rglob("*") if p.is_file())
    committed_files = sorted(p.relative_to(committed) for p in committed.rglob("*")
                             if p.is_file() and ".ipynb_checkpoints" not in p.parts)
    assert files == committed_files
    for rel in files:
        if rel.suffix == ".ipynb":
            new = normalise_release(nbformat.read(generated / rel, as_version=4))
            old = normalise_release(nbformat.read(committed / rel, as_version=4))
            assert new == old, (f"assignments/{name}/{rel} is stale: run `python -m "
                                f"dcteach.nbgrading generate {name}` and commit the result")
        else:
            assert (generated / rel).read_bytes() == (committed / rel).read_bytes(), rel


def test_release_hides_solutions_and_hidden_tests(graded_course):
    name, course = graded_course
    release = read_notebooks(REPO / "assignments" / name)
    assert release, f"assignments/{name} has no notebooks"
    for nb_name, nb in read_notebooks(course / "solutions" / name).items():
        text = "\n".join(c.source for c in release[nb_name].cells)
        for marker in MARKERS:
            assert marker not in text, f"{nb_name}: '{marker}' leaked into the release"
        for cell in nb.cells:
            for block in HIDDEN.findall(cell.source):
                body = block.split("\n", 1)[1].rsplit("\n", 1)[0].strip()
                if body:
                    assert body not in text, f"{nb_name}: hidden tests leaked into the release"
        for cell in release[nb_name].cells:
            assert not cell.get("outputs"), f"{nb_name}: release has outputs"


def test_grade_ids_unique_and_points_positive(graded_course):
    name, course = graded_course
    for nb_name, nb in read_notebooks(course / "solutions" / name).items():
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids)), f"{nb_name}: duplicate grade_id"
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                assert meta.get("points", 0) > 0, f"{nb_name}:{meta['grade_id']} has no points"


def test_solution_gets_full_marks(graded_course):
    name, course = graded_course
    result = grades(course, name, "instructor")
    assert result, "the solution was not graded"
    auto = {k: g for k, g in result.items() if g["cell_type"] == "code"}
    assert auto, "no autograded test cells"
    lost = {k: (g["score"], g["max_score"]) for k, g in auto.items()
            if g["score"] != g["max_score"]}
    assert not lost, f"the instructor solution loses marks: {lost}"
    for key, g in result.items():
        if g["cell_type"] == "markdown":  # written answers are graded by hand
            assert g["needs_manual_grade"], key


def test_solution_runs_within_the_time_limit(graded_course):
    """The instructor autograde runs every cell of the solution in the quick profile (nbgrader
    sets NBGRADER_EXECUTION, which forces it), so it is also the solution's "runs top to bottom"
    test: tests/test_notebooks.py executes a solution again only where cells are skipped while
    grading. Timed together with the untouched release, which fails fast."""
    name, _ = graded_course
    seconds = graded_course_seconds[name]
    assert seconds < NOTEBOOK_TIME_LIMIT_S, (
        f"autograding solutions/{name} took {seconds:.0f}s (limit {NOTEBOOK_TIME_LIMIT_S}s)")


def test_untouched_release_gets_zero(graded_course):
    name, course = graded_course
    result = grades(course, name, "untouched")
    assert result, "the untouched release was not graded"
    scored = {k: g["score"] for k, g in result.items() if g["score"]}
    assert not scored, f"an untouched template earns marks: {scored}"
