"""IDFD benchmark: the paper's three objectives (ID, IDFO, IDFD) side by side, over seeds.

    DCTEACH_DATA=../shared/data python benchmarks/bench_idfd.py             # MNIST-70k
    python benchmarks/bench_idfd.py --methods idfd:fast,temperature=0.5
    python benchmarks/bench_idfd.py --dataset cifar10 --methods idfd:fast,augment=idfd

Each method spec (``name[:preset][,key=value...]``) runs once per seed; the default specs are
the ``fast`` preset with ``variant`` = id, idfo and idfd — the same budget and settings, only
the constraint on the feature columns differs. Per row: ACC / NMI / ARI of the final k-means
on the memory bank, the weighted k-NN accuracy of the features on a 10,000-image memory (a
measurement of the representation only), the bank's effective rank after the last epoch
(exp of the entropy of its covariance spectrum; at most the feature dimension) and the wall
time.
"""

from __future__ import annotations

from _common import run_benchmark

DEFAULT = ["idfd:fast,variant=id", "idfd:fast,variant=idfo", "idfd:fast,variant=idfd"]

REFERENCE = {  # dataset: [(what, ACC, note)]
    "mnist": [("issue goal for IDFD", 95.0, "MNIST-70k, fast preset, ≤ 10 min on this CPU"),
              ("DEC (the kit, lecture 02)", 88.9, "autoencoder + DEC, 88 s on this CPU")],
    "cifar10": [("ID tuned (paper, 2,000 epochs)", 77.6, "CIFAR-10 train split"),
                ("IDFO (paper)", 82.8, "same table"),
                ("IDFD (paper)", 81.5, "same table; NMI 71.1, ARI 66.3")],
}


def extra(model, wall0) -> dict:
    """What a row adds to ACC / NMI / ARI and the seconds, from the method's log."""
    epochs = [r for r in model.history_ if r["phase"] == model.config_.variant]
    last = epochs[-1] if epochs else {}
    return {"knn": last.get("knn"), "rank": last.get("rank")}


COLUMNS = [("ACC", "acc", "pct"), ("NMI", "nmi", "pct"), ("ARI", "ari", "pct"),
           ("k-NN", "knn", "pct"), ("rank", "rank", ".1f"), ("seconds", "seconds", ".0f")]


def main() -> None:
    run_benchmark(__doc__, DEFAULT, extra, COLUMNS, REFERENCE)


if __name__ == "__main__":
    main()
