"""Assignment 07 (PCL): wrong submissions, graded by nbgrader.

The concentration φ without its log normaliser, without clipping or without
the rescaling to mean τ, with the small clusters at 0 or at the mean, ProtoNCE with unnormalised
prototypes or queries, with φ on the positive only or summed over the batch, Parts 1-2 answered
by the library, and an E-step that measures φ to normalised centroids or clusters every
granularity with the first K each lose exactly their parts; harmless variations keep full marks.
Scores come from the gradebook, never from exit codes.
"""

from __future__ import annotations

import nbformat
import pytest
from helpers_nb import (
    grade_mutants,
    mutate,
    scores,
    with_solution,
)

pytestmark = pytest.mark.slow

A07 = "07_pcl"
FULL_07 = {"concentration-tests": 3, "proto-tests": 3, "estep-tests": 2}

# Parts 1-2 answered with the library's reference code
LIBRARY_CONCENTRATION = '''from dcteach.losses import concentration as reference


def concentration(v, labels, centroids, alpha=10.0, temperature=0.2):
    return reference(v, labels, centroids, alpha, temperature)
'''
LIBRARY_PROTO_NCE = '''import dcteach.losses as reference


def proto_nce(q, centroids, labels, phi):
    return reference.proto_nce(q, F.normalize(centroids.detach(), dim=1), labels, phi.detach())
'''
# Part 2 with φ on the positive logit only (the other prototypes divided by τ = 0.2)
POSITIVE_ONLY_PROTO_NCE = '''def proto_nce(q, centroids, labels, phi):
    v = F.normalize(q, dim=1)
    prototypes = F.normalize(centroids.detach().to(q.dtype), dim=1)
    logits = v @ prototypes.T / 0.2
    positive = (v * prototypes[labels]).sum(1) / phi.detach().to(q.dtype)[labels]
    logits = logits.index_put((torch.arange(len(v)), labels), positive)
    return F.cross_entropy(logits, labels.long())
'''
# Part 1 in numpy with np.percentile and a loop over the clusters (right values, float64)
NUMPY_CONCENTRATION = '''def concentration(v, labels, centroids, alpha=10.0, temperature=0.2):
    v, c = v.detach().numpy().astype(float), centroids.detach().numpy().astype(float)
    labels = labels.numpy()
    sizes = np.array([np.sum(labels == j) for j in range(len(c))])
    phi = np.zeros(len(c))
    for j in np.flatnonzero(sizes > 1):
        phi[j] = np.linalg.norm(v[labels == j] - c[j], axis=1).mean() / np.log(sizes[j] + alpha)
    big = sizes > 1
    if big.any():
        phi[~big] = phi[big].max()
    else:
        phi[:] = 1.0
    phi = np.clip(phi, np.percentile(phi, 10), np.percentile(phi, 90))
    return torch.from_numpy(temperature * phi / phi.mean())
'''


