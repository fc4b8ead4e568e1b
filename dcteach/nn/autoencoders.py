"""Autoencoders of the DEC family (their pretraining is in :mod:`dcteach.pretext`).

* :class:`MLPAutoencoder` — the stacked autoencoder of DEC (Xie et al., 2016):
  ``d-500-500-2000-10`` with ReLU between layers, a linear embedding layer and a linear
  reconstruction layer.
* :class:`ConvAutoencoder` — a small convolutional autoencoder for images
  (three stride-2 convolutions 32-64-128, a linear embedding; mirrored decoder), in the spirit
  of DCEC (Guo et al., 2017).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLPAutoencoder", "ConvAutoencoder", "build_autoencoder"]


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
