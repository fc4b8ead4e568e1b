"""Contrastive clustering benchmark: accuracy over seeds, and where the time of a step goes.

    DCTEACH_DATA=../shared/data python benchmarks/bench_contrastive.py              # MNIST-70k
    python benchmarks/bench_contrastive.py --dataset cifar10 --methods simclr:fast cc:fast
    python benchmarks/bench_contrastive.py --throughput-only

Accuracy: every method spec (``name[:preset][,key=value...]``, e.g. ``cc:fast,epochs=10``)
runs on the whole data set for each seed; the table gives ACC / NMI / ARI as mean ± std and
the wall time, and, from the training log, the time and k-NN accuracy of the pretext phase.
The SimCLR pretext cache is bypassed (``cache=False``) so that every time is a full training.

Throughput (``--throughput``, on by default): for each backbone at its data set's image size,
images per second of (a) the batched augmentation alone (two views), (b) one full training
step (augmentation + forward + backward + update, bf16 autocast where the device has it), on
the CPU and on CUDA when present, next to (c) a per-image torchvision v2 pipeline with
DataLoader workers making the same two views — whether the augmentation is the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_line  # noqa: E402
from bench_augment import _Images, _loader_pass, _torchvision  # noqa: E402

from dcteach.augment import make_augment  # noqa: E402
from dcteach.data import load_dataset  # noqa: E402
from dcteach.data.images import ImageFacts  # noqa: E402
from dcteach.losses import nt_xent  # noqa: E402
from dcteach.methods import parse_method_spec  # noqa: E402
from dcteach.metrics import evaluate  # noqa: E402
from dcteach.nn import MultiHeadNet, ProjectionHead, image_encoder  # noqa: E402
from dcteach.train import Trainer  # noqa: E402

REFERENCE = {  # dataset: {method: (ACC, source)}
    "mnist": {"dec-family best here": (88.9, "DEC, this kit"), "IIC (paper)": (99.2, "GPU hours")},
    "cifar10": {"SimCLR + k-means (SCAN)": (65.9, "train → test"),
                "CC (paper)": (79.0, "train+test, 1000 epochs")},
}


def accuracy_rows(dataset: str, specs: list[str], seeds: list[int], n_samples: int | None):
    data = load_dataset(dataset, n_samples=n_samples)
    print(f"# {dataset}: {len(data)} images {data.x.shape[1:]}, k={data.n_clusters}", flush=True)
    rows = []
    for spec in specs:
        cls, preset, options = parse_method_spec(spec)
        if "cache" in cls.option_names():
            options.setdefault("cache", False)
        for seed in seeds:
            model = cls(n_clusters=data.n_clusters, preset=preset, seed=seed, verbose=False,
                        **options)
            wall0, t0 = time.time(), time.perf_counter()
            labels = model.fit_predict(data.x, data.y)
            sec = time.perf_counter() - t0
            res = evaluate(data.y, labels)
            train = [r for r in model.history_ if "knn" in r]  # the training epochs' rows
            pretext_s = (train[-1]["time"] - wall0) if train else float("nan")
            rows.append({"dataset": dataset, "method": spec, "seed": seed, **res,
                         "seconds": round(sec, 1), "train_seconds": round(pretext_s, 1),
                         "knn": train[-1]["knn"] if train else None,
                         "epochs": len(train), "device": str(model.device_)})
            print(f"{spec:28s} seed {seed}  ACC {100 * res['acc']:5.1f}  NMI "
                  f"{100 * res['nmi']:5.1f}  ARI {100 * res['ari']:5.1f}  kNN "
                  f"{100 * (rows[-1]['knn'] or 0):5.1f}  {sec:6.1f}s", flush=True)
    return rows


def accuracy_table(rows: list[dict]) -> str:
    lines = [f"{'method':28s}{'ACC':>12s}{'NMI':>12s}{'ARI':>12s}{'kNN':>8s}{'train s':>9s}"
             f"{'total s':>9s}"]
    for m in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == m]

        def ms(key, sel=sel):
            v = 100 * np.array([r[key] for r in sel])
            return f"{v.mean():6.1f}±{v.std():4.1f}"

        knn = np.mean([100 * r["knn"] for r in sel if r["knn"] is not None] or [np.nan])
        lines.append(f"{m:28s}{ms('acc'):>12s}{ms('nmi'):>12s}{ms('ari'):>12s}{knn:8.1f}"
                     f"{np.mean([r['train_seconds'] for r in sel]):9.0f}"
                     f"{np.mean([r['seconds'] for r in sel]):9.0f}")
    dataset = rows[0]["dataset"] if rows else ""
    for name, (acc, note) in REFERENCE.get(dataset, {}).items():
        lines.append(f"{name + ' (ref)':28s}{acc:8.1f}     {note}")
    return "\n".join(lines)


def throughput_rows(batch: int, steps: int):
    """Augmentation alone vs a whole training step, images/s, per device and backbone."""
    cases = [("cnn", ImageFacts(28, 1, (0.13,), (0.31,), "cnn"), "digits"),
             ("resnet18", ImageFacts(32, 3, (0.49, 0.48, 0.45), (0.2, 0.2, 0.2), "resnet18"),
              "simclr")]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for backbone, facts, recipe in cases:
        shape = (facts.channels, facts.size, facts.size)
        x_cpu = torch.randint(0, 256, (batch, *shape), dtype=torch.uint8)
        for dev in devices:
            device = torch.device(dev)
            x = x_cpu.to(device)
            aug = make_augment(recipe, shape)
            sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
            enc = image_encoder(facts, backbone, 16)
            model = MultiHeadNet(enc, z=ProjectionHead(enc.out_dim, 512, 128)).to(device)
            trainer = Trainer(model.parameters(), "adam", 1e-3, device=device, amp=True)

            def step(_idx, model=model, aug=aug, x=x):
                out = model(torch.cat([aug(x), aug(x)]))["z"]
                return nt_xent(out[:batch], out[batch:], 0.5)

            def time_it(fn, n, sync=sync):
                fn()
                sync()
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                sync()
                return (time.perf_counter() - t0) / n

            n_aug = 3 if dev == "cpu" else 20
            aug_s = time_it(lambda aug=aug, x=x: (aug(x), aug(x)), n_aug)
            n_step = steps if dev == "cpu" else 5 * steps
            step_s = time_it(lambda t=trainer, s=step: t.run(s, [torch.arange(batch)]), n_step)
            rows.append({"backbone": backbone, "device": dev, "recipe": recipe,
                         "augment_img_s": 2 * batch / aug_s, "step_img_s": 2 * batch / step_s,
                         "augment_share": aug_s / step_s})
            print(f"  {backbone} on {dev}: step {2 * batch / step_s:,.0f} img/s", flush=True)
        tv = _torchvision(recipe, shape)
        for workers in (2,):
            loader = torch.utils.data.DataLoader(_Images(x_cpu, tv), batch_size=batch,
                                                 num_workers=workers, persistent_workers=True)
            _loader_pass(loader)
            t0 = time.perf_counter()
            _loader_pass(loader)
            _loader_pass(loader)
            sec = (time.perf_counter() - t0) / 2
            rows.append({"backbone": backbone, "device": f"torchvision, {workers} workers",
                         "recipe": recipe, "augment_img_s": batch / sec, "step_img_s": None,
                         "augment_share": None})
            del loader
    return rows


def throughput_table(rows: list[dict]) -> str:
    lines = [f"{'backbone':10s}{'recipe':8s}{'device / pipeline':26s}{'augment img/s':>15s}"
             f"{'train step img/s':>18s}{'augment share':>15s}"]
    for r in rows:
        step = f"{r['step_img_s']:,.0f}" if r["step_img_s"] else "-"
        share = f"{100 * r['augment_share']:.0f} %" if r["augment_share"] else "-"
        lines.append(f"{r['backbone']:10s}{r['recipe']:8s}{r['device']:26s}"
                     f"{r['augment_img_s']:>15,.0f}{step:>18s}{share:>15s}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--methods", nargs="+", default=["simclr:fast", "cc:fast"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--n-samples", type=int, default=None, help="random subset (default: all)")
    p.add_argument("--throughput-only", action="store_true")
    p.add_argument("--no-throughput", action="store_true")
    p.add_argument("--batch", type=int, default=256, help="throughput: batch size")
    p.add_argument("--steps", type=int, default=5, help="throughput: timed steps on the CPU")
    p.add_argument("--json", default=None, help="write all rows here")
    args = p.parse_args()
    os.environ.setdefault("DCTEACH_QUIET", "1")
    print(machine_line())
    out = {}
    if not args.no_throughput:
        out["throughput"] = throughput_rows(args.batch, args.steps)
        print()
        print(throughput_table(out["throughput"]))
        print()
    if not args.throughput_only:
        out["accuracy"] = accuracy_rows(args.dataset, args.methods, args.seeds, args.n_samples)
        print()
        print(accuracy_table(out["accuracy"]))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
