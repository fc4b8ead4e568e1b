"""The grading helpers of dcteach.nbgrading on their own (fast; the nbgrader round trip is in
test_nbgrader.py and test_mutants_NN.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dcteach.nbgrading import forbid_library_calls, recorded_argument, recorded_calls


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


def test_recorded_argument_reads_positional_and_keyword_arguments():
    space: dict = {}
    exec("def step(encoder, mu, lr=0.1):\n    return mu\n", space)
    with recorded_calls(space, ("step",)) as calls:
        space["step"]("net", 3)
        space["step"]("net", mu=4, lr=0.5)
    first, second = calls["step"]
    assert [recorded_argument(first, 1, "mu"), recorded_argument(second, 1, "mu")] == [3, 4]
    assert recorded_argument(second, 2, "lr") == 0.5
    assert recorded_argument(first, 2, "lr") is None  # not passed: the default is not recorded


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


def test_forbid_library_calls_on_functions_bans_those_names_in_that_file_only():
    from dcteach import metrics

    banned = ("dcteach.metrics.nmi", "dcteach.metrics.purity")
    with forbid_library_calls(banned):
        metrics.cluster_accuracy([0, 0, 1], [1, 1, 0])  # other functions of the file are fine
    for fn in (metrics.nmi, metrics.purity):
        with pytest.raises(AssertionError, match=f"dcteach.metrics.{fn.__name__}"):
            with forbid_library_calls(banned):
                fn([0, 0, 1], [1, 1, 0])
    # a function entry next to its whole module: the module's ban wins
    with pytest.raises(AssertionError, match="cluster_accuracy"):
        with forbid_library_calls(("dcteach.metrics.nmi", "dcteach.metrics")):
            metrics.cluster_accuracy([0, 0, 1], [1, 1, 0])
    with forbid_library_calls(("no_such_package",)):
        metrics.nmi([0, 1], [1, 0])  # a package that is not installed bans nothing
    for typo, why in (("dcteach.metrics.no_such_function", "dcteach.metrics has no"),
                      ("dcteach.cluster.KMeans", "a package")):  # re-exported by a package
        with pytest.raises(ValueError, match=why):
            with forbid_library_calls((typo,)):
                pass


def test_forbid_library_calls_stop_at_first_stops_inside_the_call():
    from dcteach.metrics import nmi

    after = []

    def submission():
        nmi([0, 0, 1], [1, 1, 0])
        after.append("ran on")  # a long training run would follow here

    with pytest.raises(AssertionError, match=r"^Your code called the reference library"):
        with forbid_library_calls(("dcteach.metrics",)):  # the default: fail after the block
            submission()
    assert after == ["ran on"]
    after.clear()
    first_hit = r"^dec_fit called the reference library \(dcteach\.metrics\.nmi"
    with pytest.raises(AssertionError, match=first_hit):
        with forbid_library_calls(("dcteach.metrics",), stop_at_first=True, culprit="dec_fit"):
            submission()
    assert after == []

    def catches_it():  # swallowing the error does not earn the marks back
        try:
            nmi([0, 1], [1, 0])
        except AssertionError:
            pass
        after.append("ran on")

    with pytest.raises(AssertionError, match="dcteach.metrics.nmi"):
        with forbid_library_calls(("dcteach.metrics",), stop_at_first=True):
            catches_it()
    assert after == ["ran on"]
