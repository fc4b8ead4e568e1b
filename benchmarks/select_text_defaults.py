"""Choose the text methods' defaults without reading labels, and report what was chosen.

    DCTEACH_DATA=../shared/data python benchmarks/select_text_defaults.py
    python benchmarks/select_text_defaults.py --datasets stackoverflow --skip-sccl

Two rules, one per kind of choice:

* **Feature space of k-means** (``text-kmeans`` / ``text-kmeans-hybrid``: MiniLM or MiniLM ⊕ LSA,
  0 / 10 / 20 smoothing neighbours). Inertias in different spaces cannot be compared, so the
  rule is *subsample stability* (:func:`dcteach.metrics.subsample_stability`): k-means on two
  random 80 % subsamples, ARI on the shared rows, mean of ``--pairs`` pairs. Highest wins.
* **SCCL's encoder learning rate** (same objective, same data): the run whose final training
  loss is lowest wins — the optimiser that minimises SCCL's own objective best.

The labels are read only *after* the choice, to print what the choice was worth (the ACC
column); the rule never sees them. Each corpus reports its own pick; the default feature space is
the candidate with the highest stability averaged over the corpora, SCCL's the most frequent pick.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter

import numpy as np
import torch

from dcteach.cluster import KMeans
from dcteach.data import load_dataset
from dcteach.features import text_features
from dcteach.methods import get_method
from dcteach.methods.classical import clustered_space
from dcteach.metrics import cluster_accuracy, subsample_stability

SPACES = {  # name: (embedding, smooth_neighbours)
    "minilm": ("minilm", 0),
    "minilm, 10 nbrs": ("minilm", 10),
    "minilm, 20 nbrs": ("minilm", 20),
    "minilm+lsa": ("minilm+lsa", 0),
    "minilm+lsa, 10 nbrs": ("minilm+lsa", 10),
    "minilm+lsa, 20 nbrs": ("minilm+lsa", 20),
}
SCCL_CANDIDATES = {"encoder_lr=5e-5": {"encoder_lr": 5e-5}, "encoder_lr=3e-4": {"encoder_lr": 3e-4}}


def select_space(data, pairs: int, n_init: int) -> list[dict]:
    rows = []
    for name, (embedding, nbrs) in SPACES.items():
        t0 = time.perf_counter()
        z = clustered_space(text_features(data.x, embedding, verbose=False), nbrs)

        def kmeans_on(idx, z=z):
            return KMeans(data.n_clusters, n_init=n_init, random_state=int(idx[0])).fit(
                z[idx]).labels_

        score = subsample_stability(kmeans_on, len(z), n_pairs=pairs, seed=0)
        acc = cluster_accuracy(data.y, KMeans(data.n_clusters, n_init=n_init,
                                              random_state=0).fit(z).labels_)
        rows.append({"candidate": name, "stability": score, "acc": acc,
                     "seconds": time.perf_counter() - t0})
        print(f"  {name:22s} stability {score:.4f}   (ACC {100 * acc:5.1f})", flush=True)
    return rows


def select_sccl(data) -> list[dict]:
    rows = []
    for name, options in SCCL_CANDIDATES.items():
        t0 = time.perf_counter()
        model = get_method("sccl")(n_clusters=data.n_clusters, preset="fast", seed=0,
                                   verbose=False, **options).fit(data.x)
        loss = [r["loss"] for r in model.history_ if r["phase"] == "sccl"][-1]
        acc = cluster_accuracy(data.y, model.labels_)
        rows.append({"candidate": name, "final_loss": loss, "acc": acc,
                     "seconds": time.perf_counter() - t0})
        print(f"  {name:22s} final loss {loss:.4f}   (ACC {100 * acc:5.1f})", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["agnews", "searchsnippets", "stackoverflow"])
    p.add_argument("--pairs", type=int, default=3, help="subsample pairs per candidate")
    p.add_argument("--n-init", type=int, default=10, help="k-means restarts per fit")
    p.add_argument("--skip-sccl", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    picks: dict[str, dict[str, str]] = {"space": {}, "sccl": {}}
    record = {}
    for ds in args.datasets:
        data = load_dataset(ds)
        print(f"# {ds}: {len(data)} texts, k={data.n_clusters}", flush=True)
        rows = select_space(data, args.pairs, args.n_init)
        best = max(rows, key=lambda r: r["stability"])
        picks["space"][ds] = best["candidate"]
        record[ds] = {"space": rows}
        print(f"  -> k-means space: {best['candidate']}", flush=True)
        if not args.skip_sccl:
            rows = select_sccl(data)
            best = min(rows, key=lambda r: r["final_loss"])
            picks["sccl"][ds] = best["candidate"]
            record[ds]["sccl"] = rows
            print(f"  -> sccl: {best['candidate']}", flush=True)
    print("\nwhat the rules picked (labels not read):")
    for kind, per in picks.items():
        if per:
            print(f"  {kind:6s} " + ", ".join(f"{d}: {c}" for d, c in per.items()))
    if picks["space"]:  # one default for all corpora: the highest mean stability
        mean = {name: np.mean([next(r["stability"] for r in record[d]["space"]
                                    if r["candidate"] == name) for d in record])
                for name in SPACES}
        best = max(mean, key=mean.get)
        print("  mean stability over the corpora: "
              + ", ".join(f"{n}: {v:.3f}" for n, v in mean.items()))
        print(f"  -> default k-means space: {best}")
    if picks["sccl"]:
        print(f"  -> sccl default: {Counter(picks['sccl'].values()).most_common(1)[0][0]} "
              "(the pick of most corpora)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"picks": picks, "runs": record}, fh, indent=1, default=float)


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
