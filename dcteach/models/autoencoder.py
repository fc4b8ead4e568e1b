"""Autoencoders for the DEC family and the two ways to pretrain them.

* :class:`MLPAutoencoder` — the stacked autoencoder of DEC (Xie et al., 2016):
  ``d-500-500-2000-10`` with ReLU between layers, a linear embedding layer and a linear
  reconstruction layer.
* :class:`ConvAutoencoder` — a small convolutional autoencoder for images
  (three stride-2 convolutions 32-64-128, a linear embedding; mirrored decoder), in the spirit
  of DCEC (Guo et al., 2017).

Pretraining:

* :func:`pretrain_autoencoder` — end-to-end: minimise ``‖x − g(f(x))‖²`` over the whole
  network (what DEC-keras and IDEC do).
* :func:`pretrain_layerwise` — DEC's original recipe: train each encoder/decoder layer pair
  as a one-hidden-layer *denoising* autoencoder on the codes of the layers below
  (dropout 0.2 on its input and on its hidden layer), then fine-tune the whole stack
  end-to-end without dropout.

Both hold the data as one tensor on the device and slice shuffled mini-batches from it: no
DataLoader, no worker processes (on MNIST-sized data this is the fastest option on a CPU and
costs nothing on a GPU).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..engine import TrainingRun, autocast

__all__ = ["MLPAutoencoder", "ConvAutoencoder", "build_autoencoder", "pretrain_autoencoder",
           "pretrain_layerwise", "embed", "make_optimizer"]


class MLPAutoencoder(nn.Module):
    """Fully connected autoencoder ``input_dim-hidden...-latent_dim`` and its mirror image.

    ``encoder`` and ``decoder`` are ``nn.Sequential``; ``layers()`` gives the
    (encoder linear, decoder linear) pairs used by greedy layer-wise pretraining.
    """

    def __init__(self, input_dim: int, hidden: Sequence[int] = (500, 500, 2000),
                 latent_dim: int = 10):
        super().__init__()
        dims = [int(input_dim), *map(int, hidden), int(latent_dim)]
        self.dims = dims
        self.input_shape: tuple[int, ...] = (int(input_dim),)
        pairs = list(zip(dims[:-1], dims[1:], strict=True))
        self.enc_linears = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
        self.dec_linears = nn.ModuleList(nn.Linear(b, a) for a, b in reversed(pairs))
        self.encoder = _chain(self.enc_linears)
        self.decoder = _chain(self.dec_linears)
        self.latent_dim = int(latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(z, x_hat)``: the embedding and the reconstruction."""
        z = self.encoder(x.flatten(1))
        return z, self.decoder(z).view_as(x)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))

    def layers(self) -> list[tuple[nn.Linear, nn.Linear]]:
        """Pairs (encoder layer i, the decoder layer that inverts it), from the input up."""
        return list(zip(self.enc_linears, reversed(self.dec_linears), strict=True))


def _chain(linears: Sequence[nn.Linear]) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i, lin in enumerate(linears):
        mods.append(lin)
        if i < len(linears) - 1:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder for ``(C, H, W)`` images (H, W divisible by 8 after padding).

    Encoder: conv 5×5/2 (32) → conv 5×5/2 (64) → conv 3×3/2 (128) → flatten → linear to
    ``latent_dim``. Decoder: the mirror image with transposed convolutions.
    """

    def __init__(self, input_shape: Sequence[int] = (1, 28, 28), latent_dim: int = 10,
                 channels: Sequence[int] = (32, 64, 128)):
        super().__init__()
        c, h, w = map(int, input_shape)
        self.input_shape = (c, h, w)
        self.latent_dim = int(latent_dim)
        c1, c2, c3 = channels
        self.conv = nn.Sequential(
            nn.Conv2d(c, c1, 5, 2, 2), nn.ReLU(),
            nn.Conv2d(c1, c2, 5, 2, 2), nn.ReLU(),
            nn.Conv2d(c2, c3, 3, 2, 1 if h % 8 == 0 else 0), nn.ReLU())
        with torch.no_grad():
            feat = self.conv(torch.zeros(1, c, h, w))
        self._feat_shape = tuple(feat.shape[1:])
        n_feat = feat.numel()
        self.to_latent = nn.Linear(n_feat, latent_dim)
        self.from_latent = nn.Linear(latent_dim, n_feat)
        self.deconv = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(c3, c2, 3, 2, 1 if h % 8 == 0 else 0,
                               output_padding=1 if h % 8 == 0 else 0), nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 5, 2, 2, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(c1, c, 5, 2, 2, output_padding=1))
        self.encoder = nn.Sequential(self.conv, nn.Flatten(), self.to_latent)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.view(-1, *self.input_shape))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        h = self.from_latent(z).view(-1, *self._feat_shape)
        x_hat = self.deconv(h)
        return z, x_hat.reshape(x.shape)


def build_autoencoder(arch: str, input_shape: Sequence[int], hidden: Sequence[int],
                      latent_dim: int) -> nn.Module:
    """``arch`` = "mlp" (on flattened inputs) or "conv" (needs ``input_shape`` = (C, H, W))."""
    if arch == "mlp":
        d = 1
        for s in input_shape:
            d *= int(s)
        return MLPAutoencoder(d, hidden, latent_dim)
    if arch == "conv":
        if len(input_shape) != 3:
            raise ValueError(f"arch='conv' needs image inputs (C, H, W); got shape "
                             f"{tuple(input_shape)}. Use arch='mlp' for vectors.")
        return ConvAutoencoder(input_shape, latent_dim)
    raise ValueError(f"unknown arch {arch!r}: use 'mlp' or 'conv'")


def make_optimizer(params, name: str, lr: float, momentum: float = 0.9
                   ) -> torch.optim.Optimizer:
    """``adam`` or ``sgd`` (with momentum)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    raise ValueError(f"unknown optimizer {name!r}: use 'adam' or 'sgd'")