def build_submissions(solution):
    """Assignment 07 submissions, graded in one autograde run. Part 3 is graded with the
    reference Parts 1-2, so no bug in them may cost it.

    a: φ as the mean distance, without the log(Z + α) normaliser. b: ProtoNCE with the raw
    centroids as prototypes. c: φ not clipped to its 10th-90th percentiles. d: φ not rescaled
    to mean τ. e: clusters with ≤ 1 member left at φ = 0. f: such clusters given the mean φ.
    g: Parts 1-2 answered with the library's concentration and proto_nce. h: ProtoNCE with the
    queries not normalised. i: φ on the positive logit only. j: ProtoNCE summed over the batch.
    k: an E-step that computes φ with the normalised centroids. l: an E-step that runs k-means
    with the first granularity's K every time. m: harmless variations that must keep full
    marks: φ in numpy with np.percentile, F.normalize in ProtoNCE, the loss by logsumexp.
    To keep the test short, bugs in different parts share a submission (a+b+k, c+h+l, d+i,
    e+j): thirteen mutants, seven notebook runs. Part 3 is graded with the reference Parts 1-2,
    so the Part 3 bugs still show that they cost their part only."""
    p1, p2, p3 = "concentration-solution", "proto-solution", "estep-solution"
    normaliser = "phi = total / (count.clamp_min(1) * torch.log(count + alpha))"
    small = "phi[small] = phi[~small].max()"
    queries = "v = q / q.norm(dim=1, keepdim=True).clamp_min(1e-12)"
    prototypes = "prototypes = mu / mu.norm(dim=1, keepdim=True).clamp_min(1e-12)"
    loss = "    return F.cross_entropy(logits, labels.long())"
    phi_call = "phi = concentration(v, labels, centroids, alpha, temperature)"

    a = mutate(solution, p1, normaliser, "phi = total / count.clamp_min(1)")
    b = mutate(solution, p2, prototypes, "prototypes = mu")
    c = mutate(solution, p1, "    phi = phi.clamp(low, high)\n", "")
    d = mutate(solution, p1, "return (temperature * phi / phi.mean()).to(dtype)",
                "return phi.to(dtype)")
    e = mutate(solution, p1, small, "phi[small] = 0.0")
    f = mutate(solution, p1, small, "phi[small] = phi[~small].mean()")
    g = with_solution(solution, p1, LIBRARY_CONCENTRATION)
    g = with_solution(g, p2, LIBRARY_PROTO_NCE)
    h = mutate(solution, p2, queries, "v = q")
    i = with_solution(solution, p2, POSITIVE_ONLY_PROTO_NCE)
    j = mutate(solution, p2, loss, loss[:-1] + ', reduction="sum")')
    k = mutate(solution, p3, phi_call,
                phi_call.replace("centroids,", "F.normalize(centroids, dim=1),"))
    first_k = mutate(solution, p3, "km = KMeans(k, n_init=1", "km = KMeans(ks[0], n_init=1")
    harmless = with_solution(solution, p1, NUMPY_CONCENTRATION)
    harmless = mutate(harmless, p2, queries, "v = F.normalize(q, dim=1)")
    harmless = mutate(harmless, p2, prototypes, "prototypes = F.normalize(mu, dim=1)")
    harmless = mutate(harmless, p2, loss,
                       "    own = logits.gather(1, labels.long()[:, None]).squeeze(1)\n"
                       "    return (torch.logsumexp(logits, 1) - own).mean()")
    def combine(*mutants):
        """One submission carrying each mutant's changed cells (they touch different parts)."""
        nb = nbformat.from_dict(solution)
        for mutant in mutants:
            for cell, changed in zip(nb.cells, mutant.cells, strict=True):
                if changed.source != cell.source and cell.source == source_of[cell.id]:
                    cell.source = changed.source
        return nb

    source_of = {cell.id: cell.source for cell in solution.cells}
    return [("abk", combine(a, b, k)), ("chl", combine(c, h, first_k)),
            ("di", combine(d, i)), ("ej", combine(e, j)), ("f_small_mean", f),
            ("g_library", g), ("m_harmless", harmless)]


@pytest.fixture(scope="module")
def pcl_mutants(tmp_path_factory):
    return grade_mutants(tmp_path_factory, A07, build_submissions)


@pytest.mark.parametrize("student, lost", [
    ("abk", ("concentration-tests", "proto-tests", "estep-tests")),
    ("chl", ("concentration-tests", "proto-tests", "estep-tests")),
    ("di", ("concentration-tests", "proto-tests")),
    ("ej", ("concentration-tests", "proto-tests")),
    ("f_small_mean", ("concentration-tests",)),
    ("g_library", ("concentration-tests", "proto-tests")),
    ("m_harmless", ()),
])
def test_07_each_bug_costs_only_its_part(pcl_mutants, student, lost):
    assert scores(pcl_mutants, student, A07) == {**FULL_07, **dict.fromkeys(lost, 0)}
