"""nbgrader round trip on a throw-away copy of the course.

For every assignment in solutions/: the committed release in assignments/ is what
``nbgrader generate_assignment`` produces, it hides solutions, hidden tests and mark schemes,
the instructor solution autogrades to full marks and the untouched release to zero.
For assignment 01 also: broken submissions (syntax error, infinite loop) and a submission
that calls the reference library are graded zero for those parts without stopping the batch.
For assignment 02: a dec_fit that uses the library's DEC, or only its target, loses that part.
For assignment 03: PCA whitening without centring, a sampler uniform over the images, an empty
cluster left empty, Parts 1-3 answered by the library, and an epoch that clusters features that
are not L2-normalised each lose exactly their parts.
For assignment 04: one mutant per bug (NT-Xent with the self-similarity or one anchor, the
cluster loss on rows or with the entropy sign flipped, a looped or shared contrast factor, a
cc_fit that runs k-means on pixels or on UMAP, or calls the library's CC or losses) loses
exactly its part, and a correct cc_fit keeps its marks when Parts 1-3 are wrong.
For assignment 05: FD with the rows normalised instead of the columns, a memory-bank update
without re-normalisation or with the momentum weights swapped or done in place, instance
discrimination with the softmax over the batch, FD summed over the features, Parts 1-3
answered by the library, and training steps that skip the L2 normalisation, update the bank
before scoring against it or with a second forward pass each lose exactly their parts; harmless
variations keep full marks.
For assignment 06: the SCAN loss with the entropy sign flipped, self-labelling without class
balancing (with a neighbour miner that keeps the sample itself), SCAN heads trained on random
"neighbours" from the whole data set, k-means in place of SCAN, and SCAN heads trained with the
library's loss each lose exactly their parts.
For assignment 07: the concentration φ without its log normaliser, without clipping or without
the rescaling to mean τ, with the small clusters at 0 or at the mean, ProtoNCE with unnormalised
prototypes or queries, with φ on the positive only or summed over the batch, Parts 1-2 answered
by the library, and an E-step that measures φ to normalised centroids or clusters every
granularity with the first K each lose exactly their parts; harmless variations keep full marks.
Scores come from the gradebook, never from exit codes.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from helpers_nb import (
    REPO,
    assignments,
    copy_course,
    grades,
    nbgrader,
    normalise_release,
    read_notebooks,
    submit,
)

ASSIGNMENTS = assignments()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not ASSIGNMENTS, reason="no assignments in solutions/")]

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "BEGIN MARK SCHEME")


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded_course(request, tmp_path_factory):
    """Course copy with the release regenerated, and two submissions autograded:
    ``instructor`` (the solution notebooks) and ``untouched`` (the release as handed out)."""
    name = request.param
    course = copy_course(tmp_path_factory.mktemp(f"course-{name}"))
    nbgrader(course, "generate_assignment", name, "--force")
    submit(course, name, "instructor", read_notebooks(course / "solutions" / name))
    submit(course, name, "untouched", read_notebooks(course / "assignments" / name))
    nbgrader(course, "autograde", name, "--force")
    return name, course


def test_committed_release_is_up_to_date(graded_course):
    name, course = graded_course
    generated, committed = course / "assignments" / name, REPO / "assignments" / name
    assert committed.is_dir(), (f"assignments/{name} is missing: run "
                                f"`python -m dcteach.nbgrading generate {name}` and commit it")
    files = sorted(p.relative_to(generated) for p in generated.rglob("*") if p.is_file())
    committed_files = sorted(p.relative_to(committed) for p in committed.rglob("*")
                             if p.is_file() and ".ipynb_checkpoints" not in p.parts)
    assert files == committed_files
    for rel in files:
        if rel.suffix == ".ipynb":
            new = normalise_release(nbformat.read(generated / rel, as_version=4))
            old = normalise_release(nbformat.read(committed / rel, as_version=4))
            assert new == old, (f"assignments/{name}/{rel} is stale: run `python -m "
                                f"dcteach.nbgrading generate {name}` and commit the result")
        else:
            assert (generated / rel).read_bytes() == (committed / rel).read_bytes(), rel


def test_release_hides_solutions_and_hidden_tests(graded_course):
    name, course = graded_course
    release = read_notebooks(REPO / "assignments" / name)
    assert release, f"assignments/{name} has no notebooks"
    for nb_name, nb in read_notebooks(course / "solutions" / name).items():
        text = "\n".join(c.source for c in release[nb_name].cells)
        for marker in MARKERS:
            assert marker not in text, f"{nb_name}: '{marker}' leaked into the release"
        for cell in nb.cells:
            for block in HIDDEN.findall(cell.source):
                body = block.split("\n", 1)[1].rsplit("\n", 1)[0].strip()
                if body:
                    assert body not in text, f"{nb_name}: hidden tests leaked into the release"
        for cell in release[nb_name].cells:
            assert not cell.get("outputs"), f"{nb_name}: release has outputs"


def test_grade_ids_unique_and_points_positive(graded_course):
    name, course = graded_course
    for nb_name, nb in read_notebooks(course / "solutions" / name).items():
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
        assert len(ids) == len(set(ids)), f"{nb_name}: duplicate grade_id"
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade"):
                assert meta.get("points", 0) > 0, f"{nb_name}:{meta['grade_id']} has no points"


def test_solution_gets_full_marks(graded_course):
    name, course = graded_course
    result = grades(course, name, "instructor")
    assert result, "the solution was not graded"
    auto = {k: g for k, g in result.items() if g["cell_type"] == "code"}
    assert auto, "no autograded test cells"
    lost = {k: (g["score"], g["max_score"]) for k, g in auto.items()
            if g["score"] != g["max_score"]}
    assert not lost, f"the instructor solution loses marks: {lost}"
    for key, g in result.items():
        if g["cell_type"] == "markdown":  # written answers are graded by hand
            assert g["needs_manual_grade"], key


def test_untouched_release_gets_zero(graded_course):
    name, course = graded_course
    result = grades(course, name, "untouched")
    assert result, "the untouched release was not graded"
    scored = {k: g["score"] for k, g in result.items() if g["score"]}
    assert not scored, f"an untouched template earns marks: {scored}"


# ------------------------------------------------------------------ assignment 01 only
A01 = "01_clustering_basics"
A01_NB = f"{A01}.ipynb"


def _with_solution(nb, grade_id: str, source: str):
    nb = nbformat.from_dict(nb)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    cell.source = source
    return nb


@pytest.fixture(scope="module")
def broken_submissions(tmp_path_factory):
    if A01 not in ASSIGNMENTS:
        pytest.skip(f"{A01} is not in solutions/")
    course = copy_course(tmp_path_factory.mktemp("course-broken"))
    nbgrader(course, "generate_assignment", A01, "--force")
    solution = nbformat.read(course / "solutions" / A01 / A01_NB, as_version=4)
    loop = _with_solution(solution, "nmi-solution",
                          "def nmi(y_true, y_pred):\n    while True:\n        pass")
    syntax = _with_solution(solution, "acc-solution",
                            "def cluster_accuracy(y_true, y_pred)\n    return 1.0")
    cheat = _with_solution(solution, "acc-solution",
                           "from dcteach.metrics import cluster_accuracy")
    cheat = _with_solution(cheat, "nmi-solution",
                           "from sklearn.metrics import normalized_mutual_info_score\n\n"
                           "def nmi(y_true, y_pred):\n"
                           "    return float(normalized_mutual_info_score(y_true, y_pred))")
    cheat = _with_solution(cheat, "kmeans-solution",
                           "import dcteach.cluster as dcc\n\n"
                           "def kmeans(X, k, n_iter=100, seed=0):\n"
                           "    km = dcc.KMeans(k, random_state=seed).fit(X)\n"
                           "    return km.labels_, km.cluster_centers_.astype(float)")
    # "a_..." sorts first: the loop must not stop the students graded after it
    for student, nb in [("a_loop", loop), ("b_syntax", syntax), ("c_cheat", cheat)]:
        submit(course, A01, student, {A01_NB: nb})
    nbgrader(course, "autograde", A01, "--force", "--Execute.timeout=30")
    return course


def _scores(course, student, assignment=None):
    """Points per autograded cell (grade id → score) of ``student``'s submission."""
    return {k.split(":", 1)[1]: g["score"]
            for k, g in grades(course, assignment or A01, student).items()
            if g["cell_type"] == "code"}


