"""The one step loop (dcteach.train) against hand-computed updates."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import dcteach.train as train_mod
from dcteach.train import Trainer, cyclic_minibatches, embed_all, make_optimizer, minibatches


def test_sgd_step_is_the_hand_computed_update_and_parts_are_batch_weighted():
    # loss = mean_i (w·x_i − t_i)²  on batches of 2 and 1: SGD lr 0.1 without momentum
    x = torch.tensor([[1.0], [2.0], [3.0]])
    t = torch.tensor([1.0, 1.0, 1.0])
    w = nn.Parameter(torch.tensor([0.5]))
    trainer = Trainer([w], "sgd", lr=0.1, momentum=0.0)

    def step(idx):
        err = x[idx, 0] * w - t[idx]
        loss = (err**2).mean()
        return loss, {"abs": err.abs().mean()}

    parts = trainer.run(step, [torch.tensor([0, 1]), torch.tensor([2])])
    # batch 1: w = .5, errors (-.5, 0): loss .125, grad mean(2·err·x) = -.5 → w = .55
    # batch 2: w = .55, error 3·.55−1 = .65: loss .4225, grad 2·.65·3 = 3.9 → w = .16
    assert float(w.detach()) == pytest.approx(0.55 - 0.1 * 3.9)
    assert parts["loss"] == pytest.approx((2 * 0.125 + 1 * 0.4225) / 3)
    assert parts["abs"] == pytest.approx((2 * 0.25 + 1 * 0.65) / 3)


def test_gradient_clipping_bounds_the_step():
    w = nn.Parameter(torch.zeros(4))
    trainer = Trainer([w], "sgd", lr=1.0, momentum=0.0, clip_grad_norm=0.5)
    trainer.run(lambda idx: (w * torch.tensor([10.0, 0, 0, 0])).sum() * -1, [torch.arange(1)])
    # the gradient has norm 10, clipped to 0.5
    assert float(w.detach().norm()) == pytest.approx(0.5, rel=1e-5)


def test_schedulers_step_per_batch_or_per_epoch():
    def decay(opt):
        return torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)

    w = nn.Parameter(torch.zeros(1))
    per_step = Trainer([w], "sgd", lr=1.0, scheduler=decay, schedule_every="step")
    per_step.run(lambda idx: w.sum(), [torch.arange(1)] * 3)
    assert per_step.optimizer.param_groups[0]["lr"] == pytest.approx(0.125)
    per_epoch = Trainer([w], "sgd", lr=1.0, scheduler=decay)
    per_epoch.run(lambda idx: w.sum(), [torch.arange(1)] * 3)
    assert per_epoch.optimizer.param_groups[0]["lr"] == 1.0
    per_epoch.end_epoch()
    assert per_epoch.optimizer.param_groups[0]["lr"] == 0.5
    with pytest.raises(ValueError, match="schedule_every"):
        Trainer([w], "sgd", schedule_every="sometimes")


def test_grad_scaler_only_for_fp16(monkeypatch):
    w = nn.Parameter(torch.zeros(1))
    assert not Trainer([w], amp=True).scaler.is_enabled()  # CPU: bf16 or float32
    monkeypatch.setattr(train_mod, "amp_dtype", lambda device: torch.float16)
    assert Trainer([w], amp=True).scaler.is_enabled()
    if torch.cuda.is_available():
        assert Trainer([w], amp=True, device="cuda").scaler.is_enabled()
    assert not Trainer([w], amp=False).scaler.is_enabled()


def test_state_dict_round_trip_restores_the_optimiser():
    w = nn.Parameter(torch.ones(3))
    a = Trainer([w], "adam", lr=0.1)
    a.run(lambda idx: (w**2).sum(), [torch.arange(1)] * 2)
    w2 = nn.Parameter(w.detach().clone())
    b = Trainer([w2], "adam", lr=0.1)
    b.load_state_dict(copy.deepcopy(a.state_dict()))  # as a checkpoint file would
    a.run(lambda idx: (w**2).sum(), [torch.arange(1)])
    b.run(lambda idx: (w2**2).sum(), [torch.arange(1)])
    torch.testing.assert_close(w, w2)


def test_batches_cover_every_sample_once_and_cycle():
    torch.manual_seed(0)
    seen = torch.cat(list(minibatches(10, 4)))
    assert sorted(seen.tolist()) == list(range(10))
    assert [len(b) for b in minibatches(10, 4, drop_last=True)] == [4, 4]
    assert [len(b) for b in minibatches(9, 4, min_size=2)] == [4, 4]
    perm = torch.arange(5)
    assert [b.tolist() for b in cyclic_minibatches(perm, 2, 4)] == [[0, 1], [2, 3], [4], [1, 2]]


def test_embed_all_is_blockwise_eval_mode_and_restores_training():
    net = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.9))
    net.train()
    x = torch.randn(10, 3)
    out = embed_all(net, x, batch_size=3)
    torch.testing.assert_close(out, net[0](x).detach())  # dropout off, blocks glued
    assert net.training and not out.requires_grad


def test_make_optimizer_names():
    w = [nn.Parameter(torch.zeros(1))]
    assert isinstance(make_optimizer(w, "adamw", 1e-3, weight_decay=0.1), torch.optim.AdamW)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer(w, "rmsprop", 1e-3)
