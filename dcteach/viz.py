"""Plots used by the lectures and by ``dcteach run --out``: aligned confusion matrices,
2-D embeddings (t-SNE / UMAP / PCA), image grids per cluster and training curves.

Every function draws on a given matplotlib ``ax`` (or makes one) and returns the axes, so
notebooks can compose figures; :func:`save_run_plots` writes the standard set for a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .metrics import aligned_confusion_matrix

__all__ = [
    "plot_confusion",
    "embed_2d",
    "plot_embedding",
    "plot_cluster_grid",
    "plot_history",
    "save_run_plots",
]


def _axes(ax, figsize=(5, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_confusion(y_true, y_pred, class_names: Sequence[str] | None = None, ax=None,
                   normalize: bool = True, title: str | None = None):
    """Confusion matrix with clusters reordered by the Hungarian mapping (diagonal = right)."""
    ax = _axes(ax, (5.5, 4.5))
    m, classes = aligned_confusion_matrix(y_true, y_pred)
    shown = m / np.maximum(m.sum(1, keepdims=True), 1) if normalize else m
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    names = [str(class_names[c]) if class_names is not None else str(c) for c in classes]
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xticks(range(m.shape[1]), [f"c→{n}" for n in names] + [
        "extra"] * (m.shape[1] - len(names)), rotation=90, fontsize=8)
    ax.set_ylabel("true class")
    ax.set_xlabel("cluster (mapped to class)")
    acc = np.trace(m[:, : len(classes)]) / m.sum()
    ax.set_title(title or f"aligned confusion matrix (ACC {acc:.3f})")
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    return ax


def embed_2d(x, method: str = "tsne", seed: int = 0, max_points: int | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """2-D embedding of ``x`` with t-SNE, UMAP (if installed) or PCA.

    Returns ``(points, index)``: ``index`` are the rows used (a subsample when
    ``max_points`` is smaller than ``len(x)``).
    """
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    idx = np.arange(len(x))
    if max_points is not None and len(x) > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
    x = x[idx]
    if x.shape[1] > 50 and method != "pca":  # the usual PCA step before t-SNE/UMAP
        from sklearn.decomposition import PCA

        x = PCA(50, random_state=seed).fit_transform(x)
    if method == "tsne":
        from sklearn.manifold import TSNE

        pts = TSNE(2, init="pca", random_state=seed, perplexity=min(30, len(x) - 1)
                   ).fit_transform(x)
    elif method == "umap":
        import umap

        pts = umap.UMAP(random_state=seed).fit_transform(x)
    elif method == "pca":
        from sklearn.decomposition import PCA

        pts = PCA(2, random_state=seed).fit_transform(x)
    else:
        raise ValueError(f"method must be 'tsne', 'umap' or 'pca', got {method!r}")
    return pts, idx


def plot_embedding(points, labels, ax=None, title: str = "", s: float = 3.0):
    """Scatter plot of 2-D points coloured by ``labels``."""
    ax = _axes(ax)
    labels = np.asarray(labels)
    cmap = "tab10" if labels.max() < 10 else "tab20"
    ax.scatter(points[:, 0], points[:, 1], c=labels, cmap=cmap, s=s, linewidths=0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    return ax


def plot_cluster_grid(images, labels, n_per_cluster: int = 8, seed: int = 0, fig=None,
                      title: str = "samples per cluster"):
    """One row of random sample images per cluster, labelled on the left with the cluster and
    its size; ``images`` is ``(n, C, H, W)``, floats in [0, 1] or uint8."""
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    labels = np.asarray(labels)
    clusters = np.unique(labels)
    rng = np.random.default_rng(seed)
    fig = fig or plt.figure(figsize=(1.2 + n_per_cluster * 0.8, 0.6 + len(clusters) * 0.85))
    axes = fig.subplots(len(clusters), n_per_cluster, squeeze=False)
    for r, c in enumerate(clusters):
        members = np.flatnonzero(labels == c)
        pick = rng.choice(members, min(n_per_cluster, len(members)), replace=False)
        for j in range(n_per_cluster):
            a = axes[r, j]
            a.axis("off")
            if j < len(pick):
                img = images[pick[j]]
                img = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
                a.imshow(img, cmap="gray" if img.ndim == 2 else None)
        axes[r, 0].text(-0.15, 0.5, f"{c}\n({len(members)})", fontsize=7, ha="right",
                        va="center", transform=axes[r, 0].transAxes)
    fig.suptitle(title)
    return fig


def plot_history(history: Sequence[dict], keys: Sequence[str] = ("loss", "acc"), ax=None,
                 phase: str | None = None):
    """Training curves from a method's ``history_`` (rows of the per-epoch log)."""
    ax = _axes(ax)
    rows = [h for h in history if phase is None or h.get("phase") == phase]
    for key in keys:
        pts = [(i, h[key]) for i, h in enumerate(rows) if isinstance(h.get(key), (int, float))]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker=".", label=key)
    ax.set_xlabel("logged step (epoch)")
    ax.legend()
    return ax


def save_run_plots(out_dir: str | Path, y_true, y_pred, history: Sequence[dict] = (),
                   class_names: Sequence[str] | None = None) -> list[Path]:
    """Write ``confusion.png`` and ``history.png`` (when there is one) into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if y_true is not None:
        ax = plot_confusion(y_true, y_pred, class_names)
        ax.figure.tight_layout()
        ax.figure.savefig(out / "confusion.png", dpi=110)
        plt.close(ax.figure)
        written.append(out / "confusion.png")
    numeric = {k for h in history for k, v in h.items()
               if isinstance(v, (int, float)) and k not in ("epoch", "time")}
    if len(history) > 1 and numeric:
        fig, axes = plt.subplots(1, len(numeric), figsize=(3.2 * len(numeric), 3), squeeze=False)
        for a, key in zip(axes[0], sorted(numeric), strict=True):
            plot_history(history, (key,), ax=a)
            a.set_title(key)
        fig.tight_layout()
        fig.savefig(out / "history.png", dpi=110)
        plt.close(fig)
        written.append(out / "history.png")
    return written
