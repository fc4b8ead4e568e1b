"""What the benchmarks share: the machine line, mean ± std, the run options, the loop that
fits every method spec over seeds, and the report at the end."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch


def machine_line() -> str:
    """``# machine: <cpu>, <n> CPUs, <gpu or no GPU>, torch <v>, <t> threads``."""
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"{gpu}, torch {torch.__version__}, {torch.get_num_threads()} threads")


def mean_std(rows: list[dict], key: str) -> str:
    """``mean±std`` of ``100 · row[key]`` over the rows that have it (``-`` if none)."""
    v = [100 * r[key] for r in rows if r.get(key) is not None]
    return f"{np.mean(v):5.1f}±{np.std(v):4.1f}" if v else "-"


def add_run_arguments(p, methods: list[str]) -> None:
    """The options every accuracy benchmark takes: data set, method specs, seeds, subset,
    JSON output."""
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--methods", nargs="+", default=methods,
                   help="method specs name[:preset][,key=value...] (default: %(default)s)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--n-samples", type=int, default=None, help="random subset (default: all)")
    p.add_argument("--json", default=None, help="write all rows here")


def fit_over_seeds(dataset: str, train, specs: list[str], seeds: list[int], extra, line,
                   test=None) -> list[dict]:
    """Fit every method spec once per seed on ``train`` and score it on ``test`` (default:
    the same images, ``labels_``; otherwise ``predict``). A row holds the data set, spec,
    seed, ACC / NMI / ARI, seconds, device and ``extra(model, wall0)``; ``line(row)`` is
    printed after each fit."""
    from dcteach.methods import parse_method_spec
    from dcteach.metrics import evaluate

    test = train if test is None else test
    rows = []
    for seed in seeds:
        for spec in specs:
            cls, preset, options = parse_method_spec(spec)
            model = cls(n_clusters=train.n_clusters, preset=preset, seed=seed, verbose=False,
                        **options)
            wall0, t0 = time.time(), time.perf_counter()
            model.fit(train.x, train.y)
            sec = time.perf_counter() - t0
            labels = model.labels_ if test is train else model.predict(test.x)
            row = {"dataset": dataset, "method": spec, "seed": seed,
                   **evaluate(test.y, labels), "seconds": round(sec, 1),
                   **extra(model, wall0), "device": str(model.device_)}
            rows.append(row)
            print(f"{spec:40s} seed {seed}  {line(row)}  {sec:6.1f}s", flush=True)
    return rows


def report(rows: list[dict], table, json_path: str | None) -> None:
    """Print the summary ``table(rows)`` and write the rows as JSON when asked."""
    print()
    print(table(rows))
    if json_path:
        Path(json_path).write_text(json.dumps(rows, indent=1, default=str))


def load_benchmark_data(dataset: str, n_samples: int | None):
    """The data set (whole, or a random subset), announced on one line."""
    from dcteach.data import load_dataset

    data = load_dataset(dataset, n_samples=n_samples)
    print(f"# {dataset}: {len(data)} images {data.x.shape[1:]}, k={data.n_clusters}",
          flush=True)
    return data


def summary_table(rows: list[dict], columns: list[tuple[str, str, str]],
                  reference: list[tuple[str, float, str]] = (), width: int = 40) -> str:
    """One line per method spec: ``columns`` = (title, key, how) with how ``"pct"`` (mean ±
    std of 100 · value), a format such as ``".1f"`` or ``".3f"`` (mean of the value), and
    the reference rows (what, ACC, note) under the ACC column."""
    head = f"{'method':{width}s}" + "".join(f"{t:>12s}" for t, _, _ in columns)
    lines = [head]
    for m in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == m]
        cells = []
        for _, key, how in columns:
            if how == "pct":
                cells.append(f"{mean_std(sel, key):>12s}")
            else:
                vals = [r[key] for r in sel if r.get(key) is not None]
                cells.append(f"{np.mean(vals):>12{how}}" if vals else f"{'-':>12s}")
        lines.append(f"{m:{width}s}" + "".join(cells))
    acc_col = next((i for i, (_, k, _) in enumerate(columns) if k == "acc"), 0)
    for what, acc, note in reference:
        lines.append(f"{what + ' (ref)':{width}s}" + " " * 12 * acc_col + f"{acc:12.1f}   {note}")
    return "\n".join(lines)


def row_line(row: dict, columns: list[tuple[str, str, str]]) -> str:
    """A row's values for the per-run line (the seconds are printed anyway)."""
    parts = []
    for title, key, how in columns:
        v = row.get(key)
        if key == "seconds":
            continue
        if v is None:
            parts.append(f"{title} -")
        else:
            parts.append(f"{title} {100 * v:5.1f}" if how == "pct" else f"{title} {v:{how}}")
    return "  ".join(parts)


def run_benchmark(doc: str, default: list[str], extra, columns, reference: dict) -> None:
    """The whole command line of a benchmark that fits method specs over seeds on one data
    set: options (:func:`add_run_arguments`), the machine line, one line per run, the
    summary table with the reference rows of the data set, optional JSON."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(p, default)
    args = p.parse_args()
    os.environ.setdefault("DCTEACH_QUIET", "1")
    print(machine_line())
    data = load_benchmark_data(args.dataset, args.n_samples)
    rows = fit_over_seeds(args.dataset, data, args.methods, args.seeds, extra,
                          lambda row: row_line(row, columns))
    report(rows, lambda r: summary_table(r, columns, reference.get(args.dataset, [])),
           args.json)
