"""Networks and heads, stored by kind: autoencoders (:mod:`.autoencoders`) and the heads that
sit on a network's features (:mod:`.heads`). Training lives in :mod:`dcteach.train`."""

from .autoencoders import ConvAutoencoder, MLPAutoencoder, build_autoencoder
from .heads import ClusterHeads, ClusteringLayer, ProjectionHead, ResidualMLP

__all__ = ["ConvAutoencoder", "MLPAutoencoder", "build_autoencoder", "ClusterHeads",
           "ClusteringLayer", "ProjectionHead", "ResidualMLP"]
