"""Input kinds: what a method receives, and how it becomes the tensor the method trains on.

A method is written once for vectors (or images); a *text* variant is the same class with
:class:`TextInput` mixed in, which turns a list of strings into features first
(:func:`dcteach.features.text_features`). So ``text-dec`` is DEC — the same loop, the same
options — on sentence embeddings, not a second copy of DEC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..features import DEFAULT_MODEL, text_features
from .config import option

__all__ = ["TextFeatureConfig", "TextInput", "as_texts"]


def as_texts(X) -> list[str]:
    """``X`` as a list of strings (None → ""), with clear errors for the usual mistakes."""
    if isinstance(X, str):
        raise ValueError("X must be a list of texts, not one string")
    if isinstance(X, np.ndarray) and X.dtype.kind in "fiub":
        raise ValueError("this is a text method: X must be a list of strings, got a numeric "
                         f"array of shape {X.shape}")
    texts = ["" if t is None else str(t) for t in X]
    if not texts:
        raise ValueError("no texts to cluster")
    return texts


@dataclass
class TextFeatureConfig:
    """How texts become vectors (see :func:`dcteach.features.text_features`)."""

    embedding: str = "minilm"  # minilm | tfidf | lsa | minilm+lsa | a sentence model name/path
    model: str = DEFAULT_MODEL
    lsa_dim: int = option(100, low=1)
    lsa_weight: float = option(0.7, low=0.0)  # weight of the LSA block in 'minilm+lsa'
    standardize: bool = False  # z-score every feature column (what an autoencoder wants)


class TextInput:
    """Mixin: the method's input is a list of texts; ``_input`` gives their features as a
    float32 tensor on the method's device (standardised with the training statistics when
    ``standardize``). Put it *before* the method class: ``class TextDEC(TextInput, DEC)``."""

    input_kind = "text"

    def _features(self, X):
        c = self.config_
        return text_features(as_texts(X), c.embedding, c.model, c.lsa_dim, c.lsa_weight,
                             int(self.seed), verbose=self.verbose)

    def _input(self, X, fitting: bool = False) -> torch.Tensor:
        feats = self._features(X)
        if hasattr(feats, "toarray"):
            feats = feats.toarray()
        x = torch.as_tensor(np.asarray(feats, dtype=np.float32), device=self.device_)
        if self.config_.standardize:
            if fitting:
                self.feature_mean_, self.feature_std_ = x.mean(0), x.std(0).clamp_min(1e-6)
            x = (x - self.feature_mean_) / self.feature_std_
        return x