FULL = {"contingency-tests": 1, "acc-tests": 2, "nmi-tests": 3, "kmeanspp-tests": 2,
        "kmeans-tests": 3, "spectral-tests": 3, "spectral-clustering-tests": 2}


def test_infinite_loop_costs_only_that_part(broken_submissions):
    assert _scores(broken_submissions, "a_loop") == {**FULL, "nmi-tests": 0}


def test_syntax_error_costs_only_that_part(broken_submissions):
    assert _scores(broken_submissions, "b_syntax") == {**FULL, "acc-tests": 0}


def test_calling_the_reference_library_earns_nothing(broken_submissions):
    # ACC from dcteach.metrics, NMI from sklearn.metrics, k-means from dcteach.cluster (and
    # hence the spectral clustering built on it) score zero; the honest parts keep their marks.
    expected = {**FULL, "acc-tests": 0, "nmi-tests": 0, "kmeans-tests": 0,
                "spectral-clustering-tests": 0}
    assert _scores(broken_submissions, "c_cheat") == expected


# ------------------------------------------------------------------ assignment 02: the guard
A02 = "02_autoencoders_dec"
A02_NB = f"{A02}.ipynb"
FULL_02 = {"soft-assignment-tests": 2, "target-tests": 2, "loss-tests": 1, "step-tests": 2,
           "fit-tests": 5}


