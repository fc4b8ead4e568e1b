"""Assignment 08 (SCCL on short texts): wrong submissions, graded by nbgrader.

NT-Xent with the self-similarity in the denominator, with one view as anchor, without the
temperature or computed naively (exp, then log: it overflows at τ = 0.001, in float64 too);
smoothing without normalising the rows first, with each point its own neighbour or without the
final normalisation; the DEC target without the frequency normalisation or not squared, P
carrying gradients, the Student-t exponent without α; an sccl_fit that is k-means alone, k-means
plus token loss calls, a loop that makes its views with the library, one whose centres are
not trained, or a correct loop that returns its k-means start's labels, assigns to the start's
centres, assigns the inputs instead of f(x) or reads the graded corpus and its labels: each
loses exactly its part. Part 4 is graded with the reference Parts 1-3, so a correct sccl_fit
keeps its marks when they are wrong, and harmless variations keep full marks. Scores come from
the gradebook, never from exit codes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers_nb import (
    REPO,
    assignments,
    grade_mutants,
    mutate,
    notebook_env,
    scores,
    with_solution,
)

pytestmark = pytest.mark.slow

A08 = "08_text_clustering"
FULL_08 = {"contrastive-tests": 3, "smooth-tests": 2, "clustering-tests": 2, "project-tests": 5}
P1, P2, P3, P4 = ("contrastive-solution", "smooth-solution", "clustering-solution",
                  "project-solution")

# Part 1 computed naively in float64: exp, then log (right at τ = 0.5, inf / nan at τ = 0.001)
NAIVE_CONTRASTIVE = '''def instance_contrastive_loss(a, b, tau=0.5):
    u = torch.cat([torch.as_tensor(a), torch.as_tensor(b)]).double()
    u = u / u.norm(dim=1, keepdim=True)
    m = len(a)
    e = torch.exp(u @ u.T / tau) * (1 - torch.eye(2 * m, dtype=torch.float64))
    pos = torch.cat([torch.arange(m, 2 * m), torch.arange(0, m)])
    return -torch.log(e[torch.arange(2 * m), pos] / e.sum(1)).mean()
'''
# Part 4 = k-means on the embeddings, no training at all
KMEANS_FIT = '''def sccl_fit(E, k, seed=0):
    return KMeans(k, n_init=10, random_state=seed).fit(np.asarray(E)).labels_
'''
# Part 4 = k-means, plus loss calls on random tensors (gradients, different views, moving
# "centres") so that the call counts look right; the instance loss does not fall
FAKE_FIT = '''def sccl_fit(E, k, seed=0):
    z = torch.randn(64, 16, requires_grad=True)
    c = torch.randn(k, 16, requires_grad=True)
    for _ in range(60):
        instance_contrastive_loss(z + 0.1 * torch.randn(64, 16), z + 0.1 * torch.randn(64, 16))
        clustering_loss(z, c + 0.1 * torch.randn(k, 16))
    return KMeans(k, n_init=10, random_state=seed).fit(np.asarray(E)).labels_
'''
# Harmless: Part 1 by cross-entropy in float64, Part 2 by Euclidean distances of the unit rows,
# argpartition and a mean in float32, Part 3 straight from the formulas with F.kl_div
HARMLESS_CONTRASTIVE = '''def instance_contrastive_loss(a, b, tau=0.5):
    u = F.normalize(torch.cat([a, b]).double(), dim=1)
    m = len(a)
    logits = u @ u.T / tau - 1e9 * torch.eye(2 * m, dtype=torch.float64)
    return F.cross_entropy(logits, (torch.arange(2 * m) + m) % (2 * m))
'''
HARMLESS_SMOOTH = '''def smooth_embeddings(E, k):
    U = np.asarray(E, dtype=np.float32)
    U = U / np.linalg.norm(U, axis=1, keepdims=True)
    D = ((U[:, None, :] - U[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(D, np.inf)
    nbrs = np.argpartition(D, k, axis=1)[:, :k]
    Z = (U + U[nbrs].sum(1)) / (k + 1)
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)
'''
HARMLESS_CLUSTERING = '''def clustering_loss(z, centres, alpha=1.0):
    d2 = torch.cdist(z, centres) ** 2
    q = (1 + d2 / alpha) ** (-(alpha + 1) / 2)
    q = q / q.sum(1, keepdim=True)
    p = (q ** 2 / q.sum(0)).detach()
    p = p / p.sum(1, keepdim=True)
    return F.kl_div(q.log(), p, reduction="batchmean")
'''
# Harmless Part 4: its own networks and dropout masks, scikit-learn's k-means, 5 neighbours,
# batches of 128, 10 epochs, η = 20, the centres passed by keyword
HARMLESS_FIT = '''def sccl_fit(E, k, seed=0):
    from sklearn.cluster import KMeans as SkKMeans

    torch.manual_seed(seed)
    x = 4 * F.normalize(torch.as_tensor(np.asarray(E)).float(), dim=1)
    n, d = x.shape
    cos = x @ x.T
    cos.fill_diagonal_(-1e9)
    nbrs = cos.topk(5, dim=1).indices
    inner = nn.Sequential(nn.Linear(d, 256), nn.ReLU(), nn.Linear(256, d))
    nn.init.zeros_(inner[2].weight)
    nn.init.zeros_(inner[2].bias)
    head = nn.Sequential(nn.Linear(d, 256), nn.ReLU(), nn.Linear(256, 64))
    start = SkKMeans(k, n_init=5, random_state=seed).fit(x.numpy()).cluster_centers_
    mu = nn.Parameter(torch.tensor(start, dtype=torch.float32))
    opt = torch.optim.Adam([*inner.parameters(), *head.parameters(), mu], lr=1e-3)

    def f(v):
        return v + inner(v)

    def view(idx):
        swap = torch.rand(len(idx)) < 0.5
        v = x[torch.where(swap, nbrs[idx, torch.randint(0, 5, (len(idx),))], idx)]
        return v * (torch.rand(v.shape) > 0.2) / 0.8 + 0.01 * torch.randn(v.shape)

    for _ in range(10):
        for idx in torch.randperm(n).split(128):
            loss = instance_contrastive_loss(head(f(view(idx))), head(f(view(idx))))
            loss = loss + 20.0 * clustering_loss(f(x[idx]), centres=mu)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return nearest_centre(f(x), mu.detach().clone())
'''


def build_submissions(solution):
    """Assignment 08 submissions, graded in one autograde run. Part 4 is graded with the
    reference Parts 1-3, so no bug in them may cost it.

    a: NT-Xent with the self-similarity in the denominator, smoothing of the raw rows (not
       normalised first), the target without the frequency normalisation; sccl_fit correct.
    b: NT-Xent naively in float64 (exp then log), each point its own nearest neighbour, the
       target q/f (not squared); sccl_fit = k-means on the embeddings.
    c: NT-Xent with one view as anchor, P not detached (same value, wrong gradient); a correct
       loop that makes its views with the library's embedding_view.
    d: NT-Xent without the temperature, smoothing without the final normalisation, the
       Student-t exponent without α; sccl_fit = k-means plus token loss calls.
    e: a correct loop whose centres are not trained (not given to the optimiser).
    f: harmless variations of every part, which must keep full marks.
    g: a correct loop that returns the labels of its k-means start.
    h: a correct loop that assigns f(x) to the k-means start's centres, not the trained ones.
    i: a correct loop that also loads the graded corpus and its labels with load_dataset: only
       the ban on the library's data loaders inside sccl_fit catches it. (Starting from the
       true class means instead of k-means would not even pass: ACC 0.619 < 0.65, measured.)
    j: a correct loop that assigns the inputs x, not f(x), to the trained centres."""
    mask = ('    s = s.masked_fill(torch.eye(2 * m, dtype=torch.bool, device=u.device), '
            'float("-inf"))\n')
    anchor = "(torch.logsumexp(s, dim=1) - s[torch.arange(2 * m, device=u.device), pos])"
    unit = "U = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)"
    weight = "weight = q ** 2 / q.sum(0)"
    target = ("    with torch.no_grad():\n        q = log_q.exp()\n"
              "        weight = q ** 2 / q.sum(0)\n"
              "        p = weight / weight.sum(1, keepdim=True)\n")
    view = "        v = F.dropout(x[torch.where(swap, pick, idx)], dropout, training=True)\n"

    a = mutate(solution, P1, mask, "")
    a = mutate(a, P2, unit, "U = E")
    a = mutate(a, P3, weight, "weight = q ** 2")
    b = with_solution(solution, P1, NAIVE_CONTRASTIVE)
    b = mutate(b, P2, "    np.fill_diagonal(S, -np.inf)\n", "")
    b = mutate(b, P3, weight, "weight = q / q.sum(0)")
    b = with_solution(b, P4, KMEANS_FIT)
    c = mutate(solution, P1, anchor, anchor + "[:m]")
    c = mutate(c, P3, target, target.replace("    with torch.no_grad():\n", "    if True:\n"))
    c = mutate(c, P4, view,
               "        from dcteach.augment import embedding_view\n\n"
               "        v = embedding_view(x, idx, neighbours, dropout, 0.0, p_neighbour)\n")
    d = mutate(solution, P1, "s = u @ u.T / tau", "s = u @ u.T")
    d = mutate(d, P2, "return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)",
                "return Z")
    d = mutate(d, P3, "-(alpha + 1) / 2 * torch.log1p(d2 / alpha)", "-torch.log1p(d2)")
    d = with_solution(d, P4, FAKE_FIT)
    e = mutate(solution, P4, "[*f.parameters(), *g.parameters(), centres]",
                "[*f.parameters(), *g.parameters()]")
    f = with_solution(solution, P1, HARMLESS_CONTRASTIVE)
    f = with_solution(f, P2, HARMLESS_SMOOTH)
    f = with_solution(f, P3, HARMLESS_CLUSTERING)
    f = with_solution(f, P4, HARMLESS_FIT)
    final = "        return nearest_centre(f(x), centres)"
    g = mutate(solution, P4, final, "        return km.labels_")
    h = mutate(solution, P4, final,
               "        start = KMeans(k, n_init=10, random_state=seed).fit(x)\n"
               "        return nearest_centre(f(x), start.cluster_centers_)")
    # a correct loop that also reads the graded corpus, with its labels
    i = mutate(solution, P4, "    km = KMeans(k, n_init=10, random_state=seed).fit(x)\n",
               "    km = KMeans(k, n_init=10, random_state=seed).fit(x)\n"
               '    truth = load_dataset("searchsnippets", split="test", n_samples=n, seed=1).y\n')
    j = mutate(solution, P4, final, "        return nearest_centre(x, centres)")
    return [("a_parts", a), ("b_naive_kmeans", b), ("c_anchor_library", c),
            ("d_fake_training", d), ("e_frozen_centres", e), ("f_harmless", f),
            ("g_start_labels", g), ("h_start_centres", h), ("i_reads_the_labels", i),
            ("j_inputs_not_f", j)]


@pytest.fixture(scope="module")
def sccl_mutants(tmp_path_factory):
    return grade_mutants(tmp_path_factory, A08, build_submissions)


@pytest.mark.parametrize("student, lost", [
    ("a_parts", ("contrastive-tests", "smooth-tests", "clustering-tests")),
    ("b_naive_kmeans", ("contrastive-tests", "smooth-tests", "clustering-tests",
                        "project-tests")),
    ("c_anchor_library", ("contrastive-tests", "clustering-tests", "project-tests")),
    ("d_fake_training", ("contrastive-tests", "smooth-tests", "clustering-tests",
                         "project-tests")),
    ("e_frozen_centres", ("project-tests",)),
    ("f_harmless", ()),
    ("g_start_labels", ("project-tests",)),
    ("h_start_centres", ("project-tests",)),
    ("i_reads_the_labels", ("project-tests",)),
    ("j_inputs_not_f", ("project-tests",)),
])
def test_08_each_bug_costs_only_its_part(sccl_mutants, student, lost):
    assert scores(sccl_mutants, student, A08) == {**FULL_08, **dict.fromkeys(lost, 0)}


def test_08_without_the_corpus_grading_stops_loudly(tmp_path):
    """No toy fallback: without SearchSnippets the setup cell raises DatasetNotFound, naming
    the file it expects and DCTEACH_DATA."""
    if A08 not in assignments():
        pytest.skip(f"{A08} is not in solutions/")
    nb = json.loads((REPO / "solutions" / A08 / f"{A08}.ipynb").read_text())
    setup = next(c for c in nb["cells"] if c["metadata"]["nbgrader"]["grade_id"] == "setup")
    env = notebook_env(DCTEACH_DATA=str(tmp_path), NBGRADER_EXECUTION="autograde")
    proc = subprocess.run([sys.executable, "-c", "".join(setup["source"])], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0, proc.stdout[-2000:]
    message = proc.stderr[-3000:]
    assert "DatasetNotFound" in message, message
    assert os.path.join(str(tmp_path), "text", "searchsnippets.tsv") in message, message
    assert "DCTEACH_DATA" in message, message
