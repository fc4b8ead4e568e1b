"""The one step loop: every parameter update in dcteach happens in :meth:`Trainer.run`.

A method says *what* to optimise — a function from a mini-batch to a loss (and, for the
log, its named parts) — and its own outer loop says *when* (targets, stop rule). This module
does the *how*, once for every method::

    trainer = Trainer(params, "adam", lr=1e-3, device=device, amp=True)
    for epoch in run.epochs("train", n_epochs, model=net, trainer=trainer):
        parts = trainer.run(step, minibatches(n, 256, device))   # mean of each loss part

where ``step(idx) -> loss`` or ``(loss, {"name": part, ...})``. Per batch the loop does
zero_grad → forward under autocast (bf16 on CUDA / CPUs with native bf16, fp16 + a
GradScaler on older GPUs) → backward → optional gradient clipping → optimiser step →
optional per-step scheduler step, and keeps batch-size-weighted means of the parts.
``Trainer`` has ``state_dict`` / ``load_state_dict`` (optimiser, scheduler, scaler), so a
:class:`~dcteach.engine.TrainingRun` checkpoints it like a module.

:func:`embed_all` is the matching inference loop (no gradient, eval mode, blocks of rows).
(d2l.ai splits ``Module.training_step`` from ``Trainer.fit_epoch`` the same way.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
from torch import nn

from .engine import amp_dtype, autocast

__all__ = ["Trainer", "make_optimizer", "minibatches", "cyclic_minibatches",
           "class_uniform_indices", "embed_all"]

StepFn = Callable[[torch.Tensor], "torch.Tensor | tuple[torch.Tensor, dict]"]


def make_optimizer(params, name: str, lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """``"adam"``, ``"adamw"`` or ``"sgd"`` (with momentum) over ``params``."""
    params = list(params)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: use 'adam', 'adamw' or 'sgd'")


def minibatches(n: int, batch_size: int, device: torch.device | str = "cpu",
                drop_last: bool = False, min_size: int = 1) -> Iterator[torch.Tensor]:
    """Index tensors of one shuffled pass over ``n`` samples (``torch.randperm``, so the
    global torch generator — checkpointed by ``TrainingRun`` — decides the order).
    Batches smaller than ``min_size`` (or than ``batch_size`` with ``drop_last``) are skipped."""
    perm = torch.randperm(n).to(device)
    for idx in perm.split(max(1, int(batch_size))):
        if len(idx) < (batch_size if drop_last else min_size):
            continue
        yield idx


def cyclic_minibatches(perm: torch.Tensor, batch_size: int, n_steps: int
                       ) -> Iterator[torch.Tensor]:
    """``n_steps`` batches read from ``perm`` cyclically (step t starts at ``t·b mod n``):
    DEC's T iterations between two target refreshes, which need not fill whole epochs."""
    n = len(perm)
    for t in range(n_steps):
        s = (t * batch_size) % n
        yield perm[s:s + batch_size]


