"""dcteach k-means (torch) vs scikit-learn KMeans, side by side in one run.

    DCTEACH_DATA=../shared/data python benchmarks/bench_kmeans.py [--n-init 10] [--repeats 1]

Clusters MNIST-70k raw pixels (train+test, 784-d in [0,1]) with both implementations at
the same settings (k=10, k-means++, n_init, max_iter=300, tol=1e-4) and prints ACC/NMI/ARI,
inertia and wall time. Falls back to the embedded digits set when MNIST is missing.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from sklearn.cluster import KMeans as SkKMeans

from dcteach.cluster import KMeans
from dcteach.data import DatasetNotFound, load_dataset
from dcteach.metrics import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--n-init", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=1, help="seeds per implementation")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    try:
        data = load_dataset(args.dataset, split="all", download=False)
    except DatasetNotFound as err:
        print(f"{err}\n-> falling back to digits")
        data = load_dataset("digits")
    x = data.flat
    print(f"{data.name}: {x.shape}, k={data.n_clusters}, n_init={args.n_init}, "
          f"torch threads={torch.get_num_threads()}, cpu count={os.cpu_count()}, "
          f"{platform.processor() or platform.machine()}")
    rows = []
    for seed in range(args.repeats):
        for name, make in [
            ("scikit-learn KMeans", lambda s: SkKMeans(data.n_clusters, n_init=args.n_init,
                                                       random_state=s)),
            ("dcteach KMeans (torch)", lambda s: KMeans(data.n_clusters, n_init=args.n_init,
                                                         random_state=s, device=args.device)),
        ]:
            t0 = time.perf_counter()
            km = make(seed).fit(x)
            sec = time.perf_counter() - t0
            res = evaluate(data.y, km.labels_)
            rows.append((name, seed, res, float(km.inertia_), sec))
            print(f"  done: {name} seed {seed} in {sec:.1f}s", flush=True)
    print()
    print(f"{'implementation':<24}{'seed':>5}{'ACC':>8}{'NMI':>8}{'ARI':>8}"
          f"{'inertia':>14}{'seconds':>9}")
    for name, seed, r, inertia, sec in rows:
        print(f"{name:<24}{seed:>5}{r['acc']:>8.4f}{r['nmi']:>8.4f}{r['ari']:>8.4f}"
              f"{inertia:>14.1f}{sec:>9.1f}")
    for name in dict.fromkeys(r[0] for r in rows):
        sel = [r for r in rows if r[0] == name]
        accs = np.array([r[2]["acc"] for r in sel])
        secs = np.array([r[4] for r in sel])
        print(f"{name:<24} mean ACC {accs.mean():.4f} ± {accs.std():.4f}, "
              f"mean time {secs.mean():.1f}s")


if __name__ == "__main__":
    main()
