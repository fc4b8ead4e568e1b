"""SimCLR and CC as users run them: from uint8 images, the cached pretext model, an
ImageFolder tree of any size on the command line, and several processes under torchrun."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import needs_cifar_jpg

from dcteach.methods import get_method
from dcteach.metrics import evaluate


def _stripes(n_per_class=60, size=16, seed=0):
    """Three classes that augmentations keep apart: horizontal stripes, vertical stripes and
    a checkerboard, each with a random phase and pixel noise (uint8, 1 channel)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    xs, ys = [], []
    for c in range(3):
        for _ in range(n_per_class):
            p = rng.integers(0, 4)
            pattern = [(yy + p) // 2 % 2, (xx + p) // 2 % 2, ((yy + p) // 2 + xx // 2) % 2][c]
            img = 200 * pattern + rng.integers(0, 50, (size, size))
            xs.append(img.astype(np.uint8)[None])
            ys.append(c)
    return np.stack(xs), np.asarray(ys)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DCTEACH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cc_separates_an_easy_image_problem(cache):
    x, y = _stripes()
    model = get_method("cc")(n_clusters=3, preset="quick", epochs=15, batch_size=60, lr=2e-3,
                             verbose=False, seed=0).fit(x, y)
    assert evaluate(y, model.labels_)["acc"] >= 0.9
    assert model.probabilities_.shape == (180, 3)
    np.testing.assert_array_equal(model.predict(x), model.labels_)
    rows = [r for r in model.history_ if r["phase"] == "cc"]
    assert len(rows) == 15 and {"instance", "cluster", "entropy_gap", "knn", "acc"} <= set(rows[0])


def test_simclr_pretext_is_cached_and_reused(cache, monkeypatch):
    x, y = _stripes(20)
    opts = dict(n_clusters=3, preset="quick", epochs=2, batch_size=30, verbose=False, seed=1)
    first = get_method("simclr")(**opts).fit(x, y)
    entries = list((cache / "pretext").glob("simclr-*.pt"))
    assert len(entries) == 1

    import dcteach.methods.contrastive as contrastive

    def no_training(*args, **kwargs):
        raise AssertionError("trained again although the pretext model is cached")

    monkeypatch.setattr(contrastive, "train_on_views", no_training)
    second = get_method("simclr")(**opts).fit(x, y)
    np.testing.assert_allclose(second.embedding_, first.embedding_, atol=1e-5)
    np.testing.assert_array_equal(second.labels_, first.labels_)
    # another configuration (or other data) is another artifact: it trains
    with pytest.raises(AssertionError, match="trained again"):
        get_method("simclr")(**dict(opts, temperature=0.2)).fit(x, y)


def test_image_methods_reject_non_images(cache):
    with pytest.raises(ValueError, match="images"):
        get_method("cc")(n_clusters=2, verbose=False).fit(np.zeros((10, 5), np.float32))


def _image_folder(root, sizes=(20, 36)):
    from PIL import Image

    rng = np.random.default_rng(0)
    for ci, c in enumerate(["ants", "bees", "cats"]):
        (root / c).mkdir(parents=True)
        for i in range(8):
            s = sizes[i % len(sizes)]
            arr = (rng.integers(0, 60, (s, s, 3)) + 90 * ci).astype(np.uint8)
            Image.fromarray(arr).save(root / c / f"{i}.jpg")
    return root


def _dcteach(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "dcteach", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_cli_runs_cc_on_an_image_folder_of_any_size(tmp_path, cache):
    tree = _image_folder(tmp_path / "pets")
    bad = _dcteach("run", "cc", "--dataset", str(tree), "--set", "epochs=1")
    assert bad.returncode == 2 and "different sizes" in bad.stderr
    assert "Traceback" not in bad.stderr and "--image-size" in bad.stderr
    out = tmp_path / "out.json"
    ok = _dcteach("run", "cc", "--dataset", str(tree), "--image-size", "24", "--preset", "quick",
                  "--set", "epochs=1", "--set", "batch_size=8", "--json", str(out))
    assert ok.returncode == 0, ok.stderr
    result = json.loads(out.read_text())
    assert result["method"] == "cc" and result["n"] == 24 and result["n_clusters"] == 3
    assert 0 <= result["acc"] <= 1 and result["config"]["epochs"] == 1


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_torchrun_two_processes_train_and_report_once(tmp_path, cache):
    out = tmp_path / "ddp.json"
    proc = subprocess.run(
        ["torchrun", "--nproc_per_node", "2", "-m", "dcteach", "run", "cc", "--dataset",
         "digits", "--n-samples", "400", "--preset", "quick", "--set", "epochs=1", "--json",
         str(out)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("cc / digits") == 1  # rank 0 reports, rank 1 stays quiet
    assert "2 processes" in proc.stderr
    assert json.loads(out.read_text())["n"] == 400


@pytest.mark.slow
@needs_cifar_jpg
def test_quick_presets_run_on_cifar10_on_the_cpu(cache):
    from dcteach.data import load_dataset

    data = load_dataset("cifar10", split="test", n_samples=128, download=False)
    for name in ("simclr", "cc"):
        model = get_method(name)(n_clusters=10, preset="quick", epochs=1, batch_size=64,
                                 verbose=False)
        labels = model.fit_predict(data.x, data.y)
        assert labels.shape == (128,) and model.facts_.backbone == "resnet18"
        np.testing.assert_allclose(model.facts_.mean, data.facts.mean, atol=0.03)
        assert model.history_[0]["knn"] > 0.1  # the monitor ran on the features