@pytest.fixture(scope="module")
def dec_shortcuts(tmp_path_factory):
    """Two dec_fit shortcuts: the library's DEC, and the library's DEC target inside an
    otherwise hand-written loop. The guard allows the library's autoencoder pretraining (which
    uses the shared reconstruction loss) and nothing of the reference DEC."""
    if A02 not in ASSIGNMENTS:
        pytest.skip(f"{A02} is not in solutions/")
    course = copy_course(tmp_path_factory.mktemp("course-02-shortcuts"))
    nbgrader(course, "generate_assignment", A02, "--force")
    solution = nbformat.read(course / "solutions" / A02 / A02_NB, as_version=4)
    fit = next(c for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == "fit-solution").source
    library_dec = _with_solution(solution, "fit-solution",
                                 "from dcteach.methods import get_method\n\n"
                                 "def dec_fit(X, n_clusters, seed=0):\n"
                                 "    return get_method('dec')(n_clusters=n_clusters, seed=seed,"
                                 " verbose=False).fit_predict(X)")
    library_target = _with_solution(
        solution, "fit-solution",
        "from dcteach.losses import target_distribution as library_target\n"
        + fit.replace("p = target_distribution(q)", "p = library_target(q)"))
    for student, nb in [("a_library_dec", library_dec), ("b_library_target", library_target)]:
        submit(course, A02, student, {A02_NB: nb})
    nbgrader(course, "autograde", A02, "--force")
    return course


@pytest.mark.parametrize("student", ["a_library_dec", "b_library_target"])
def test_reference_dec_in_dec_fit_costs_only_that_part(dec_shortcuts, student):
    assert _scores(dec_shortcuts, student, A02) == {**FULL_02, "fit-tests": 0}


# ------------------------------------------------------------------ assignment 04: mutants
A04 = "04_contrastive"
A04_NB = f"{A04}.ipynb"
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


def _mutate(nb, grade_id: str, old: str, new: str):
    """``nb`` with ``old`` replaced by ``new`` in the source of cell ``grade_id``."""
    source = next(c for c in nb.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id).source
    assert old in source, f"{grade_id}: {old!r} not in the solution (update the mutant)"
    return _with_solution(nb, grade_id, source.replace(old, new))


