"""Data parallelism: two gloo processes on CPU give the loss and the gradients of one process
on the concatenated batch, because NT-Xent and CC's cluster loss gather every rank's rows."""

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from dcteach import distributed
from dcteach.losses import cluster_contrastive_loss, nt_xent


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 5))


def _batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, 6, generator=g), torch.randn(8, 6, generator=g)


def _loss(model, a, b):
    za, zb = model(a), model(b)
    inst = nt_xent(za[:, :3], zb[:, :3], 0.5)
    clu, _ = cluster_contrastive_loss(za[:, 2:].softmax(1), zb[:, 2:].softmax(1), 1.0)
    return inst + clu


def _worker(rank: int, world: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = distributed.wrap(_model(), torch.device("cpu"))
        a, b = _batch()
        idx = distributed.shard(torch.arange(len(a)))
        loss = _loss(model, a[idx], b[idx])
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        out[rank] = (float(loss), grads, distributed.world_size(), distributed.is_main())
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn_two(worker) -> dict:
    """Run ``worker(rank, 2, port, out)`` in two gloo processes; returns ``{rank: result}``."""
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(worker, args=(2, _free_port(), out), nprocs=2, join=True)
        return dict(out)


@pytest.mark.timeout(120)
def test_two_gloo_ranks_match_one_process_on_the_whole_batch():
    model = _model()
    a, b = _batch()
    ref = _loss(model, a, b)
    ref.backward()
    ref_grads = [p.grad for p in model.parameters()]

    out = _spawn_two(_worker)
    for rank in (0, 1):
        loss, grads, world, main = out[rank]
        assert world == 2 and main == (rank == 0)
        assert loss == pytest.approx(float(ref.detach()), rel=1e-5)
        for g, r in zip(grads, ref_grads, strict=True):
            torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-6)


def test_without_the_gather_each_shard_sees_a_different_loss():
    """The bug in CC's issue tracker: a rank that contrasts only its own rows optimises a
    different objective (fewer negatives) than the whole batch."""
    from dcteach.losses.contrastive import _nt_xent

    model = _model()
    a, b = _batch()
    with torch.no_grad():
        full = float(nt_xent(model(a), model(b), 0.5))
        for r in (0, 1):
            shard = float(_nt_xent(model(a[r::2]), model(b[r::2]), 0.5))
            assert abs(shard - full) > 1e-3


def test_single_process_helpers_are_identities():
    t = torch.arange(6.0)
    assert distributed.gather(t) is t
    assert torch.equal(distributed.shard(t), t)
    m = nn.Linear(2, 2)
    assert distributed.wrap(m, torch.device("cpu")) is m
    assert distributed.rank() == 0 and distributed.world_size() == 1 and distributed.is_main()


def _bank_worker(rank: int, world: int, port: int, out: dict) -> None:
    """IDFD and PCL under torchrun: each rank updates the bank and pushes MoCo keys with its
    own shard and computes FD on its shard; the bank and queue replicas must stay identical,
    FD must see the global batch, and broadcast buffers must be rank 0's."""
    from dcteach.losses import feature_decorrelation_loss
    from dcteach.nn import FeatureQueue, MemoryBank

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        v, idx = _bank_batch()
        mine = distributed.shard(torch.arange(len(v)))
        bank = MemoryBank(20, 4, momentum=0.5, seed=0)
        bank.update(idx[mine], v[mine])
        vr = v[mine].clone().requires_grad_()
        fd = feature_decorrelation_loss(vr, 2.0)
        fd.backward()
        # MoCo's queue gathers every rank's keys; a momentum encoder's batch-norm statistics
        # (each rank ran it on its own shard) are made equal by broadcasting rank 0's
        queue = FeatureQueue(6, 4, seed=0)
        queue.push(v[mine])
        bn = torch.nn.BatchNorm1d(4)
        bn(v[mine])
        distributed.broadcast_buffers(bn)
        out[rank] = (bank.vectors.clone(), float(fd), mine, vr.grad.clone(), queue.keys.clone(),
                     bn.running_mean.clone(), v[mine])
    finally:
        dist.destroy_process_group()


def _bank_batch():
    g = torch.Generator().manual_seed(2)
    v = torch.nn.functional.normalize(torch.randn(8, 4, generator=g), dim=1)
    return v, torch.tensor([3, 17, 0, 9, 12, 5, 19, 8])


@pytest.mark.timeout(120)
def test_memory_bank_queue_and_feature_decorrelation_across_two_gloo_ranks():
    from dcteach.losses import feature_decorrelation_loss
    from dcteach.nn import FeatureQueue, MemoryBank

    v, idx = _bank_batch()
    ref_bank = MemoryBank(20, 4, momentum=0.5, seed=0)
    ref_bank.update(idx, v)
    vr = v.clone().requires_grad_()
    ref_fd = feature_decorrelation_loss(vr, 2.0)
    ref_fd.backward()
    out = _spawn_two(_bank_worker)
    # the queue holds both ranks' keys in rank order (newest first), then its random start
    start = FeatureQueue(6, 4, seed=0).keys
    torch.testing.assert_close(out[0][4], torch.cat([out[0][6], out[1][6], start])[:6])
    for rank in (0, 1):
        bank, fd, mine, grad, queue, running_mean, _ = out[rank]
        torch.testing.assert_close(queue, out[0][4])
        torch.testing.assert_close(running_mean, out[0][5])  # rank 0's statistics
        torch.testing.assert_close(running_mean, 0.1 * out[0][6].mean(0))
        torch.testing.assert_close(bank, ref_bank.vectors)  # every rank saw every row
        assert fd == pytest.approx(float(ref_fd.detach()), rel=1e-5)
        # all_gather's backward sums the ranks' gradients: N × ∂L/∂v_local
        torch.testing.assert_close(grad, 2 * vr.grad[mine], rtol=1e-4, atol=1e-6)
