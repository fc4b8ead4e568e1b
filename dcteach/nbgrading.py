"""nbgrader helpers: regenerate student versions, and keep graded exercises honest.

Regenerate every student notebook in ``assignments/`` from the instructor notebooks in
``solutions/`` (run from the repository root)::

    python -m dcteach.nbgrading generate            # all assignments
    python -m dcteach.nbgrading generate 01_clustering_basics

This is ``nbgrader generate_assignment <name> --force`` for each assignment, with a
throw-away gradebook so that no ``gradebook.db`` is left behind.

Hidden tests use :func:`forbid_library_calls` so that an exercise answered by calling the
library's reference code (``dcteach.metrics.cluster_accuracy``, ``sklearn.metrics``,
``dcteach.cluster.KMeans`` ...) earns no marks::

    with forbid_library_calls():
        value = cluster_accuracy(y_true, y_pred)   # the student's function
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["FORBIDDEN_PACKAGES", "forbid_library_calls", "recorded_calls", "list_assignments",
           "generate"]

#: Packages whose reference implementations a graded function must not call.
#: numpy, scipy (including ``scipy.optimize.linear_sum_assignment``) and torch are allowed.
FORBIDDEN_PACKAGES = ("dcteach", "sklearn")


def _package_paths(packages: Sequence[str]) -> list[str]:
    """Real paths that identify code of ``packages``: a package's folder (ending in the path
    separator, so its whole tree matches) or a plain module's own file (``dcteach.train`` is
    train.py only, not the rest of ``dcteach``)."""
    paths = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            paths += [os.path.realpath(loc) + os.sep for loc in spec.submodule_search_locations]
        elif spec.origin:
            paths.append(os.path.realpath(spec.origin))
    return paths


@contextmanager
def forbid_library_calls(packages: Sequence[str] = FORBIDDEN_PACKAGES) -> Iterator[list[str]]:
    """Fail (AssertionError) if code run inside the block calls into ``packages``.

    Works with ``sys.setprofile``: every Python function called inside the block is checked
    by the file it is defined in, so aliases (``from sklearn.metrics import ... as f``) and
    imports inside the function are caught too. Yields the list of offending calls.
    """
    roots = _package_paths(packages)
    this_file = os.path.realpath(__file__)
    verdict: dict[str, bool] = {}
    hits: list[str] = []

    def profiler(frame, event, arg):
        if event != "call":
            return
        filename = frame.f_code.co_filename
        bad = verdict.get(filename)
        if bad is None:
            real = os.path.realpath(filename)
            bad = real != this_file and any(
                real.startswith(r) if r.endswith(os.sep) else real == r for r in roots)
            verdict[filename] = bad
        if bad and len(hits) < 5:
            module = frame.f_globals.get("__name__", filename)
            hits.append(f"{module}.{frame.f_code.co_name}")

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        yield hits
    finally:
        sys.setprofile(previous)
    if hits:
        raise AssertionError(
            "This exercise must be solved with your own code (numpy / scipy / torch), but it "
            f"called the reference library: {', '.join(hits)}. Calls into "
            f"{' or '.join(packages)} earn no marks here."
        )


@contextmanager
def recorded_calls(namespace: dict, names: Sequence[str],
                   replacements: Mapping[str, Callable] | None = None
                   ) -> Iterator[dict[str, list[tuple[tuple, dict, object]]]]:
    """Record the calls of the functions ``namespace[name]`` for each name in ``names``.

    Inside the block each of them is replaced by a wrapper that calls the original (or
    ``replacements[name]`` where given) and appends ``(args, kwargs, result)`` to
    ``records[name]``; the block gets ``records``. Code that looks the function up by its
    global name at call time (a notebook's later function calling an earlier one) is therefore
    recorded and, with ``replacements``, runs with the substitute. The originals are restored
    afterwards, also on error.
    """
    replacements = dict(replacements or {})
    unknown = [n for n in names if n not in namespace and n not in replacements]
    if unknown:
        raise NameError(f"recorded_calls: {', '.join(unknown)} not defined — run the cells "
                        "that define them first")
    originals = {name: namespace.get(name, _MISSING) for name in names}
    records: dict[str, list[tuple[tuple, dict, object]]] = {name: [] for name in names}

    def recording(name: str, fn: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            result = fn(*args, **kwargs)
            records[name].append((args, kwargs, result))
            return result
        wrapper.__name__ = getattr(fn, "__name__", name)
        return wrapper

    for name in names:
        namespace[name] = recording(name, replacements.get(name, originals[name]))
    try:
        yield records
    finally:
        for name, fn in originals.items():
            if fn is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = fn


_MISSING = object()


def list_assignments(root: str | os.PathLike = ".") -> list[str]:
    """Assignment names: the folders of ``solutions/`` that hold a notebook."""
    src = Path(root) / "solutions"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def generate(names: Sequence[str] | None = None, root: str | os.PathLike = ".") -> list[str]:
    """Run ``nbgrader generate_assignment NAME --force`` for each assignment (default: all).

    Uses a temporary gradebook so the course folder stays clean. Returns the names.
    """
    root = Path(root).resolve()
    if not (root / "nbgrader_config.py").exists():
        raise FileNotFoundError(f"{root} has no nbgrader_config.py: run this from the "
                                "repository root (the folder holding solutions/).")
    names = list(names) if names else list_assignments(root)
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'gradebook.db'}"
        for name in names:
            print(f"generating assignments/{name} from solutions/{name}", flush=True)
            subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", name,
                            "--force", f"--CourseDirectory.db_url={db}"],
                           cwd=root, check=True)
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dcteach.nbgrading",
                                     description="Course tools for the nbgrader assignments.")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="regenerate assignments/ from solutions/")
    gen.add_argument("names", nargs="*", help="assignment names (default: all in solutions/)")
    gen.add_argument("--root", default=".", help="course root (default: current folder)")
    sub.add_parser("list", help="list the assignments found in solutions/")
    args = parser.parse_args(argv)
    if args.command == "generate":
        generate(args.names, args.root)
    else:
        print("\n".join(list_assignments()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
