"""Data sets by name, toy sets and text corpora."""

from .datasets import (
    DATASETS,
    ClusterData,
    DatasetNotFound,
    data_root,
    is_available,
    list_datasets,
    load_dataset,
    make_toy,
)
from .text import read_labelled_texts

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
]
