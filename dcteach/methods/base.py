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
validates it (:func:`validate_config`) before any work starts.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils._available_if import available_if

from ..engine import TrainingRun, pick_device, seed_everything

__all__ = ["ClusterMethod", "METHODS", "register", "get_method", "make_config", "option",
           "validate_config", "parse_option", "parse_method_spec", "describe_options",
           "ConfigError"]

METHODS: dict[str, type[ClusterMethod]] = {}
RUN_PARAMS = ("n_clusters", "preset", "device", "seed", "out_dir", "resume", "verbose")


class ConfigError(ValueError):
    """A configuration value has the wrong type or is out of range."""


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
def option(default, *, low: float | None = None, high: float | None = None,
           low_open: bool = False, choices: tuple | None = None, help: str = ""):
    """A config field with a declared range (``low`` ≤ value ≤ ``high``; ``low_open``: >)
    or a set of ``choices``, checked by :func:`validate_config`."""
    meta = {"low": low, "high": high, "low_open": low_open, "choices": choices, "help": help}
    return dataclasses.field(default=default, metadata=meta)


def _field_types(config_cls) -> dict[str, Any]:
    return typing.get_type_hints(config_cls)


def _type_name(tp) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is tuple:
        return f"a comma-separated list of {_type_name(typing.get_args(tp)[0]).split(' ', 1)[1]}s"
    return {int: "an integer", float: "a number", bool: "true/false", str: "a string",
            tuple: "a comma-separated list", type(None): "none"}.get(tp, getattr(tp, "__name__",
                                                                              str(tp)))


def _matches(value, tp) -> bool:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if typing.get_origin(tp) is tuple:
        return isinstance(value, (tuple, list)) and all(
            _matches(v, typing.get_args(tp)[0]) for v in value)
    if tp is bool:
        return isinstance(value, (bool, np.bool_))
    if tp is int:
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if tp is float:
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_))
    if tp is tuple:
        return isinstance(value, (tuple, list))
    if tp is str:
        return isinstance(value, str)
    return True


def validate_config(config) -> None:
    """Check every field of a config dataclass against its annotated type and declared
    range/choices; raise :class:`ConfigError` naming the field, what it accepts and what it
    got."""
    name = type(config).__name__
    hints = _field_types(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        tp = hints.get(f.name)
        if tp is not None and not _matches(value, tp):
            raise ConfigError(f"option {f.name!r} of {name} must be {_type_name(tp)}, "
                              f"got {value!r}")
        meta = f.metadata
        if value is None or not meta:
            continue
        if meta.get("choices") is not None and value not in meta["choices"]:
            raise ConfigError(f"option {f.name!r} of {name} must be one of "
                              f"{', '.join(map(repr, meta['choices']))}; got {value!r}")
        low, high = meta.get("low"), meta.get("high")
        listed = isinstance(value, (tuple, list))
        if listed and not value:
            raise ConfigError(f"option {f.name!r} of {name} must not be empty")
        # a list option: the range applies to each of its values
        for item in value if listed else (value,):
            if low is not None and (item <= low if meta.get("low_open") else item < low):
                rel = ">" if meta.get("low_open") else "≥"
                raise ConfigError(f"option {f.name!r} of {name} must be {rel} {low}"
                                  f"{' (each value)' if item is not value else ''}, "
                                  f"got {value!r}")
            if high is not None and item > high:
                raise ConfigError(f"option {f.name!r} of {name} must be ≤ {high}, "
                                  f"got {value!r}")


def describe_options(config_cls) -> list[dict]:
    """Each field of a config: name, type in words, default and allowed values (for help)."""
    hints = _field_types(config_cls)
    rows = []
    for f in dataclasses.fields(config_cls):
        meta = f.metadata or {}
        allowed = ""
        if meta.get("choices") is not None:
            allowed = "one of " + ", ".join(map(str, meta["choices"]))
        elif meta.get("low") is not None or meta.get("high") is not None:
            low, high = meta.get("low"), meta.get("high")
            lo = "" if low is None else f"{'>' if meta.get('low_open') else '≥'} {low}"
            hi = "" if high is None else f"≤ {high}"
            allowed = " and ".join(p for p in (lo, hi) if p)
        rows.append({"name": f.name, "type": _type_name(hints[f.name]), "default": f.default,
                     "allowed": allowed})
    return rows


def parse_option(config_cls, key: str, text: str):
    """Turn the command-line text of option ``key`` into the field's type (for ``--set``)."""
    hints = _field_types(config_cls)
    if key not in hints:
        raise ConfigError(f"unknown option {key!r} for {config_cls.__name__}; valid: "
                          f"{', '.join(sorted(hints))}")
    tp = hints[key]
    args = (typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType)
            else (tp,))
    low = text.strip().lower()
    if type(None) in args and low in ("none", "null", ""):
        return None
    for a in args:
        try:
            if a is bool:
                if low in ("true", "1", "yes", "on"):
                    return True
                if low in ("false", "0", "no", "off"):
                    return False
                raise ValueError
            if a is tuple or typing.get_origin(a) is tuple:
                item = typing.get_args(a)[0] if typing.get_args(a) else _scalar
                parts = [p for p in text.strip("()[] ").split(",") if p.strip()]
                return tuple(item(p.strip()) for p in parts)
            if a in (int, float, str):
                return a(text)
        except ValueError:
            continue
    raise ConfigError(f"option {key!r} of {config_cls.__name__} expects {_type_name(tp)}, "
                      f"got {text!r}")


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


def _scalar(text: str):
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def make_config(config_cls, presets: dict[str, dict], preset: str, overrides: dict,
                defaults: dict | None = None):
    """Config dataclass from Config defaults < ``defaults`` < preset < ``overrides`` (None
    values in ``overrides`` mean "not given"), validated."""
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r}; available: {', '.join(presets)}")
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = set(overrides) - fields
    if unknown:
        raise ConfigError(f"unknown option(s) {sorted(unknown)} for {config_cls.__name__}; "
                          f"valid: {sorted(fields)}")
    values = dict(defaults or {})
    values.update(presets[preset])
    values.update({k: v for k, v in overrides.items() if v is not None})
    config = config_cls(**values)
    validate_config(config)
    return config


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
