"""Bag-of-words features for short texts: TF-IDF, and LSA on top of it (lecture 08).

:func:`tfidf_features` weights term counts by inverse document frequency,
``tfidf(t, d) = tf(t, d) · (log((1 + n) / (1 + df(t))) + 1)``, and L2-normalises every row.
On short texts the vectors are extremely sparse (a tweet shares almost no words with another
tweet), which is what makes them hard to cluster. :func:`lsa_features` projects them on the
top singular vectors (latent semantic analysis, Deerwester et al. 1990) to get dense vectors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["tfidf_features", "lsa_features", "top_terms", "unit_rows"]


def tfidf_features(texts: Sequence[str], max_features: int | None = 20000, min_df: int = 2,
                   stop_words: str | None = "english", sublinear_tf: bool = True):
    """Sparse TF-IDF matrix ``(n, vocabulary)`` with unit-length rows, and the vectorizer.

    ``min_df`` drops words seen in fewer documents (falls back to 1 on tiny corpora).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = list(texts)
    min_df = min_df if len(texts) >= 50 else 1
    vec = TfidfVectorizer(max_features=max_features, min_df=min_df, stop_words=stop_words,
                          sublinear_tf=sublinear_tf, token_pattern=r"(?u)\b\w[\w+#.-]*\w\b|\b\w\b")
    try:
        X = vec.fit_transform(texts)
    except ValueError:  # every word was a stop word or too rare: keep everything
        vec = TfidfVectorizer(min_df=1, sublinear_tf=sublinear_tf)
        X = vec.fit_transform(texts)
    return X, vec


def lsa_features(texts: Sequence[str], n_components: int = 100, seed: int = 0,
                 **tfidf_kwargs) -> np.ndarray:
    """Latent semantic analysis: TF-IDF → truncated SVD → unit-length rows ``(n, d)``."""
    from sklearn.decomposition import TruncatedSVD

    X, _ = tfidf_features(texts, **tfidf_kwargs)
    d = max(1, min(n_components, X.shape[1] - 1, X.shape[0] - 1))
    Z = TruncatedSVD(d, random_state=seed).fit_transform(X)
    return unit_rows(Z).astype(np.float32)


def top_terms(texts: Sequence[str], labels, n_terms: int = 8, **tfidf_kwargs
              ) -> dict[int, list[str]]:
    """The words with the highest mean TF-IDF in each cluster: a quick way to read clusters."""
    X, vec = tfidf_features(texts, **tfidf_kwargs)
    vocab = np.asarray(vec.get_feature_names_out())
    labels = np.asarray(labels)
    out = {}
    for c in np.unique(labels):
        mean = np.asarray(X[labels == c].mean(0)).ravel()
        out[int(c)] = vocab[np.argsort(-mean)[:n_terms]].tolist()
    return out


def unit_rows(Z: np.ndarray) -> np.ndarray:
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