@pytest.fixture(scope="module")
def cc_mutants(tmp_path_factory):
    """Assignment 04 submissions with one bug per part, graded in one autograde run.

    a: self-similarity left in NT-Xent's denominator, cluster loss on the rows, contrast op as a
       loop over images; cc_fit correct (it must keep its marks: Part 4 is graded with the
       reference losses). b: NT-Xent with one view as anchor, entropy term log K + H, one shared
       contrast factor, cc_fit = k-means on pixels. c: entropy term −(log K − H), cc_fit = the
       library's CC. d: a correct cc_fit that uses the library's losses. e: cc_fit = UMAP +
       k-means on pixels."""
    if A04 not in ASSIGNMENTS:
        pytest.skip(f"{A04} is not in solutions/")
    course = copy_course(tmp_path_factory.mktemp("course-04-mutants"))
    nbgrader(course, "generate_assignment", A04, "--force")
    solution = nbformat.read(course / "solutions" / A04 / A04_NB, as_version=4)
    mask = ('    sim = sim.masked_fill(torch.eye(2 * m, dtype=torch.bool, device=u.device), '
            'float("-inf"))\n')
    columns = "nt_xent(p1.T, p2.T, temperature)"
    gap = "return math.log(k) + (mean * torch.log(mean.clamp_min(1e-12))).sum()"
    draw = "torch.rand(x.shape[0], generator=generator)"

    a = _mutate(solution, "nt-xent-solution", mask, "")
    a = _mutate(a, "cluster-loss-solution", columns, "nt_xent(p1, p2, temperature)")
    a = _mutate(a, "contrast-solution", "\n\ndef random_contrast", LOOP_CONTRAST
                + "\n\ndef random_contrast")
    b = _mutate(solution, "nt-xent-solution", "F.cross_entropy(sim, positive)",
                "F.cross_entropy(sim[:m], positive[:m])")
    b = _mutate(b, "cluster-loss-solution", gap, gap.replace("log(k) + (", "log(k) - ("))
    b = _mutate(b, "contrast-solution", draw,
                "torch.rand(1, generator=generator).expand(x.shape[0])")
    b = _with_solution(b, "fit-solution", KMEANS_FIT)
    c = _mutate(solution, "cluster-loss-solution", gap, f"return -({gap[len('return '):]})")
    c = _with_solution(c, "fit-solution", LIBRARY_CC_FIT)
    d = _mutate(solution, "fit-solution", "def cc_fit(",
                "from dcteach.losses import cluster_contrastive_loss\n\n\ndef cc_fit(")
    d = _mutate(d, "fit-solution", "cc_cluster_loss(p[:m], p[m:], 1.0)",
                "cluster_contrastive_loss(p[:m], p[m:], 1.0)[0]")
    e = _with_solution(solution, "fit-solution", UMAP_FIT)
    for student, nb in [("a_parts", a), ("b_bugs_kmeans", b), ("c_library_cc", c),
                        ("d_library_loss", d), ("e_umap", e)]:
        submit(course, A04, student, {A04_NB: nb})
    nbgrader(course, "autograde", A04, "--force")
    return course


@pytest.mark.parametrize("student, lost", [
    ("a_parts", ("nt-xent-tests", "cluster-loss-tests", "contrast-tests")),
    ("b_bugs_kmeans", ("nt-xent-tests", "cluster-loss-tests", "contrast-tests", "fit-tests")),
    ("c_library_cc", ("cluster-loss-tests", "fit-tests")),
    ("d_library_loss", ("fit-tests",)),
    ("e_umap", ("fit-tests",)),
])
def test_04_each_bug_costs_only_its_part(cc_mutants, student, lost):
    assert _scores(cc_mutants, student, A04) == {**FULL_04, **dict.fromkeys(lost, 0)}


# ------------------------------------------------------------------ assignment 06: mutants
A06 = "06_scan"
A06_NB = f"{A06}.ipynb"
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


@pytest.fixture(scope="module")
def scan_mutants(tmp_path_factory):
    """Assignment 06 submissions, graded in one autograde run.

    a: SCAN loss with +λH instead of −λH (Part 4 must keep its marks: it is graded with the
    reference loss). b: class weights all 1 in self-labelling, and mine_neighbours that keeps
    the sample itself (Part 4 is graded with the reference miner). c: train_scan_heads that
    draws the "neighbour" of an anchor from the whole data set. d: k-means with ten restarts
    instead of SCAN. e: a correct train_scan_heads that uses the library's scan_loss."""
    if A06 not in ASSIGNMENTS:
        pytest.skip(f"{A06} is not in solutions/")
    course = copy_course(tmp_path_factory.mktemp("course-06-mutants"))
    nbgrader(course, "generate_assignment", A06, "--force")
    solution = nbformat.read(course / "solutions" / A06 / A06_NB, as_version=4)
    total = "return consistency - entropy_weight * entropy"
    weights = ("return torch.where(counts > 0, counts.sum() / (n_classes * counts.clamp_min(1)),\n"
               "                       torch.zeros_like(counts))")
    own = '        sim[rows, rows + start] = -float("inf")  # the sample itself, by index\n'
    draw = "nbrs[anchors, torch.randint(0, k, (len(anchors),), generator=gen)]"
    loss = "scan_loss(p[h, :m], p[h, m:], entropy_weight)[0]"

    a = _mutate(solution, "scan-loss-solution", total, total.replace(" - ", " + "))
    b = _mutate(solution, "selflabel-solution", weights, "return torch.ones(n_classes)")
    b = _mutate(b, "mining-solution", own, "")
    c = _mutate(solution, "fit-solution", draw,
                "torch.randint(0, n, (len(anchors),), generator=gen)")
    d = _with_solution(solution, "fit-solution", KMEANS_HEADS)
    e = _mutate(solution, "fit-solution", "def train_scan_heads(",
                "from dcteach.losses import scan_loss as library_scan_loss\n\n\n"
                "def train_scan_heads(")
    e = _mutate(e, "fit-solution", loss, f"library_{loss}")
    for student, nb in [("a_entropy_sign", a), ("b_no_balance", b), ("c_whole_data", c),
                        ("d_kmeans", d), ("e_library_loss", e)]:
        submit(course, A06, student, {A06_NB: nb})
    nbgrader(course, "autograde", A06, "--force")
    return course


