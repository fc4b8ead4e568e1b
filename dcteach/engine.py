"""Training machinery shared by every method: device, seeding, mixed precision,
checkpoint/resume, progress bars, per-epoch metric logs and the result JSON.

The one idea to know is :meth:`TrainingRun.epochs`: a method writes its loop as

    for epoch in run.epochs("pretrain", n_epochs, model=ae, optimizer=opt, state=state):
        ...train one epoch...

and gets a checkpoint after every epoch for free. Re-running with ``resume=True`` restores
the modules, optimisers, the ``state`` dict and the random generators from the last
checkpoint and continues with the next epoch; a finished phase is skipped entirely.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "pick_device",
    "seed_everything",
    "amp_dtype",
    "autocast",
    "progress",
    "quiet",
    "TrainingRun",
    "write_result",
]


def pick_device(device: str | torch.device | None = None, verbose: bool = False) -> torch.device:
    """``device`` if given, else the first of cuda → mps → cpu (``$DCTEACH_DEVICE`` overrides)."""
    device = device or os.environ.get("DCTEACH_DEVICE") or None
    if device in (None, "auto"):
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but CUDA is not available here")
    if verbose:
        name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else dev.type
        print(f"dcteach: using device {dev} ({name})", file=sys.stderr)
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AVX512-BF16 or AMX), which makes
    bf16 autocast 1.5–2× faster than float32 for MLPs; without it bf16 is emulated and slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The low precision :func:`autocast` uses on ``device``: bf16 on CUDA where supported,
    else fp16 (which needs a GradScaler); bf16 on a CPU with native bf16 (see
    :func:`cpu_has_native_bf16`); None (float32) elsewhere."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def autocast(device: torch.device, enabled: bool = True):
    """Mixed precision in the dtype of :func:`amp_dtype`; a no-op where that is None or when
    not ``enabled``.

    Matrix products run in the low precision with float32 accumulation; parameters,
    optimiser state and losses stay float32.
    """
    device = torch.device(device)
    dtype = amp_dtype(device) if enabled else None
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def quiet() -> bool:
    """Progress bars off in CI, under nbgrader, under pytest or with ``DCTEACH_QUIET=1``."""
    return any(os.environ.get(v) for v in ("CI", "DCTEACH_QUIET", "NBGRADER_EXECUTION",
                                            "PYTEST_CURRENT_TEST"))


def progress(iterable=None, disable: bool | None = None, **kwargs):
    """A tqdm bar that works in notebooks and terminals and stays quiet in CI."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = quiet()
    return tqdm(iterable, disable=disable, dynamic_ncols=True, leave=False, **kwargs)


def _rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class TrainingRun:
    """Output folder of one run: checkpoints, ``metrics.jsonl`` log and plots.

    ``out_dir=None`` keeps everything in memory (no checkpoints), which is what notebooks
    and tests usually want.
    """

    def __init__(self, out_dir: str | os.PathLike | None = None, resume: bool = False,
                 verbose: bool = True):
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.resume = resume
        self.verbose = verbose
        self.history: list[dict] = []
        self._last: dict[str, tuple[int, dict]] = {}
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            log = self.out_dir / "metrics.jsonl"
            if resume and log.exists():
                self.history = [json.loads(ln) for ln in log.read_text().splitlines() if ln]
            elif log.exists():
                log.unlink()
        if resume and self.out_dir is None:
            raise ValueError("resume=True needs an output folder (out_dir) to resume from")

    # -- checkpoints --------------------------------------------------------------
    def _ckpt(self, phase: str) -> Path:
        assert self.out_dir is not None
        return self.out_dir / f"checkpoint_{phase}.pt"

    def has_checkpoint(self, phase: str) -> bool:
        return self.out_dir is not None and self._ckpt(phase).exists()

    def save(self, phase: str, epoch: int, done: bool, objects: dict) -> None:
        from .distributed import is_main

        if self.out_dir is None or not is_main():  # under torchrun rank 0 writes
            return
        payload = {"phase": phase, "epoch": epoch, "done": done, "rng": _rng_state(),
                   "objects": {k: _state_of(v) for k, v in objects.items()}}
        tmp = self._ckpt(phase).with_suffix(".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, self._ckpt(phase))  # atomic: a kill never leaves half a checkpoint

    def load(self, phase: str, objects: dict) -> tuple[int, bool]:
        """Restore ``objects`` in place; return (last finished epoch, phase done)."""
        payload = torch.load(self._ckpt(phase), map_location="cpu", weights_only=False)
        for k, v in objects.items():
            if k in payload["objects"]:
                _load_into(v, payload["objects"][k])
        _set_rng_state(payload["rng"])
        return payload["epoch"], payload["done"]

    def epochs(self, phase: str, n_epochs: int, desc: str | None = None,
               **objects) -> Iterator[int]:
        """Yield epoch indices 0..n_epochs-1, checkpointing ``objects`` after each one.

        ``objects`` are modules, optimisers, schedulers (anything with ``state_dict``) or
        plain dicts (saved and restored in place). After breaking out early on a
        convergence criterion, call :meth:`finish` so that a resumed run skips the phase.
        """
        start = 0
        if self.resume and self.has_checkpoint(phase):
            last, done = self.load(phase, objects)
            if done:
                self._say(f"[{phase}] finished earlier: restored from checkpoint")
                return
            start = last + 1
            self._say(f"[{phase}] resuming at epoch {start + 1}/{n_epochs}")
        bar = progress(range(start, n_epochs), desc=desc or phase, initial=start,
                       total=n_epochs, disable=None if self.verbose else True)
        try:
            for epoch in bar:
                yield epoch
                self.save(phase, epoch, epoch == n_epochs - 1, objects)
                self._last[phase] = (epoch, objects)
        finally:
            bar.close()

    def finish(self, phase: str) -> None:
        """Mark ``phase`` done after leaving its loop early (converged), so a resumed run
        skips it. An interrupted loop is *not* marked: it resumes at its next epoch."""
        if phase in self._last:
            epoch, objects = self._last[phase]
            self.save(phase, epoch, True, objects)

    # -- logs ---------------------------------------------------------------------
    def log(self, phase: str, epoch: int, **values) -> dict:
        row = {"phase": phase, "epoch": epoch, "time": round(time.time(), 3)}
        row.update({k: (float(v) if isinstance(v, (np.floating, torch.Tensor)) else v)
                    for k, v in values.items()})
        self.history.append(row)
        from .distributed import is_main

        if self.out_dir is not None and is_main():
            with open(self.out_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(row) + "\n")
        return row

    def _say(self, msg: str) -> None:
        if self.verbose:
            print(msg, file=sys.stderr)


def _state_of(obj):
    if hasattr(obj, "state_dict"):
        return obj.state_dict()
    if isinstance(obj, dict):
        return dict(obj)
    raise TypeError(f"cannot checkpoint object of type {type(obj).__name__}")


def _load_into(obj, state) -> None:
    if hasattr(obj, "load_state_dict"):
        obj.load_state_dict(state)
    elif isinstance(obj, dict):
        obj.clear()
        obj.update(state)
    else:
        raise TypeError(f"cannot restore object of type {type(obj).__name__}")


def write_result(path: str | os.PathLike, result: dict) -> None:
    """Write the result JSON of DESIGN.md:
    ``{method, dataset, n, n_clusters, acc, nmi, ari, seconds, device, seed, config}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=_jsonable) + "\n")


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (Path, torch.device)):
        return str(v)
    if isinstance(v, (tuple, set)):
        return list(v)
    return repr(v)
