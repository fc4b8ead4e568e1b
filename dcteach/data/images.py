"""Images in memory: uint8 arrays, decoded once and cached; dataset facts; float per batch.

Image data sets are held as uint8 arrays ``(n, C, H, W)`` — a quarter of the memory of float32
(CIFAR-10's 60k images: 184 MB instead of 737 MB) — and turned into floats in [0, 1] one
mini-batch at a time on the device that trains (:func:`to_float`).

An ImageFolder tree (CIFAR-10 as JPEG files, any ``<class>/*.jpg`` folder) is decoded once
(:func:`read_image_tree`, two threads: PIL releases the GIL while decoding) and stored as one
uncompressed ``.npz`` under :func:`cache_dir` ``/ "images"``, keyed by the tree's contents (every
file's relative path, size and modification time) and the resize setting, so a second load
reads one file in seconds and a changed tree is decoded again.

:class:`ImageFacts` are what a method needs to know about the images (size, channels,
mean/std, the backbone that suits them); the registry supplies them for named data sets and
:func:`image_facts` derives them from the array for any other.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ImageFacts", "image_facts", "default_backbone", "to_float", "cache_dir",
           "read_image_tree", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
_CACHE_VERSION = 1


def cache_dir(kind: str) -> Path:
    """``$DCTEACH_CACHE/<kind>`` (default ``~/.cache/dcteach/<kind>``): decoded images,
    pretext checkpoints. Never under the data root, which may be read-only."""
    env = os.environ.get("DCTEACH_CACHE")
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "dcteach"
    return base / kind


# ----------------------------------------------------------------------------- facts
@dataclass(frozen=True)
class ImageFacts:
    """Facts about an image data set that methods read instead of hard-coding them."""

    size: int  # height = width after loading
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    backbone: str  # a name for dcteach.nn.build_backbone

    def as_dict(self) -> dict:
        return {"size": self.size, "channels": self.channels, "mean": list(self.mean),
                "std": list(self.std), "backbone": self.backbone}


def default_backbone(channels: int, size: int) -> str:
    """The network that suits the images: the small CNN for small grey images (MNIST-like:
    it trains in minutes on a laptop CPU), ResNet-18 with the CIFAR stem for the rest."""
    return "cnn" if channels == 1 and size <= 32 else "resnet18"


def image_facts(x, known: ImageFacts | None = None) -> ImageFacts:
    """Facts of the images ``x`` (n, C, H, W): ``known`` (from the registry) if given, else
    measured — per-channel mean/std over (at most 10 000 of) the images in [0, 1]."""
    if known is not None:
        return known
    arr = np.asarray(x)
    if arr.ndim != 4:
        raise ValueError(f"images must be an array (n, C, H, W); got shape {arr.shape}")
    sample = arr[:: max(1, len(arr) // 10_000)]
    sample = sample.astype(np.float32) / (255.0 if arr.dtype == np.uint8 else 1.0)
    mean = tuple(float(v) for v in sample.mean((0, 2, 3)))
    std = tuple(max(float(v), 1e-3) for v in sample.std((0, 2, 3)))
    c, h = arr.shape[1], arr.shape[2]
    return ImageFacts(int(h), int(c), mean, std, default_backbone(c, h))


def to_float(x, device=None):
    """A batch of images as float32 torch tensor in [0, 1] on ``device``: uint8 is divided by
    255 *after* the move (4× less to copy), floats pass through."""
    import torch

    t = torch.as_tensor(x)
    if device is not None:
        t = t.to(device, non_blocking=True)
    if t.dtype == torch.uint8:
        return t.float().div_(255.0)
    return t.float()


# ----------------------------------------------------------------------------- decoding
def _read_image(path: Path, size: int | None) -> np.ndarray:
    """One image file as uint8 ``(H, W, 3)``, resized to ``size x size`` if given."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")  # decodes: a truncated file fails here, not at open
        if size is not None and im.size != (size, size):
            im = im.resize((size, size), Image.BILINEAR)
        return np.asarray(im, dtype=np.uint8)


def _why_unreadable(path: Path, err: Exception) -> str:
    from PIL import UnidentifiedImageError

    if isinstance(err, UnidentifiedImageError):
        return "not an image"
    why = (str(err).splitlines() or [""])[0].replace(f"'{path}'", "").replace(str(path), "")
    why = why.strip(" :") or type(err).__name__
    return why if len(why) <= 60 else why[:57] + "..."


def _tree_key(files: list[tuple[Path, int]], base: Path, size: int | None) -> str:
    h = hashlib.sha1(f"v{_CACHE_VERSION}|size={size}|".encode())
    for f, label in files:
        st = f.stat()
        h.update(f"{f.relative_to(base)}|{label}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def read_image_tree(name: str, base: Path, files: list[tuple[Path, int]], size: int | None,
                    cache: bool = True) -> tuple[np.ndarray | None, np.ndarray, list[str]]:
    """Decode ``files`` (path, label) into uint8 ``(n, H, W, 3)`` plus labels; unreadable files
    are left out and returned as ``"relative/path (why)"`` strings. With ``cache``, the result
    is stored under ``cache_dir("images")`` keyed by the files' paths, sizes and times and the
    resize ``size``, and read back from there next time. ``x`` is None when nothing is readable.
    """
    path = cache_dir("images") / f"{name}-{_tree_key(files, base, size)}.npz"
    if cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return z["x"], z["y"], [str(s) for s in z["bad"]]
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is decoded again

    def read(item):
        f, _ = item
        try:
            return _read_image(f, size), None
        except MemoryError:
            raise
        except Exception as err:  # PIL raises OSError, ValueError, SyntaxError, ...
            return None, f"{f.relative_to(base)} ({_why_unreadable(f, err)})"

    xs, ys, bad = [], [], []
    workers = min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        for (img, why), (_, label) in zip(pool.map(read, files, chunksize=256), files,
                                          strict=True):
            if img is None:
                bad.append(why)
            else:
                xs.append(img)
                ys.append(label)
    y = np.asarray(ys, dtype=np.int64)
    if not xs:
        return None, y, bad
    shapes = sorted({a.shape[:2] for a in xs})
    if len(shapes) > 1:
        listed = ", ".join(f"{w}x{h}" for h, w in shapes[:3])
        raise ValueError(f"{name}: images have different sizes ({listed}"
                         f"{', ...' if len(shapes) > 3 else ''}); pass image_size=... to "
                         "load_dataset (or --image-size on the command line) to resize them")
    x = np.stack(xs)
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, x=x, y=y, bad=np.asarray(bad, dtype=str))
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs the next load its decoding time
    return x, y, bad