@pytest.mark.parametrize("student, lost", [
    ("a_entropy_sign", ("scan-loss-tests",)),
    ("b_no_balance", ("mining-tests", "selflabel-tests")),
    ("c_whole_data", ("fit-tests",)),
    ("d_kmeans", ("fit-tests",)),
    ("e_library_loss", ("fit-tests",)),
])
def test_06_each_bug_costs_only_its_part(scan_mutants, student, lost):
    assert _scores(scan_mutants, student, A06) == {**FULL_06, **dict.fromkeys(lost, 0)}


# ------------------------------------------------------------------ assignment 03: mutants
A03 = "03_deepcluster"
A03_NB = f"{A03}.ipynb"
FULL_03 = {"pca-tests": 3, "sampler-tests": 3, "empty-tests": 3, "epoch-tests": 2}

# Part 2 uniform over the images instead of over the pseudo-classes (sizes ∝ cluster sizes)
PROPORTIONAL_SAMPLER = '''def uniform_sampler(labels, n, rng=None):
    labels = torch.as_tensor(np.asarray(labels))
    return torch.randint(len(labels), (int(n),), generator=rng)
'''
# Parts 1-3 answered with the library's reference code (each would pass its tests otherwise)
LIBRARY_PCA = '''from dcteach.cluster import PCAWhitening


def pca_whiten(features, n_components, normalize=True):
    z = PCAWhitening(n_components).fit_transform(torch.as_tensor(np.asarray(features)))
    return F.normalize(z, dim=1) if normalize else z
'''
LIBRARY_SAMPLER = '''from dcteach.train import class_uniform_indices


def uniform_sampler(labels, n, rng=None):
    return class_uniform_indices(torch.as_tensor(np.asarray(labels)), n, rng)
'''
LIBRARY_FIX = '''from dcteach.cluster import split_empty_clusters


def fix_empty_clusters(features, labels, centers, rng, eps=1e-4):
    return split_empty_clusters(torch.as_tensor(features), labels, centers, rng, eps)
'''


@pytest.fixture(scope="module")
def dc_mutants(tmp_path_factory):
    """Assignment 03 submissions, graded in one autograde run. Part 4 is graded with the
    reference Parts 1-3, so none of a-d may cost it.

    a: PCA whitening without centring. b: a sampler uniform over the images (each pseudo-class
    drawn in proportion to its size). c: an empty-cluster fix that moves the centre but no
    point, so the cluster stays empty. d: Parts 1-3 answered with the library's PCAWhitening,
    class_uniform_indices and split_empty_clusters. e: an epoch whose k-means runs on whitened
    features that are not L2-normalised."""
    if A03 not in ASSIGNMENTS:
        pytest.skip(f"{A03} is not in solutions/")
    course = copy_course(tmp_path_factory.mktemp("course-03-mutants"))
    nbgrader(course, "generate_assignment", A03, "--force")
    solution = nbformat.read(course / "solutions" / A03 / A03_NB, as_version=4)
    a = _mutate(solution, "pca-solution", "xc = x - x.mean(0)", "xc = x")
    b = _with_solution(solution, "sampler-solution", PROPORTIONAL_SAMPLER)
    c = _mutate(solution, "empty-solution", "        labels[members[to_e]] = e\n", "")
    d = _with_solution(solution, "pca-solution", LIBRARY_PCA)
    d = _with_solution(d, "sampler-solution", LIBRARY_SAMPLER)
    d = _with_solution(d, "empty-solution", LIBRARY_FIX)
    e = _mutate(solution, "epoch-solution", "z = pca_whiten(features, n_components)",
                "z = pca_whiten(features, n_components, normalize=False)")
    for student, nb in [("a_no_centring", a), ("b_proportional", b), ("c_empty_stays", c),
                        ("d_library", d), ("e_no_l2", e)]:
        submit(course, A03, student, {A03_NB: nb})
    nbgrader(course, "autograde", A03, "--force")
    return course


