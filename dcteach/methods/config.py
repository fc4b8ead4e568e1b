"""Method configuration: declared options, their checks and parsing.

Every method's ``Config`` is a dataclass whose fields are declared with :func:`option` (a
default and, where it matters, a range or a set of choices). From the field types and that
metadata this module

* checks a configuration before any work starts (:func:`validate_config`: wrong types and
  out-of-range values raise :class:`ConfigError`, naming the option and what it accepts),
* builds one from defaults < variant defaults < preset < given options (:func:`make_config`),
* parses ``--set key=value`` text into the field's type (:func:`parse_option`), and
* describes the options for ``dcteach describe`` (:func:`describe_options`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

import numpy as np

__all__ = ["ConfigError", "option", "validate_config", "describe_options", "parse_option",
           "make_config"]


class ConfigError(ValueError):
    """A configuration value has the wrong type or is out of range."""


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
