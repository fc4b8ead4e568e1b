"""What every benchmark prints first: the machine it ran on."""

from __future__ import annotations

import os
import platform

import torch


def machine_line() -> str:
    """``# machine: <cpu>, <n> CPUs, <gpu or no GPU>, torch <v>, <t> threads``."""
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"{gpu}, torch {torch.__version__}, {torch.get_num_threads()} threads")
