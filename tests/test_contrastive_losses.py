"""Contrastive losses and the k-NN monitor against brute-force float64 computations."""

import math

import numpy as np
import pytest
import torch

from dcteach.cluster import knn_accuracy
from dcteach.losses import assignment_entropy, cluster_contrastive_loss, nt_xent, scan_loss


def _nt_xent_brute(a: np.ndarray, b: np.ndarray, tau: float) -> float:
    """Loop over the 2m anchors; log-sum-exp in float64 with an explicit max shift."""
    u = np.concatenate([a, b]).astype(np.float64)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    m = len(a)
    total = 0.0
    for i in range(2 * m):
        pos = i + m if i < m else i - m
        logits = [u[i] @ u[j] / tau for j in range(2 * m) if j != i]
        top = max(logits)
        lse = top + math.log(sum(math.exp(v - top) for v in logits))
        total += lse - u[i] @ u[pos] / tau
    return total / (2 * m)


@pytest.mark.parametrize("tau", [0.5, 0.1, 1.0])
def test_nt_xent_matches_brute_force(tau):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(7, 5, generator=g), torch.randn(7, 5, generator=g)
    assert float(nt_xent(a, b, tau)) == pytest.approx(_nt_xent_brute(a.numpy(), b.numpy(), tau),
                                                      rel=1e-5)


def test_nt_xent_is_symmetric_in_the_views_and_small_for_matching_views():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(16, 8, generator=g), torch.randn(16, 8, generator=g)
    assert float(nt_xent(a, b)) == pytest.approx(float(nt_xent(b, a)), rel=1e-6)
    assert float(nt_xent(a, a, 0.1)) < float(nt_xent(a, b, 0.1))


def test_nt_xent_stays_finite_where_naive_exp_overflows():
    # with τ = 0.005, exp(s/τ) = exp(200) overflows float32 (max ≈ 3.4e38 = exp(88.7))
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    u = torch.nn.functional.normalize(torch.cat([a, b]), dim=1)
    assert torch.isinf(torch.exp(u @ u.T / 0.005)).any()
    value = float(nt_xent(a, b, 0.005))
    assert math.isfinite(value)
    assert value == pytest.approx(_nt_xent_brute(a.numpy(), b.numpy(), 0.005), rel=1e-4)


def test_nt_xent_rejects_mismatched_views():
    with pytest.raises(ValueError, match="same shape"):
        nt_xent(torch.zeros(3, 2), torch.zeros(4, 2))


def _entropy_brute(p: np.ndarray) -> float:
    mean = p.astype(np.float64).mean(0)
    return float(-sum(v * math.log(v) for v in mean if v > 0))


def test_assignment_entropy_matches_brute_force_and_its_bounds():
    g = torch.Generator().manual_seed(3)
    p = torch.randn(9, 4, generator=g).softmax(1)
    assert float(assignment_entropy(p)) == pytest.approx(_entropy_brute(p.numpy()), rel=1e-5)
    uniform = torch.eye(4).repeat(3, 1)  # every cluster used equally
    assert float(assignment_entropy(uniform)) == pytest.approx(math.log(4), rel=1e-6)
    collapsed = torch.zeros(9, 4)
    collapsed[:, 0] = 1
    assert float(assignment_entropy(collapsed)) == pytest.approx(0.0, abs=1e-6)


def test_cluster_loss_is_nt_xent_on_columns_plus_entropy_gap():
    g = torch.Generator().manual_seed(4)
    p1 = torch.randn(12, 3, generator=g).softmax(1)
    p2 = torch.randn(12, 3, generator=g).softmax(1)
    loss, gap = cluster_contrastive_loss(p1, p2, temperature=1.0)
    columns = _nt_xent_brute(p1.numpy().T, p2.numpy().T, 1.0)
    want_gap = 2 * math.log(3) - _entropy_brute(p1.numpy()) - _entropy_brute(p2.numpy())
    assert float(gap) == pytest.approx(want_gap, rel=1e-5)
    assert float(loss) == pytest.approx(columns + want_gap, rel=1e-5)
    rows = _nt_xent_brute(p1.numpy(), p2.numpy(), 1.0)  # the "rows instead of columns" bug
    assert abs(float(loss) - (rows + want_gap)) > 1e-3


def test_cluster_loss_entropy_term_penalises_collapse():
    p_even = torch.eye(3).repeat(4, 1)
    collapsed = torch.full((12, 3), 0.01)
    collapsed[:, 0] = 0.98
    _, gap_even = cluster_contrastive_loss(p_even, p_even)
    _, gap_collapsed = cluster_contrastive_loss(collapsed, collapsed)
    assert float(gap_even) == pytest.approx(0.0, abs=1e-6)
    assert float(gap_collapsed) > 1.5
    # the gradient of the entropy term pushes mass away from the crowded cluster
    logits = torch.zeros(12, 3, requires_grad=True)
    with torch.no_grad():
        logits[:, 0] = 3.0
    _, gap = cluster_contrastive_loss(logits.softmax(1), logits.softmax(1))
    gap.backward()
    assert (logits.grad[:, 0] > 0).all()  # descending lowers the crowded cluster's logit


def test_scan_loss_uses_the_same_entropy():
    g = torch.Generator().manual_seed(5)
    p, q = torch.randn(10, 4, generator=g).softmax(1), torch.randn(10, 4, generator=g).softmax(1)
    _, _, ent = scan_loss(p, q)
    assert float(ent) == pytest.approx(_entropy_brute(p.numpy()), rel=1e-5)


def _knn_brute(x: np.ndarray, y: np.ndarray, k: int, t: float) -> float:
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    correct = 0
    for i in range(len(u)):
        sims = [(u[i] @ u[j], j) for j in range(len(u)) if j != i]
        sims.sort(reverse=True)
        votes = np.zeros(y.max() + 1)
        for s, j in sims[:k]:
            votes[y[j]] += math.exp(s / t)
        correct += int(votes.argmax() == y[i])
    return correct / len(u)


@pytest.mark.parametrize("k,t", [(5, 0.1), (20, 0.5), (3, 1.0)])
def test_knn_accuracy_matches_brute_force(k, t):
    rng = np.random.default_rng(k)
    y = rng.integers(0, 3, 60)
    x = rng.normal(size=(60, 4)) + 1.5 * np.eye(4)[y]
    got = knn_accuracy(torch.as_tensor(x, dtype=torch.float32), y, k=k, temperature=t,
                       n_queries=None, block=16)
    assert got == pytest.approx(_knn_brute(x, y, k, t))


def test_knn_accuracy_subsample_and_separable_data():
    y = np.repeat(np.arange(4), 50)
    x = np.eye(4)[y] + 0.01 * np.random.default_rng(0).normal(size=(200, 4))
    assert knn_accuracy(torch.as_tensor(x, dtype=torch.float32), y, k=10,
                        n_queries=50) == 1.0
