"""Data layer: names, splits, roots, offline errors, text files, image folders."""

import io
import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import REPO, needs_cifar_jpg, needs_mnist

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


# ----------------------------------------------------------------------------- image folders
COLOURS = {"cat": (220, 40, 40), "dog": (40, 40, 220)}  # class → mean RGB, told apart by eye


def _image(rgb, size=8, seed=0):
    from PIL import Image

    noise = np.random.default_rng(seed).integers(-20, 21, (size, size, 3))
    return Image.fromarray(np.clip(np.array(rgb) + noise, 0, 255).astype(np.uint8))


def _truncated_jpeg() -> bytes:
    buf = io.BytesIO()
    _image((128, 128, 128)).save(buf, "JPEG")
    return buf.getvalue()[:200]


def _image_tree(root, per_class=3, classes=COLOURS, sizes=(8,)):
    """``root/<class>/{0.png,1.jpg,...}``: small valid images, PNG and JPEG alternating."""
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            ext = "png" if i % 2 == 0 else "jpg"
            _image(COLOURS[c], sizes[i % len(sizes)], i).save(root / c / f"{i}.{ext}")
    return root


def _load_recording_warnings(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_dataset(*args, **kwargs)
    return data, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def test_imagefolder_skips_unreadable_file_with_one_warning(tmp_path):
    tree = _image_tree(tmp_path / "pets")
    (tree / "cat" / "broken.jpg").write_bytes(_truncated_jpeg())
    (tree / "dog" / "notes.txt").write_text("not an image extension: ignored, no warning")
    (tree / "dog" / ".hidden.png").write_text("hidden file: ignored")
    (tree / "empty").mkdir()  # an empty class folder is no class, and no error
    data, warned = _load_recording_warnings(str(tree))
    assert len(warned) == 1, warned
    assert "skipped 1 unreadable" in warned[0] and "broken.jpg" in warned[0]
    assert "notes.txt" not in warned[0] and "hidden" not in warned[0]
    assert data.kind == "image" and data.x.shape == (6, 3, 8, 8) and data.x.dtype == np.uint8
    assert data.class_names == ["cat", "dog"] and data.n_clusters == 2
    assert data.y.tolist() == [0, 0, 0, 1, 1, 1]
    red_minus_blue = data.x[:, 0].mean(axis=(1, 2)) - data.x[:, 2].mean(axis=(1, 2))
    assert np.array_equal(red_minus_blue > 0, data.y == 0)  # labels follow the folders
    assert len(data.meta["skipped"]) == 1 and "broken.jpg" in data.meta["skipped"][0]


def test_imagefolder_warning_names_first_few_then_counts(tmp_path):
    tree = _image_tree(tmp_path / "pets")
    for i in range(8):
        (tree / "dog" / f"fake{i}.png").write_text("this is text, not a PNG")
    data, warned = _load_recording_warnings(str(tree))
    assert len(data) == 6 and len(warned) == 1
    assert "skipped 8 unreadable" in warned[0] and "fake0.png" in warned[0]
    assert "fake7.png" not in warned[0] and "and 3 more" in warned[0]


def test_imagefolder_with_only_unreadable_files_is_a_clear_error(tmp_path):
    tree = tmp_path / "junk"
    (tree / "cat").mkdir(parents=True)
    (tree / "dog").mkdir()
    (tree / "cat" / "a.jpg").write_bytes(_truncated_jpeg())
    (tree / "dog" / "b.png").write_text("text in disguise")
    with pytest.raises(ValueError) as err:
        load_dataset(str(tree))
    msg = str(err.value)
    assert str(tree) in msg and ".jpg" in msg and ".png" in msg and "no readable image" in msg
    assert "a.jpg" in msg and "b.png" in msg and "\n" not in msg
    empty = tmp_path / "empty"
    (empty / "cat").mkdir(parents=True)
    with pytest.raises(ValueError, match="no readable image.*jpg"):
        load_dataset(str(empty))
    loose = _image_tree(tmp_path / "loose", classes=["cat"]) / "cat"  # images, no class folders
    with pytest.raises(ValueError, match="one folder per class"):
        load_dataset(str(loose))


def test_imagefolder_splits_share_labels(tmp_path):
    tree = tmp_path / "tree"
    _image_tree(tree / "train")
    _image_tree(tree / "test", per_class=2, classes=["dog"])
    (tree / "test" / "cat").mkdir()  # empty in test, not in train
    test = load_dataset(str(tree), split="test")
    assert test.class_names == ["cat", "dog"] and test.y.tolist() == [1, 1]
    full = load_dataset(str(tree), split="all")
    assert len(full) == 8 and np.bincount(full.y).tolist() == [3, 5]


def test_imagefolder_sizes_and_image_size(tmp_path):
    tree = _image_tree(tmp_path / "mixed", sizes=(8, 12))
    with pytest.raises(ValueError, match="different sizes.*image_size"):
        load_dataset(str(tree))
    data = load_dataset(str(tree), image_size=10)
    assert data.x.shape == (6, 3, 10, 10)
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("digits", image_size=10)
    with pytest.raises(ValueError, match="positive"):
        load_dataset(str(tree), image_size=0)


@pytest.mark.parametrize("first", ["dcteach.data.corpora", "dcteach.data.datasets",
                                   "dcteach.data.core"])
def test_data_modules_import_in_any_order(first):
    code = (f"import {first}\n"
            "import importlib.util\n"
            "from dcteach.data import ClusterData, DatasetNotFound, load_dataset, "
            "read_labelled_texts, toy_corpus\n"
            "from dcteach.data import core, corpora, datasets\n"
            "assert datasets.ClusterData is core.ClusterData is ClusterData\n"
            "assert datasets.read_labelled_texts is corpora.read_labelled_texts\n"
            "assert isinstance(toy_corpus(5), ClusterData)\n"
            "assert importlib.util.find_spec('dcteach.data.text') is None\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr


def _dcteach(*args):
    return subprocess.run([sys.executable, "-m", "dcteach.cli", *args], capture_output=True,
                          text=True, cwd=REPO)


def test_cli_image_folder_warns_or_fails_in_one_line(tmp_path):
    tree = _image_tree(tmp_path / "pets")
    (tree / "dog" / "broken.png").write_text("not a png")
    r = _dcteach("run", "kmeans", "--dataset", str(tree))
    assert r.returncode == 0, r.stderr
    warned = [ln for ln in r.stderr.splitlines() if ln.startswith("dcteach: warning:")]
    assert len(warned) == 1 and "broken.png" in warned[0] and "ACC" in r.stdout
    junk = tmp_path / "junk"
    (junk / "cat").mkdir(parents=True)
    (junk / "cat" / "a.jpg").write_bytes(_truncated_jpeg())
    r = _dcteach("run", "kmeans", "--dataset", str(junk))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dcteach: error:") and str(junk) in lines[0]
