"""The grading helpers of dcteach.nbgrading on their own (fast; the nbgrader round trip is in
test_nbgrader.py and test_mutants_NN.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dcteach.nbgrading import forbid_library_calls, recorded_calls


def test_forbid_library_calls_catches_aliases_and_allows_numpy():
    from sklearn.metrics import adjusted_rand_score as renamed

    with forbid_library_calls():
        np.linalg.norm(np.ones(3))  # numpy is allowed
    with pytest.raises(AssertionError, match="sklearn"):
        with forbid_library_calls():
            renamed([0, 1], [1, 0])


def _space():
    """A notebook-like namespace: ``later`` looks ``earlier`` up by its global name."""
    space: dict = {}
    exec("def earlier(x):\n    return x + 1\n\n"
         "def later(x):\n    return earlier(x) * 10\n", space)
    return space


def test_recorded_calls_records_and_restores():
    space = _space()
    original = space["earlier"]
    with recorded_calls(space, ("earlier",)) as calls:
        assert space["later"](2) == 30
        assert space["later"](0) == 10
    assert [(args, result) for args, _, result in calls["earlier"]] == [((2,), 3), ((0,), 1)]
    assert space["earlier"] is original


def test_recorded_calls_substitutes_and_restores_on_error():
    space = _space()
    original = space["earlier"]
    with pytest.raises(ZeroDivisionError):
        with recorded_calls(space, ("earlier",), {"earlier": lambda x: 1 / x}) as calls:
            assert space["later"](4) == 2.5  # the later function ran with the substitute
            space["later"](0)
    assert len(calls["earlier"]) == 1  # the failing call raised before it was recorded
    assert space["earlier"] is original


def test_recorded_calls_names_what_is_missing():
    with pytest.raises(NameError, match="nowhere"):
        with recorded_calls(_space(), ("earlier", "nowhere")):
            pass
    space = _space()
    with recorded_calls(space, ("extra",), {"extra": abs}) as calls:
        assert space["extra"](-2) == 2
    assert "extra" not in space and len(calls["extra"]) == 1


def test_forbid_library_calls_on_a_module_bans_that_module_only():
    from dcteach import train
    from dcteach.metrics import nmi

    with forbid_library_calls(("dcteach.train",)):
        nmi([0, 0, 1], [1, 1, 0])  # another module of the same package is allowed
    with pytest.raises(AssertionError, match="dcteach.train"):
        with forbid_library_calls(("dcteach.train",)):
            list(train.minibatches(4, 2))
