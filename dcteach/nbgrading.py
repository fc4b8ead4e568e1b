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

__all__ = ["FORBIDDEN_PACKAGES", "forbid_library_calls", "recorded_calls", "recorded_argument",
           "list_assignments", "generate"]

#: Packages whose reference implementations a graded function must not call.
#: numpy, scipy (including ``scipy.optimize.linear_sum_assignment``) and torch are allowed.
FORBIDDEN_PACKAGES = ("dcteach", "sklearn")


def _banned_code(names: Sequence[str]) -> list[tuple[str, frozenset[str] | None]]:
    """``(real path, function names or None)`` for each entry of ``names``.

    An entry is a package (its folder, ending in the path separator, so the whole tree
    matches), a plain module (its own file only: ``dcteach.train`` is train.py, not the rest
    of ``dcteach``) or a function of a module (``dcteach.losses.dec.soft_assignment``: calls of
    that name in that file only; entries naming several functions of one file combine).
    Packages and modules that cannot be found (scikit-learn not installed) are skipped; a
    function entry that names nothing — a typo, or a function re-exported by a package rather
    than defined in a module's own file — raises ValueError, so a ban never fails silently."""
    files: dict[str, set[str] | None] = {}
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # a name under a plain module: module.function
            spec = None
        function = None
        if spec is None and "." in name:
            module, function = name.rsplit(".", 1)
            try:
                spec = importlib.util.find_spec(module)
            except ModuleNotFoundError:
                spec = None
            if spec is None:
                continue
            if spec.submodule_search_locations or not hasattr(
                    importlib.import_module(module), function):
                where = ("a package: name the module that defines it"
                         if spec.submodule_search_locations else f"{module} has no {function}")
                raise ValueError(f"forbid_library_calls: cannot ban {name!r} ({where})")
        if spec is None:
            continue
        paths = ([os.path.realpath(loc) + os.sep for loc in spec.submodule_search_locations]
                 if spec.submodule_search_locations else
                 [os.path.realpath(spec.origin)] if spec.origin else [])
        for path in paths:
            if function is None or files.get(path, set()) is None:
                files[path] = None
            else:
                files.setdefault(path, set()).add(function)
    return [(path, None if fns is None else frozenset(fns)) for path, fns in files.items()]


@contextmanager
def forbid_library_calls(packages: Sequence[str] = FORBIDDEN_PACKAGES, *,
                         stop_at_first: bool = False,
                         culprit: str = "Your code") -> Iterator[list[str]]:
    """Fail (AssertionError) if code run inside the block calls into ``packages``.

    ``packages`` lists packages, modules or module functions (see :func:`_banned_code`):
    ``("dcteach", "sklearn")`` by default, ``("dcteach.methods", "dcteach.losses.dec.dec_kl")``
    for a finer ban. Works with ``sys.setprofile``: every Python function called inside the
    block is checked by the file it is defined in (and its name), so aliases
    (``from sklearn.metrics import ... as f``) and imports inside the function are caught too.
    Yields the list of offending calls (the first five).

    ``stop_at_first=True`` raises at the first banned call, inside it, instead of after the
    block: a submission that hands a long training run to the reference code stops at once.
    (An exception raised by a profile function also switches profiling off; the check after
    the block still fails if the student's code catches the error.) ``culprit`` names what
    broke the rule in the message ("dec_fit"; "Your code" by default).
    """
    banned = _banned_code(packages)
    this_file = os.path.realpath(__file__)
    verdict: dict[str, frozenset[str] | None] = {}
    hits: list[str] = []

    def message() -> str:
        return (f"{culprit} called the reference library ({', '.join(hits)}): write it with "
                f"your own code (numpy / scipy / torch). Calls into {', '.join(packages)} earn "
                "no marks here.")

    def rule(filename: str) -> frozenset[str] | None:
        """The banned function names of a file: None for all of them."""
        real = os.path.realpath(filename)
        for path, functions in banned:
            if real != this_file and (real.startswith(path) if path.endswith(os.sep)
                                      else real == path):
                return functions
        return frozenset()

    def profiler(frame, event, arg):
        if event != "call":
            return
        filename = frame.f_code.co_filename
        if filename not in verdict:
            verdict[filename] = rule(filename)
        functions = verdict[filename]
        if functions is not None and frame.f_code.co_name not in functions:
            return
        if len(hits) < 5:
            module = frame.f_globals.get("__name__", filename)
            hits.append(f"{module}.{frame.f_code.co_name}")
        if stop_at_first:
            raise AssertionError(message())

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        yield hits
    finally:
        sys.setprofile(previous)
    if hits:
        raise AssertionError(message())


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


def recorded_argument(record: tuple[tuple, dict, object], position: int, name: str):
    """The argument ``name`` of a call recorded by :func:`recorded_calls` — passed at
    ``position`` or by keyword — or None where the call did not pass it."""
    args, kwargs, _ = record
    return args[position] if len(args) > position else kwargs.get(name)


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
