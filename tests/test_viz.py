import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from dcteach import viz  # noqa: E402
from dcteach.data import load_dataset  # noqa: E402


def test_confusion_plot_shows_aligned_matrix():
    ax = viz.plot_confusion([0, 0, 1, 1], [1, 1, 0, 0], normalize=False)
    shown = ax.images[0].get_array()
    assert np.array_equal(np.asarray(shown), np.array([[2, 0], [0, 2]]))
    assert "ACC 1.000" in ax.get_title()


def test_embedding_and_grid():
    d = load_dataset("digits", n_samples=200)
    pts, idx = viz.embed_2d(d.x, "pca", max_points=100)
    assert pts.shape == (100, 2) and len(idx) == 100
    fig = viz.plot_cluster_grid(d.x, d.y, n_per_cluster=3)
    assert len(fig.axes) == 30


def test_save_run_plots(tmp_path):
    hist = [{"phase": "p", "epoch": i, "loss": 1.0 / (i + 1), "acc": 0.5 + i / 10}
            for i in range(4)]
    files = viz.save_run_plots(tmp_path, [0, 1, 1], [1, 0, 0], hist)
    assert {f.name for f in files} == {"confusion.png", "history.png"}
