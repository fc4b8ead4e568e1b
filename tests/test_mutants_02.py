"""Assignment 02 (DEC, IDEC, DCN): wrong submissions, graded by nbgrader.

Every graded part has plausible wrong answers that must lose exactly that part's marks; Parts 4,
5 and 7 are graded with the instructor's earlier parts, so bugs in Parts 1-3 cost nothing else.

a: a bug in each of Parts 1-6 and a correct dec_fit, which keeps its marks: Student-t exponent
   −(α+1) instead of −(α+1)/2, a target without the frequency normalisation, the KL reversed
   (KL(Q‖P)), a step that detaches the centres, IDEC's γ on the reconstruction instead of the
   clustering term, DCN centres set to the batch mean (the counts ignored).
c-h: one Part 7 shortcut each, with more bugs in other parts: c spectral clustering on the raw
   pixels (a stronger classical method), with harmless variations of Parts 1, 3 and 6 (cdist,
   F.kl_div, DCN in closed form) that keep their marks; d autoencoder + k-means without DEC,
   q normalised over the samples, no zero_grad; e the target computed per mini-batch, a target
   that keeps its gradient; f centres left out of the optimiser, the loss summed over the batch,
   IDEC's error summed over the pixels; g DEC run but the k-means labels returned, DCN's step
   1/c taken before the count grows, IDEC's decoder fed a detached embedding; h the library's
   DEC. e-g pretrain for 5 epochs only, to keep the test short: the checks they fail (targets on
   all images, centres moved, labels from the last step) do not depend on it.
Scores come from the gradebook, never from exit codes.
"""

from __future__ import annotations

import pytest
from helpers_nb import (
    grade_mutants,
    mutate,
    scores,
    with_solution,
)

pytestmark = pytest.mark.slow

A02 = "02_autoencoders_dec"
FULL_02 = {"soft-assignment-tests": 2, "target-tests": 2, "loss-tests": 1, "step-tests": 2,
           "idec-tests": 2, "dcn-tests": 2, "fit-tests": 5}
P1, P2, P3, P4 = ("soft-assignment-solution", "target-solution", "loss-solution",
                  "step-solution")
P5, P6, P7 = "idec-solution", "dcn-solution", "fit-solution"

SPECTRAL_FIT = '''from sklearn.cluster import SpectralClustering


def dec_fit(X, n_clusters, seed=0):
    x = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    return SpectralClustering(n_clusters, affinity="nearest_neighbors", n_neighbors=10,
                              random_state=seed).fit_predict(x)
'''

AE_KMEANS_FIT = '''def dec_fit(X, n_clusters, seed=0):
    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(X, dtype=np.float32).reshape(len(X), -1))
    ae = MLPAutoencoder(x.shape[1], (256, 256, 512), 10)
    pretrain_autoencoder(ae, x, epochs=60, batch_size=64, optimizer="adam", lr=1e-3)
    return KMeans(n_clusters, n_init=20, random_state=seed).fit(embed(ae, x)).labels_
'''

# harmless: distances by torch.cdist, the KL by F.kl_div, DCN's update in closed form
CDIST_SOFT_ASSIGNMENT = '''def soft_assignment(z, mu, alpha=1.0):
    d2 = torch.cdist(z, mu) ** 2
    return torch.softmax(-(alpha + 1.0) / 2.0 * torch.log1p(d2 / alpha), dim=1)
'''
KL_DIV_LOSS = '''import torch.nn.functional as F


def dec_loss(p, q):
    return F.kl_div(torch.log(q + 1e-10), p.detach(), reduction="batchmean")
'''
CLOSED_FORM_DCN = '''def dcn_update(z, mu, counts):
    labels = torch.cdist(z.detach(), mu).argmin(1)
    k = len(mu)
    m = torch.bincount(labels, minlength=k).to(counts.dtype)
    sums = torch.zeros_like(mu).index_add_(0, labels, z.detach().to(mu.dtype))
    new_counts = counts + m
    new_mu = torch.where((m > 0)[:, None],
                         (counts[:, None] * mu + sums) / new_counts.clamp_min(1)[:, None], mu)
    return labels, new_mu, new_counts
'''


