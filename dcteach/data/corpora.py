"""Text corpora: ``label<TAB>text`` files, robust to messy input, and a toy corpus.

* Lines that are empty (or only whitespace) are skipped.
* Bytes that are not valid UTF-8 are replaced (U+FFFD), never fatal.
* Labels may be any strings; they are mapped to 0..k-1 in order of first sorted appearance.
* A file whose lines have no tab (or whose first fields are not all labels) is read as
  unlabelled text: ``y`` is ``None`` and clustering still works (no metrics).
* Duplicate texts are kept (each is a data point); ``meta['n_duplicates']`` counts them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .core import ClusterData

__all__ = ["read_labelled_texts", "toy_corpus"]


def read_labelled_texts(path: str | os.PathLike, name: str | None = None,
                        n_clusters: int | None = None) -> ClusterData:
    """Read a ``label<TAB>text`` (or one-text-per-line) file into a :class:`ClusterData`."""
    path = Path(path)
    raw = path.read_bytes().decode("utf-8", errors="replace")
    lines = [ln.strip("\r") for ln in raw.split("\n")]
    lines = [ln for ln in lines if ln.strip()]
    if not lines:
        raise ValueError(f"{path}: no non-empty lines to cluster")
    split = [ln.split("\t", 1) for ln in lines]
    labelled = all(len(s) == 2 and s[0].strip() and s[1].strip() for s in split)
    if labelled:
        labels = [s[0].strip() for s in split]
        texts = [s[1].strip() for s in split]
        names = sorted(set(labels), key=lambda v: (not v.lstrip("-").isdigit(),
                                                    int(v) if v.lstrip("-").isdigit() else 0, v))
        index = {v: i for i, v in enumerate(names)}
        y = np.asarray([index[v] for v in labels], dtype=np.int64)
        k = n_clusters or len(names)
    else:
        texts = [ln.strip() for ln in lines]
        y, names, k = None, [], n_clusters or 0
    n_dup = len(texts) - len(set(texts))
    return ClusterData(name or path.stem, texts, y, k, names, "text",
                       {"path": str(path), "n_duplicates": n_dup})


_TOY_TOPICS = {
    "sport": "football striker goalkeeper tennis match league referee penalty olympic sprinter "
             "marathon coach stadium tournament basketball cricket rugby trophy champion "
             "playoffs hockey cyclist swimmer medal fixture derby season transfer",
    "computing": "software laptop compiler python linux database server keyboard driver "
                 "processor kernel browser javascript router algorithm debugging password "
                 "download firmware monitor smartphone java backup spreadsheet encryption",
    "health": "doctor hospital vaccine virus diabetes surgery nurse cancer therapy symptoms "
              "medicine diet cholesterol clinic infection antibiotics pregnancy allergy "
              "patients fitness pharmacy vitamins heart asthma dentist",
    "business": "stocks investors bank inflation profits shares market economy merger startup "
                "revenue earnings loans tax exports shareholders dividend budget retail "
                "currency bonds accounting wages recession entrepreneur",
}
_TOY_FILLER = "new latest today report why how best guide about some big small first".split()


def toy_corpus(n_per_topic: int = 100, words: int = 3, seed: int = 0) -> ClusterData:
    """A tiny synthetic short-text corpus (4 topics) for offline demos and fallbacks.

    Each text draws ``words`` topic words from a 25-word topic vocabulary plus one filler
    word, so two texts of the same topic rarely share a word: bag-of-words struggles, while
    a sentence model that knows "striker" and "goalkeeper" are related does not.
    """
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    names = list(_TOY_TOPICS)
    for c, name in enumerate(names):
        vocab = _TOY_TOPICS[name].split()
        for _ in range(n_per_topic):
            ws = list(rng.choice(vocab, size=words, replace=False)) + [rng.choice(_TOY_FILLER)]
            rng.shuffle(ws)
            texts.append(" ".join(ws))
            labels.append(c)
    order = rng.permutation(len(texts))
    return ClusterData("toy-text", [texts[i] for i in order],
                       np.asarray(labels, dtype=np.int64)[order], len(names), names, "text",
                       {"synthetic": True, "seed": seed})
