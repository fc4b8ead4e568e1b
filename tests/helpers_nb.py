"""Shared helpers for the notebook and nbgrader tests (not collected by pytest)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
COURSE_DIRS = ("lectures", "solutions", "assignments")
NOTEBOOK_TIME_LIMIT_S = 300  # each course notebook, quick profile, 2-core CPU
COURSE_ID = "dcteach"  # must match c.CourseDirectory.course_id in nbgrader_config.py


def assignments() -> list[str]:
    """Every assignment in solutions/ (a folder holding at least one notebook)."""
    src = REPO / "solutions"
    if not src.is_dir():
        return []
    return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def course_notebooks(*dirs: str) -> list[Path]:
    """Notebooks under the given course folders (recursive), checkpoints excluded."""
    found = []
    for d in dirs:
        found += [p for p in sorted((REPO / d).rglob("*.ipynb"))
                  if ".ipynb_checkpoints" not in p.parts]
    return found


def skips_cells_while_grading(path: Path) -> bool:
    """True for a notebook with cells that do not run while nbgrader grades it
    (``dcteach.course.grading()`` or ``NBGRADER_EXECUTION``)."""
    text = path.read_text()
    return "grading()" in text or "NBGRADER_EXECUTION" in text


def nb_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def notebook_env(**extra: str) -> dict[str, str]:
    """Environment for kernels started by the tests: headless plots, quick profile."""
    env = dict(os.environ)
    env.update(MPLBACKEND="Agg", DCTEACH_PROFILE="quick", PYTHONHASHSEED="0")
    env.update(extra)
    return env


def copy_course(dest: Path) -> Path:
    """A throw-away copy of the course (config, solutions/, assignments/) under ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "nbgrader_config.py", dest / "nbgrader_config.py")
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    for d in ("solutions", "assignments"):
        if (REPO / d).is_dir():
            shutil.copytree(REPO / d, dest / d, ignore=ignore)
    return dest


def nbgrader(course: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` in ``course`` (same interpreter as the tests); raise on failure."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course,
                          env=notebook_env(**env), capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def submit(course: Path, assignment: str, student: str, notebooks: dict[str, nbformat.NotebookNode]
           ) -> None:
    """Place notebooks as nbgrader expects them in submitted/<student>/<assignment>/."""
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / name)
    (folder / "timestamp.txt").write_text("2024-01-01 12:00:00.000000 UTC")


def read_notebooks(folder: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))}


def grades(course: Path, assignment: str, student: str) -> dict[str, dict]:
    """Per-cell grades from the gradebook: ``{grade_id: {score, max_score, manual, ...}}``."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id=COURSE_ID) as gb:
        sub = gb.find_submission(assignment, student)
        for nb in sub.notebooks:
            for g in nb.grades:
                out[f"{nb.name}:{g.name}"] = {
                    "score": g.score, "max_score": g.max_score, "auto_score": g.auto_score,
                    "needs_manual_grade": g.needs_manual_grade, "cell_type": g.cell_type,
                }
    return out


def normalise_release(nb: nbformat.NotebookNode) -> str:
    """A notebook reduced to what a student sees, for comparing releases.

    Ignores nbgrader checksums, cell ids, outputs and notebook-level metadata other than
    the kernel name.
    """
    cells = []
    for cell in nb.cells:
        meta = dict(cell.get("metadata", {}).get("nbgrader", {}))
        meta.pop("checksum", None)
        cells.append({"type": cell.cell_type, "source": cell.source, "nbgrader": meta})
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    return json.dumps({"kernel": kernel, "cells": cells}, indent=1, sort_keys=True)


def with_solution(nb: nbformat.NotebookNode, grade_id: str, source: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` with the source of cell ``grade_id`` replaced by ``source``."""
    nb = nbformat.from_dict(nb)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source = source
    return nb


def mutate(nb: nbformat.NotebookNode, grade_id: str, old: str, new: str
           ) -> nbformat.NotebookNode:
    """A copy of ``nb`` with ``old`` replaced by ``new`` in the source of cell ``grade_id``."""
    source = next(c for c in nb.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id).source
    assert old in source, f"{grade_id}: {old!r} not in the solution (update the mutant)"
    return with_solution(nb, grade_id, source.replace(old, new))


def scores(course: Path, student: str, assignment: str) -> dict[str, float]:
    """Points per autograded cell (grade id → score) of ``student``'s submission."""
    return {k.split(":", 1)[1]: g["score"]
            for k, g in grades(course, assignment, student).items()
            if g["cell_type"] == "code"}


def grade_mutants(tmp_path_factory, assignment: str,
                  build: Callable[[nbformat.NotebookNode], list[tuple[str, nbformat.NotebookNode]]],
                  config: str = "") -> Path:
    """A course copy in which the submissions ``build(solution)`` returns — ``(student,
    notebook)`` pairs made from the instructor notebook of ``assignment`` — are autograded in
    one nbgrader run (``config`` is appended to the copy's nbgrader_config.py first)."""
    import pytest

    if assignment not in assignments():
        pytest.skip(f"{assignment} is not in solutions/")
    course = copy_course(tmp_path_factory.mktemp(f"course-{assignment}-mutants"))
    nbgrader(course, "generate_assignment", assignment, "--force")
    name = f"{assignment}.ipynb"
    solution = nbformat.read(course / "solutions" / assignment / name, as_version=4)
    for student, nb in build(solution):
        submit(course, assignment, student, {name: nb})
    if config:
        with open(course / "nbgrader_config.py", "a") as f:
            f.write("\n" + config + "\n")
    nbgrader(course, "autograde", assignment, "--force")
    return course
