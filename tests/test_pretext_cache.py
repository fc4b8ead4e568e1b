"""The pretext cache (dcteach.pretext.cached_pretext): a second run with the same key loads the
weights and the training log instead of training; stale entries are retrained."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dcteach.data.images import cache_dir
from dcteach.engine import TrainingRun
from dcteach.pretext import cached_pretext

KEY = {"data": "abc", "config": {"epochs": 2}, "seed": 0}


def _trainer(model, run, calls):
    def train():
        calls.append(1)
        for epoch in range(2):
            with torch.no_grad():
                model.weight.add_(1.0)
            run.log("pretext", epoch, loss=1.0 / (epoch + 1))
    return train


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DCTEACH_CACHE", str(tmp_path / "cache"))


def test_a_cached_model_comes_back_with_its_training_log(cache):
    calls = []
    first, run1 = nn.Linear(3, 2), TrainingRun(verbose=False)
    run1.log("before", 0, note=1)  # rows logged before the pretext are not part of the entry
    cached_pretext("toy", first, KEY, _trainer(first, run1, calls), verbose=False, run=run1)
    second, run2 = nn.Linear(3, 2), TrainingRun(verbose=False)
    cached_pretext("toy", second, KEY, _trainer(second, run2, calls), verbose=False, run=run2)
    assert len(calls) == 1, "the second model was trained instead of loaded"
    assert torch.equal(first.weight, second.weight)

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "time"} for r in rows]

    assert strip(run2.history) == strip(run1.history[1:])
    assert [r["loss"] for r in run2.history] == [1.0, 0.5]


def test_an_entry_without_its_log_is_retrained(cache):
    model = nn.Linear(3, 2)
    calls = []
    cached_pretext("toy", model, KEY, _trainer(model, TrainingRun(verbose=False), calls),
                   verbose=False)
    (entry,) = cache_dir("pretext").glob("toy-*.pt")
    torch.save(model.state_dict(), entry)  # the format written before logs were stored
    run = TrainingRun(verbose=False)
    cached_pretext("toy", nn.Linear(3, 2), KEY, _trainer(model, run, calls), verbose=False,
                   run=run)
    assert len(calls) == 2 and len(run.history) == 2