@pytest.mark.parametrize("student, lost", [
    ("a_no_centring", ("pca-tests",)),
    ("b_proportional", ("sampler-tests",)),
    ("c_empty_stays", ("empty-tests",)),
    ("d_library", ("pca-tests", "sampler-tests", "empty-tests")),
    ("e_no_l2", ("epoch-tests",)),
])
def test_03_each_bug_costs_only_its_part(dc_mutants, student, lost):
    assert _scores(dc_mutants, student, A03) == {**FULL_03, **dict.fromkeys(lost, 0)}


# ------------------------------------------------------------------ assignment 05: mutants
A05 = "05_idfd"
A05_NB = f"{A05}.ipynb"
FULL_05 = {"id-tests": 3, "update-tests": 3, "fd-tests": 3, "step-tests": 2}

# Part 1 as on the slides: the softmax over the batch, the batch's own features as classes
BATCH_ID_LOSS = '''def id_loss(v, bank, idx, tau=1.0):
    return F.cross_entropy(v @ v.T / tau, torch.arange(len(v)))
'''
# Part 1 over the batch's own memory-bank entries only (m classes instead of N)
BATCH_ENTRIES_ID_LOSS = '''def id_loss(v, bank, idx, tau=1.0):
    return F.cross_entropy(v @ bank.detach()[idx].T / tau, torch.arange(len(v)))
'''
# Parts 1-3 answered with the library's reference code
LIBRARY_ID_LOSS = '''from dcteach.losses import instance_discrimination_loss


def id_loss(v, bank, idx, tau=1.0):
    return instance_discrimination_loss(v, bank, idx, tau)
'''
LIBRARY_UPDATE = '''from dcteach.nn import MemoryBank


def update_bank(bank, idx, v, momentum=0.5):
    memory = MemoryBank(len(bank), bank.shape[1], momentum)
    memory.vectors = bank.detach().clone()
    memory.update(idx, v)
    return memory.vectors
'''
LIBRARY_FD_LOSS = '''import dcteach.losses as reference


def fd_loss(v, tau2=2.0):
    return reference.feature_decorrelation_loss(v, tau2)
'''
# Part 2 in place: right values, but the caller's bank is overwritten
IN_PLACE_UPDATE = '''def update_bank(bank, idx, v, momentum=0.5):
    with torch.no_grad():
        bank[idx] = F.normalize(momentum * bank[idx] + (1 - momentum) * v, dim=1)
    return bank
'''
STEP_SIGNATURE = ("def idfd_step(model, optimizer, x, idx, bank, tau=1.0, tau2=2.0, alpha=1.0,\n"
                  "              momentum=0.5):\n")
# Part 4 that updates the bank first and scores the batch against the updated bank
BANK_FIRST_STEP = STEP_SIGNATURE + '''    v = F.normalize(model(x), dim=1)
    new_bank = update_bank(bank, idx, v, momentum)
    l_id = id_loss(v, new_bank, idx, tau)
    l_fd = fd_loss(v, tau2)
    optimizer.zero_grad()
    (l_id + alpha * l_fd).backward()
    optimizer.step()
    return new_bank, {"id": l_id.item(), "fd": l_fd.item()}
'''
# Part 4 that updates the bank with features from a second forward pass, after the step
SECOND_FORWARD_STEP = STEP_SIGNATURE + '''    v = F.normalize(model(x), dim=1)
    l_id = id_loss(v, bank, idx, tau)
    l_fd = fd_loss(v, tau2)
    optimizer.zero_grad()
    (l_id + alpha * l_fd).backward()
    optimizer.step()
    with torch.no_grad():
        v_after = F.normalize(model(x), dim=1)
    return update_bank(bank, idx, v_after, momentum), {"id": l_id.item(), "fd": l_fd.item()}
'''