def build_submissions(solution):
    exponent = "** (-(alpha + 1.0) / 2.0)"
    weight = "weight = q**2 / q.sum(0, keepdim=True)"
    kl = "(p * (torch.log(p + 1e-10) - torch.log(q + 1e-10))).sum(1).mean()"
    gamma = "loss = gamma * clustering + reconstruction"
    step = "new_mu[k] -= (new_mu[k] - z[i]) / new_counts[k]"
    target_call = "p = target_distribution(q)          # on the WHOLE data set"

    short = ("epochs=60, batch_size=64", "epochs=5, batch_size=64")  # e-g: a shorter run

    a = mutate(solution, P1, exponent, "** (-(alpha + 1.0))")
    a = mutate(a, P2, weight, "weight = q**2")
    a = mutate(a, P3, kl, "(q * (torch.log(q + 1e-10) - torch.log(p + 1e-10))).sum(1).mean()")
    a = mutate(a, P4, "soft_assignment(encoder(x_batch), mu, alpha)",
               "soft_assignment(encoder(x_batch), mu.detach(), alpha)")
    a = mutate(a, P5, gamma, "loss = clustering + gamma * reconstruction")
    a = mutate(a, P6, "    for i, k in enumerate(labels.tolist()):\n"
               "        new_counts[k] += 1\n        " + step + "\n",
               "    for k in labels.unique().tolist():\n"
               "        new_counts[k] += int((labels == k).sum())\n"
               "        new_mu[k] = z[labels == k].mean(0)\n")
    c = with_solution(solution, P7, SPECTRAL_FIT)
    c = with_solution(c, P1, CDIST_SOFT_ASSIGNMENT)
    c = with_solution(c, P3, KL_DIV_LOSS)
    c = with_solution(c, P6, CLOSED_FORM_DCN)
    d = with_solution(solution, P7, AE_KMEANS_FIT)
    d = mutate(d, P1, "kernel.sum(1, keepdim=True)", "kernel.sum(0, keepdim=True)")
    d = mutate(d, P4, "    optimizer.zero_grad()\n", "")
    e = mutate(solution, P7, target_call, "p = None")
    e = mutate(e, P7, "dec_step(encoder, mu, optimizer, x[idx], p[idx])",
               "dec_step(encoder, mu, optimizer, x[idx],\n"
               "                     target_distribution(soft_assignment(encoder(x[idx]), mu)))")
    e = mutate(mutate(e, P7, *short), P2, "    q = q.detach()\n", "")
    f = mutate(solution, P7, "torch.optim.Adam(list(encoder.parameters()) + [mu], lr=1e-3)",
               "torch.optim.Adam(encoder.parameters(), lr=1e-3)")
    f = mutate(mutate(f, P7, *short), P3, ".sum(1).mean()", ".sum()")
    f = mutate(f, P5, "((x_hat - x_batch) ** 2).mean()", "((x_hat - x_batch) ** 2).sum(1).mean()")
    g = mutate(solution, P7, "        return soft_assignment(encoder(x), mu).argmax(1).numpy()",
               "        return km.labels_")
    g = mutate(mutate(g, P7, *short), P6, "        new_counts[k] += 1\n        " + step,
               "        " + step.replace("new_counts[k]", "new_counts[k].clamp_min(1)")
               + "\n        new_counts[k] += 1")
    g = mutate(g, P5, "z, x_hat = ae(x_batch)", "z = ae.encoder(x_batch)\n"
               "    x_hat = ae.decoder(z.detach())")
    h = with_solution(solution, P7, "from dcteach.methods import get_method\n\n"
                      "def dec_fit(X, n_clusters, seed=0):\n"
                      "    return get_method('dec')(n_clusters=n_clusters, seed=seed,"
                      " verbose=False).fit_predict(X)")
    return [("a_parts", a), ("c_spectral_pixels", c), ("d_ae_kmeans", d),
            ("e_batch_target", e), ("f_frozen_centres", f),
            ("g_kmeans_labels", g), ("h_library_dec", h)]


@pytest.fixture(scope="module")
def dec_mutants(tmp_path_factory):
    return grade_mutants(tmp_path_factory, A02, build_submissions)


@pytest.mark.parametrize("student, lost", [
    ("a_parts", ("soft-assignment-tests", "target-tests", "loss-tests", "step-tests",
                 "idec-tests", "dcn-tests")),
    ("c_spectral_pixels", ("fit-tests",)),
    ("d_ae_kmeans", ("soft-assignment-tests", "step-tests", "fit-tests")),
    ("e_batch_target", ("target-tests", "fit-tests")),
    ("f_frozen_centres", ("loss-tests", "idec-tests", "fit-tests")),
    ("g_kmeans_labels", ("idec-tests", "dcn-tests", "fit-tests")),
    ("h_library_dec", ("fit-tests",)),
])
def test_02_each_bug_costs_only_its_part(dec_mutants, student, lost):
    assert scores(dec_mutants, student, A02) == {**FULL_02, **dict.fromkeys(lost, 0)}
