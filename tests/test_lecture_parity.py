"""Where a lecture re-derives a library algorithm for teaching, both must compute the same thing.

Lecture 02 writes DEC's clustering loop by hand (``dec_loop``); the library's ``DEC`` runs it
through the one step loop. From the same encoder, centres and mini-batch order they must
reach the same centres, encoder weights and labels.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from conftest import REPO

from dcteach.data import load_dataset
from dcteach.losses import dec_kl, soft_assignment, target_distribution
from dcteach.methods import get_method
from dcteach.metrics import evaluate


def lecture_function(notebook: str, name: str):
    """The source of top-level function ``name`` from the notebook's code cells."""
    nb = json.loads((REPO / "lectures" / notebook).read_text())
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and f"def {name}(" in src:
            lines = src[src.index(f"def {name}("):].splitlines()
            body = [lines[0]]
            for line in lines[1:]:
                if line and not line[0].isspace():
                    break
                body.append(line)
            return "\n".join(body)
    raise LookupError(f"{notebook} defines no function {name}")


@pytest.fixture
def same_batches(monkeypatch):
    """Both loops draw one ``torch.randperm`` per target refresh: serve both the same
    sequence of permutations from a private generator."""
    real = torch.randperm

    def reset():
        gen = torch.Generator().manual_seed(1234)
        monkeypatch.setattr(torch, "randperm",
                            lambda n, *args, device=None, **kw: real(n, generator=gen))

    return reset


def test_lecture_02_dec_loop_agrees_with_the_library(same_batches):
    data = load_dataset("digits", n_samples=300, seed=0)
    x_np, y, k = data.flat, data.y, 10
    rounds, T, batch, lr, tol = 6, 10, 64, 1e-3, 0.001
    # no pretraining: its batches would draw permutations too; the start is the seeded
    # random encoder and k-means on its embedding, the same for the library run and the copy
    common = dict(n_clusters=k, seed=0, verbose=False, device="cpu", pretrain_epochs=0,
                  hidden=(64, 32), amp=False, kmeans_n_init=2)
    start = get_method("ae-kmeans")(**common).fit(x_np)
    encoder0 = copy.deepcopy(start.autoencoder_.encoder)
    centers0 = start.cluster_centers_.copy()

    same_batches()
    dec = get_method("dec")(**common, optimizer="adam", lr=lr, batch_size=batch,
                            update_interval=T, max_iter=rounds * T, tol=tol).fit(x_np)
    np.testing.assert_allclose(dec.init_labels_, start.labels_)  # the same start

    namespace = {"copy": copy, "np": np, "torch": torch, "soft_assignment": soft_assignment,
                 "dec_kl": dec_kl, "evaluate": evaluate, "y": y}
    exec(lecture_function("02_autoencoders_dec.ipynb", "dec_loop"), namespace)
    same_batches()
    x = torch.as_tensor(x_np)
    encoder, mu, labels, log = namespace["dec_loop"](encoder0, centers0, x, target_distribution,
                                                     rounds=rounds, T=T, batch=batch, lr=lr,
                                                     tol=tol)
    np.testing.assert_allclose(mu.numpy(), dec.cluster_centers_, rtol=1e-4, atol=1e-5)
    for mine, theirs in zip(encoder.parameters(), dec.autoencoder_.encoder.parameters(),
                            strict=True):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-4,
                                   atol=1e-5)
    with torch.no_grad():
        lecture_labels = soft_assignment(encoder(x), mu).argmax(1).numpy()
    np.testing.assert_array_equal(lecture_labels, dec.labels_)
    assert len(log) == min(rounds, dec.n_iter_ // T + 1)  # the same number of refreshes
