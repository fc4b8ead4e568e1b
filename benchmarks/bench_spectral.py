"""Spectral clustering vs k-means on non-convex 2-D sets, side by side (ARI, time).

    python benchmarks/bench_spectral.py [--n 1000] [--seeds 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.cluster import SpectralClustering as SkSpectral

from dcteach.cluster import KMeans, SpectralClustering
from dcteach.data import make_toy
from dcteach.metrics import ari


def main() -> None:
    warnings.filterwarnings("ignore", message="Graph is not fully connected")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    methods = {
        "k-means (dcteach)": lambda k, s: KMeans(k, n_init=10, random_state=s),
        "spectral kNN (dcteach)": lambda k, s: SpectralClustering(k, "knn", 10, random_state=s),
        "spectral kNN (sklearn)": lambda k, s: SkSpectral(
            k, affinity="nearest_neighbors", n_neighbors=10, random_state=s),
    }
    print(f"{'data set':<10}{'method':<26}{'ARI mean':>10}{'± std':>8}{'seconds':>9}")
    for name in ["moons", "circles", "blobs", "aniso"]:
        for label, make in methods.items():
            scores, secs = [], []
            for seed in range(args.seeds):
                data = make_toy(name, n=args.n, seed=seed)
                t0 = time.perf_counter()
                labels = make(data.n_clusters, seed).fit(data.x).labels_
                secs.append(time.perf_counter() - t0)
                scores.append(ari(data.y, labels))
            print(f"{name:<10}{label:<26}{np.mean(scores):>10.4f}{np.std(scores):>8.4f}"
                  f"{np.mean(secs):>9.2f}")


if __name__ == "__main__":
    main()
