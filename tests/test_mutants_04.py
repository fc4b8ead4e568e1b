"""Assignment 04 (contrastive clustering): wrong submissions, graded by nbgrader.

One mutant per bug (NT-Xent with the self-similarity or one anchor, the
cluster loss on rows or with the entropy sign flipped, a looped or shared contrast factor, a
cc_fit that runs k-means on pixels or on UMAP, or calls the library's CC or losses) loses
exactly its part, and a correct cc_fit keeps its marks when Parts 1-3 are wrong.
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

A04 = "04_contrastive"
FULL_04 = {"nt-xent-tests": 3, "cluster-loss-tests": 3, "contrast-tests": 3, "fit-tests": 6}

# Part 3 written with a Python loop over the images (right values, not batched)
LOOP_CONTRAST = '''
def adjust_contrast(x, factors):
    out = []
    for image, f in zip(x, factors):
        gray = image if image.shape[0] == 1 else (
            image * torch.tensor(GRAY_WEIGHTS, dtype=image.dtype).view(3, 1, 1)).sum(0)
        out.append((f * image + (1 - f) * gray.mean()).clamp(0, 1))
    return torch.stack(out)
'''
# Part 4 that calls the losses (so the call counts look fine) but clusters the pixels
KMEANS_FIT = '''def cc_fit(x, n_clusters, seed=0):
    z = torch.randn(8, 4)
    for _ in range(300):
        nt_xent(z, z, 0.5)
        cc_cluster_loss(z.softmax(1), z.softmax(1), 1.0)
    pixels = torch.as_tensor(np.asarray(x)).reshape(len(x), -1).float() / 255
    gen = torch.Generator().manual_seed(seed)
    centres = pixels[torch.randperm(len(pixels), generator=gen)[:n_clusters]]
    for _ in range(30):
        labels = torch.cdist(pixels, centres).argmin(1)
        centres = torch.stack([pixels[labels == k].mean(0) if (labels == k).any() else centres[k]
                               for k in range(n_clusters)])
    return labels.numpy()
'''
# Part 4 that calls the losses, then clusters a UMAP embedding of the pixels (ACC ≈ 0.75 on
# these images: the guard, not the threshold, must stop it)
UMAP_FIT = '''def cc_fit(x, n_clusters, seed=0):
    z = torch.randn(8, 4)
    for _ in range(300):
        nt_xent(z, z, 0.5)
        cc_cluster_loss(z.softmax(1), z.softmax(1), 1.0)
    import umap

    pixels = np.asarray(x).reshape(len(x), -1) / 255
    emb = torch.as_tensor(umap.UMAP(n_components=10, random_state=seed).fit_transform(pixels))
    centres = emb[torch.randperm(len(emb))[:n_clusters]]
    for _ in range(30):
        labels = torch.cdist(emb, centres).argmin(1)
        centres = torch.stack([emb[labels == k].mean(0) if (labels == k).any() else centres[k]
                               for k in range(n_clusters)])
    return labels.numpy()
'''
LIBRARY_CC_FIT = '''from dcteach.methods import get_method

def cc_fit(x, n_clusters, seed=0):
    return get_method("cc")(n_clusters=n_clusters, seed=seed, preset="quick",
                            verbose=False).fit_predict(x)
'''


def build_submissions(solution):
    """Assignment 04 submissions with one bug per part, graded in one autograde run.

    a: self-similarity left in NT-Xent's denominator, cluster loss on the rows, contrast op as a
       loop over images; cc_fit correct (it must keep its marks: Part 4 is graded with the
       reference losses). b: NT-Xent with one view as anchor, entropy term log K + H, one shared
       contrast factor, cc_fit = k-means on pixels. c: entropy term −(log K − H), cc_fit = the
       library's CC. d: a correct cc_fit that uses the library's losses. e: cc_fit = UMAP +
       k-means on pixels."""
    mask = ('    sim = sim.masked_fill(torch.eye(2 * m, dtype=torch.bool, device=u.device), '
            'float("-inf"))\n')
    columns = "nt_xent(p1.T, p2.T, temperature)"
    gap = "return math.log(k) + (mean * torch.log(mean.clamp_min(1e-12))).sum()"
    draw = "torch.rand(x.shape[0], generator=generator)"

    a = mutate(solution, "nt-xent-solution", mask, "")
    a = mutate(a, "cluster-loss-solution", columns, "nt_xent(p1, p2, temperature)")
    a = mutate(a, "contrast-solution", "\n\ndef random_contrast", LOOP_CONTRAST
                + "\n\ndef random_contrast")
    b = mutate(solution, "nt-xent-solution", "F.cross_entropy(sim, positive)",
                "F.cross_entropy(sim[:m], positive[:m])")
    b = mutate(b, "cluster-loss-solution", gap, gap.replace("log(k) + (", "log(k) - ("))
    b = mutate(b, "contrast-solution", draw,
                "torch.rand(1, generator=generator).expand(x.shape[0])")
    b = with_solution(b, "fit-solution", KMEANS_FIT)
    c = mutate(solution, "cluster-loss-solution", gap, f"return -({gap[len('return '):]})")
    c = with_solution(c, "fit-solution", LIBRARY_CC_FIT)
    d = mutate(solution, "fit-solution", "def cc_fit(",
                "from dcteach.losses import cluster_contrastive_loss\n\n\ndef cc_fit(")
    d = mutate(d, "fit-solution", "cc_cluster_loss(p[:m], p[m:], 1.0)",
                "cluster_contrastive_loss(p[:m], p[m:], 1.0)[0]")
    e = with_solution(solution, "fit-solution", UMAP_FIT)
    return [("a_parts", a), ("b_bugs_kmeans", b), ("c_library_cc", c),
            ("d_library_loss", d), ("e_umap", e)]


@pytest.fixture(scope="module")
def cc_mutants(tmp_path_factory):
    return grade_mutants(tmp_path_factory, A04, build_submissions)


@pytest.mark.parametrize("student, lost", [
    ("a_parts", ("nt-xent-tests", "cluster-loss-tests", "contrast-tests")),
    ("b_bugs_kmeans", ("nt-xent-tests", "cluster-loss-tests", "contrast-tests", "fit-tests")),
    ("c_library_cc", ("cluster-loss-tests", "fit-tests")),
    ("d_library_loss", ("fit-tests",)),
    ("e_umap", ("fit-tests",)),
])
def test_04_each_bug_costs_only_its_part(cc_mutants, student, lost):
    assert scores(cc_mutants, student, A04) == {**FULL_04, **dict.fromkeys(lost, 0)}
