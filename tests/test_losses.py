"""The autoencoder-family losses against brute-force NumPy versions of the papers' formulas."""

import numpy as np
import pytest
import torch

from dcteach.losses import (
    dcn_kmeans_loss,
    dcn_update_centers,
    dec_kl,
    soft_assignment,
    target_distribution,
)


def _q_brute(z, mu, alpha):
    n, k = len(z), len(mu)
    q = np.zeros((n, k))
    for i in range(n):
        for j in range(k):
            q[i, j] = (1 + np.sum((z[i] - mu[j]) ** 2) / alpha) ** (-(alpha + 1) / 2)
        q[i] /= q[i].sum()
    return q


def _p_brute(q):
    n, k = q.shape
    f = q.sum(0)
    p = np.zeros_like(q)
    for i in range(n):
        for j in range(k):
            p[i, j] = q[i, j] ** 2 / f[j]
        p[i] /= p[i].sum()
    return p


@pytest.fixture
def zmu():
    rng = np.random.default_rng(0)
    return rng.normal(size=(7, 3)), rng.normal(size=(4, 3)) * 2


@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_soft_assignment_matches_formula(zmu, alpha):
    z, mu = zmu
    q = soft_assignment(torch.tensor(z), torch.tensor(mu), alpha).numpy()
    np.testing.assert_allclose(q, _q_brute(z, mu, alpha), rtol=1e-10)
    np.testing.assert_allclose(q.sum(1), 1.0)


def test_soft_assignment_hand_value():
    # one point at the origin, centres at distance² 0 and 1: kernels 1 and 1/2 → q = 2/3, 1/3
    q = soft_assignment(torch.zeros(1, 2), torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
    np.testing.assert_allclose(q.numpy(), [[2 / 3, 1 / 3]], rtol=1e-6)


def test_target_distribution_matches_formula(zmu):
    z, mu = zmu
    q = _q_brute(z, mu, 1.0)
    p = target_distribution(torch.tensor(q)).numpy()
    np.testing.assert_allclose(p, _p_brute(q), rtol=1e-10)
    np.testing.assert_allclose(p.sum(1), 1.0)


def test_target_distribution_properties():
    rng = np.random.default_rng(1)
    q = torch.tensor(rng.dirichlet(np.ones(5), size=200))
    p = target_distribution(q)
    # sharper: each row's winning cluster gains confidence when cluster sizes are balanced
    balanced = torch.cat([q, q.roll(1, dims=1), q.roll(2, dims=1), q.roll(3, dims=1),
                          q.roll(4, dims=1)])
    pb = target_distribution(balanced)
    assert torch.all(pb.max(1).values >= balanced.max(1).values - 1e-12)
    # with equal cluster frequencies p is just q² renormalised
    sq = balanced**2 / (balanced**2).sum(1, keepdim=True)
    torch.testing.assert_close(pb, sq)
    # frequency normalisation: a cluster that holds most of the mass is down-weighted
    big = torch.tensor([[0.6, 0.4]] * 9 + [[0.4, 0.6]])
    pbig = target_distribution(big)
    assert pbig[:, 0].sum() < (big[:, 0] ** 2 / (big**2).sum(1)).sum()
    assert not p.requires_grad


def test_dec_kl_matches_formula_and_is_zero_at_p_equals_q(zmu):
    z, mu = zmu
    q = _q_brute(z, mu, 1.0)
    p = _p_brute(q)
    kl = dec_kl(torch.tensor(p), torch.tensor(q)).item()
    assert kl == pytest.approx(np.mean(np.sum(p * np.log(p / q), 1)), rel=1e-8)
    assert dec_kl(torch.tensor(q), torch.tensor(q)).item() == pytest.approx(0.0, abs=1e-9)
    assert kl > 0


@pytest.mark.parametrize("alpha", [1.0, 3.0])
def test_dec_gradient_matches_paper(zmu, alpha):
    """∂L/∂z_i = (α+1)/α Σ_j (1 + ‖z_i−μ_j‖²/α)^(−1) (p_ij − q_ij)(z_i − μ_j)  (DEC eq. 4),
    for L = Σ_i KL(p_i ‖ q_i)."""
    z_np, mu_np = zmu
    z = torch.tensor(z_np, requires_grad=True)
    mu = torch.tensor(mu_np)
    q = soft_assignment(z, mu, alpha)
    p = target_distribution(q)
    (dec_kl(p, q) * len(z)).backward()
    q_np, p_np = q.detach().numpy(), p.numpy()
    expected = np.zeros_like(z_np)
    for i in range(len(z_np)):
        for j in range(len(mu_np)):
            d = z_np[i] - mu_np[j]
            expected[i] += (alpha + 1) / alpha / (1 + d @ d / alpha) * (p_np[i, j] - q_np[i, j]) * d
    np.testing.assert_allclose(z.grad.numpy(), expected, rtol=1e-7, atol=1e-12)


def test_dcn_kmeans_loss_brute_force(zmu):
    z, mu = zmu
    assign = np.argmin(((z[:, None] - mu[None]) ** 2).sum(-1), 1)
    expected = np.mean([0.5 * np.sum((z[i] - mu[assign[i]]) ** 2) for i in range(len(z))])
    got = dcn_kmeans_loss(torch.tensor(z), torch.tensor(mu)).item()
    assert got == pytest.approx(expected, rel=1e-10)


def test_dcn_update_equals_sequential_online_rule():
    rng = np.random.default_rng(3)
    z, mu = rng.normal(size=(30, 2)), rng.normal(size=(3, 2))
    counts = np.array([5.0, 1.0, 100.0])
    assign = rng.integers(0, 2, size=30)  # cluster 2 gets no sample: must stay put
    mu_seq, c_seq = mu.copy(), counts.copy()
    for i in range(30):  # DCN eq. 8, one sample at a time
        k = assign[i]
        c_seq[k] += 1
        mu_seq[k] = mu_seq[k] - (mu_seq[k] - z[i]) / c_seq[k]
    new_mu, new_c = dcn_update_centers(torch.tensor(z), torch.tensor(mu), torch.tensor(counts),
                                       torch.tensor(assign))
    np.testing.assert_allclose(new_mu.numpy(), mu_seq, rtol=1e-10)
    np.testing.assert_allclose(new_c.numpy(), c_seq)
