"""Reading text corpora: ``label<TAB>text`` files, robust to messy input.

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

from .datasets import ClusterData

__all__ = ["read_labelled_texts"]


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
