"""Inputs, not methods: how raw data becomes the vectors a clustering method sees.

Texts (lecture 08) — bag of words (:mod:`.bag_of_words`: TF-IDF, LSA) and sentence
embeddings (:mod:`.sentence`: cached sentence-transformer vectors). :func:`text_features` is
the one switch every text method uses, named by ``embedding``:

==============  ===================================================================
``minilm``      unit sentence embeddings of ``model`` (default all-MiniLM-L6-v2)
``tfidf``       sparse TF-IDF rows (scipy CSR)
``lsa``         TF-IDF → ``lsa_dim``-d truncated SVD, unit rows
``minilm+lsa``  ``[m_i ; lsa_weight · l_i]``: sentence meaning next to the corpus' keywords
other           any sentence-transformers model name or folder
==============  ===================================================================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .bag_of_words import lsa_features, tfidf_features, top_terms, unit_rows
from .sentence import (
    DEFAULT_MODEL,
    embed_texts,
    embedding_cache_dir,
    load_sentence_model,
    resolve_model,
    token_states,
)

__all__ = ["DEFAULT_MODEL", "TEXT_EMBEDDINGS", "text_features", "embed_texts", "tfidf_features",
           "lsa_features", "top_terms", "embedding_cache_dir", "load_sentence_model",
           "resolve_model", "token_states"]

TEXT_EMBEDDINGS = ("minilm", "tfidf", "lsa", "minilm+lsa")


def text_features(texts: Sequence[str], embedding: str = "minilm", model: str = DEFAULT_MODEL,
                  lsa_dim: int = 100, lsa_weight: float = 0.7, seed: int = 0,
                  verbose: bool = True):
    """Features ``(n, d)`` of ``texts``: float32 rows, or a sparse matrix for ``tfidf``."""
    kind = embedding.lower()
    if kind == "tfidf":
        return tfidf_features(texts)[0]
    if kind == "lsa":
        return lsa_features(texts, lsa_dim, seed)
    if kind == "minilm+lsa":
        emb = unit_rows(embed_texts(texts, model, verbose=verbose))
        lsa = lsa_features(texts, lsa_dim, seed)
        return np.hstack([emb, lsa_weight * lsa]).astype(np.float32)
    name = model if kind in ("minilm", "sentence") else embedding
    return embed_texts(texts, name, verbose=verbose)
