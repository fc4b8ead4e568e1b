"""Data layer: names, splits, roots, offline errors, text files."""

import numpy as np
import pytest
from conftest import needs_cifar_jpg, needs_mnist

from dcteach.data import DATASETS, DatasetNotFound, data_root, load_dataset, make_toy


def test_digits_splits_partition_all():
    full, train, test = (load_dataset("digits", split=s) for s in ("all", "train", "test"))
    assert len(full) == 1797 == len(train) + len(test)
    assert full.x.shape[1:] == (1, 8, 8) and full.x.dtype == np.float32
    assert 0.0 <= full.x.min() and full.x.max() <= 1.0
    assert full.n_clusters == 10 and len(full.class_names) == 10
    assert full.flat.shape == (1797, 64)


@pytest.mark.parametrize("name, k", [("blobs", 4), ("moons", 2), ("circles", 2), ("aniso", 3)])
def test_toy_sets(name, k):
    d = make_toy(name, n=300)
    assert d.x.shape == (300, 2) and d.n_clusters == k and set(np.unique(d.y)) == set(range(k))
    assert load_dataset(name).n_clusters == k


def test_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("DCTEACH_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("DCTEACH_DATA")
    assert str(data_root()).endswith(".cache/dcteach")


@pytest.mark.parametrize("name", ["mnist", "cifar100-20", "stl10", "usps", "agnews"])
def test_missing_dataset_names_files_and_env(name, tmp_path):
    with pytest.raises(DatasetNotFound) as err:
        load_dataset(name, root=tmp_path, download=False)
    msg = str(err.value)
    assert "DCTEACH_DATA" in msg and str(tmp_path) in msg and "Expected files" in msg
    assert "Traceback" not in msg


def test_every_dataset_knows_k_and_description():
    for info in DATASETS.values():
        assert info.n_clusters >= 2 and info.description


def test_unknown_name_lists_registered():
    with pytest.raises(ValueError, match="Registered: digits"):
        load_dataset("no-such-set")


def test_subset_reproducible():
    a = load_dataset("digits", n_samples=100, seed=3)
    b = load_dataset("digits", n_samples=100, seed=3)
    assert len(a) == 100 and np.array_equal(a.y, b.y)


def test_text_file_messy_input(tmp_path):
    p = tmp_path / "t.tsv"
    p.write_bytes(b"sport\tgoal scored late\n\n  \nnews\tel\xe9ction day\r\n"
                  b"sport\tgoal scored late\n")
    d = load_dataset(str(p))
    assert d.kind == "text" and len(d) == 3 and d.n_clusters == 2
    assert d.class_names == ["news", "sport"] and d.y.tolist() == [1, 0, 1]
    assert "\ufffd" in d.x[1] and d.meta["n_duplicates"] == 1
    q = tmp_path / "u.txt"
    q.write_text("first text\nsecond text\n")
    u = load_dataset(str(q))
    assert u.y is None and u.x == ["first text", "second text"]


@needs_mnist
def test_mnist_from_shared_data():
    train = load_dataset("mnist", split="train", download=False)
    assert train.x.shape == (60000, 1, 28, 28) and train.y.shape == (60000,)
    assert np.bincount(train.y).min() > 5000


@needs_cifar_jpg
def test_cifar10_jpeg_tree():
    test = load_dataset("cifar10", split="test", download=False)
    assert test.x.shape == (10000, 3, 32, 32) and test.n_clusters == 10
    assert test.class_names[0] == "airplane" and np.bincount(test.y).tolist() == [1000] * 10
