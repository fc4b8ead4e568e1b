"""SCAN (lecture 06): neighbour mining, the SCAN and structure-learning losses against
brute force, and the image methods as users run them (stages, cache, resume, CLI)."""

import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import needs_cifar_jpg
from test_contrastive_methods import _stripes

from dcteach.cluster import mine_neighbours, neighbour_accuracy
from dcteach.losses import neighbour_weights, scan_loss, structured_scan_loss
from dcteach.methods import get_method
from dcteach.metrics import evaluate


# ------------------------------------------------------------------------------ mining
def _brute_neighbours(x, k):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    sim = u @ u.T
    np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("block", [7, 2048])
def test_mining_equals_brute_force(block):
    x = np.random.default_rng(0).normal(size=(300, 12))
    nb = mine_neighbours(torch.tensor(x), k=5, block=block).numpy()
    np.testing.assert_array_equal(nb, _brute_neighbours(x, 5))


def test_faiss_backend_agrees_with_torch():
    pytest.importorskip("faiss")
    x = torch.randn(500, 16)
    np.testing.assert_array_equal(mine_neighbours(x, 10, backend="faiss"),
                                  mine_neighbours(x, 10, backend="torch"))


def test_mining_backend_errors():
    with pytest.raises(ValueError, match="backend"):
        mine_neighbours(torch.randn(5, 2), 2, backend="annoy")
    try:
        import faiss  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="faiss-cpu"):
            mine_neighbours(torch.randn(5, 2), 2, backend="faiss")
        # auto falls back to torch
        assert mine_neighbours(torch.randn(5, 2), 2, backend="auto").shape == (5, 2)


def test_neighbour_accuracy_by_hand():
    nb = np.array([[1, 2], [0, 2], [0, 1]])
    y = np.array([0, 0, 1])
    # anchor 0: (1 ✓, 2 ✗); anchor 1: (0 ✓, 2 ✗); anchor 2: (0 ✗, 1 ✗)
    assert neighbour_accuracy(nb, y) == pytest.approx(2 / 6)
    assert neighbour_accuracy(nb, y, k=1) == pytest.approx(2 / 3)


# ------------------------------------------------------------------------------ losses
def test_weighted_scan_loss_by_hand():
    pa = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    pn = torch.tensor([[0.7, 0.3], [0.4, 0.6]])
    w = torch.tensor([2.0, 0.5])
    total, cons, ent = scan_loss(pa, pn, entropy_weight=3.0, weights=w)
    dots = [0.9 * 0.7 + 0.1 * 0.3, 0.2 * 0.4 + 0.8 * 0.6]
    want_cons = -(2.0 * math.log(dots[0]) + 0.5 * math.log(dots[1])) / 2
    mean = [0.55, 0.45]
    want_ent = -sum(m * math.log(m) for m in mean)
    assert float(cons) == pytest.approx(want_cons, rel=1e-6)
    assert float(ent) == pytest.approx(want_ent, rel=1e-6)
    assert float(total) == pytest.approx(want_cons - 3.0 * want_ent, rel=1e-6)


def test_neighbour_weights_are_exp_cosine_over_tau():
    za, zn = torch.tensor([[3.0, 0.0], [1.0, 1.0]]), torch.tensor([[1.0, 0.0], [-2.0, 0.0]])
    w = neighbour_weights(za, zn, temperature=8.0)
    np.testing.assert_allclose(w.numpy(), [math.exp(1 / 8), math.exp(-math.sqrt(0.5) / 8)],
                               rtol=1e-6)


def _column_nt_xent(pa, pn, tau):
    """CC's column contrast in float64 loops: columns as instances, cosine / τ."""
    cols = np.concatenate([pa.T, pn.T])  # (2K, n)
    cols = cols / np.linalg.norm(cols, axis=1, keepdims=True)
    k2 = len(cols)
    k = k2 // 2
    total = 0.0
    for i in range(k2):
        pos = (i + k) % k2
        num = math.exp(cols[i] @ cols[pos] / tau)
        den = sum(math.exp(cols[i] @ cols[j] / tau) for j in range(k2) if j != i)
        total += -math.log(num / den)
    return total / k2