def class_uniform_indices(labels: torch.Tensor, n: int | None = None,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` sample indices (default: as many as labels) drawn *uniformly over the classes*:
    each of the m non-empty classes contributes ⌈n/m⌉ of its members — without replacement
    while it has enough, with replacement otherwise — then the draw is shuffled and cut to
    ``n``. DeepCluster's sampler (Caron et al., 2018, §3.3): with pseudo-labels from k-means
    a huge cluster would otherwise dominate every batch and the network would learn to put
    everything into it."""
    labels = torch.as_tensor(labels)
    n = len(labels) if n is None else int(n)
    classes = torch.unique(labels)
    per = -(-n // len(classes))
    picks = []
    for c in classes:
        members = (labels == c).nonzero().flatten()
        m = len(members)
        if m >= per:
            pick = torch.randperm(m, generator=generator)[:per]
        else:
            pick = torch.randint(m, (per,), generator=generator)
        picks.append(members[pick.to(members.device)])
    idx = torch.cat(picks)
    return idx[torch.randperm(len(idx), generator=generator)[:n].to(idx.device)]


class Trainer:
    """Optimiser, optional scheduler, mixed precision and gradient clipping for one model.

    ``params``: the tensors to train; ``optimizer``: a name for :func:`make_optimizer` or a
    ready ``torch.optim.Optimizer``. ``scheduler``: a function ``optimizer -> LRScheduler``;
    it is stepped after every batch (``schedule_every="step"``) or by :meth:`end_epoch`.
    ``amp``: autocast the step function (see :func:`dcteach.engine.autocast`); a GradScaler
    is used when that means fp16. ``clip_grad_norm``: max global gradient norm (None: off).
    """

    def __init__(self, params, optimizer: str | torch.optim.Optimizer = "adam", lr: float = 1e-3,
                 *, momentum: float = 0.9, weight_decay: float = 0.0,
                 device: torch.device | str = "cpu", amp: bool = False,
                 clip_grad_norm: float | None = None,
                 scheduler: Callable[[torch.optim.Optimizer], object] | None = None,
                 schedule_every: str = "epoch"):
        if isinstance(optimizer, torch.optim.Optimizer):
            self.optimizer = optimizer
        else:
            self.optimizer = make_optimizer(params, optimizer, lr, momentum, weight_decay)
        self.params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self.device = torch.device(device)
        self.amp = amp
        self.clip_grad_norm = clip_grad_norm
        self.scheduler = scheduler(self.optimizer) if scheduler is not None else None
        if schedule_every not in ("epoch", "step"):
            raise ValueError(f"schedule_every must be 'epoch' or 'step', got {schedule_every!r}")
        self.schedule_every = schedule_every
        fp16 = amp and amp_dtype(self.device) == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=fp16)

    def run(self, step: StepFn, batches: Iterable[torch.Tensor]) -> dict[str, float]:
        """One update per batch; returns the batch-size-weighted mean of ``loss`` and of
        every named part over the batches."""
        totals: dict[str, float] = {}
        count = 0
        for batch in batches:
            self.optimizer.zero_grad(set_to_none=True)
            with autocast(self.device, self.amp):
                out = step(batch)
            loss, parts = out if isinstance(out, tuple) else (out, {})
            self.scaler.scale(loss).backward()
            if self.clip_grad_norm is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.params, self.clip_grad_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.scheduler is not None and self.schedule_every == "step":
                self.scheduler.step()
            m = len(batch)
            count += m
            for key, value in {"loss": loss, **parts}.items():
                totals[key] = totals.get(key, 0.0) + float(value.detach()) * m
        return {k: v / max(count, 1) for k, v in totals.items()}

    def end_epoch(self) -> None:
        """Step a per-epoch scheduler (call once at the end of each epoch)."""
        if self.scheduler is not None and self.schedule_every == "epoch":
            self.scheduler.step()

    # checkpointing: TrainingRun saves anything with state_dict/load_state_dict
    def state_dict(self) -> dict:
        state = {"optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict()}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])


@torch.no_grad()
def embed_all(fn: Callable[[torch.Tensor], torch.Tensor | dict], x: torch.Tensor,
              batch_size: int = 4096, amp: bool = False,
              modules: Iterable[nn.Module] = ()) -> torch.Tensor | dict[str, torch.Tensor]:
    """``fn`` applied to ``x`` in blocks of rows, without gradient, as float32 on ``x``'s
    device (a dict of such tensors when ``fn`` returns a dict). ``modules`` are put in eval
    mode meanwhile (dropout/batch-norm off) and restored."""
    modules = list(modules) or ([fn] if isinstance(fn, nn.Module) else [])
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        out = []
        for s in range(0, len(x), batch_size):
            with autocast(x.device, amp):
                o = fn(x[s:s + batch_size])
            out.append({k: v.float() for k, v in o.items()} if isinstance(o, dict)
                       else o.float())
        if not out:
            return torch.empty(0, device=x.device)
        if isinstance(out[0], dict):
            return {k: torch.cat([o[k] for o in out]) for k in out[0]}
        return torch.cat(out)
    finally:
        for m, w in zip(modules, was, strict=True):
            m.train(w)