@pytest.fixture(scope="module")
def idfd_mutants(tmp_path_factory):
    """Assignment 05 submissions, graded in one autograde run. Part 4 is graded with the
    reference Parts 1-3, so no bug in them may cost it.

    a: FD with the rows normalised instead of the columns. b: a bank update without the
    re-normalisation. c: ID with the softmax over the batch (the slides' version). d: Parts 1-3
    answered with the library's instance_discrimination_loss, MemoryBank and
    feature_decorrelation_loss. e: a step that never L2-normalises the features. f: a step that
    updates the bank before scoring the batch against it. g: a step that updates the bank with
    the features of a second forward pass after the optimiser step. h: three more bugs, one per
    part: ID over the batch's own bank entries, the momentum weights swapped, FD summed over the
    features. i: a bank update in place (right values, the caller's bank overwritten).
    j: harmless variations that must keep full marks: ID that normalises v again, FD with
    F.normalize, a step that adds the losses in the other order."""
    if A05 not in ASSIGNMENTS:
        pytest.skip(f"{A05} is not in solutions/")
    course = copy_course(tmp_path_factory.mktemp("course-05-mutants"))
    nbgrader(course, "generate_assignment", A05, "--force")
    solution = nbformat.read(course / "solutions" / A05 / A05_NB, as_version=4)
    cols = "v.norm(dim=0, keepdim=True)"
    renorm = "new[idx] = mixed / mixed.norm(dim=1, keepdim=True).clamp_min(1e-12)"
    mix = "momentum * new[idx] + (1 - momentum) * v.detach()"
    target = "torch.arange(gram.shape[0], device=v.device))"
    normalise = "v = F.normalize(model(x), dim=1)"
    total = "(l_id + alpha * l_fd).backward()"

    a = _mutate(solution, "fd-solution", cols, "v.norm(dim=1, keepdim=True)")
    b = _mutate(solution, "update-solution", renorm, "new[idx] = mixed")
    c = _with_solution(solution, "id-solution", BATCH_ID_LOSS)
    d = _with_solution(solution, "id-solution", LIBRARY_ID_LOSS)
    d = _with_solution(d, "update-solution", LIBRARY_UPDATE)
    d = _with_solution(d, "fd-solution", LIBRARY_FD_LOSS)
    e = _mutate(solution, "step-solution", normalise, "v = model(x)")
    f = _with_solution(solution, "step-solution", BANK_FIRST_STEP)
    g = _with_solution(solution, "step-solution", SECOND_FORWARD_STEP)
    h = _with_solution(solution, "id-solution", BATCH_ENTRIES_ID_LOSS)
    h = _mutate(h, "update-solution", mix, "(1 - momentum) * new[idx] + momentum * v.detach()")
    h = _mutate(h, "fd-solution", target, target[:-1] + ', reduction="sum")')
    i = _with_solution(solution, "update-solution", IN_PLACE_UPDATE)
    j = _mutate(solution, "id-solution", "    logits = v @", "    v = F.normalize(v, dim=1)\n"
                "    logits = v @")
    j = _mutate(j, "fd-solution", f"f = v / {cols}.clamp_min(1e-12)", "f = F.normalize(v, dim=0)")
    j = _mutate(j, "step-solution", total, "(alpha * l_fd + l_id).backward()")
    for student, nb in [("a_fd_rows", a), ("b_no_renorm", b), ("c_batch_softmax", c),
                        ("d_library", d), ("e_raw_features", e), ("f_bank_first", f),
                        ("g_second_forward", g), ("h_three_bugs", h), ("i_in_place", i),
                        ("j_harmless", j)]:
        submit(course, A05, student, {A05_NB: nb})
    nbgrader(course, "autograde", A05, "--force")
    return course


@pytest.mark.parametrize("student, lost", [
    ("a_fd_rows", ("fd-tests",)),
    ("b_no_renorm", ("update-tests",)),
    ("c_batch_softmax", ("id-tests",)),
    ("d_library", ("id-tests", "update-tests", "fd-tests")),
    ("e_raw_features", ("step-tests",)),
    ("f_bank_first", ("step-tests",)),
    ("g_second_forward", ("step-tests",)),
    ("h_three_bugs", ("id-tests", "update-tests", "fd-tests")),
    ("i_in_place", ("update-tests",)),
    ("j_harmless", ()),
])
def test_05_each_bug_costs_only_its_part(idfd_mutants, student, lost):
    assert _scores(idfd_mutants, student, A05) == {**FULL_05, **dict.fromkeys(lost, 0)}


# ------------------------------------------------------------------ assignment 07: mutants
A07 = "07_pcl"
A07_NB = f"{A07}.ipynb"
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