def test_structured_loss_against_brute_force():
    rng = np.random.default_rng(1)
    pa = rng.dirichlet(np.ones(4), size=9)
    pn = rng.dirichlet(np.ones(4), size=9)
    w = rng.uniform(0.8, 1.2, size=9)
    total, parts = structured_scan_loss(torch.tensor(pa), torch.tensor(pn), torch.tensor(w),
                                        entropy_weight=5.0, contrast_weight=0.7,
                                        cluster_temperature=0.5)
    cons = -np.mean(w * np.log((pa * pn).sum(1)))
    mean = pa.mean(0)
    ent = -(mean * np.log(mean)).sum()
    contrast = _column_nt_xent(pa, pn, 0.5)
    assert float(parts["consistency"]) == pytest.approx(cons, rel=1e-6)
    assert float(parts["entropy"]) == pytest.approx(ent, rel=1e-6)
    assert float(parts["cluster_contrast"]) == pytest.approx(contrast, rel=1e-5)
    assert float(total) == pytest.approx(cons + 0.7 * contrast - 5.0 * ent, rel=1e-5)


def test_scan_loss_prefers_agreeing_confident_balanced_heads():
    """The loss ranks heads the way step 3's head selection relies on."""
    k = 3
    good = torch.eye(k).repeat(4, 1) * 0.98 + 0.02 / k  # confident, balanced
    collapsed = torch.tensor([[0.98, 0.01, 0.01]]).repeat(12, 1)  # one cluster
    vague = torch.full((12, k), 1 / k)  # uniform: agrees with nothing
    losses = [float(scan_loss(p, p, 5.0)[0]) for p in (good, collapsed, vague)]
    assert losses[0] < losses[1] and losses[0] < losses[2]


# ------------------------------------------------------------------------------ methods
@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DCTEACH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


STRIPES = dict(n_clusters=3, preset="quick", epochs=6, batch_size=60, lr=2e-3, scan_epochs=6,
               scan_batch_size=60, scan_lr=1e-3, scan_head_lr=1e-2, n_neighbours=5, n_heads=3,
               verbose=False, seed=0)


def test_scan_and_self_labelling_separate_stripes(cache):
    x, y = _stripes()
    model = get_method("scan-selflabel")(**STRIPES, selflabel_epochs=3, selflabel_batch_size=90,
                                         threshold=0.9).fit(x, y)
    assert evaluate(y, model.labels_)["acc"] >= 0.9
    mining = [r for r in model.history_ if r["phase"] == "mining"][0]
    assert mining["neighbour_accuracy"] >= 0.9 and mining["k"] == 5
    assert model.neighbours_.shape == (180, 5)
    scan_rows = [r for r in model.history_ if r["phase"] == "scan"]
    assert len(scan_rows) == 6 and {"consistency", "entropy", "head", "acc"} <= set(scan_rows[0])
    assert len([r for r in model.history_ if r["phase"] == "selflabel"]) == 3
    np.testing.assert_array_equal(model.predict(x), model.labels_)
    assert model.probabilities_.shape == (180, 3)


def test_the_kept_head_has_the_lowest_loss_on_training_data(cache):
    x, y = _stripes(30)
    model = get_method("scan")(**dict(STRIPES, scan_epochs=2, n_heads=4)).fit(x)
    probs = model._predict_all(model.model_, model.stage_, model.stage_.data).softmax(-1)
    nb = model.neighbours_
    losses = [float(scan_loss(p.repeat_interleave(nb.shape[1], 0), p[nb.reshape(-1)],
                              model.config_.entropy_weight)[0]) for p in probs]
    assert model.head_ == int(np.argmin(losses))
    assert model.predict(x).tolist() == probs[model.head_].argmax(1).tolist()


def test_selflabel_after_scan_reuses_the_cached_scan_stage(cache, monkeypatch):
    x, y = _stripes(30)
    first = get_method("scan")(**STRIPES).fit(x)
    assert len(list((cache / "pretext").glob("scan-*.pt"))) == 1

    import dcteach.methods.scan_algorithm as scan_module

    def no_training(*args, **kwargs):
        raise AssertionError("SCAN step trained again although it is cached")

    monkeypatch.setattr(scan_module.SCANAlgorithm, "_scan", no_training)
    second = get_method("scan-selflabel")(**STRIPES, selflabel_epochs=1).fit(x)
    assert [r for r in second.history_ if r["phase"] == "selflabel"]
    scan_final = [r for r in second.history_ if r["phase"] == "scan-final"][0]
    assert scan_final["head"] == first.head_
    # the structure-learning loss is another artifact: it trains
    with pytest.raises(AssertionError, match="trained again"):
        get_method("scan-sl")(**STRIPES).fit(x)


