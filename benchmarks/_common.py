"""What every benchmark prints first: the machine it ran on."""

from __future__ import annotations

import os
import platform

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
