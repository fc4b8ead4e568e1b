"""Notebook conventions shared by lectures and assignments.

Every notebook starts with::

    from dcteach.course import setup_notebook
    ctx = setup_notebook(seed=0)      # prints device, profile, data root
    if ctx.quick: ...                 # small settings for a CPU laptop / CI / nbgrader

Profiles: ``$DCTEACH_PROFILE`` = ``quick`` or ``full``; the default is ``full`` on a GPU
and ``quick`` otherwise. While nbgrader validates or autogrades (``NBGRADER_EXECUTION`` is
set) the profile is always ``quick`` so graded notebooks stay within the timeout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .data import data_root
from .engine import pick_device, seed_everything

__all__ = ["NotebookContext", "profile", "grading", "setup_notebook"]


def grading() -> bool:
    """True while nbgrader validates or autogrades this notebook."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def profile(device: torch.device | None = None) -> str:
    """``quick`` or ``full`` (see module docstring)."""
    if grading():
        return "quick"
    value = os.environ.get("DCTEACH_PROFILE", "").strip().lower()
    if value in ("quick", "full"):
        return value
    if value:
        raise ValueError(f"DCTEACH_PROFILE must be 'quick' or 'full', got {value!r}")
    device = device or pick_device()
    return "full" if device.type == "cuda" else "quick"


@dataclass
class NotebookContext:
    seed: int
    device: torch.device
    profile: str
    data_root: Path

    @property
    def quick(self) -> bool:
        return self.profile == "quick"


def setup_notebook(seed: int = 0, device: str | None = None, plots: bool = True
                   ) -> NotebookContext:
    """Seed everything, pick the device and profile, print them; set plot defaults."""
    seed_everything(seed)
    dev = pick_device(device)
    prof = profile(dev)
    root = data_root()
    if plots:
        import matplotlib.pyplot as plt

        plt.rcParams.update({"figure.figsize": (6, 4), "figure.dpi": 90,
                             "axes.spines.top": False, "axes.spines.right": False})
    print(f"dcteach | seed {seed} | device {dev} | profile {prof} | data root {root}"
          + (" | grading" if grading() else ""))
    return NotebookContext(seed, dev, prof, root)
