"""SCAN benchmark: every stage's accuracy and time, over seeds, next to the papers' numbers.

    DCTEACH_DATA=../shared/data python benchmarks/bench_scan.py               # MNIST-70k
    python benchmarks/bench_scan.py --methods scan-selflabel:fast scan-sl:fast,selflabel_epochs=2
    python benchmarks/bench_scan.py --dataset cifar10 --train-test            # SCAN's protocol

Each method spec (``name[:preset][,key=value...]``) runs once per seed. The pretext (SimCLR)
model is a cached artifact in a fresh cache folder per benchmark run: the first spec of a seed
trains it (its time is in that row's "pretext s"), the later specs of the same seed load it —
the structure-learning variant and plain SCAN then start from the *same* pretext, as the
comparison needs. Per row: neighbour accuracy of the mined k-NN (k = ``n_neighbours``, 20),
ACC / NMI / ARI after the SCAN step and after self-labelling, and the time of each stage.

``--train-test``: SCAN's protocol — train on the training split, report on the test split
(``predict``); otherwise the whole data set is clustered and scored (train+test merged).
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
from _common import add_run_arguments, fit_over_seeds, machine_line, mean_std, report

from dcteach.data import load_dataset

REFERENCE = {  # dataset: [(what, SCAN step, self-label, source)]
    "cifar10": [("SCAN paper (mean ± std)", 81.8, 87.6, "train → test, 500-ep pretext"),
                ("seed 004 reproduction", 80.4, 85.1, "same protocol"),
                ("seed 004 structure-learning", None, 86.5, "same protocol")],
    "mnist": [("issue's CPU probe, frozen features", 95.6, 95.8, "8 SimCLR epochs")],
}


def _stage_rows(history: list[dict], wall0: float) -> dict:
    """Times and scores per stage from a fitted method's log."""
    by = {r["phase"]: r for r in history}  # the last row of each phase
    mining, scan, final = by.get("mining", {}), by.get("scan-final", {}), by.get("final", {})
    t_mine = mining.get("time", wall0)
    t_scan = scan.get("time", t_mine)
    return {"neighbour_acc": mining.get("neighbour_accuracy"),
            "pretext_s": t_mine - wall0, "scan_s": t_scan - t_mine,
            "selflabel_s": final.get("time", t_scan) - t_scan if "selflabel" in by else 0.0,
            "scan_acc": scan.get("acc"), "scan_nmi": scan.get("nmi"), "scan_ari": scan.get("ari")}


def run(dataset: str, specs: list[str], seeds: list[int], n_samples: int | None,
        train_test: bool) -> list[dict]:
    if train_test:
        train, test = load_dataset(dataset, split="train"), load_dataset(dataset, split="test")
    else:
        train = test = load_dataset(dataset, n_samples=n_samples)
    print(f"# {dataset}: fit on {len(train)} images {train.x.shape[1:]}, scored on "
          f"{len(test)}, k={train.n_clusters}", flush=True)

    def extra(model, wall0) -> dict:
        stages = _stage_rows(model.history_, wall0)
        if test is not train:  # the SCAN-step scores are on the training data here
            stages.update(scan_acc=None, scan_nmi=None, scan_ari=None)
        return stages

    def line(row) -> str:
        return (f"nbr-acc {100 * (row['neighbour_acc'] or 0):5.1f}  SCAN "
                f"{100 * (row['scan_acc'] or 0):5.1f}  final ACC {100 * row['acc']:5.1f} NMI "
                f"{100 * row['nmi']:5.1f} ARI {100 * row['ari']:5.1f}  (pretext "
                f"{row['pretext_s']:.0f}, SCAN {row['scan_s']:.0f}, self-label "
                f"{row['selflabel_s']:.0f})")

    return fit_over_seeds(dataset, train, specs, seeds, extra, line, test=test)


def table(rows: list[dict]) -> str:
    ms = mean_std
    lines = [f"{'method':44s}{'nbr acc':>12s}{'SCAN ACC':>12s}{'ACC':>12s}{'NMI':>12s}"
             f"{'ARI':>12s}{'pretext s':>10s}{'SCAN s':>8s}{'self-l s':>9s}{'total s':>9s}"]
    for m in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == m]
        t = {k: np.mean([r[k] for r in sel]) for k in ("pretext_s", "scan_s", "selflabel_s",
                                                        "seconds")}
        lines.append(f"{m:44s}{ms(sel, 'neighbour_acc'):>12s}{ms(sel, 'scan_acc'):>12s}"
                     f"{ms(sel, 'acc'):>12s}{ms(sel, 'nmi'):>12s}{ms(sel, 'ari'):>12s}"
                     f"{t['pretext_s']:10.0f}{t['scan_s']:8.0f}{t['selflabel_s']:9.0f}"
                     f"{t['seconds']:9.0f}")
    dataset = rows[0]["dataset"] if rows else ""
    for what, scan, selflabel, note in REFERENCE.get(dataset, []):
        s = "-" if scan is None else f"{scan:.1f}"
        lines.append(f"{what + ' (ref)':44s}{'':>12s}{s:>12s}{selflabel:>12.1f}   {note}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p, ["scan-selflabel:fast", "scan-sl:fast,selflabel_epochs=2,"
                          "selflabel_batch_size=500"])
    p.add_argument("--train-test", action="store_true",
                   help="fit on the training split, score on the test split (SCAN's protocol)")
    args = p.parse_args()
    os.environ.setdefault("DCTEACH_QUIET", "1")
    print(machine_line())
    with tempfile.TemporaryDirectory() as cache:
        os.environ["DCTEACH_CACHE"] = cache  # pretext trained once per seed, in this run
        rows = run(args.dataset, args.methods, args.seeds, args.n_samples, args.train_test)
    report(rows, table, args.json)


if __name__ == "__main__":
    main()
