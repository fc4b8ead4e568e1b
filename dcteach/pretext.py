"""Pretext training: learn a representation before clustering it.

Two views of every image (lecture 04):

* :func:`train_on_views` — the loop every view-based method shares (SimCLR, CC, and later
  SCAN's, IDFD's and PCL's pretext): per mini-batch, two random views of the same images go
  through the model in *one* forward (batch-norm statistics over both views), and a loss of
  the two outputs is minimised; optionally logged every epoch.
* :func:`cached_pretext` — a trained pretext model as a cached artifact on disk, keyed by the
  data (a hash of the images) and the configuration that trained it; SimCLR + k-means trains
  it, and every later method that starts from SimCLR features loads it instead of retraining.

Autoencoder reconstruction (lecture 02), both ways the DEC family uses:

* :func:`pretrain_autoencoder` — end-to-end: minimise ``mean ‖x − g(f(x))‖²`` over the whole
  network (what DEC-keras and IDEC do); with ``augment``, on randomly transformed batches
  (DEC-DA).
* :func:`pretrain_layerwise` — DEC's original recipe: train each encoder/decoder layer pair
  as a one-hidden-layer *denoising* autoencoder on the codes of the layers below
  (dropout 0.2 on its input and on its hidden layer), then fine-tune the whole stack
  end-to-end without dropout.

Both hold the data as one tensor on the device and slice shuffled mini-batches from it (no
DataLoader, no worker processes: on MNIST-sized data the fastest option on a CPU, and free on
a GPU), and update through the one step loop, :class:`dcteach.train.Trainer`.
:func:`embed` gives the embeddings of a trained autoencoder.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .data.images import cache_dir
from .distributed import is_main, shard
from .engine import TrainingRun
from .losses.dec import reconstruction_loss
from .nn.autoencoders import MLPAutoencoder
from .train import Trainer, embed_all, minibatches

__all__ = ["pretrain_autoencoder", "pretrain_layerwise", "embed", "train_on_views",
           "cached_pretext", "data_fingerprint"]


def embed(ae: nn.Module, x: torch.Tensor, batch_size: int = 4096, amp: bool = False
          ) -> torch.Tensor:
    """Embeddings ``f(x)`` of every row of ``x`` (float32, on ``x``'s device)."""
    return embed_all(ae.encode, x, batch_size, amp, modules=[ae])


def _train_reconstruction(run: TrainingRun, phase: str, n_epochs: int, x: torch.Tensor,
                          reconstruct: Callable[[torch.Tensor], torch.Tensor], params,
                          optimizer: str, lr: float, momentum: float, lr_decay_every: int,
                          batch_size: int, amp: bool, modules: dict,
                          log: Callable[[int, float], None] | None,
                          augment: Callable[[torch.Tensor], torch.Tensor] | None = None
                          ) -> None:
    """``n_epochs`` of ``mean ‖x_b − reconstruct(x_b)‖²`` over shuffled mini-batches ``x_b``
    (``augment(x[idx])`` when given: input and target alike), one checkpoint per epoch.
    ``modules`` (and the trainer) are what a resumed run restores."""
    sched = ((lambda opt: torch.optim.lr_scheduler.StepLR(opt, lr_decay_every, 0.1))
             if lr_decay_every else None)
    trainer = Trainer(params, optimizer, lr, momentum=momentum, device=x.device, amp=amp,
                      scheduler=sched)

    def step(idx: torch.Tensor) -> torch.Tensor:
        xb = x[idx] if augment is None else augment(x[idx])
        return reconstruction_loss(reconstruct(xb), xb)

    for epoch in run.epochs(phase, n_epochs, trainer=trainer, **modules):
        parts = trainer.run(step, minibatches(len(x), batch_size, x.device))
        trainer.end_epoch()
        if log is not None:
            log(epoch, parts["loss"])


def pretrain_autoencoder(ae: nn.Module, x: torch.Tensor, epochs: int, batch_size: int = 256,
                         optimizer: str = "adam", lr: float = 1e-3, momentum: float = 0.9,
                         run: TrainingRun | None = None, phase: str = "pretrain",
                         amp: bool = False, log: Callable[[int, float], None] | None = None,
                         lr_decay_every: int = 0,
                         augment: Callable[[torch.Tensor], torch.Tensor] | None = None
                         ) -> nn.Module:
    """End-to-end reconstruction training, ``min mean ‖x − g(f(x))‖²``.

    ``lr_decay_every`` > 0 divides the learning rate by 10 every that many epochs (DEC's SGD
    schedule). ``augment`` trains on randomly transformed mini-batches instead (input and
    target alike), e.g. :func:`dcteach.augment.random_affine` as in DEC-DA. With a
    :class:`TrainingRun`, every epoch is checkpointed and resumable.
    """
    run = run or TrainingRun(None)
    ae.train()
    _train_reconstruction(run, phase, epochs, x, lambda xb: ae(xb)[1], ae.parameters(),
                          optimizer, lr, momentum, lr_decay_every, batch_size, amp,
                          {"model": ae}, log, augment)
    return ae


def pretrain_layerwise(ae: MLPAutoencoder, x: torch.Tensor, epochs_per_layer: int,
                       batch_size: int = 256, optimizer: str = "sgd", lr: float = 0.1,
                       momentum: float = 0.9, dropout: float = 0.2,
                       run: TrainingRun | None = None, amp: bool = False,
                       lr_decay_every: int = 0,
                       log: Callable[[str, int, float], None] | None = None) -> MLPAutoencoder:
    """Greedy layer-wise denoising pretraining (Vincent et al., 2010; as used by DEC).

    Layer pair *i* is trained as the shallow autoencoder
    ``h ↦ dec_i(drop(act(enc_i(drop(h)))))`` on ``h`` = the (clean) codes of layers
    ``< i``, where ``drop`` is dropout with rate ``dropout``. The activation is ReLU except
    on the embedding layer (linear) and the reconstruction of the input (linear). Afterwards
    call :func:`pretrain_autoencoder` to fine-tune the whole stack.
    """
    if not isinstance(ae, MLPAutoencoder):
        raise ValueError("layer-wise pretraining is defined for MLPAutoencoder only; "
                         "use pretrain='end-to-end' for the convolutional autoencoder")
    run = run or TrainingRun(None)
    drop = nn.Dropout(dropout)
    h = x.flatten(1)
    pairs = ae.layers()
    for i, (enc, dec) in enumerate(pairs):
        act_hidden = nn.Identity() if i == len(pairs) - 1 else nn.ReLU()
        act_out = nn.Identity() if i == 0 else nn.ReLU()
        params = list(enc.parameters()) + list(dec.parameters())
        phase = f"layerwise{i}"
        drop.train()

        def reconstruct(hb, enc=enc, dec=dec, act_hidden=act_hidden, act_out=act_out):
            return act_out(dec(drop(act_hidden(enc(drop(hb))))))

        _train_reconstruction(run, phase, epochs_per_layer, h, reconstruct, params, optimizer,
                              lr, momentum, lr_decay_every, batch_size, amp,
                              {"encoder_layer": enc, "decoder_layer": dec},
                              None if log is None else (lambda e, v, ph=phase: log(ph, e, v)))
        # clean codes for the next layer
        h = embed_all(lambda hb, enc=enc, act=act_hidden: act(enc(hb)), h, 8192)
    return ae


# ------------------------------------------------------------------------------ two views
def train_on_views(run: TrainingRun, phase: str, n_epochs: int, model: nn.Module,
                   x: torch.Tensor, augment: Callable[[torch.Tensor], torch.Tensor],
                   loss: Callable[[dict, dict], torch.Tensor | tuple], trainer: Trainer,
                   batch_size: int, log: Callable[[int, dict], None] | None = None,
                   **state) -> None:
    """``n_epochs`` of: for each shuffled mini-batch ``x_b`` (uint8 or float images),
    ``out = model(cat[augment(x_b), augment(x_b)])`` split into the two views' outputs
    ``o1, o2`` and one update on ``loss(o1, o2)`` (a tensor or ``(loss, parts)``).

    Under ``torchrun`` every rank draws the same global batch and keeps its share
    (:func:`dcteach.distributed.shard`); the losses gather the other ranks' rows.
    ``log(epoch, parts)`` is called after every epoch; ``state`` (modules, dicts) is
    checkpointed with the model and the trainer.
    """

    def step(idx: torch.Tensor):
        xb = x[shard(idx)]
        out = model(torch.cat([augment(xb), augment(xb)]))
        m = len(xb)
        o1 = {k: v[:m] for k, v in out.items()}
        o2 = {k: v[m:] for k, v in out.items()}
        return loss(o1, o2)

    for epoch in run.epochs(phase, n_epochs, model=model, trainer=trainer, **state):
        model.train()
        parts = trainer.run(step, minibatches(len(x), batch_size, x.device, drop_last=True))
        trainer.end_epoch()
        if log is not None:
            log(epoch, parts)


def data_fingerprint(x) -> str:
    """A short hash of an array's shape, dtype and bytes (what a cached artifact was
    trained on)."""
    arr = np.ascontiguousarray(np.asarray(x.cpu() if hasattr(x, "cpu") else x))
    h = hashlib.sha1(f"{arr.shape}|{arr.dtype}|".encode())
    h.update(memoryview(arr.reshape(-1).view(np.uint8)))
    return h.hexdigest()[:16]


def cached_pretext(kind: str, model: nn.Module, key: dict, train: Callable[[], None],
                   enabled: bool = True, verbose: bool = True,
                   run: TrainingRun | None = None) -> nn.Module:
    """Load ``model``'s weights from the cache entry for ``key`` (a JSON-able dict: data
    fingerprint, configuration, seed) or run ``train()`` and store them there.

    Entries live in ``cache_dir("pretext")/<kind>-<hash>.pt`` (``$DCTEACH_CACHE``); delete
    the folder to retrain. With ``enabled=False`` it trains and stores nothing. With ``run``,
    the log rows ``train()`` adds to ``run`` are stored with the weights and logged again on a
    load, so a loaded model has the same training curves as a trained one (lecture 04 plots
    them; lecture 06 loads that run). Entries written before rows were stored are retrained.
    """
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    path = cache_dir("pretext") / f"{kind}-{digest[:16]}.pt"
    if enabled and path.is_file():
        try:
            entry = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(entry["model"])
            if run is not None:
                for row in json.loads(entry["log"]):
                    run.log(row.pop("phase"), row.pop("epoch"),
                            **{k: v for k, v in row.items() if k != "time"})
            if verbose:
                print(f"dcteach: loaded the cached {kind} pretext model {path}", file=sys.stderr)
            return model
        except (OSError, RuntimeError, KeyError, TypeError, ValueError):
            pass  # a damaged or stale entry is retrained
    first_row = len(run.history) if run is not None else 0
    train()
    if enabled and is_main():
        rows = run.history[first_row:] if run is not None else []
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.save({"model": {k: v.cpu() for k, v in model.state_dict().items()},
                        "log": json.dumps(rows)}, tmp)
            os.replace(tmp, path)
        except OSError:
            pass
    return model
