"""Data sets by name, toy sets and text corpora."""

from .core import ClusterData, DatasetNotFound
from .corpora import read_labelled_texts, toy_corpus
from .datasets import (
    DATASETS,
    data_root,
    is_available,
    list_datasets,
    load_dataset,
    make_toy,
)

__all__ = [
    "DATASETS",
    "ClusterData",
    "DatasetNotFound",
    "data_root",
    "is_available",
    "list_datasets",
    "load_dataset",
    "make_toy",
    "read_labelled_texts",
    "toy_corpus",
]
