"""Short-text clustering benchmark: the kit's text methods side by side, mean ± std over seeds.

    DCTEACH_DATA=../shared/data HF_HUB_OFFLINE=1 python benchmarks/bench_text.py
    python benchmarks/bench_text.py --datasets searchsnippets --seeds 0 1 2 \\
        --methods text-kmeans text-kmeans,smooth_neighbours=20 text-selflabel:fast

A method is ``name``, ``name:preset``, and options may follow after commas:
``text-kmeans,embedding=tfidf`` or ``sccl:fast,epochs=10``. Every corpus is embedded once
(MiniLM, cached on disk; the encode time is printed, 0 when the cache already holds it) and
each method then runs on the cached embeddings; its time is the method's own. Reference
numbers: MiniLM + k-means measured before (REFERENCES.md) and SCCL's published ACC.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from dcteach.data import load_dataset
from dcteach.features import embed_texts
from dcteach.methods import parse_method_spec
from dcteach.metrics import evaluate

REFERENCE_ACC = {  # dataset: (MiniLM + k-means measured before, SCCL paper)
    "agnews": (78.0, 88.2),
    "searchsnippets": (74.3, 85.2),
    "stackoverflow": (72.1, 75.5),
}
BASELINE = "text-kmeans:fast"  # MiniLM + k-means: every text method's starting point
DEFAULT_METHODS = [BASELINE, "text-kmeans-hybrid:fast", "sccl:fast", "sccl-frozen:fast",
                   "text-scan:fast", "text-selflabel:fast", "text-dec:fast", "text-idec:fast"]


def run(datasets, methods, seeds, threads: int) -> list[dict]:
    torch.set_num_threads(threads)
    rows = []
    for ds in datasets:
        data = load_dataset(ds)
        t0 = time.perf_counter()
        embed_texts(data.x)  # fills the cache (or finds it there)
        encode_s = time.perf_counter() - t0
        print(f"# {ds}: {len(data)} texts, k={data.n_clusters}, "
              f"embedding {encode_s:.1f}s", flush=True)
        for spec in methods:
            cls, preset, options = parse_method_spec(spec)
            for seed in seeds:
                model = cls(n_clusters=data.n_clusters, preset=preset, seed=seed,
                            verbose=False, **options)
                t0 = time.perf_counter()
                labels = model.fit_predict(data.x)
                sec = time.perf_counter() - t0
                res = evaluate(data.y, labels)
                rows.append({"dataset": ds, "method": spec, "seed": seed, **res,
                             "seconds": round(sec, 1), "embed_seconds": round(encode_s, 1)})
                print(f"{ds:15s} {spec:34s} seed {seed}  ACC {100 * res['acc']:5.1f}  "
                      f"NMI {100 * res['nmi']:5.1f}  ARI {100 * res['ari']:5.1f}  {sec:6.1f}s",
                      flush=True)
    return rows


def table(rows: list[dict]) -> str:
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    head = f"{'method':34s}" + "".join(f"{d:>28s}" for d in datasets)
    lines = [head, f"{'':34s}" + "".join(f"{'ACC':>10s}{'NMI':>9s}{'s':>9s}" for _ in datasets)]
    for m in methods:
        cells = []
        for d in datasets:
            sel = [r for r in rows if r["dataset"] == d and r["method"] == m]
            if not sel:
                cells.append(f"{'-':>28s}")
                continue
            acc = np.array([100 * r["acc"] for r in sel])
            nmi = np.array([100 * r["nmi"] for r in sel])
            sec = np.mean([r["seconds"] for r in sel])
            cells.append(f"{acc.mean():6.1f}±{acc.std():3.1f}{nmi.mean():6.1f}±{nmi.std():3.1f}"
                         f"{sec:7.0f}s")
        lines.append(f"{m:34s}" + "".join(cells))
    base = {d: np.mean([r["acc"] for r in rows if r["dataset"] == d and r["method"] == BASELINE])
            for d in datasets if any(r["method"] == BASELINE for r in rows)}
    if base:
        lines.append("")
        lines.append(f"{'mean ACC vs MiniLM + k-means':34s}"
                     + "".join(f"{d:>28s}" for d in datasets))
        for m in methods:
            cells = []
            for d in datasets:
                sel = [r["acc"] for r in rows if r["dataset"] == d and r["method"] == m]
                diff = 100 * (np.mean(sel) - base[d]) if sel and d in base else float("nan")
                mark = "ok" if diff >= -0.05 else "BELOW"
                cells.append(f"{diff:+22.1f} {mark:>5s}")
            lines.append(f"{m:34s}" + "".join(cells))
        lines.append("")
    ref = [REFERENCE_ACC.get(d, (float('nan'),) * 2) for d in datasets]
    lines.append(f"{'MiniLM+k-means (ref)':34s}" + "".join(f"{r[0]:10.1f}{'':18s}" for r in ref))
    lines.append(f"{'SCCL (paper)':34s}" + "".join(f"{r[1]:10.1f}{'':18s}" for r in ref))
    return "\n".join(lines)


def markdown_table(rows: list[dict]) -> str:
    """The README's table: ACC / NMI / ARI mean ± std (ACC) per corpus, seconds per run, and
    the ACC difference to MiniLM + k-means (measured in the same run)."""
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    head = "| method | " + " | ".join(f"{d} ACC | NMI | ARI | s | vs start" for d in datasets)
    lines = [head + " |", "|" + " --- |" * (1 + 5 * len(datasets))]
    for m in methods:
        cells = []
        for d in datasets:
            sel = [r for r in rows if r["dataset"] == d and r["method"] == m]
            base = [r["acc"] for r in rows if r["dataset"] == d and r["method"] == BASELINE]
            if not sel:
                cells.append(" – | – | – | – | –")
                continue
            acc = 100 * np.array([r["acc"] for r in sel])
            diff = acc.mean() - 100 * np.mean(base) if base else float("nan")
            cells.append(f" {acc.mean():.1f} ± {acc.std():.1f} | "
                         f"{100 * np.mean([r['nmi'] for r in sel]):.1f} | "
                         f"{100 * np.mean([r['ari'] for r in sel]):.1f} | "
                         f"{np.mean([r['seconds'] for r in sel]):.0f} | {diff:+.1f}")
        lines.append(f"| `{m}` |" + " |".join(cells) + " |")
    ref = [REFERENCE_ACC.get(d, (float("nan"),) * 2)[1] for d in datasets]
    lines.append("| SCCL (paper) |" + " |".join(f" {r:.1f} | – | – | – | –" for r in ref) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=list(REFERENCE_ACC))
    p.add_argument("--methods", nargs="+", default=DEFAULT_METHODS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default=None, help="write all rows here")
    p.add_argument("--from-json", default=None,
                   help="print the tables of an earlier run's --json file instead of running")
    p.add_argument("--markdown", action="store_true", help="also print the README's table")
    args = p.parse_args()
    if args.from_json:
        with open(args.from_json) as fh:
            rows = json.load(fh)
        print(table(rows))
        if args.markdown:
            print(markdown_table(rows))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DCTEACH_QUIET", "1")
    print(f"# machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} threads")
    rows = run(args.datasets, args.methods, args.seeds, args.threads)
    print()
    print(table(rows))
    if args.markdown:
        print(markdown_table(rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
