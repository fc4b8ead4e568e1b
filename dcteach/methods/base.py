"""The shape every method shares: a config dataclass, named presets, the scikit-learn
estimator interface and a registry the CLI reads.

A method subclasses :class:`ClusterMethod`, sets ``name``, ``Config`` and ``presets`` and
implements ``_fit(X, y)``; ``y`` passed to ``fit`` is used only to log metrics while training
(never as a training signal)::

    @register
    class DEC(ClusterMethod):
        name = "dec"
        Config = DECConfig
        presets = {"quick": {...}, "fast": {...}, "paper": {...}}

Three separate axes: *presets* are compute budgets (``quick``: seconds to minutes on a CPU;
``fast``: best time to accuracy; ``paper``: the paper's settings); *variants* are registered
names (with their own ``defaults``); *dataset facts* come from the data registry.

The estimator follows scikit-learn's rules: ``__init__`` only stores its arguments — the
run settings (``n_clusters``, ``preset``, ``seed``, …) and every field of ``Config`` as a
keyword (``None`` = take it from the preset) — so ``get_params``, ``set_params`` and
``sklearn.base.clone`` work. ``fit`` builds the configuration
(Config defaults < variant ``defaults`` < preset < options given) into ``config_`` and
validates it (:func:`~dcteach.methods.config.validate_config`) before any work starts; the
option declarations, checks and parsing live in :mod:`dcteach.methods.config`.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils._available_if import available_if

from ..engine import TrainingRun, pick_device, seed_everything
from .config import ConfigError, make_config, parse_option

__all__ = ["ClusterMethod", "METHODS", "register", "get_method", "parse_method_spec"]

METHODS: dict[str, type[ClusterMethod]] = {}
RUN_PARAMS = ("n_clusters", "preset", "device", "seed", "out_dir", "resume", "verbose")


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


# ------------------------------------------------------------------------------------------
# declarative options: type from the annotation, range/choices from the field's metadata
# ------------------------------------------------------------------------------------------
def parse_method_spec(spec: str) -> tuple[type[ClusterMethod], str, dict]:
    """``name[:preset][,key=value...]`` (as the benchmarks take them, e.g.
    ``cc:fast,epochs=10``) → (method class, preset, typed options)."""
    head, *pairs = spec.split(",")
    name, _, preset = head.partition(":")
    cls = get_method(name.strip())
    options = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq:
            raise ConfigError(f"method spec {spec!r}: expected key=value after the comma, "
                              f"got {pair!r}")
        options[key.strip()] = parse_option(cls.Config, key.strip(), value.strip())
    return cls, preset or "quick", options


# ------------------------------------------------------------------------------------------
# the estimator
# ------------------------------------------------------------------------------------------
def _make_init(config_cls):
    """An ``__init__`` that stores the run settings and every config field, with a real
    signature (scikit-learn reads parameter names from it)."""
    option_names = [f.name for f in dataclasses.fields(config_cls)]

    def __init__(self, n_clusters=None, preset="quick", device=None, seed=0, out_dir=None,
                 resume=False, verbose=True, **options):
        unknown = set(options) - set(option_names)
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unknown option(s) {sorted(unknown)};"
                            f" valid: {', '.join(option_names)}")
        self.n_clusters = n_clusters
        self.preset = preset
        self.device = device
        self.seed = seed
        self.out_dir = out_dir
        self.resume = resume
        self.verbose = verbose
        for name in option_names:
            setattr(self, name, options.get(name))

    base = list(inspect.signature(__init__).parameters.values())[:-1]
    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None)
             for n in option_names]
    __init__.__signature__ = inspect.Signature(base + extra)
    return __init__


class ClusterMethod(ClusterMixin, BaseEstimator):
    """Base class of every clustering method in :mod:`dcteach.methods`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Config: ClassVar[type]
    presets: ClassVar[dict[str, dict]] = {"quick": {}}
    defaults: ClassVar[dict] = {}  # a registered variant's settings, under the presets
    input_kind: ClassVar[str] = "vector"  # "vector" (also flattened images), "image", "text"
    keeps_uint8: ClassVar[bool] = False  # image methods that float each batch themselves

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "Config" in cls.__dict__ or "__init__" not in cls.__dict__:
            cls.__init__ = _make_init(cls.Config)

    # -- configuration -----------------------------------------------------------------
    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls.Config)]

    def _options(self) -> dict:
        return {n: getattr(self, n, None) for n in self.option_names()}

    def build_config(self):
        """The validated config this estimator would fit with (see :func:`make_config`)."""
        return make_config(self.Config, self.presets, self.preset, self._options(),
                           self.defaults)

    @property
    def config(self):
        """``config_`` after ``fit``, else the config ``fit`` would build."""
        return self.__dict__.get("config_") or self.build_config()

    def _check_run_params(self, X, y):
        """Validate ``n_clusters``/``seed`` and the data (scikit-learn's ``validate_data`` for
        arrays: no NaN/inf, no sparse or complex input, at least 2 samples, records
        ``n_features_in_``); returns ``(X, y)`` with ``y`` as integer ids or None."""
        k = self.n_clusters
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"n_clusters must be a positive integer, got {k!r}")
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")
        if self.input_kind != "text":
            X = self._validate(X, reset=True)
        elif len(X) < 2:
            raise ValueError(f"need at least 2 texts to cluster, got n_samples = {len(X)}")
        if len(X) < k:
            raise ValueError(f"n_samples={len(X)} should be >= n_clusters={k}")
        if y is not None:
            from sklearn.utils.multiclass import type_of_target

            y = np.asarray(y)
            if len(y) != len(X):
                raise ValueError(f"X and y must have the same length, got {len(X)} and "
                                 f"{len(y)}")
            type_of_target(y, raise_unknown=True)
            y = np.unique(y, return_inverse=True)[1].reshape(-1)  # labels as ids 0..c-1
        return X, y

    def _validate(self, X, reset: bool = False) -> np.ndarray:
        """``X`` as a float32 array of shape (n, ...) checked by scikit-learn; with
        ``reset=False`` (predict/transform) also that the method is fitted and ``X`` has the
        fitted number of features.

        uint8 input is pixel values: scaled to [0, 1] — or, for methods with ``keeps_uint8``
        (they float each mini-batch on the device), kept as uint8."""
        from sklearn.utils.validation import check_array, check_is_fitted, validate_data

        if not reset:
            check_is_fitted(self, "labels_")
        if hasattr(X, "detach"):  # a torch tensor
            X = X.detach().cpu().numpy()
        uint8 = getattr(X, "dtype", None) == np.uint8
        keep = uint8 and self.keeps_uint8
        x = check_array(X, allow_nd=True, dtype=None if keep else np.float32,
                        ensure_min_samples=2 if reset else 1)
        if uint8 and not keep:
            x = x / np.float32(255.0)
        # n_features_in_ counts values per sample, also for images (n, C, H, W)
        validate_data(self, x.reshape(len(x), -1), reset=reset, dtype=None if keep else np.float32,
                      ensure_min_samples=2 if reset else 1)
        return x

    # -- interface ----------------------------------------------------------------
    def fit(self, X, y=None):
        """Cluster ``X``; ``y`` (optional) is only used to log ACC/NMI/ARI during training."""
        self.config_ = self.build_config()
        X, y = self._check_run_params(X, y)
        seed_everything(int(self.seed))
        self.device_ = pick_device(self.device)
        self.run_ = TrainingRun(self.out_dir, self.resume, self.verbose)
        self._fit(X, y)
        return self

    def fit_predict(self, X, y=None, **kwargs) -> np.ndarray:
        return self.fit(X, y).labels_

    @available_if(lambda self: hasattr(self, "transform"))
    def fit_transform(self, X, y=None, **kwargs) -> np.ndarray:
        return self.fit(X, y).transform(X)

    # ``predict(X)`` and ``transform(X)`` exist on the methods that can assign or embed new
    # samples; scikit-learn reads their presence (``hasattr``) to choose its checks.

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        if hasattr(self, "transform"):  # embeddings are float32, whatever the input dtype
            tags.transformer_tags = TransformerTags(preserves_dtype=["float32"])
        if self.input_kind == "text":
            tags.input_tags.two_d_array = False
            tags.input_tags.string = True
        return tags

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
