"""The shape every method shares: a config dataclass, named presets and the
scikit-learn estimator interface (``fit`` / ``predict`` / ``fit_predict`` / ``transform`` /
``labels_``), plus a registry the CLI reads.

A method subclasses :class:`ClusterMethod`, sets ``name``, ``Config`` and ``presets`` and
implements ``_fit(X, y_monitor)``; ``y`` passed to ``fit`` is used only to log metrics while
training (never as a training signal).

    @register
    class DEC(ClusterMethod):
        name = "dec"
        Config = DECConfig
        presets = {"quick": {...}, "paper": {...}, "fast": {...}}
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from ..engine import TrainingRun, pick_device, seed_everything

__all__ = ["ClusterMethod", "METHODS", "register", "get_method", "make_config"]

METHODS: dict[str, type[ClusterMethod]] = {}


def register(cls: type[ClusterMethod]) -> type[ClusterMethod]:
    """Class decorator: make a method available to ``dcteach run <name>``."""
    METHODS[cls.name] = cls
    return cls


def get_method(name: str) -> type[ClusterMethod]:
    from . import _load_all

    _load_all()
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(sorted(METHODS))}"
                         ) from None


def make_config(config_cls, presets: dict[str, dict], preset: str, overrides: dict):
    """Config dataclass from defaults < preset < overrides, with clear errors."""
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r}; available: {', '.join(presets)}")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    values = dict(presets[preset])
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for {config_cls.__name__}; "
                         f"valid: {sorted(fields)}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    return config_cls(**values)


class ClusterMethod:
    """Base class of every clustering method in :mod:`dcteach.methods`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Config: ClassVar[type]
    presets: ClassVar[dict[str, dict]] = {"quick": {}}
    input_kind: ClassVar[str] = "vector"  # "vector" (also flattened images), "image", "text"

    def __init__(self, n_clusters: int | None = None, preset: str = "quick",
                 device: str | None = None, seed: int = 0, out_dir=None, resume: bool = False,
                 verbose: bool = True, **overrides: Any):
        self.n_clusters = n_clusters
        self.preset = preset
        self.seed = seed
        self.device = device
        self.out_dir = out_dir
        self.resume = resume
        self.verbose = verbose
        self.config = make_config(self.Config, self.presets, preset, overrides)

    # -- interface ----------------------------------------------------------------
    def fit(self, X, y=None):
        """Cluster ``X``; ``y`` (optional) is only used to log ACC/NMI/ARI during training."""
        if self.n_clusters is None or int(self.n_clusters) < 1:
            raise ValueError("n_clusters must be a positive integer")
        if y is not None and len(y) != len(X):
            raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
        seed_everything(self.seed)
        self.device_ = pick_device(self.device)
        self.run_ = TrainingRun(self.out_dir, self.resume, self.verbose)
        self._fit(X, None if y is None else np.asarray(y))
        return self

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X, y).labels_

    def predict(self, X) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not predict new samples")

    def transform(self, X) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no embedding")

    @property
    def history_(self) -> list[dict]:
        return self.run_.history

    def _fit(self, X, y) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _log(self, phase: str, epoch: int, y=None, labels=None, **values) -> dict:
        """Log a row of training metrics (plus ACC/NMI/ARI when labels are known)."""
        if y is not None and labels is not None:
            from ..metrics import evaluate

            values.update(evaluate(y, labels))
        return self.run_.log(phase, epoch, **values)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_clusters={self.n_clusters}, preset={self.preset!r})"
