import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("DCTEACH_QUIET", "1")
# decoded images and pretext models go to a cache of this test session (shared by the
# notebooks it runs), not the user's ~/.cache/dcteach
os.environ.setdefault("DCTEACH_CACHE", tempfile.mkdtemp(prefix="dcteach-test-cache-"))
if os.environ.get("DCTEACH_DATA"):  # relative roots break in notebooks run from other folders
    os.environ["DCTEACH_DATA"] = str(Path(os.environ["DCTEACH_DATA"]).resolve())

REPO = Path(__file__).resolve().parents[1]


def shared_data_has(*relative: str) -> bool:
    root = os.environ.get("DCTEACH_DATA")
    return bool(root) and all((Path(root) / r).exists() for r in relative)


needs_mnist = pytest.mark.skipif(
    not shared_data_has("mnist/MNIST/raw/train-images-idx3-ubyte"),
    reason="MNIST not under $DCTEACH_DATA",
)
needs_cifar_jpg = pytest.mark.skipif(
    not shared_data_has("cifar10-jpg/test"), reason="CIFAR-10 JPEG tree not under $DCTEACH_DATA"
)