def test_an_interrupted_run_resumes_at_self_labelling(tmp_path, cache, monkeypatch):
    x, y = _stripes(30)
    opts = dict(STRIPES, cache=False, selflabel_epochs=3, selflabel_batch_size=45, threshold=0.0,
                out_dir=tmp_path / "run")
    import dcteach.methods.scan_algorithm as scan_module

    calls = {"n": 0}
    real = scan_module.balanced_cross_entropy

    def crash_in_selflabel(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # second epoch of self-labelling
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(scan_module, "balanced_cross_entropy", crash_in_selflabel)
    with pytest.raises(KeyboardInterrupt):
        get_method("scan-selflabel")(**opts).fit(x, y)
    monkeypatch.setattr(scan_module, "balanced_cross_entropy", real)
    before = len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines())
    model = get_method("scan-selflabel")(**opts, resume=True).fit(x, y)
    new = model.history_[before:]
    assert not [r for r in new if r["phase"] in ("simclr", "scan")]  # both restored
    assert [r["epoch"] for r in new if r["phase"] == "selflabel"] == [1, 2]


def test_structure_learning_variant_logs_its_three_terms(cache):
    x, y = _stripes(30)
    model = get_method("scan-sl")(**dict(STRIPES, scan_epochs=2)).fit(x, y)
    row = [r for r in model.history_ if r["phase"] == "scan"][-1]
    assert {"consistency", "cluster_contrast", "entropy"} <= set(row)
    assert row["entropy"] <= math.log(3) + 1e-6


# --------------------------------------------------------------------------------- CLI
def _dcteach(*args, env=None, timeout=300, launcher=(sys.executable, "-m", "dcteach")):
    return subprocess.run([*launcher, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


QUICK_ARGS = ("--dataset", "digits", "--n-samples", "400", "--preset", "quick",
              "--set", "epochs=1", "--set", "scan_epochs=1")


@pytest.mark.slow
def test_cli_scan_then_selflabel_continues_from_the_cached_stages(tmp_path, cache):
    first = _dcteach("run", "scan", *QUICK_ARGS, "--json", str(tmp_path / "a.json"))
    assert first.returncode == 0, first.stderr[-2000:]
    second = _dcteach("run", "scan-selflabel", *QUICK_ARGS, "--json", str(tmp_path / "b.json"))
    assert second.returncode == 0, second.stderr[-2000:]
    assert "cached simclr pretext" in second.stderr and "cached scan pretext" in second.stderr
    result = json.loads((tmp_path / "b.json").read_text())
    assert result["n"] == 400 and result["config"]["selflabel_epochs"] >= 1
    bad = _dcteach("run", "scan", *QUICK_ARGS, "--set", "strong_augment=fancy")
    assert bad.returncode == 2 and "strong_augment" in bad.stderr and "scan" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_torchrun_two_processes_run_scan_selflabel(tmp_path, cache):
    out = tmp_path / "ddp.json"
    proc = _dcteach("run", "scan-selflabel", *QUICK_ARGS, "--json", str(out),
                    launcher=("torchrun", "--nproc_per_node", "2", "-m", "dcteach"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("scan-selflabel / digits") == 1
    assert json.loads(out.read_text())["n"] == 400


@pytest.mark.slow
@needs_cifar_jpg
def test_quick_scan_selflabel_on_cifar10_under_scans_protocol(cache):
    """Train on (a slice of) the training split, predict the test split: the ResNet-18
    pipeline with colour images and the `scan` recipe's flip and colour ops runs on a CPU."""
    from dcteach.data import load_dataset

    train = load_dataset("cifar10", split="train", n_samples=128, download=False)
    test = load_dataset("cifar10", split="test", n_samples=64, download=False)
    model = get_method("scan-selflabel")(n_clusters=10, preset="quick", epochs=1, batch_size=64,
                                         scan_epochs=1, scan_batch_size=64, verbose=False,
                                         threshold=0.0).fit(train.x, train.y)
    assert model.facts_.backbone == "resnet18" and model.model_.encoder.out_dim == 512
    pred = model.predict(test.x)
    assert pred.shape == (64,) and pred.dtype == np.int64 and pred.max() < 10
    assert [r for r in model.history_ if r["phase"] == "selflabel"]
