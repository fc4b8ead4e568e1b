"""Network architectures: autoencoders for the DEC family (and their pretraining)."""

from .autoencoder import (
    ConvAutoencoder,
    MLPAutoencoder,
    build_autoencoder,
    embed,
    make_optimizer,
    pretrain_autoencoder,
    pretrain_layerwise,
)

__all__ = ["ConvAutoencoder", "MLPAutoencoder", "build_autoencoder", "embed",
           "make_optimizer", "pretrain_autoencoder", "pretrain_layerwise"]
