"""Networks and heads, stored by kind: backbones for images (:mod:`.backbones`), autoencoders
(:mod:`.autoencoders`), the heads that sit on a network's features (:mod:`.heads`) and
the stored features a loss reads (memory bank, MoCo queue: :mod:`.memory`) and
MoCo's momentum encoder (:mod:`.momentum`), and the trainable top of a sentence
transformer (:mod:`.transformer`).
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
from .memory import FeatureQueue, MemoryBank
from .momentum import MomentumEncoder
from .transformer import SentenceTop

__all__ = ["ConvAutoencoder", "MLPAutoencoder", "build_autoencoder", "BACKBONES", "SmallCNN",
           "Standardize", "build_backbone", "image_encoder", "resnet_cifar", "ClusterHeads",
           "ClusteringLayer", "FeatureMLP", "MultiHeadNet", "ProjectionHead", "ResidualMLP",
           "MemoryBank", "FeatureQueue", "MomentumEncoder", "SentenceTop"]
