"""Autoencoder family: models, DEC/IDEC/DCN/AE+k-means on digits, resume, CLI."""

import json

import numpy as np
import pytest
import torch

from dcteach.cli import main
from dcteach.cluster import KMeans
from dcteach.data import load_dataset
from dcteach.methods import get_method
from dcteach.metrics import cluster_accuracy
from dcteach.nn import ClusteringLayer, ConvAutoencoder, MLPAutoencoder
from dcteach.pretext import pretrain_layerwise

TINY = dict(hidden=(64, 64, 128), pretrain_epochs=20, pretrain_batch_size=32, batch_size=32,
            kmeans_n_init=2)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny networks: one thread avoids thread-pool overhead on a shared CPU
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_autoencoder_shapes():
    ae = MLPAutoencoder(784)
    assert ae.dims == [784, 500, 500, 2000, 10]
    z, x_hat = ae(torch.rand(3, 1, 28, 28))
    assert z.shape == (3, 10) and x_hat.shape == (3, 1, 28, 28)
    for shape in [(1, 28, 28), (1, 8, 8), (3, 32, 32)]:
        conv = ConvAutoencoder(shape, latent_dim=5)
        z, x_hat = conv(torch.rand(2, *shape))
        assert z.shape == (2, 5) and x_hat.shape == (2, *shape)


def test_layerwise_pretraining_reduces_reconstruction_error(digits):
    x = torch.as_tensor(digits.flat[:300])
    ae = MLPAutoencoder(64, (32, 32, 64), 5)
    before = torch.mean((ae(x)[1] - x) ** 2).item()
    pretrain_layerwise(ae, x, epochs_per_layer=5, batch_size=32, optimizer="adam", lr=1e-3)
    assert torch.mean((ae(x)[1] - x) ** 2).item() < before


@pytest.mark.parametrize("name", ["ae-kmeans", "dec", "idec", "dcn"])
def test_methods_run_small(digits, name):
    sub = digits.subset(400, seed=0)
    opts = dict(TINY, max_iter=60, update_interval=20) if name in ("dec", "idec") else TINY
    if name == "dcn":
        opts = dict(TINY, epochs=2)
    if name == "ae-kmeans":
        opts = {k: v for k, v in TINY.items() if k != "batch_size"}
    m = get_method(name)(n_clusters=10, preset="quick", verbose=False, **opts)
    labels = m.fit_predict(sub.x, sub.y)
    assert labels.shape == (400,) and labels.min() >= 0 and labels.max() < 10
    assert m.transform(sub.x).shape == (400, 10)
    assert (m.predict(sub.x) == labels).mean() > 0.95
    assert cluster_accuracy(sub.y, labels) > 0.3  # chance: about 0.1


def test_conv_arch_runs(digits):
    sub = digits.subset(200, seed=0)
    m = get_method("dec")(n_clusters=10, preset="quick", verbose=False, arch="conv",
                          pretrain_epochs=2, max_iter=20, update_interval=10, kmeans_n_init=1)
    assert m.fit_predict(sub.x).shape == (200,)


def test_dec_improves_on_raw_kmeans_and_converges(digits):
    """Quick preset on the 1,797 digits: DEC beats k-means on pixels and stops by tol."""
    dec = get_method("dec")(n_clusters=10, preset="quick", verbose=False, seed=0)
    labels = dec.fit_predict(digits.x, digits.y)
    raw = KMeans(10, n_init=5, random_state=0).fit(digits.flat).labels_
    acc_dec, acc_raw = cluster_accuracy(digits.y, labels), cluster_accuracy(digits.y, raw)
    assert acc_dec > acc_raw, (acc_dec, acc_raw)
    changes = [r["changed"] for r in dec.history_ if r["phase"] == "cluster"]
    assert dec.converged_ or dec.n_iter_ == dec.config.max_iter
    assert changes[-1] < dec.config.tol or dec.n_iter_ == dec.config.max_iter
    assert max(changes[1:]) > changes[-1]
    # the soft assignments are a distribution over clusters and agree with the labels
    np.testing.assert_allclose(dec.q_.sum(1), 1.0, rtol=1e-5)


def test_resume_after_interruption(tmp_path, digits, monkeypatch):
    sub = digits.subset(300, seed=1)
    opts = dict(TINY, max_iter=80, update_interval=10, tol=0.0)
    ref = get_method("idec")(n_clusters=10, verbose=False, **opts).fit(sub.x)

    import dcteach.methods.dec as decmod

    calls = {"n": 0}
    real = decmod.target_distribution

    def crash_on_fourth(q):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("simulated kill")
        return real(q)

    monkeypatch.setattr(decmod, "target_distribution", crash_on_fourth)
    with pytest.raises(KeyboardInterrupt):
        get_method("idec")(n_clusters=10, verbose=False, out_dir=tmp_path, **opts).fit(sub.x)
    monkeypatch.setattr(decmod, "target_distribution", real)
    assert (tmp_path / "checkpoint_pretrain.pt").exists()
    assert (tmp_path / "checkpoint_cluster.pt").exists()

    resumed = get_method("idec")(n_clusters=10, verbose=False, out_dir=tmp_path, resume=True,
                                 **opts).fit(sub.x)
    rounds = [r["epoch"] for r in resumed.history_ if r["phase"] == "cluster"]
    assert rounds == list(range(8))  # 3 before the kill (from the log) + 5 after it
    # pretraining was finished before the kill: not repeated
    assert sum(r["phase"] == "pretrain" for r in resumed.history_) == opts["pretrain_epochs"]
    np.testing.assert_array_equal(resumed.labels_, ref.labels_)
    np.testing.assert_allclose(resumed.cluster_centers_, ref.cluster_centers_, rtol=1e-4,
                               atol=1e-5)


