"""DeepCluster benchmark: the method and its two remedies switched off, over seeds.

    DCTEACH_DATA=../shared/data python benchmarks/bench_deepcluster.py          # MNIST-70k
    python benchmarks/bench_deepcluster.py --methods deepcluster:fast,n_pseudo=10
    python benchmarks/bench_deepcluster.py --dataset cifar10 --methods deepcluster:fast

Each method spec (``name[:preset][,key=value...]``) runs once per seed; the default specs are
the ``fast`` preset, then the same with uniform sampling over pseudo-classes switched off
(``sampling=random``) and with the classifier kept across epochs (``reinit=False``) — the
ablations of the paper's two design choices. Per row: ACC / NMI / ARI of the final clustering
(k-means with K = classes), the last epoch's stability (NMI between consecutive epochs'
pseudo-labels), the largest pseudo-class's share, the weighted k-NN accuracy of the features
on a 10,000-image memory (a measurement of the representation only), and the wall time.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from _common import add_run_arguments, fit_over_seeds, machine_line, mean_std, report

from dcteach.data import load_dataset

DEFAULT = ["deepcluster:fast", "deepcluster:fast,sampling=random",
           "deepcluster:fast,reinit=False"]

REFERENCE = {  # dataset: [(what, ACC, note)]
    "mnist": [("AE + k-means (the issue's bar)", 80.0, "autoencoder family, lecture 02"),
              ("IIC (Ji et al. 2019)", 99.2, "MNIST, from scratch, long training")],
    "cifar10": [("DeepCluster as run by IIC", 37.4, "original code, k = 10"),
                ("IIC", 61.7, "same table (seed 000)")],
}


def run(dataset: str, specs: list[str], seeds: list[int], n_samples: int | None) -> list[dict]:
    data = load_dataset(dataset, n_samples=n_samples)
    print(f"# {dataset}: {len(data)} images {data.x.shape[1:]}, k={data.n_clusters}",
          flush=True)

    def extra(model, wall0) -> dict:
        epochs = [r for r in model.history_ if r["phase"] == "deepcluster"]
        last = epochs[-1] if epochs else {}
        return {"stability": last.get("stability_nmi"), "knn": last.get("knn"),
                "largest": max((r["largest_share"] for r in epochs), default=None)}

    def line(row) -> str:
        return (f"ACC {100 * row['acc']:5.1f} NMI {100 * row['nmi']:5.1f} ARI "
                f"{100 * row['ari']:5.1f}  k-NN {100 * (row['knn'] or 0):5.1f}  stability "
                f"{row['stability'] or 0:.3f}  largest {100 * (row['largest'] or 0):4.1f}%")

    return fit_over_seeds(dataset, data, specs, seeds, extra, line)


def table(rows: list[dict]) -> str:
    ms = mean_std
    lines = [f"{'method':40s}{'ACC':>12s}{'NMI':>12s}{'ARI':>12s}{'k-NN':>12s}"
             f"{'stability':>11s}{'largest %':>10s}{'seconds':>9s}"]
    for m in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == m]
        stab = np.mean([r["stability"] or 0 for r in sel])
        lines.append(f"{m:40s}{ms(sel, 'acc'):>12s}{ms(sel, 'nmi'):>12s}{ms(sel, 'ari'):>12s}"
                     f"{ms(sel, 'knn'):>12s}{stab:11.3f}{ms(sel, 'largest'):>10s}"
                     f"{np.mean([r['seconds'] for r in sel]):9.0f}")
    dataset = rows[0]["dataset"] if rows else ""
    for what, acc, note in REFERENCE.get(dataset, []):
        lines.append(f"{what + ' (ref)':40s}{acc:12.1f}   {note}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p, DEFAULT)
    args = p.parse_args()
    os.environ.setdefault("DCTEACH_QUIET", "1")
    print(machine_line())
    report(run(args.dataset, args.methods, args.seeds, args.n_samples), table, args.json)


if __name__ == "__main__":
    main()
