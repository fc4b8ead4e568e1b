"""Image data (uint8 in memory, decoded once and cached, dataset facts) and backbones."""

import time

import numpy as np
import pytest
import torch
from conftest import needs_cifar_jpg, needs_mnist

from dcteach.data import load_dataset
from dcteach.data.images import cache_dir, image_facts, to_float
from dcteach.nn import SmallCNN, build_backbone, image_encoder, resnet_cifar


def _tree(root, classes=("a", "b"), per_class=4, size=12, grey=False, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    for ci, c in enumerate(classes):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr = rng.integers(0, 256, (size, size) if grey else (size, size, 3), dtype=np.uint8)
            arr[:, :] = arr // 2 + 100 * ci  # classes differ in brightness
            Image.fromarray(arr, "L" if grey else "RGB").save(root / c / f"{i}.png")
    return root


def test_imagefolder_is_uint8_and_cached_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("DCTEACH_CACHE", str(tmp_path / "cache"))
    tree = _tree(tmp_path / "tree")
    first = load_dataset(str(tree))
    assert first.x.dtype == np.uint8 and first.x.shape == (8, 3, 12, 12)
    entries = list((cache_dir("images")).glob("*.npz"))
    assert len(entries) == 1
    second = load_dataset(str(tree))
    np.testing.assert_array_equal(first.x, second.x)
    np.testing.assert_array_equal(first.y, second.y)
    # the cache is keyed by content: a changed file is decoded again, not served stale
    from PIL import Image

    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(tree / "a" / "0.png")
    third = load_dataset(str(tree))
    assert third.x[0].max() == 0 and len(list(cache_dir("images").glob("*.npz"))) == 2
    # a resize is a different entry too
    assert load_dataset(str(tree), image_size=6).x.shape == (8, 3, 6, 6)


def test_cached_load_is_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DCTEACH_CACHE", str(tmp_path / "cache"))
    tree = _tree(tmp_path / "tree", per_class=3)
    load_dataset(str(tree))
    import dcteach.data.images as images

    def fail(*args, **kwargs):
        raise AssertionError("decoded an image although the tree is cached")

    monkeypatch.setattr(images, "_read_image", fail)
    assert load_dataset(str(tree)).x.shape == (6, 3, 12, 12)


def test_grey_folder_gives_one_channel_and_measured_facts(tmp_path, monkeypatch):
    monkeypatch.setenv("DCTEACH_CACHE", str(tmp_path / "cache"))
    data = load_dataset(str(_tree(tmp_path / "grey", grey=True, size=20)))
    assert data.x.shape == (8, 1, 20, 20)
    facts = data.facts
    assert facts.channels == 1 and facts.size == 20 and facts.backbone == "cnn"
    assert facts.mean[0] == pytest.approx(data.x.mean() / 255, rel=1e-4)
    assert facts.std[0] == pytest.approx((data.x / 255).std(), rel=1e-3)
    colour = load_dataset(str(_tree(tmp_path / "colour", size=40)))
    assert colour.facts.channels == 3 and colour.facts.backbone == "resnet18"


def test_float_views_of_uint8_images():
    x = np.array([[[[0, 255], [51, 102]]]], dtype=np.uint8)
    t = to_float(x)
    assert t.dtype == torch.float32
    torch.testing.assert_close(t, torch.tensor([[[[0.0, 1.0], [0.2, 0.4]]]]))
    f = np.random.default_rng(0).random((2, 1, 2, 2)).astype(np.float32)
    torch.testing.assert_close(to_float(f), torch.as_tensor(f))


@needs_mnist
def test_mnist_is_uint8_with_registry_facts():
    data = load_dataset("mnist", split="test", download=False)
    assert data.x.dtype == np.uint8
    assert data.facts.mean == (0.1307,) and data.facts.backbone == "cnn"
    measured = image_facts(data.x)
    assert measured.mean[0] == pytest.approx(0.1307, abs=0.01)
    np.testing.assert_allclose(data.flat[:3], data.x[:3].reshape(3, -1) / 255.0, rtol=1e-6)


@needs_cifar_jpg
def test_cifar_second_load_is_fast():
    load_dataset("cifar10", split="test", download=False)
    t = time.perf_counter()
    data = load_dataset("cifar10", split="test", download=False)
    assert time.perf_counter() - t < 5.0
    assert data.x.dtype == np.uint8 and data.facts.std == (0.2023, 0.1994, 0.2010)


def test_resnet_cifar_stem_keeps_resolution():
    net = resnet_cifar(18)
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1)
    assert isinstance(net.maxpool, torch.nn.Identity)
    seen = {}

    def record(module, inputs, output):
        seen["layer1"] = output.shape

    net.layer1.register_forward_hook(record)
    out = net(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, 512) and seen["layer1"][-2:] == (32, 32)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in resnet_cifar(34).modules()) == 36
    imagenet = build_backbone("resnet18-imagenet", 3)
    assert imagenet.conv1.stride == (2, 2) and isinstance(imagenet.maxpool, torch.nn.MaxPool2d)


def test_small_cnn_and_encoder_standardise():
    net = SmallCNN(1, 8)
    assert net(torch.rand(3, 1, 28, 28)).shape == (3, 32) and net.out_dim == 32

    class Facts:
        channels, size, backbone = 1, 28, "cnn"
        mean, std = (0.5,), (0.25,)

    enc = image_encoder(Facts, width=8)
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(enc[0](x), (x - 0.5) / 0.25)
    assert enc(x).shape == (2, 32) and enc.out_dim == 32
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("vgg", 3)
