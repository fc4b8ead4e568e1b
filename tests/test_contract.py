"""The contract every registered method keeps, parametrised from the registry: a method is
covered the day it is registered.

For each method, on a small data set of its input kind (digits for vectors and images, a toy
corpus with LSA features for texts, MiniLM for a method that trains it) and its ``quick``
preset with the budget cut to a few steps (:func:`_small_budget`):

* fit / fit_predict / predict / transform: shapes, dtypes, labels in range;
* the same seed gives the same labels;
* every preset builds a valid config; ``sklearn.base.clone`` and ``set_params`` work;
* ``resume=True`` after a finished run returns the finished result;
* a run interrupted in each of its phases resumes and ends with the uninterrupted labels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.base import clone

from dcteach.data import load_dataset, toy_corpus
from dcteach.engine import TrainingRun
from dcteach.methods import METHODS, ConfigError
from dcteach.methods import _load_all as _load_methods

_load_methods()
NAMES = sorted(METHODS)


class Interrupted(Exception):
    """Stands in for a kill: raised inside a phase, after some epochs were checkpointed."""


def _problem(cls):
    """(X, y, k, options) for the method's input kind."""
    if cls.input_kind == "text":
        data = toy_corpus(n_per_topic=40, seed=0)
        features = ({} if getattr(cls, "trains_sentence_model", False)  # MiniLM itself
                    else {"embedding": "lsa", "lsa_dim": 8})
        return list(data.x), data.y, data.n_clusters, features
    data = load_dataset("digits", n_samples=240, seed=0)
    x = np.asarray(data.x, dtype=np.float32)
    if cls.keeps_uint8:  # methods that float each batch get pixels as image files give them
        x = np.round(x * 255).astype(np.uint8)
    return (x if cls.input_kind == "image" else data.flat), data.y, 10, {}


def _small_budget(cls) -> dict:
    """The quick preset with its training budget cut to a few steps, by the names every
    method uses for its budget: ``*epochs`` (≤ 2, so that a phase has an epoch to resume
    after), ``max_iter`` (≤ 10) and ``update_interval`` (≤ 5); a cached pretext artifact is
    not used (``cache=False``: these tests are about training and resuming it)."""
    config = cls(n_clusters=2).build_config()
    small = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, bool) or not isinstance(value, int):
            continue
        if f.name.endswith("epochs"):
            small[f.name] = min(value, 2)
        elif f.name == "max_iter":
            small[f.name] = min(value, 10)
        elif f.name == "update_interval":
            small[f.name] = min(value, 5)
    if "cache" in {f.name for f in dataclasses.fields(config)}:
        small["cache"] = False
    return small


def _make(name, **kwargs):
    cls = METHODS[name]
    X, y, k, options = _problem(cls)
    return cls(n_clusters=k, preset="quick", seed=0, verbose=False, **options,
               **_small_budget(cls), **kwargs), X, y


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One checkpointed run per method (computed on first use), with the checkpoint saves
    it made, phase by phase."""
    cache = {}

    def get(name):
        if name not in cache:
            out = tmp_path_factory.mktemp(name)
            model, X, y = _make(name, out_dir=out)
            saves: list[str] = []
            real = TrainingRun.save

            def spy(self, phase, epoch, done, objects):
                saves.append(phase)
                return real(self, phase, epoch, done, objects)

            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(TrainingRun, "save", spy)
                labels = model.fit_predict(X, y)
            cache[name] = {"model": model, "X": X, "y": y, "labels": labels, "out": out,
                           "saves": saves}
        return cache[name]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_fit_predict_transform_shapes(name, reference):
    ref = reference(name)
    model, X, labels = ref["model"], ref["X"], ref["labels"]
    n, k = len(X), model.n_clusters
    assert labels.shape == (n,) and np.issubdtype(labels.dtype, np.integer)
    assert labels.min() >= 0 and labels.max() < k
    np.testing.assert_array_equal(model.labels_, labels)
    for method in ("predict", "transform"):
        if not hasattr(model, method):
            continue  # a method need not embed or assign new samples
        out = np.asarray(getattr(model, method)(X))
        assert out.shape[0] == n, (method, out.shape)
        if method == "predict":
            assert np.issubdtype(out.dtype, np.integer) and out.min() >= 0 and out.max() < k
        else:
            assert out.ndim == 2 and np.issubdtype(out.dtype, np.floating)
            assert np.isfinite(out).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_labels(name, reference):
    ref = reference(name)
    model, X, y = _make(name)
    np.testing.assert_array_equal(model.fit_predict(X, y), ref["labels"])


@pytest.mark.parametrize("name", NAMES)
def test_every_preset_builds_and_clone_works(name):
    cls = METHODS[name]
    assert {"quick", "fast", "paper"} <= set(cls.presets), "presets are the compute budgets"
    for preset in cls.presets:
        config = cls(n_clusters=3, preset=preset).build_config()
        assert dataclasses.is_dataclass(config)
    model = cls(n_clusters=3, preset="fast", seed=4)
    twin = clone(model)
    assert twin is not model and twin.get_params() == model.get_params()
    option = cls.option_names()[0]
    value = getattr(cls.Config(), option)
    twin.set_params(**{option: value})
    assert twin.build_config() == dataclasses.replace(model.build_config(), **{option: value})
    with pytest.raises(ConfigError, match="preset"):
        cls(n_clusters=3, preset="nope").build_config()


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_resume_after_finished_run_returns_the_result(name, reference):
    ref = reference(name)
    model, X, y = _make(name, out_dir=ref["out"], resume=True)
    np.testing.assert_array_equal(model.fit_predict(X, y), ref["labels"])



@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_interrupted_in_each_phase_resumes_to_the_same_result(name, reference, tmp_path):
    ref = reference(name)
    phases = list(dict.fromkeys(ref["saves"]))
    if not phases:
        pytest.skip(f"{name} trains in one step: nothing to interrupt")
    for phase in phases:
        count = ref["saves"].count(phase)
        stop_at = min(1, count - 1)  # after the first checkpoint of the phase, if it has two
        out = tmp_path / phase
        seen = {"n": 0}
        real = TrainingRun.save

        def interrupting(self, ph, epoch, done, objects, phase=phase, stop_at=stop_at,
                         seen=seen, real=real):
            if ph == phase:
                if seen["n"] == stop_at:
                    raise Interrupted(f"{ph} epoch {epoch}")
                seen["n"] += 1
            return real(self, ph, epoch, done, objects)

        model, X, y = _make(name, out_dir=out)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(TrainingRun, "save", interrupting)
            with pytest.raises(Interrupted):
                model.fit(X, y)
        resumed, X, y = _make(name, out_dir=out, resume=True)
        np.testing.assert_array_equal(resumed.fit_predict(X, y), ref["labels"],
                                      err_msg=f"{name}: interrupted in phase {phase!r}")


@pytest.mark.parametrize("name", NAMES)
def test_bad_options_fail_at_fit_with_the_option_named(name):
    cls = METHODS[name]
    X, y, k, options = _problem(cls)
    model = cls(n_clusters=k, verbose=False, **options)
    first_int = next((f.name for f in dataclasses.fields(cls.Config)
                      if isinstance(getattr(cls.Config(), f.name), int)
                      and not isinstance(getattr(cls.Config(), f.name), bool)), None)
    if first_int is not None:
        model.set_params(**{first_int: "abc"})  # __init__/set_params only store
        with pytest.raises(ConfigError, match=first_int):
            model.fit(X)
    with pytest.raises(ConfigError, match="n_clusters"):
        cls(n_clusters=0, verbose=False, **options).fit(X)
