"""PCL benchmark: prototypical contrastive learning against InfoNCE alone (MoCo) on the same
budget, over seeds.

    DCTEACH_DATA=../shared/data python benchmarks/bench_pcl.py              # MNIST-70k
    python benchmarks/bench_pcl.py --methods pcl:fast,granularities=1
    python benchmarks/bench_pcl.py --dataset cifar10               # on a GPU: picked by itself

Each method spec (``name[:preset][,key=value...]``) runs once per seed; the default specs are
``moco:fast`` and ``pcl:fast`` — the same network, queue, augmentation, optimiser and number of
epochs; PCL replaces InfoNCE by ProtoNCE after its warm-up. Per row: ACC / NMI / ARI of the
final k-means on the momentum features, the weighted k-NN accuracy of the query network's
features on a 10,000-image memory (a measurement of the representation only), the E-step's
ACC at K = n_clusters in the last epoch (PCL only) and the wall time.
"""

from __future__ import annotations

from _common import run_benchmark

DEFAULT = ["moco:fast", "pcl:fast"]

REFERENCE = {  # dataset: [(what, ACC, note)]
    "mnist": [("issue goal for PCL", 95.0, "MNIST-70k, fast preset, ≤ 10 min on this CPU"),
              ("SCAN (the kit, lecture 06)", 96.3, "fast preset, this CPU"),
              ("DEC (the kit, lecture 02)", 88.9, "autoencoder + DEC, 88 s on this CPU")],
    "cifar10": [("PCL (ProPos' reproduction, 1,000 epochs)", 87.4, "CIFAR-10 train+test"),
                ("issue goal for PCL fast", 80.0, "≤ 10 min on one H100")],
}


def extra(model, wall0) -> dict:
    """What a row adds to ACC / NMI / ARI and the seconds, from the method's log."""
    epochs = [r for r in model.history_ if r["phase"] in ("moco", "pcl")]
    last = epochs[-1] if epochs else {}
    return {"knn": last.get("knn"), "estep": last.get("estep_acc")}


COLUMNS = [("ACC", "acc", "pct"), ("NMI", "nmi", "pct"), ("ARI", "ari", "pct"),
           ("k-NN", "knn", "pct"), ("E-step ACC", "estep", "pct"),
           ("seconds", "seconds", ".0f")]


def main() -> None:
    run_benchmark(__doc__, DEFAULT, extra, COLUMNS, REFERENCE)


if __name__ == "__main__":
    main()
