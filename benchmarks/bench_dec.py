"""DEC / IDEC time-to-accuracy: dcteach's ``fast`` preset vs ClustPy, side by side.

    DCTEACH_DATA=../shared/data python benchmarks/bench_dec.py [--seeds 0 1 2] [--methods dec idec]
        [--threads 1] [--n-samples N] [--no-clustpy]

For each method and seed it runs ``dcteach`` (the same code path as
``dcteach run dec --dataset mnist --preset fast``), records its wall time, then runs ClustPy's
DEC/IDEC (``pip install clustpy``; not a dependency of dcteach) with its default network and
optimiser but with its epochs cut so that it gets about the same wall time. ClustPy's costs (per
epoch, and fixed per ``fit``) are the ones stored below, measured on the 2-core test machine;
on another machine pass ``--probe`` to measure them first (four short runs, about 3 minutes per
method; short runs are noisy, so check the seconds column of the table). One table shows
ACC/NMI/ARI and seconds, mean ± std over the seeds. ClustPy's full-default result (100
pretraining + 150 clustering epochs, 40–50 minutes on a quiet 2-core CPU) is not run here:
its time is *extrapolated* from those costs and labelled so.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from dcteach.data import load_dataset
from dcteach.methods import get_method
from dcteach.metrics import evaluate


def run_dcteach(method: str, x, y, seed: int, preset: str) -> dict:
    t0 = time.perf_counter()
    model = get_method(method)(n_clusters=10, preset=preset, seed=seed, verbose=False)
    labels = model.fit_predict(x, y)
    seconds = time.perf_counter() - t0
    start = [r for r in model.history_ if r["phase"] == "kmeans"]  # AE + k-means, before step 3
    return {"seconds": seconds, **evaluate(y, labels),
            "start_acc": start[-1]["acc"] if start else float("nan")}


def clustpy_model(method: str, pretrain_epochs: int, clustering_epochs: int, seed: int):
    from clustpy.deep import DEC, IDEC

    cls = {"dec": DEC, "idec": IDEC}[method]
    return cls(n_clusters=10, pretrain_epochs=pretrain_epochs,
               clustering_epochs=clustering_epochs, random_state=seed)


#: ClustPy on MNIST-70k, quiet 2-core CPU (the test machine, 2026-11-26): seconds per
#: pretraining epoch, per clustering epoch, and the fixed cost of one ``fit`` (tensor set-up,
#: k-means on the embedding, final prediction), fitted to full runs of 8+19 (238 s) and 3+7
#: (88 s) DEC epochs and 8+8 (203 s) IDEC epochs. Short runs can be far off (a probe from (1+1),
#: (2+1), (1+2) epochs gave 4.0 s per DEC clustering epoch). REFERENCES.md's 21 s / 10 s per
#: epoch were taken on a busier machine.
MEASURED_CLUSTPY_COST_S = {"dec": (9.3, 8.6, 0.0), "idec": (10.4, 12.2, 22.0)}


def probe_clustpy(method: str, x, seed: int) -> tuple[float, float, float]:
    """Seconds per pretraining epoch, per clustering epoch, and fixed seconds per ``fit`` of
    ClustPy, from four short runs: (1+1), (3+1), (1+4) and (3+4) epochs (least squares)."""
    def timed(pre, clu):
        t0 = time.perf_counter()
        clustpy_model(method, pre, clu, seed).fit(x)
        return time.perf_counter() - t0

    runs = [(1, 1), (3, 1), (1, 4), (3, 4)]
    a = np.array([[pre, clu, 1.0] for pre, clu in runs])
    t = np.array([timed(pre, clu) for pre, clu in runs])
    pre_s, clu_s, fixed_s = np.linalg.lstsq(a, t, rcond=None)[0]
    return max(pre_s, 1e-3), max(clu_s, 1e-3), max(fixed_s, 0.0)


def clustpy_default_seconds(cost: tuple[float, float, float]) -> float:
    """Extrapolated wall time of ClustPy at its defaults: 100 pretraining + 150 clustering
    epochs plus the fixed cost."""
    pre_s, clu_s, fixed_s = cost
    return fixed_s + 100 * pre_s + 150 * clu_s


def run_clustpy(method: str, x, y, seed: int, budget_s: float,
                cost: tuple[float, float, float]) -> dict:
    pre_s, clu_s, fixed_s = cost
    # what is left after the fixed cost: half to pretraining, the rest to clustering (ClustPy's
    # defaults split their time about evenly), at least one epoch each
    left = budget_s - fixed_s
    pre_e = max(1, int(left * 0.5 / pre_s))
    clu_e = max(1, int((left - pre_e * pre_s) / clu_s))
    t0 = time.perf_counter()
    model = clustpy_model(method, pre_e, clu_e, seed).fit(x)
    return {"seconds": time.perf_counter() - t0, "epochs": f"{pre_e}+{clu_e}",
            **evaluate(y, model.labels_)}


def fmt(rows: list[dict], key: str) -> str:
    v = np.array([r[key] for r in rows], dtype=float)
    if key == "seconds":
        return f"{v.mean():7.0f} ± {v.std():3.0f}" if len(v) > 1 else f"{v.mean():7.0f}"
    return f"{v.mean():.3f} ± {v.std():.3f}" if len(v) > 1 else f"{v.mean():.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--n-samples", type=int, default=None)
    ap.add_argument("--methods", nargs="+", default=["dec", "idec"],
                    help="dec, idec (each also run in ClustPy), dcn, ae-kmeans (dcteach only)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads (1 is fastest on a CPU shared with other jobs)")
    ap.add_argument("--no-clustpy", action="store_true")
    ap.add_argument("--probe", action="store_true",
                    help="measure ClustPy's per-epoch and fixed costs on this machine instead "
                         "of using the stored ones (from the 2-core test machine)")
    args = ap.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # ClustPy's per-epoch progress bars
    os.environ.setdefault("DCTEACH_QUIET", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset, split="all", n_samples=args.n_samples, seed=0)
    x, y = data.flat, data.y
    print(f"{data.name}: {x.shape}, torch {torch.__version__}, threads "
          f"{torch.get_num_threads()}, cpus {os.cpu_count()}, {platform.processor() or ''}")
    table = []
    for method in args.methods:
        ours = []
        for seed in args.seeds:
            ours.append(run_dcteach(method, data.x, y, seed, args.preset))
            print(f"dcteach {method} seed {seed}: {ours[-1]}", flush=True)
        table.append((f"dcteach {method} ({args.preset})", ours, ""))
        table.append(("  its AE + k-means start", None,
                      "ACC " + fmt([{"acc": r["start_acc"]} for r in ours], "acc")))
        if args.no_clustpy or method not in MEASURED_CLUSTPY_COST_S:
            continue
        try:
            import clustpy  # noqa: F401

            cost = (probe_clustpy(method, x, args.seeds[0]) if args.probe
                    else MEASURED_CLUSTPY_COST_S[method])
            print(f"ClustPy {method}: {cost[0]:.1f} s per pretraining epoch, "
                  f"{cost[1]:.1f} s per clustering epoch, {cost[2]:.0f} s fixed per fit",
                  flush=True)
        except ImportError:
            print("clustpy is not installed: pip install clustpy (or pass --no-clustpy)")
            continue
        budget = float(np.mean([r["seconds"] for r in ours]))
        theirs = []
        for seed in args.seeds:
            theirs.append(run_clustpy(method, x, y, seed, budget, cost))
            print(f"clustpy {method} seed {seed}: {theirs[-1]}", flush=True)
        table.append((f"ClustPy {method} (same time, {theirs[0]['epochs']} ep)", theirs, ""))
        full = clustpy_default_seconds(cost)
        table.append((f"ClustPy {method} defaults 100+150 ep", None,
                      f"time extrapolated from measured costs: "
                      f"~{full:.0f}s (ours: {100 * budget / full:.1f} % of it); "
                      "accuracy not run here"))
    print(f"\n{'':42s} {'ACC':>15s} {'NMI':>15s} {'ARI':>15s} {'seconds':>13s}  "
          f"(n seeds = {len(args.seeds)})")
    for name, rows, note in table:
        if rows is None:
            print(f"{name:42s} {note}")
            continue
        print(f"{name:42s} {fmt(rows, 'acc'):>15s} {fmt(rows, 'nmi'):>15s} "
              f"{fmt(rows, 'ari'):>15s} {fmt(rows, 'seconds'):>13s}")


if __name__ == "__main__":
    main()