def _batches(n: int, batch_size: int, device: torch.device, generator=None):
    perm = torch.randperm(n, generator=generator).to(device)
    for s in range(0, n, batch_size):
        yield perm[s:s + batch_size]


@torch.no_grad()
def embed(ae: nn.Module, x: torch.Tensor, batch_size: int = 4096, amp: bool = False
          ) -> torch.Tensor:
    """Embeddings ``f(x)`` of every row of ``x`` (float32, on ``x``'s device)."""
    was = ae.training
    ae.eval()
    out = []
    for s in range(0, len(x), batch_size):
        with autocast(x.device, amp):
            out.append(ae.encode(x[s:s + batch_size]).float())
    ae.train(was)
    return torch.cat(out)


def _train_reconstruction(run: TrainingRun, phase: str, n_epochs: int, x: torch.Tensor,
                          reconstruct: Callable[[torch.Tensor], torch.Tensor],
                          params, optimizer: str, lr: float, momentum: float,
                          lr_decay_every: int, batch_size: int, amp: bool,
                          modules: dict, log: Callable[[int, float], None] | None,
                          augment: Callable[[torch.Tensor], torch.Tensor] | None = None
                          ) -> None:
    """Mini-batch training of ``mean ‖x − reconstruct(x)‖²``, one checkpoint per epoch.

    The loop shared by end-to-end pretraining and each layer of layer-wise pretraining:
    ``modules`` (with the optimiser and scheduler) are what a resumed run restores.
    ``augment`` (optional) replaces each mini-batch by a random transformation of it, which
    is then both the input and the target (DEC-DA).
    """
    opt = make_optimizer(params, optimizer, lr, momentum)
    sched = (torch.optim.lr_scheduler.StepLR(opt, lr_decay_every, 0.1)
             if lr_decay_every else None)
    objs = dict(modules, optimizer=opt)
    if sched is not None:
        objs["scheduler"] = sched
    for epoch in run.epochs(phase, n_epochs, **objs):
        total, count = 0.0, 0
        for idx in _batches(len(x), batch_size, x.device):
            xb = x[idx] if augment is None else augment(x[idx])
            with autocast(x.device, amp):
                out = reconstruct(xb)
            loss = torch.mean((out.float() - xb) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        if sched is not None:
            sched.step()
        if log is not None:
            log(epoch, total / count)


def pretrain_autoencoder(ae: nn.Module, x: torch.Tensor, epochs: int, batch_size: int = 256,
                         optimizer: str = "adam", lr: float = 1e-3, momentum: float = 0.9,
                         run: TrainingRun | None = None, phase: str = "pretrain",
                         amp: bool = False, log: Callable[[int, float], None] | None = None,
                         lr_decay_every: int = 0,
                         augment: Callable[[torch.Tensor], torch.Tensor] | None = None
                         ) -> nn.Module:
    """End-to-end reconstruction training, ``min ‖x − g(f(x))‖²`` (mean squared error).

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
    pairs = ae.layers()
    drop = nn.Dropout(dropout)
    h = x.flatten(1)
    for i, (enc, dec) in enumerate(pairs):
        last = i == len(pairs) - 1
        act_hidden = nn.Identity() if last else nn.ReLU()
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
        with torch.no_grad():  # clean codes for the next layer
            h = torch.cat([act_hidden(enc(h[s:s + 8192])) for s in range(0, len(h), 8192)])
    return ae
