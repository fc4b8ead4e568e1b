"""IDFD (lecture 05): the memory bank, the three losses against brute force, and the method's
mechanics. Accuracy goals are checked by benchmarks/bench_idfd.py, not here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import needs_cifar_jpg

from dcteach.data import load_dataset
from dcteach.losses import (
    feature_decorrelation_loss,
    feature_orthogonality_loss,
    instance_discrimination_loss,
)
from dcteach.methods import ConfigError, get_method
from dcteach.methods.idfd import effective_rank
from dcteach.nn import MemoryBank


def _unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=1)


# ------------------------------------------------------------------ instance discrimination
def _id_brute_force(v, bank, idx, tau):
    """−(1/m) Σ_i log( exp(m_{idx_i}·v_i/τ) / Σ_j exp(m_j·v_i/τ) ), one sample at a time in
    float64."""
    v, bank = v.double(), bank.double()
    total = 0.0
    for i in range(len(v)):
        logits = [float(bank[j] @ v[i]) / tau for j in range(len(bank))]
        top = max(logits)
        lse = top + math.log(sum(math.exp(s - top) for s in logits))
        total += lse - logits[int(idx[i])]
    return total / len(v)


@pytest.mark.parametrize("tau, chunk", [(1.0, 4096), (0.5, 7), (0.05, 16)])
def test_instance_discrimination_matches_brute_force_and_autograd(tau, chunk):
    bank, v = _unit(50, 6, seed=1), _unit(9, 6, seed=2).requires_grad_()
    idx = torch.tensor([0, 3, 3, 7, 12, 20, 33, 41, 49])
    loss = instance_discrimination_loss(v, bank, idx, tau, chunk=chunk)
    expected = _id_brute_force(v.detach(), bank, idx, tau)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    (grad,) = torch.autograd.grad(loss, v)
    v2 = v.detach().clone().requires_grad_()
    (ref,) = torch.autograd.grad(F.cross_entropy(v2 @ bank.T / tau, idx), v2)
    torch.testing.assert_close(grad, ref, rtol=1e-4, atol=1e-6)


def test_instance_discrimination_gradient_is_the_softmax_mean_minus_the_own_entry():
    # ∂L/∂v_i = (Σ_j p_ij m_j − m_{idx_i}) / (m τ), written out
    bank, v = _unit(30, 4, seed=3), _unit(5, 4, seed=4).requires_grad_()
    idx, tau = torch.tensor([1, 2, 3, 4, 5]), 0.7
    (grad,) = torch.autograd.grad(instance_discrimination_loss(v, bank, idx, tau), v)
    p = torch.softmax(v.detach() @ bank.T / tau, dim=1)
    torch.testing.assert_close(grad, (p @ bank - bank[idx]) / (5 * tau))


def test_instance_discrimination_under_bf16_autocast_stays_close():
    bank, v = _unit(5000, 32, seed=5), _unit(64, 32, seed=6).requires_grad_()
    idx = torch.arange(64) * 7
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = instance_discrimination_loss(v, bank, idx, 1.0)
    assert low.dtype == torch.float32
    ref = F.cross_entropy(v.detach() @ bank.T, idx)
    assert float(low.detach()) == pytest.approx(float(ref), rel=2e-3)


def test_the_bank_can_be_updated_in_place_before_backward():
    bank = MemoryBank(40, 8, momentum=0.5)
    v = _unit(6, 8, seed=7).requires_grad_()
    idx = torch.arange(6)
    loss = instance_discrimination_loss(v, bank.vectors, idx)
    p = torch.softmax(v.detach() @ bank.vectors.T, 1)
    expected = (p @ bank.vectors - bank.vectors[idx]) / 6
    bank.update(idx, v)  # would break a plain v @ bank.T (autograd saved the bank)
    loss.backward()
    torch.testing.assert_close(v.grad, expected)  # the gradient of the *scored* bank


def test_instance_discrimination_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="share d"):
        instance_discrimination_loss(torch.zeros(3, 4), torch.zeros(10, 5), torch.arange(3))


# ------------------------------------------------------------------------- the memory bank
def test_memory_bank_update_moves_only_the_touched_rows_by_the_momentum_rule():
    bank = MemoryBank(10, 3, momentum=0.25, seed=1)
    before = bank.vectors.clone()
    np.testing.assert_allclose(before.norm(dim=1), 1.0, atol=1e-6)
    idx, v = torch.tensor([2, 7]), torch.tensor([[1.0, 0, 0], [0, 0, 2.0]])
    bank.update(idx, v)
    for r, i in enumerate(idx.tolist()):
        m = 0.25 * before[i] + 0.75 * v[r]
        torch.testing.assert_close(bank.vectors[i], m / m.norm())
    rest = [i for i in range(10) if i not in (2, 7)]
    assert torch.equal(bank.vectors[rest], before[rest])
    np.testing.assert_allclose(bank.vectors.norm(dim=1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="momentum"):
        MemoryBank(3, 2, momentum=1.0)


# ------------------------------------------------------------------------- the columns
def _columns_brute_force(v):
    """Column l of V divided by its norm over the batch, in numpy float64: (d, m)."""
    v = v.double().numpy()
    return np.stack([v[:, col] / np.sqrt((v[:, col] ** 2).sum()) for col in range(v.shape[1])])


def test_feature_decorrelation_matches_brute_force():
    v, tau2 = _unit(16, 5, seed=8), 2.0
    f = _columns_brute_force(v)
    total = 0.0
    for col in range(5):
        s = np.array([f[j] @ f[col] for j in range(5)]) / tau2
        total += -s[col] + np.log(np.exp(s).sum())
    assert float(feature_decorrelation_loss(v, tau2)) == pytest.approx(total / 5, rel=1e-5)
    # normalising over the wrong axis (the rows, already unit) gives another value
    rows = v.T @ v / tau2
    wrong = F.cross_entropy(rows, torch.arange(5))
    assert abs(float(wrong) - total / 5) > 1e-3


def test_feature_orthogonality_is_the_mean_sum_of_squared_column_correlations():
    v = _unit(12, 4, seed=9)
    f = _columns_brute_force(v)
    expected = sum((f[a] @ f[b]) ** 2 for a in range(4) for b in range(4) if a != b) / 4
    assert float(feature_orthogonality_loss(v)) == pytest.approx(expected, rel=1e-5)
    orthogonal = torch.eye(4).repeat(3, 1)  # 12 unit rows whose 4 columns are orthogonal
    assert float(feature_orthogonality_loss(orthogonal)) == pytest.approx(0.0, abs=1e-10)
    lowest = -0.5 + math.log(math.exp(0.5) + 3)  # L_F's minimum at τ₂ = 2, d = 4
    assert float(feature_decorrelation_loss(orthogonal, 2.0)) == pytest.approx(lowest)


def test_effective_rank_counts_the_used_directions():
    gen = torch.Generator().manual_seed(0)
    iso = torch.randn(20000, 8, generator=gen)
    assert effective_rank(iso) == pytest.approx(8, rel=0.02)
    line = torch.randn(500, 1, generator=gen) * torch.tensor([[1.0, 2, 3, 4]])
    assert effective_rank(line) == pytest.approx(1.0, abs=1e-3)
    two = torch.cat([torch.randn(20000, 2, generator=gen), torch.zeros(20000, 6)], 1)
    assert effective_rank(two) == pytest.approx(2, rel=0.02)


# ------------------------------------------------------------------------------ the method
@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits", n_samples=300, seed=0)
    return np.round(np.asarray(data.x) * 255).astype(np.uint8), data.y


def _fit(digits, **options):
    x, y = digits
    opts = {"epochs": 2, "knn_queries": 0, "feature_dim": 16, **options}
    return get_method("idfd")(n_clusters=10, preset="quick", verbose=False, **opts).fit(x, y)


@pytest.mark.parametrize("variant, part", [("id", None), ("idfo", "fo"), ("idfd", "fd")])
def test_each_variant_trains_its_own_objective(digits, variant, part):
    m = _fit(digits, variant=variant)
    rows = [r for r in m.history_ if r["phase"] == variant]
    assert len(rows) == 2
    for r in rows:
        assert r["id"] > 0 and 1.0 <= r["rank"] <= 16.0 and "kmeans_acc" in r
        assert (part is None and not {"fd", "fo"} & set(r)) or (
            part is not None and r[part] >= 0
            and r["loss"] == pytest.approx(r["id"] + r[part], rel=1e-4))
    assert m.bank_.vectors.shape == (300, 16)
    np.testing.assert_allclose(m.embedding_, m.bank_.vectors.numpy())
    np.testing.assert_allclose(np.linalg.norm(m.embedding_, axis=1), 1.0, atol=1e-5)
    assert m.history_[-1]["phase"] == "kmeans" and len(np.unique(m.labels_)) == 10


def test_every_sample_enters_the_bank_each_epoch(digits, monkeypatch):
    seen = []
    original = MemoryBank.update

    def spy(self, idx, v):
        seen.append(idx.clone())
        return original(self, idx, v)

    monkeypatch.setattr(MemoryBank, "update", spy)
    m = _fit(digits, epochs=1, batch_size=50)
    assert torch.equal(torch.cat(seen).sort().values, torch.arange(300))
    assert m.bank_.vectors.shape[0] == 300


def test_alpha_zero_is_instance_discrimination_alone(digits):
    a = _fit(digits, variant="idfd", alpha=0.0, seed=3)
    b = _fit(digits, variant="id", seed=3)
    np.testing.assert_allclose(a.bank_.vectors.numpy(), b.bank_.vectors.numpy(), atol=1e-5)


def test_predict_and_transform_use_the_unit_features(digits):
    m = _fit(digits, epochs=1)
    x, _ = digits
    z = m.transform(x[:20])
    assert z.shape == (20, 16)
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(m.predict(x[:20]), m.kmeans_.predict(torch.as_tensor(z)))


def test_bad_options_name_the_option(digits):
    with pytest.raises(ConfigError, match="variant"):
        _fit(digits, variant="idfx")
    with pytest.raises(ConfigError, match="bank_momentum"):
        _fit(digits, bank_momentum=1.5)


@pytest.mark.slow
@needs_cifar_jpg
def test_quick_idfd_runs_on_cifar10_on_the_cpu():
    """The ResNet-18 pipeline with colour images and the paper's augmentation: fit on a slice
    of the training split (as the paper, which trains and reports on the train split)."""
    train = load_dataset("cifar10", split="train", n_samples=256, download=False)
    m = get_method("idfd")(n_clusters=10, preset="quick", epochs=1, batch_size=64,
                           augment="idfd", verbose=False).fit(train.x, train.y)
    assert m.facts_.backbone == "resnet18"
    assert m.bank_.vectors.shape == (256, 128)
    pred = m.predict(train.x[:64])
    assert pred.shape == (64,) and pred.dtype == np.int64 and pred.max() < 10
