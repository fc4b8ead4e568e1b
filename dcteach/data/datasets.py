"""Data sets by name: one call, ``load_dataset(name, split=...)``, for every data set.

A :class:`ClusterData` holds the whole split in memory (images as uint8 arrays
``(n, C, H, W)``, floated per batch — see :mod:`.images` —, the 8×8 digits as floats in
[0, 1]; vectors as ``(n, d)``; texts as a list of str), its labels, the number of clusters
and the class names. Splits: ``train``, ``test`` and ``all``
(train + test merged, the protocol of DEC/IDEC/CC).

Root of the data: argument > ``$DCTEACH_DATA`` > ``~/.cache/dcteach``. Online, torchvision
downloads what is missing; offline (or with ``download=False``) a missing data set raises
:class:`DatasetNotFound`, whose message names the files expected and ``DCTEACH_DATA``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .core import ClusterData, DatasetNotFound
from .corpora import read_labelled_texts
from .images import IMAGE_EXTENSIONS, ImageFacts, read_image_tree

__all__ = [
    "ClusterData",
    "DatasetNotFound",
    "DatasetInfo",
    "DATASETS",
    "data_root",
    "load_dataset",
    "list_datasets",
    "is_available",
]

SPLITS = ("train", "test", "all")


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Data root: ``root`` argument > ``$DCTEACH_DATA`` > ``~/.cache/dcteach``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("DCTEACH_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "dcteach"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    kind: str
    n_clusters: int
    description: str
    loader: Callable[..., ClusterData]
    expected: Callable[[Path], list[str]]  # files (relative to root) that must exist
    embedded: bool = False  # ships with a Python package: always available
    facts: ImageFacts | None = None  # image data sets: size, channels, mean/std, backbone


DATASETS: dict[str, DatasetInfo] = {}


def _register(name, kind, n_clusters, description, expected, embedded=False, facts=None):
    def deco(fn):
        DATASETS[name] = DatasetInfo(name, kind, n_clusters, description, fn, expected, embedded,
                                     facts)
        return fn

    return deco


def _missing(name: str, root: Path, files: list[str], extra: str = "") -> DatasetNotFound:
    listed = "\n".join(f"  {root / f}" for f in files)
    return DatasetNotFound(
        f"Data set '{name}' was not found under {root} and could not be downloaded.\n"
        f"Expected files:\n{listed}\n"
        f"Put them there, or point DCTEACH_DATA (or --data-root) at a folder that holds "
        f"them.{extra}"
    )


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _merge(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _tv_split(split: str) -> list[bool]:
    return {"train": [True], "test": [False], "all": [True, False]}[split]


def _images_to_array(data) -> np.ndarray:
    """uint8 (n,H,W) or (n,H,W,C) → uint8 (n,C,H,W), contiguous."""
    arr = np.asarray(data, dtype=np.uint8)
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[-1] in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(arr)


def _torchvision(name, cls_name, root, split, download, files, data_root_=None, **kwargs):
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    parts = []
    for train in _tv_split(split):
        try:
            ds = cls(root=str(root), train=train, download=download, **kwargs)
        except Exception as err:  # torchvision raises RuntimeError/URLError/... offline
            raise _missing(name, data_root_ or root.parent, files) from err
        x = ds.data.numpy() if hasattr(ds.data, "numpy") else ds.data
        y = np.asarray(ds.targets)
        parts.append((_images_to_array(x), y.astype(np.int64)))
        classes = list(getattr(ds, "classes", []))
    x, y = _merge(parts)
    return x, y, classes


# ----------------------------------------------------------------------------- vectors
@_register("digits", "image", 10, "scikit-learn 8x8 digits (1,797 images, embedded)",
           lambda r: [], embedded=True)
def _digits(root: Path, split: str, download: bool) -> ClusterData:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    if split != "all":  # deterministic 80/20 split
        idx = np.random.default_rng(0).permutation(len(y))
        cut = int(0.8 * len(y))
        idx = np.sort(idx[:cut] if split == "train" else idx[cut:])
        x, y = x[idx], y[idx]
    return ClusterData("digits", x, y, 10, [str(i) for i in range(10)], "image")


def _toy(name: str, n: int = 1000, seed: int = 0, noise: float | None = None) -> ClusterData:
    from sklearn import datasets as skd

    if name == "blobs":
        x, y = skd.make_blobs(n, centers=4, cluster_std=1.0, random_state=seed)
    elif name == "moons":
        x, y = skd.make_moons(n, noise=0.05 if noise is None else noise, random_state=seed)
    elif name == "circles":
        x, y = skd.make_circles(n, noise=0.05 if noise is None else noise, factor=0.5,
                                random_state=seed)
    elif name == "aniso":
        x, y = skd.make_blobs(n, centers=3, random_state=170 + seed)
        x = x @ np.array([[0.6, -0.6], [-0.4, 0.8]])
    else:
        raise KeyError(name)
    k = int(y.max()) + 1
    return ClusterData(name, x.astype(np.float32), y.astype(np.int64), k,
                       [f"cluster {i}" for i in range(k)], "vector", {"seed": seed})


for _name, _k, _desc in [
    ("blobs", 4, "2-D isotropic Gaussian blobs (toy)"),
    ("moons", 2, "2-D two interleaving half-moons (toy, non-convex)"),
    ("circles", 2, "2-D two concentric circles (toy, non-convex)"),
    ("aniso", 3, "2-D anisotropic (sheared) blobs (toy)"),
]:
    _register(_name, "vector", _k, _desc, lambda r: [], embedded=True)(
        lambda root, split, download, _n=_name: _toy(_n)
    )


def make_toy(name: str, n: int = 1000, seed: int = 0, noise: float | None = None) -> ClusterData:
    """A 2-D toy set (blobs, moons, circles, aniso) with ``n`` points."""
    return _toy(name, n, seed, noise)


# ----------------------------------------------------------------------------- images
_MNIST_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def _facts(size, mean, std, backbone):
    return ImageFacts(size, len(mean), tuple(mean), tuple(std), backbone)


_IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _mnist_like(name, cls_name, folder):
    files = [f"{folder}/{cls_name}/raw/{f}" for f in _MNIST_FILES]

    def load(root: Path, split: str, download: bool) -> ClusterData:
        base = root / folder
        x, y, classes = _torchvision(name, cls_name, base, split, download, files)
        return ClusterData(name, x, y, 10, classes or [str(i) for i in range(10)], "image")

    return load, (lambda r: files)


for _name, _cls, _desc, _mean_std in [
    ("mnist", "MNIST", "MNIST handwritten digits, 28x28, 60k train + 10k test",
     ((0.1307,), (0.3081,))),
    ("fashion-mnist", "FashionMNIST", "Fashion-MNIST, 28x28, 60k train + 10k test",
     ((0.2860,), (0.3530,))),
]:
    _load, _exp = _mnist_like(_name, _cls, _name.replace("-", ""))
    _register(_name, "image", 10, _desc, _exp, facts=_facts(28, *_mean_std, "cnn"))(_load)


@_register("usps", "image", 10, "USPS digits, 16x16, 7,291 train + 2,007 test",
           lambda r: ["usps/usps.bz2", "usps/usps.t.bz2"],
           facts=_facts(16, (0.2469,), (0.2989,), "cnn"))
def _usps(root: Path, split: str, download: bool) -> ClusterData:
    x, y, _ = _torchvision("usps", "USPS", root / "usps", split, download,
                           ["usps/usps.bz2", "usps/usps.t.bz2"])
    return ClusterData("usps", x, y, 10, [str(i) for i in range(10)], "image")


@_register("cifar10", "image", 10, "CIFAR-10, 32x32 RGB, 50k train + 10k test",
           lambda r: _cifar10_expected(r),
           facts=_facts(32, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010), "resnet18"))
def _cifar10(root: Path, split: str, download: bool) -> ClusterData:
    jpg = root / "cifar10-jpg"
    if (jpg / "train").is_dir() and not (root / "cifar10" / "cifar-10-batches-py").is_dir():
        return _imagefolder_split("cifar10", jpg, split, n_clusters=10)
    x, y, classes = _torchvision("cifar10", "CIFAR10", root / "cifar10", split, download,
                                 ["cifar10/cifar-10-batches-py/data_batch_1", "..."])
    return ClusterData("cifar10", x, y, 10, classes, "image")


def _cifar10_expected(root: Path) -> list[str]:
    return ["cifar10/cifar-10-batches-py/data_batch_1 ... test_batch  (torchvision layout)",
            "or cifar10-jpg/{train,test}/<class>/*.jpg  (ImageFolder layout)"]


# CIFAR-100 fine label → 20 superclasses (the coarse labels of the original data set).
CIFAR100_SUPERCLASSES = [
    "aquatic mammals", "fish", "flowers", "food containers", "fruit and vegetables",
    "household electrical devices", "household furniture", "insects", "large carnivores",
    "large man-made outdoor things", "large natural outdoor scenes",
    "large omnivores and herbivores", "medium-sized mammals", "non-insect invertebrates",
    "people", "reptiles", "small mammals", "trees", "vehicles 1", "vehicles 2",
]
_CIFAR100_COARSE = [
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13,
    15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4,
    17, 4, 2, 0, 17, 4, 18, 17, 10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13,
    15, 13, 16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
]


@_register("cifar100-20", "image", 20, "CIFAR-100 with its 20 superclasses as labels",
           lambda r: ["cifar100/cifar-100-python/train", "cifar100/cifar-100-python/test"],
           facts=_facts(32, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), "resnet18"))
def _cifar100_20(root: Path, split: str, download: bool) -> ClusterData:
    x, y, _ = _torchvision("cifar100-20", "CIFAR100", root / "cifar100", split, download,
                           ["cifar100/cifar-100-python/train", "cifar100/cifar-100-python/test"])
    y = np.asarray(_CIFAR100_COARSE)[y]
    return ClusterData("cifar100-20", x, y, 20, list(CIFAR100_SUPERCLASSES), "image")


DATASETS["cifar100"] = DATASETS["cifar100-20"]  # common alias


@_register("stl10", "image", 10, "STL-10, 96x96 RGB, 5k train + 8k test (labelled part)",
           lambda r: ["stl10/stl10_binary/train_X.bin", "stl10/stl10_binary/test_X.bin"],
           facts=_facts(96, (0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713), "resnet18"))
def _stl10(root: Path, split: str, download: bool) -> ClusterData:
    import torchvision.datasets as tvd

    parts, classes = [], []
    for s in {"train": ["train"], "test": ["test"], "all": ["train", "test"]}[split]:
        try:
            ds = tvd.STL10(str(root / "stl10"), split=s, download=download)
        except Exception as err:
            raise _missing("stl10", root, DATASETS["stl10"].expected(root)) from err
        parts.append((np.asarray(ds.data, dtype=np.uint8), ds.labels.astype(np.int64)))
        classes = list(ds.classes)
    x, y = _merge(parts)
    return ClusterData("stl10", x, y, 10, classes, "image")


_NAMED_UNREADABLE = 5  # how many unreadable files a warning or error names


def _list_unreadable(bad: list[str]) -> str:
    named = ", ".join(bad[:_NAMED_UNREADABLE])
    more = len(bad) - _NAMED_UNREADABLE
    return named + (f" and {more} more" if more > 0 else "")


def _imagefolder_split(name: str, base: Path, split: str, n_clusters: int | None = None,
                       size: int | None = None) -> ClusterData:
    """Load an ImageFolder tree: ``base/<class>/*`` or ``base/{train,test}/<class>/*``.

    Files whose names end in one of :data:`IMAGE_EXTENSIONS` are read (other files and
    hidden files are ignored); unreadable ones (truncated, corrupt, not an image) are skipped
    with one warning that names them. Class folders with no image file in any split are not
    classes; labels follow the sorted class names of train and test together, so they agree
    between splits. ``size`` resizes every image to ``size x size``.
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"image size must be a positive int, got {size!r}")
    has_splits = (base / "train").is_dir()
    if has_splits:
        every = [base / d for d in ("train", "test") if (base / d).is_dir()]
        dirs = {"train": ["train"], "test": ["test"], "all": ["train", "test"]}[split]
        dirs = [base / d for d in dirs if (base / d).is_dir()]
    else:
        every = dirs = [base] if base.is_dir() else []
    if not dirs:
        raise _missing(name, base.parent, [f"{base.name}/[train|test]/<class>/*.jpg|png"])

    def image_files(folder: Path) -> list[Path]:
        if not folder.is_dir():
            return []
        return [f for f in sorted(folder.iterdir()) if not f.name.startswith(".")
                and f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()]

    folders = sorted({p.name for d in every for p in d.iterdir()
                      if p.is_dir() and not p.name.startswith(".")})
    exts = ", ".join(IMAGE_EXTENSIONS)
    if not folders:
        if any(image_files(d) for d in every):
            raise ValueError(f"{name}: the images in {base} must be in one folder per class: "
                             f"{base}/<class>/ holding {exts} files")
        raise _missing(name, base.parent, [f"{base.name}/<class>/*.jpg"])
    classes = [c for c in folders if any(image_files(d / c) for d in every)]
    files = [(f, ci) for d in dirs for ci, c in enumerate(classes) for f in image_files(d / c)]
    x, y, bad = read_image_tree(name, base, files, size)
    where = ", ".join(str(d) for d in dirs)
    if x is None:
        found = f"; {len(bad)} unreadable: {_list_unreadable(bad)}" if bad else ""
        raise ValueError(f"{name}: no readable image in {where} (expected <class>/ folders "
                         f"holding {exts} files{found})")
    if bad:
        warnings.warn(f"{name}: skipped {len(bad)} unreadable image file"
                      f"{'s' if len(bad) > 1 else ''} in {base}: {_list_unreadable(bad)}",
                      UserWarning, stacklevel=3)
    x = x.transpose(0, 3, 1, 2)
    if (x[:, 0] == x[:, 1]).all() and (x[:, 0] == x[:, 2]).all():
        x = x[:, :1]  # grey images: one channel
    meta = {"path": str(base)}
    if bad:
        meta["skipped"] = bad
    return ClusterData(name, np.ascontiguousarray(x), y, n_clusters or len(classes), classes,
                       "image", meta)


for _name, _folder, _k, _size, _desc in [
    ("imagenet10", "imagenet10", 10, 96, "ImageNet-10 (ImageFolder tree, resized to 96x96)"),
    ("imagenet-dogs", "imagenet-dogs", 15, 96, "ImageNet-Dogs, 15 breeds (ImageFolder tree)"),
    ("tiny-imagenet", "tiny-imagenet-200", 200, 64, "Tiny-ImageNet, 200 classes (ImageFolder)"),
]:
    _register(_name, "image", _k, _desc, lambda r, f=_folder: [f"{f}/[train|test]/<class>/*.JPEG"],
              facts=_facts(_size, *_IMAGENET_MEAN_STD, "resnet18"))(
        lambda root, split, download, _n=_name, _f=_folder, _kk=_k, _s=_size: _imagefolder_split(
            _n, root / _f, split, _kk, _s)
    )


# ----------------------------------------------------------------------------- text
TEXT_CORPORA = {
    "agnews": (4, "AG News short-text benchmark (8,000 titles, 4 topics)"),
    "searchsnippets": (8, "SearchSnippets (12,340 web search snippets, 8 domains)"),
    "stackoverflow": (20, "StackOverflow question titles (20,000, 20 tags)"),
    "biomedical": (20, "Biomedical (20,000 PubMed titles, 20 topics)"),
    "googlenews-ts": (152, "GoogleNews title+snippet (11,109, 152 events)"),
}

for _name, (_k, _desc) in TEXT_CORPORA.items():
    _register(_name, "text", _k, _desc, lambda r, n=_name: [f"text/{n}.tsv"])(
        lambda root, split, download, _n=_name: _text_corpus(_n, root, split)
    )


def _text_corpus(name: str, root: Path, split: str) -> ClusterData:
    path = root / "text" / f"{name}.tsv"
    if not path.is_file():
        raise _missing(name, root, [f"text/{name}.tsv  (one 'label<TAB>text' per line)"])
    data = read_labelled_texts(path, name=name)
    if split != "all":  # the short-text benchmarks have no official split: seeded 80/20
        idx = np.random.default_rng(0).permutation(len(data))
        cut = int(0.8 * len(data))
        data = _take(data, np.sort(idx[:cut] if split == "train" else idx[cut:]))
    return data


def _take(data: ClusterData, idx: np.ndarray) -> ClusterData:
    x = [data.x[i] for i in idx] if data.kind == "text" else data.x[idx]
    y = None if data.y is None else data.y[idx]
    return ClusterData(data.name, x, y, data.n_clusters, data.class_names, data.kind, data.meta)


# ----------------------------------------------------------------------------- API
def list_datasets() -> list[str]:
    return [n for n in DATASETS if n != "cifar100"]


def is_available(name: str, root: str | os.PathLike | None = None) -> bool:
    """Whether ``name`` can be loaded without a download."""
    info = DATASETS[name]
    if info.embedded:
        return True
    r = data_root(root)
    if name == "cifar10":
        return (r / "cifar10-jpg" / "train").is_dir() or (
            r / "cifar10" / "cifar-10-batches-py").is_dir()
    for f in info.expected(r):
        if "<class>" in f:
            return (r / f.split("/")[0]).is_dir()
        if not (r / f).exists():
            return False
    return True


def load_dataset(
    name: str,
    split: str = "all",
    root: str | os.PathLike | None = None,
    download: bool | None = None,
    n_samples: int | None = None,
    seed: int = 0,
    image_size: int | None = None,
) -> ClusterData:
    """Load a data set by registered name, or from a path.

    ``name`` may be a registered name (see :func:`list_datasets`), a ``.tsv``/``.txt`` file of
    ``label<TAB>text`` lines (or plain lines of unlabelled text), or an ImageFolder directory.
    ``split`` is ``train``, ``test`` or ``all`` (train + test merged). ``n_samples`` draws a
    reproducible random subset. ``download`` defaults to True unless ``DCTEACH_OFFLINE=1``.
    ``image_size`` resizes the images of an ImageFolder directory to ``image_size`` square
    (needed when they differ in size); registered data sets have fixed sizes.
    """
    _check_split(split)
    if download is None:
        download = os.environ.get("DCTEACH_OFFLINE", "0") not in ("1", "true", "yes")
    key = name.lower()
    p = Path(name).expanduser()
    if image_size is not None and (key in DATASETS or not p.is_dir()):
        raise ValueError(f"image_size applies to an ImageFolder directory given by path, "
                         f"not to {name!r}")
    if key in DATASETS:
        r = data_root(root)
        data = DATASETS[key].loader(r, split, download)
        if data.kind == "image" and DATASETS[key].facts is not None:
            data.meta["facts"] = DATASETS[key].facts
    else:
        if p.is_file():
            data = read_labelled_texts(p)
        elif p.is_dir():
            data = _imagefolder_split(p.name or p.resolve().name, p, split, size=image_size)
        else:
            raise ValueError(
                f"Unknown data set {name!r}: not a registered name and no such file or folder.\n"
                f"Registered: {', '.join(list_datasets())}"
            )
    return data.subset(n_samples, seed)
