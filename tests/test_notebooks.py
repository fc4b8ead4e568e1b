"""Course notebooks: committed clean, follow the conventions, run top to bottom (quick profile).

Notebooks are discovered by globbing, so lectures and assignments added later are covered.
"""

from __future__ import annotations

import time

import nbformat
import pytest
from helpers_nb import (
    COURSE_DIRS,
    NOTEBOOK_TIME_LIMIT_S,
    REPO,
    course_notebooks,
    nb_id,
    notebook_env,
    skips_cells_while_grading,
)

ALL = course_notebooks(*COURSE_DIRS)
# A solution notebook is run top to bottom (and timed) by its instructor autograde in
# test_nbgrader.py; it runs here as well only if some of its cells are skipped while grading.
EXECUTED = (sorted((REPO / "lectures").glob("*.ipynb"))
            + [p for p in sorted((REPO / "solutions").glob("*/*.ipynb"))
               if skips_cells_while_grading(p)])
TIME_LIMIT_S = NOTEBOOK_TIME_LIMIT_S


@pytest.mark.parametrize("path", ALL, ids=nb_id)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, (f"{nb_id(path)}: cells {dirty} have outputs; clear them before committing "
                       "(jupyter nbconvert --clear-output --inplace NOTEBOOK)")


@pytest.mark.parametrize("path", ALL, ids=nb_id)
def test_notebook_conventions(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)  # nbformat >= 4.5: every cell has an id
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{nb_id(path)}: set the kernel to 'python3' (nbgrader autograding needs it)")
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids)), f"{nb_id(path)}: duplicate cell ids"
    grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                 if "nbgrader" in c.metadata and "grade_id" in c.metadata["nbgrader"]]
    assert len(grade_ids) == len(set(grade_ids)), f"{nb_id(path)}: duplicate nbgrader grade_id"
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code and "setup_notebook(" in code[0].source, (
        f"{nb_id(path)}: the first code cell must call dcteach.course.setup_notebook")


@pytest.mark.slow
@pytest.mark.parametrize("path", EXECUTED, ids=nb_id)
def test_notebook_runs(path, monkeypatch):
    from nbclient import NotebookClient

    for key, value in notebook_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=TIME_LIMIT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError (with the traceback) on the first failing cell
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT_S, (f"{nb_id(path)} took {elapsed:.0f}s in the quick profile "
                                    f"(limit {TIME_LIMIT_S}s)")