@pytest.fixture(scope="module")
def pcl_mutants(tmp_path_factory):
    """Assignment 07 submissions, graded in one autograde run. Part 3 is graded with the
    reference Parts 1-2, so no bug in them may cost it.

    a: φ as the mean distance, without the log(Z + α) normaliser. b: ProtoNCE with the raw
    centroids as prototypes. c: φ not clipped to its 10th-90th percentiles. d: φ not rescaled
    to mean τ. e: clusters with ≤ 1 member left at φ = 0. f: such clusters given the mean φ.
    g: Parts 1-2 answered with the library's concentration and proto_nce. h: ProtoNCE with the
    queries not normalised. i: φ on the positive logit only. j: ProtoNCE summed over the batch.
    k: an E-step that computes φ with the normalised centroids. l: an E-step that runs k-means
    with the first granularity's K every time. m: harmless variations that must keep full
    marks: φ in numpy with np.percentile, F.normalize in ProtoNCE, the loss by logsumexp."""
    if A07 not in ASSIGNMENTS:
        pytest.skip(f"{A07} is not in solutions/")
    course = copy_course(tmp_path_factory.mktemp("course-07-mutants"))
    nbgrader(course, "generate_assignment", A07, "--force")
    solution = nbformat.read(course / "solutions" / A07 / A07_NB, as_version=4)
    p1, p2, p3 = "concentration-solution", "proto-solution", "estep-solution"
    normaliser = "phi = total / (count.clamp_min(1) * torch.log(count + alpha))"
    small = "phi[small] = phi[~small].max()"
    queries = "v = q / q.norm(dim=1, keepdim=True).clamp_min(1e-12)"
    prototypes = "prototypes = mu / mu.norm(dim=1, keepdim=True).clamp_min(1e-12)"
    loss = "    return F.cross_entropy(logits, labels.long())"
    phi_call = "phi = concentration(v, labels, centroids, alpha, temperature)"

    a = _mutate(solution, p1, normaliser, "phi = total / count.clamp_min(1)")
    b = _mutate(solution, p2, prototypes, "prototypes = mu")
    c = _mutate(solution, p1, "    phi = phi.clamp(low, high)\n", "")
    d = _mutate(solution, p1, "return (temperature * phi / phi.mean()).to(dtype)",
                "return phi.to(dtype)")
    e = _mutate(solution, p1, small, "phi[small] = 0.0")
    f = _mutate(solution, p1, small, "phi[small] = phi[~small].mean()")
    g = _with_solution(solution, p1, LIBRARY_CONCENTRATION)
    g = _with_solution(g, p2, LIBRARY_PROTO_NCE)
    h = _mutate(solution, p2, queries, "v = q")
    i = _with_solution(solution, p2, POSITIVE_ONLY_PROTO_NCE)
    j = _mutate(solution, p2, loss, loss[:-1] + ', reduction="sum")')
    k = _mutate(solution, p3, phi_call,
                phi_call.replace("centroids,", "F.normalize(centroids, dim=1),"))
    first_k = _mutate(solution, p3, "km = KMeans(k, n_init=1", "km = KMeans(ks[0], n_init=1")
    harmless = _with_solution(solution, p1, NUMPY_CONCENTRATION)
    harmless = _mutate(harmless, p2, queries, "v = F.normalize(q, dim=1)")
    harmless = _mutate(harmless, p2, prototypes, "prototypes = F.normalize(mu, dim=1)")
    harmless = _mutate(harmless, p2, loss,
                       "    own = logits.gather(1, labels.long()[:, None]).squeeze(1)\n"
                       "    return (torch.logsumexp(logits, 1) - own).mean()")
    for student, nb in [("a_phi_no_log", a), ("b_raw_prototypes", b), ("c_no_clip", c),
                        ("d_no_rescale", d), ("e_small_zero", e), ("f_small_mean", f),
                        ("g_library", g), ("h_raw_queries", h), ("i_phi_positive_only", i),
                        ("j_summed", j), ("k_unit_centroids_phi", k), ("l_first_k", first_k),
                        ("m_harmless", harmless)]:
        submit(course, A07, student, {A07_NB: nb})
    nbgrader(course, "autograde", A07, "--force")
    return course


@pytest.mark.parametrize("student, lost", [
    ("a_phi_no_log", ("concentration-tests",)),
    ("b_raw_prototypes", ("proto-tests",)),
    ("c_no_clip", ("concentration-tests",)),
    ("d_no_rescale", ("concentration-tests",)),
    ("e_small_zero", ("concentration-tests",)),
    ("f_small_mean", ("concentration-tests",)),
    ("g_library", ("concentration-tests", "proto-tests")),
    ("h_raw_queries", ("proto-tests",)),
    ("i_phi_positive_only", ("proto-tests",)),
    ("j_summed", ("proto-tests",)),
    ("k_unit_centroids_phi", ("estep-tests",)),
    ("l_first_k", ("estep-tests",)),
    ("m_harmless", ()),
])
def test_07_each_bug_costs_only_its_part(pcl_mutants, student, lost):
    assert _scores(pcl_mutants, student, A07) == {**FULL_07, **dict.fromkeys(lost, 0)}
