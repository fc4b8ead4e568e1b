"""Assignment 01 (clustering basics): wrong submissions, graded by nbgrader.

Each plausible bug loses exactly its part: a contingency table that does not accumulate repeated
pairs, is transposed or indexes by raw ids; ACC as purity, over the matched clusters only or
with the matching that minimises the agreement; NMI normalised by the geometric mean, with the
mutual information in bits or 0 for two constant labelings; k-means++ sampling by D, taking the
farthest point, always starting at X[0], measuring D to the last centre only or sampling
uniformly; k-means stopping after one round (aliased convergence test), with NaN centres for
empty clusters, with L1 assignments or started from random samples instead of k-means++; the
unnormalised, random-walk or NaN-on-isolated-nodes Laplacian, the largest eigenvectors or
np.linalg.eig's unsorted ones; spectral clustering without the row scaling or on the raw data.
Broken submissions (infinite loop, syntax error) and calls into the reference libraries
(dcteach, sklearn) score zero for those parts without stopping the batch.
Later parts are graded with the instructor's earlier functions, so a bug costs only its own part;
harmless variations (scipy, float32, log2, other sampling code) keep full marks.
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

A01 = "01_clustering_basics"
FULL_01 = {"contingency-tests": 1, "acc-tests": 2, "nmi-tests": 3, "kmeanspp-tests": 2,
           "kmeans-tests": 3, "spectral-tests": 3, "spectral-clustering-tests": 2}
P1, P2, P3 = "contingency-solution", "acc-solution", "nmi-solution"
P4, P5, P6, P7 = ("kmeanspp-solution", "kmeans-solution", "spectral-solution",
                  "spectral-clustering-solution")

# Part 1 with the raw ids as row / column indices (empty rows and columns for missing ids)
ID_CONTINGENCY = '''def contingency_table(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError("different lengths")
    table = np.zeros((y_pred.max() + 1, y_true.max() + 1), dtype=np.int64)
    np.add.at(table, (y_pred, y_true), 1)
    return table
'''
# Part 5 whose convergence test compares the centres with an alias of themselves: one round
ALIAS_KMEANS = '''def kmeans(X, k, n_iter=100, seed=0):
    X = np.asarray(X, dtype=np.float64)
    centers = kmeans_plusplus(X, k, np.random.default_rng(seed)).copy()
    for _ in range(n_iter):
        labels = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(2).argmin(1)
        old = centers
        for j in range(k):
            if (labels == j).any():
                centers[j] = X[labels == j].mean(0)
        if np.allclose(old, centers):
            break
    return labels, centers
'''
SKLEARN_SPECTRAL = '''from sklearn.cluster import SpectralClustering


def spectral_clustering(X, k, n_neighbors=10, seed=0):
    model = SpectralClustering(k, affinity="nearest_neighbors", n_neighbors=n_neighbors,
                               random_state=seed)
    return model.fit_predict(X)
'''
# harmless variations, all correct
SPARSE_CONTINGENCY = '''from scipy.sparse import coo_matrix


def contingency_table(y_true, y_pred):
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError("the labelings differ in length")
    _, t = np.unique(y_true, return_inverse=True)
    _, p = np.unique(y_pred, return_inverse=True)
    return coo_matrix((np.ones(len(t), dtype=np.int64), (p, t))).toarray()
'''
MINUS_ACC = '''def cluster_accuracy(y_true, y_pred):
    table = contingency_table(y_true, y_pred).T
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum()) / len(y_true)
'''
FLOAT32_LOG2_NMI = '''def nmi(y_true, y_pred):
    p = contingency_table(y_true, y_pred).astype(np.float32)
    p /= p.sum()
    pc, py = p.sum(1), p.sum(0)
    h_c = -np.sum(pc[pc > 0] * np.log2(pc[pc > 0]))
    h_y = -np.sum(py[py > 0] * np.log2(py[py > 0]))
    if h_c == 0 and h_y == 0:
        return 1.0
    nz = p > 0
    mi = np.sum(p[nz] * np.log2(p[nz] / np.outer(pc, py)[nz]))
    return float(mi / ((h_c + h_y) / 2))
'''
FLOAT32_KMEANSPP = '''def kmeans_plusplus(X, k, rng):
    X = np.asarray(X, dtype=np.float32)
    centers = [X[rng.choice(len(X))]]
    d2 = ((X - centers[0]) ** 2).sum(1)
    for _ in range(1, k):
        cumulative = np.cumsum(d2, dtype=np.float64)
        i = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        centers.append(X[min(i, len(X) - 1)])
        d2 = np.minimum(d2, ((X - centers[-1]) ** 2).sum(1))
    return np.array(centers)
'''
FLOAT32_KMEANS = '''def kmeans(X, k, n_iter=100, seed=0):
    X = np.asarray(X, dtype=np.float32)
    centers = np.array(kmeans_plusplus(X, k, np.random.default_rng(seed)), dtype=np.float32)
    for _ in range(n_iter):
        labels = np.linalg.norm(X[:, None, :] - centers[None], axis=2).argmin(1)
        new = np.array([X[labels == j].mean(0) if np.any(labels == j) else centers[j]
                        for j in range(k)])
        if np.array_equal(new, centers):
            break
        centers = new
    return labels, centers
'''
SCIPY_SPECTRAL = '''from scipy.linalg import eigh
from scipy.sparse.csgraph import laplacian


def normalized_laplacian(W):
    W = np.asarray(W, dtype=np.float32)
    L = laplacian(W, normed=True)
    isolated = np.flatnonzero(W.sum(1) == 0)
    L[isolated, isolated] = 1.0  # scipy leaves 0 on an isolated node's diagonal
    return L


def spectral_embedding(W, k):
    eigenvalues, eigenvectors = eigh(normalized_laplacian(W), subset_by_index=[0, k - 1])
    return eigenvectors, eigenvalues
'''


def build_submissions(solution: nbformat.NotebookNode) -> list[tuple[str, nbformat.NotebookNode]]:
    """Assignment 01 submissions, each with bugs of different parts (a graded cell runs only
    its part's functions, the earlier parts' are the instructor's), and harmless variations in
    the parts a submission gets right, which must keep their marks.

    a: contingency without accumulation (table[p, t] += 1), k-means++ sampling by D, the
       unnormalised Laplacian D - W; harmless ACC, NMI, k-means and spectral clustering
       (-table, float32 + log2, float32 + norm, no epsilon) keep their marks although they
       depend on the buggy Parts 1, 4 and 6. b: transposed table, ACC with a syntax error, NMI
       in an infinite loop, farthest point seeding, k-means stopping after one round,
       random-walk Laplacian; spectral clustering (graded after the loop) keeps its marks.
       c: ACC, NMI and k-means from the libraries, sklearn's SpectralClustering, first seed
       always X[0], largest eigenvectors. d: raw ids as indices, purity, sqrt(H(Y)H(C))
       normaliser, D to the last centre only, NaN centres of empty clusters, 1/sqrt(0) on
       isolated nodes, no row scaling. e: ACC over the matched clusters only, I in bits over H
       in nats, L1 assignment, k-means on the raw data; harmless scipy.sparse contingency,
       float32 k-means++ sampling with searchsorted, scipy's laplacian and eigh in float32.
       f: the Hungarian matching minimised, NMI 0 for two constant labelings, k-means++ seeding
       uniform, k-means started from random samples, np.linalg.eig without sorting."""
    add_at = "np.add.at(table, (p, t), 1)"
    hungarian = "linear_sum_assignment(table, maximize=True)"
    nmi_return = "return max(mutual_info, 0.0) / (0.5 * (h_c + h_y))"
    sample = "i = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)"
    nearest = "d2 = np.minimum(d2, ((X - X[i]) ** 2).sum(1))"
    assign = "d2 = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(2)"
    sym = "return np.eye(len(W)) - d[:, None] * W * d[None, :]"
    first_k = "return eigenvectors[:, :k], eigenvalues[:k]"
    row_scale = "    U = U / np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-12)\n"

    a = mutate(solution, P1, add_at, "table[p, t] += 1")
    a = with_solution(a, P2, MINUS_ACC)
    a = with_solution(a, P3, FLOAT32_LOG2_NMI)
    a = mutate(a, P4, "total = d2.sum()\n        i = rng.choice(n, p=d2 / total)",
               "total = np.sqrt(d2).sum()\n        i = rng.choice(n, p=np.sqrt(d2) / total)")
    a = with_solution(a, P5, FLOAT32_KMEANS)
    a = mutate(a, P6, sym, "return np.diag(deg) - W")
    a = mutate(a, P7, row_scale, "    U = U / np.linalg.norm(U, axis=1)[:, None]\n")

    b = mutate(solution, P1, "np.zeros((len(clusters), len(classes))",
               "np.zeros((len(classes), len(clusters))")
    b = mutate(b, P1, add_at, "np.add.at(table, (t, p), 1)")
    b = with_solution(b, P2, "def cluster_accuracy(y_true, y_pred)\n    return 1.0")
    b = with_solution(b, P3, "def nmi(y_true, y_pred):\n    while True:\n        pass")
    b = mutate(b, P4, sample, "i = int(np.argmax(d2))")
    b = with_solution(b, P5, ALIAS_KMEANS)
    b = mutate(b, P6, sym, "return np.eye(len(W)) - W / np.where(deg > 0, deg, 1.0)[:, None]")

    c = with_solution(solution, P2, "from dcteach.metrics import cluster_accuracy")
    c = with_solution(c, P3, "from sklearn.metrics import normalized_mutual_info_score\n\n"
                             "def nmi(y_true, y_pred):\n"
                             "    return float(normalized_mutual_info_score(y_true, y_pred))")
    c = mutate(c, P4, "first = rng.integers(n)", "first = 0")
    c = with_solution(c, P5, "import dcteach.cluster as dcc\n\n"
                             "def kmeans(X, k, n_iter=100, seed=0):\n"
                             "    km = dcc.KMeans(k, random_state=seed).fit(X)\n"
                             "    return km.labels_, km.cluster_centers_.astype(float)")
    c = mutate(c, P6, first_k, "return eigenvectors[:, -k:], eigenvalues[-k:]")
    c = with_solution(c, P7, SKLEARN_SPECTRAL)

    d = with_solution(solution, P1, ID_CONTINGENCY)
    d = mutate(d, P2, f"rows, cols = {hungarian}\n    return float(table[rows, cols].sum()",
               "return float(table.max(1).sum()")
    d = mutate(d, P3, nmi_return,
               "return max(mutual_info, 0.0) / np.sqrt(h_c * h_y) if mutual_info > 0 else 0.0")
    d = mutate(d, P4, nearest, "d2 = ((X - X[i]) ** 2).sum(1)")
    d = mutate(d, P5, "            if len(members):\n                centers[j]",
               "            centers[j]")
    d = mutate(d, P6, "d = 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0))", "d = 1.0 / np.sqrt(deg)")
    d = mutate(d, P7, row_scale, "")

    e = with_solution(solution, P1, SPARSE_CONTINGENCY)
    e = mutate(e, P2, "table[rows, cols].sum() / table.sum()",
               "table[rows, cols].sum() / table[rows].sum()")
    e = mutate(e, P3, "np.log(joint[nz] / independent[nz])",
               "np.log2(joint[nz] / independent[nz])")
    e = with_solution(e, P4, FLOAT32_KMEANSPP)
    e = mutate(e, P5, assign, "d2 = np.abs(X[:, None, :] - centers[None, :, :]).sum(2)")
    e = with_solution(e, P6, SCIPY_SPECTRAL)
    e = mutate(e, P7, "kmeans(U, k, seed=seed)", "kmeans(X, k, seed=seed)")

    f = mutate(solution, P2, hungarian, "linear_sum_assignment(table)")
    f = mutate(f, P3, "if h_c == 0 and h_y == 0:\n        return 1.0",
               "if h_c == 0 and h_y == 0:\n        return 0.0")
    f = mutate(f, P4, sample, "i = rng.integers(n)")
    f = mutate(f, P5, "centers = kmeans_plusplus(X, k, np.random.default_rng(seed)).copy()",
               "centers = X[np.random.default_rng(seed).choice(len(X), k, replace=False)].copy()")
    f = mutate(f, P6, "eigenvalues, eigenvectors = np.linalg.eigh(normalized_laplacian(W))",
               "eigenvalues, eigenvectors = np.linalg.eig(normalized_laplacian(W))\n"
               "    eigenvalues, eigenvectors = eigenvalues.real, eigenvectors.real")

    # b (the infinite loop) is not graded last: the students after it must be graded normally
    return [("a_upstream_bugs", a), ("b_loop_syntax", b), ("c_library", c), ("d_bugs", d),
            ("e_bugs_harmless", e), ("f_more_bugs", f)]


@pytest.fixture(scope="module")
def mutants_01(tmp_path_factory):
    """All submissions of build_submissions, graded in ONE autograde run. The infinite loop
    costs its cell's timeout: 30 s for every cell but the setup cell, whose imports keep the
    course's 120 s. The cells need under 2 s on an idle 2-core CPU; 30 s leaves room for a
    loaded machine, where oversubscribed BLAS threads can slow a small eigh many times over
    (with 10 s, a correct Part 7 lost its marks once in a CI run beside a benchmark and kept
    them when rerun alone; the timeout is the likely cause, not a proven one)."""
    return grade_mutants(tmp_path_factory, A01, build_submissions, config=(
        "c.Execute.timeout_func = lambda cell: 120 if 'setup_notebook(' in cell.source else 30"))


@pytest.mark.parametrize("student, kept", [
    ("a_upstream_bugs", ("acc-tests", "nmi-tests", "kmeans-tests", "spectral-clustering-tests")),
    ("b_loop_syntax", ("spectral-clustering-tests",)),
    ("c_library", ("contingency-tests",)),
    ("d_bugs", ()),
    ("e_bugs_harmless", ("contingency-tests", "kmeanspp-tests", "spectral-tests")),
    ("f_more_bugs", ("contingency-tests", "spectral-clustering-tests")),
])
def test_01_each_bug_costs_only_its_part(mutants_01, student, kept):
    expected = {part: (points if part in kept else 0) for part, points in FULL_01.items()}
    assert scores(mutants_01, student, A01) == expected
