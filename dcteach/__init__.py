"""dcteach: a course kit for deep clustering (library, lectures, assignments, CLI)."""

__version__ = "0.1.0"
