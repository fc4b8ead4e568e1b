"""Networks and heads, stored by kind: backbones for images (:mod:`.backbones`), autoencoders
(:mod:`.autoencoders`) and the heads that sit on a network's features (:mod:`.heads`).
Training lives in :mod:`dcteach.train`."""

from .autoencoders import ConvAutoencoder, MLPAutoencoder, build_autoencoder
from .backbones import BACKBONES, SmallCNN, Standardize, build_backbone, image_encoder, resnet_cifar
from .heads import (
    ClusterHeads,
    ClusteringLayer,
    FeatureMLP,
    MultiHeadNet,
    ProjectionHead,
    ResidualMLP,
)

__all__ = ["ConvAutoencoder", "MLPAutoencoder", "build_autoencoder", "BACKBONES", "SmallCNN",
           "Standardize", "build_backbone", "image_encoder", "resnet_cifar", "ClusterHeads",
           "ClusteringLayer", "FeatureMLP", "MultiHeadNet", "ProjectionHead", "ResidualMLP"]
