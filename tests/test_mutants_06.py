"""Assignment 06 (SCAN): wrong submissions, graded by nbgrader.

The SCAN loss with the entropy sign flipped, self-labelling without class
balancing (with a neighbour miner that keeps the sample itself), SCAN heads trained on random
"neighbours" from the whole data set, k-means in place of SCAN, and SCAN heads trained with the
library's loss each lose exactly their parts.
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

A06 = "06_scan"
FULL_06 = {"mining-tests": 3, "scan-loss-tests": 3, "selflabel-tests": 3, "fit-tests": 6}

# Part 4 that calls the loss (so the call count looks fine) but returns k-means on the same
# features, ten restarts (ACC ≈ 0.55 there: the hidden threshold must stop it)
KMEANS_HEADS = '''
def train_scan_heads(features, neighbours, n_clusters, n_heads=10, entropy_weight=5.0,
                     epochs=30, seed=0):
    p = torch.full((8, n_clusters), 1.0 / n_clusters)
    for _ in range(300):
        scan_loss(p, p, entropy_weight)
    x = torch.as_tensor(features).float()
    gen = torch.Generator().manual_seed(seed)
    best = None
    for _ in range(10):
        centres = x[torch.randperm(len(x), generator=gen)[:n_clusters]]
        for _ in range(30):
            labels = torch.cdist(x, centres).argmin(1)
            centres = torch.stack([x[labels == c].mean(0) if (labels == c).any() else centres[c]
                                   for c in range(n_clusters)])
        inertia = float(((x - centres[labels]) ** 2).sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels)
    return best[1].numpy()
'''


def build_submissions(solution):
    """Assignment 06 submissions, graded in one autograde run.

    a: SCAN loss with +λH instead of −λH (Part 4 must keep its marks: it is graded with the
    reference loss). b: class weights all 1 in self-labelling, and mine_neighbours that keeps
    the sample itself (Part 4 is graded with the reference miner). c: train_scan_heads that
    draws the "neighbour" of an anchor from the whole data set. d: k-means with ten restarts
    instead of SCAN. e: a correct train_scan_heads that uses the library's scan_loss.
    a and b (bugs in different parts) are graded as one submission, to save a notebook run."""
    total = "return consistency - entropy_weight * entropy"
    weights = ("return torch.where(counts > 0, counts.sum() / (n_classes * counts.clamp_min(1)),\n"
               "                       torch.zeros_like(counts))")
    own = '        sim[rows, rows + start] = -float("inf")  # the sample itself, by index\n'
    draw = "nbrs[anchors, torch.randint(0, k, (len(anchors),), generator=gen)]"
    loss = "scan_loss(p[h, :m], p[h, m:], entropy_weight)[0]"

    a = mutate(solution, "scan-loss-solution", total, total.replace(" - ", " + "))
    b = mutate(a, "selflabel-solution", weights, "return torch.ones(n_classes)")  # a + b
    b = mutate(b, "mining-solution", own, "")
    c = mutate(solution, "fit-solution", draw,
                "torch.randint(0, n, (len(anchors),), generator=gen)")
    d = with_solution(solution, "fit-solution", KMEANS_HEADS)
    e = mutate(solution, "fit-solution", "def train_scan_heads(",
                "from dcteach.losses import scan_loss as library_scan_loss\n\n\n"
                "def train_scan_heads(")
    e = mutate(e, "fit-solution", loss, f"library_{loss}")
    return [("ab_entropy_sign_no_balance", b), ("c_whole_data", c),
            ("d_kmeans", d), ("e_library_loss", e)]


@pytest.fixture(scope="module")
def scan_mutants(tmp_path_factory):
    return grade_mutants(tmp_path_factory, A06, build_submissions)


@pytest.mark.parametrize("student, lost", [
    ("ab_entropy_sign_no_balance", ("scan-loss-tests", "mining-tests", "selflabel-tests")),
    ("c_whole_data", ("fit-tests",)),
    ("d_kmeans", ("fit-tests",)),
    ("e_library_loss", ("fit-tests",)),
])
def test_06_each_bug_costs_only_its_part(scan_mutants, student, lost):
    assert scores(scan_mutants, student, A06) == {**FULL_06, **dict.fromkeys(lost, 0)}