def test_cli_run_dec_json(tmp_path, capsys):
    out = tmp_path / "res.json"
    rc = main(["run", "dec", "--dataset", "digits", "--json", str(out), "--quiet",
               "--set", "pretrain_epochs=10", "--set", "max_iter=60", "--set", "kmeans_n_init=2"])
    assert rc == 0
    res = json.loads(out.read_text())
    for key in ("method", "dataset", "n", "n_clusters", "acc", "nmi", "ari", "seconds",
                "device", "seed", "config"):
        assert key in res
    assert res["method"] == "dec" and res["n"] == 1797 and res["config"]["preset"] == "quick"
    assert 0.3 < res["acc"] <= 1.0
    assert "dec / digits" in capsys.readouterr().out


def test_presets_exist():
    for name in ["ae-kmeans", "dec", "idec", "dcn"]:
        cls = get_method(name)
        assert {"quick", "fast", "paper"} <= set(cls.presets)
        cls(n_clusters=3, preset="paper")  # every preset builds a valid config
    paper = get_method("dec")(n_clusters=10, preset="paper").config
    assert (paper.pretrain, paper.dropout, paper.update_interval, paper.tol,
            paper.kmeans_n_init) == ("layerwise", 0.2, 140, 0.001, 20)
    assert get_method("idec")(n_clusters=10, preset="paper").config.gamma == 0.1


def test_augment_transforms_every_training_batch(digits, monkeypatch):
    """DEC-DA: with augment=True every pretraining and clustering mini-batch goes through
    random_affine with the data's image shape (and nothing else does)."""
    import dcteach.methods.autoencoder as aemod

    calls = []
    real = aemod.random_affine

    def spy(xb, shape, shift, rotation):
        calls.append((len(xb), tuple(shape), shift, rotation))
        return real(xb, shape, shift, rotation)

    monkeypatch.setattr(aemod, "random_affine", spy)
    sub = digits.subset(200, seed=0)
    opts = dict(TINY, pretrain_epochs=2, max_iter=40, update_interval=10, tol=0.0,
                augment=True, augment_shift=0.125, augment_rotation=5.0)
    m = get_method("idec")(n_clusters=10, preset="quick", verbose=False, **opts).fit(sub.x)
    pretrain_batches = 2 * -(-200 // 32)
    assert len(calls) == pretrain_batches + m.n_iter_
    assert {c[1:] for c in calls} == {((1, 8, 8), 0.125, 5.0)}
    assert sum(c[0] for c in calls[:pretrain_batches]) == 2 * 200


def test_augment_clustering_false_augments_pretraining_only(digits, monkeypatch):
    """augment_clustering=False (DCN's fast preset): shifted/rotated images in pretraining,
    clean ones in the clustering phase."""
    import dcteach.methods.autoencoder as aemod

    calls = []
    real = aemod.random_affine
    monkeypatch.setattr(aemod, "random_affine",
                        lambda xb, *a: calls.append(len(xb)) or real(xb, *a))
    sub = digits.subset(200, seed=0)
    opts = dict(TINY, pretrain_epochs=2, epochs=3, tol=0.0, augment=True,
                augment_clustering=False)
    get_method("dcn")(n_clusters=10, preset="quick", verbose=False, **opts).fit(sub.x)
    assert sum(calls) == 2 * 200
    assert get_method("dcn")(n_clusters=10, preset="fast").config.augment_clustering is False
    assert get_method("dec")(n_clusters=10, preset="fast").config.augment_clustering is True


def test_augment_on_flat_features_warns_and_is_switched_off():
    x = np.random.default_rng(0).random((50, 6)).astype(np.float32)
    m = get_method("dec")(n_clusters=2, preset="quick", verbose=False, augment=True,
                          pretrain_epochs=1, max_iter=10, update_interval=5)
    with pytest.warns(UserWarning, match="image inputs"):
        m.fit(x)
    assert m.config.augment is False and m.labels_.shape == (50,)


def test_clustering_layer_trains_a_copy_of_the_centres():
    # float32 arrays would share memory with torch.as_tensor: the caller's k-means centres
    # must stay where k-means put them while the layer's centres train
    centres = np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    layer = ClusteringLayer(centres)
    optimizer = torch.optim.SGD(layer.parameters(), lr=1.0)
    layer(torch.tensor([[0.2, 0.1], [0.9, 1.2]]))[:, 0].sum().backward()
    optimizer.step()
    assert not torch.equal(layer.centers.detach(), torch.from_numpy(centres))
    np.testing.assert_array_equal(centres, [[0.0, 0.0], [1.0, 1.0]])
