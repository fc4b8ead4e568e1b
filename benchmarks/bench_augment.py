"""Batched augmentation recipes vs per-image torchvision (and kornia), images per second.

    python benchmarks/bench_augment.py [--n 512] [--repeats 5] [--recipes simclr,digits,scan]

Three recipes on synthetic uint8 batches: ``simclr`` and ``scan`` (SCAN's strong view: flip,
pad-and-crop, 4 of 14 RandAugment ops per image, Cutout) on CIFAR-sized images
(n × 3 × 32 × 32) and ``digits`` on MNIST-sized ones (n × 1 × 28 × 28). For each, one row per
implementation:

* dcteach's batched recipe (:func:`dcteach.augment.make_augment`) on the CPU with all torch
  threads and with one, without fusing the geometric ops (``Compose(fuse=False)``), and on
  CUDA when there is a GPU;
* the same settings as a per-image ``torchvision.transforms.v2`` pipeline run through a
  DataLoader (batch 128) with 0 and with 2 worker processes (steady state: the workers are
  started by a warm-up epoch that is not timed);
* ``kornia.augmentation`` (batched, per-sample parameters) when ``import kornia`` works.

For ``scan`` the comparisons are stand-ins of the same cost, not the same distribution:
torchvision's ``RandAugment(num_ops=4)`` (the same 14 ops, one fixed magnitude with a random
sign) and kornia's ``auto.RandAugment(n=4, m=10)``, with Cutout as a square
``RandomErasing(p=1)`` filled with 0.5.

Times are the best of ``--repeats`` passes over the n images. The CPU may be shared with other
processes; the table prints the CPU count and torch's thread count.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2 as T

from dcteach.augment import make_augment


class _Images(Dataset):
    def __init__(self, x, transform):
        self.x, self.transform = x, transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.transform(self.x[i])


def _torchvision(name: str, shape) -> T.Compose:
    size = shape[1]
    if name == "scan":
        return T.Compose([
            T.RandomCrop(size, padding=size // 8),
            T.RandomHorizontalFlip(),
            T.RandAugment(num_ops=4, interpolation=T.InterpolationMode.BILINEAR),
            T.ToDtype(torch.float32, scale=True),
            T.RandomErasing(1.0, scale=(1 / size**2, 0.25), ratio=(1.0, 1.0), value=0.5),
        ])
    if name == "simclr":
        return T.Compose([
            T.RandomResizedCrop(size, scale=(0.2, 1.0), antialias=False),
            T.RandomHorizontalFlip(),
            T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
            T.RandomGrayscale(0.2),
            T.ToDtype(torch.float32, scale=True),
        ])
    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.5, 1.0), ratio=(0.8, 1.25), antialias=False),
        T.RandomAffine(15, translate=(0.1, 0.1), interpolation=T.InterpolationMode.BILINEAR),
        T.ToDtype(torch.float32, scale=True),
        T.RandomErasing(0.25, scale=(0.02, 0.15)),
    ])


def _kornia(name: str, shape):
    import kornia.augmentation as K

    size = (shape[1], shape[2])
    if name == "scan":
        from kornia.augmentation.auto import RandAugment

        aug = torch.nn.Sequential(
            K.RandomCrop(size, padding=size[0] // 8),
            K.RandomHorizontalFlip(),
            RandAugment(n=4, m=10),
            K.RandomErasing(scale=(1 / size[0] ** 2, 0.25), ratio=(1.0, 1.0), value=0.5, p=1.0),
        )
    elif name == "simclr":
        aug = torch.nn.Sequential(
            K.RandomResizedCrop(size, scale=(0.2, 1.0)),
            K.RandomHorizontalFlip(),
            K.ColorJitter(0.4, 0.4, 0.4, 0.1, p=0.8),
            K.RandomGrayscale(p=0.2),
        )
    else:
        aug = torch.nn.Sequential(
            K.RandomResizedCrop(size, scale=(0.5, 1.0), ratio=(0.8, 1.25)),
            K.RandomAffine(15, translate=(0.1, 0.1)),
            K.RandomErasing(scale=(0.02, 0.15), p=0.25),
        )
    return lambda x: aug(x.float() / 255)


def _best(fn, repeats: int, sync=None) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        if sync:
            sync()
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - t0)
    return best


def _loader_pass(loader) -> None:
    for _ in loader:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--recipes", default="simclr,digits,scan",
                    help="comma-separated subset of simclr, digits, scan")
    args = ap.parse_args()
    shapes = {"simclr": (3, 32, 32), "digits": (1, 28, 28), "scan": (3, 32, 32)}
    names = [r.strip() for r in args.recipes.split(",") if r.strip()]
    unknown = sorted(set(names) - set(shapes))
    if unknown:
        ap.error(f"unknown recipe(s) {unknown}; choose from {', '.join(shapes)}")
    threads = torch.get_num_threads()
    print(f"n={args.n}, cpu count={os.cpu_count()}, torch threads={threads}, torch "
          f"{torch.__version__}, {platform.processor() or platform.machine()}"
          + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    try:
        import kornia
        have_kornia = True
        print(f"kornia {kornia.__version__}")
    except ImportError:
        have_kornia = False
        print("kornia not installed: its rows are skipped")
    gen = torch.Generator().manual_seed(0)
    rows = []
    for name, shape in [(r, shapes[r]) for r in names]:
        x = torch.randint(0, 256, (args.n, *shape), dtype=torch.uint8, generator=gen)
        aug = make_augment(name, shape)

        def run(a=aug, xx=x):
            a(xx, gen)

        torch.set_num_threads(threads)
        rows.append((name, f"dcteach batched, CPU, {threads} threads", _best(run, args.repeats)))
        torch.set_num_threads(1)
        rows.append((name, "dcteach batched, CPU, 1 thread", _best(run, args.repeats)))
        aug.transform.fuse = False
        rows.append((name, "dcteach batched, CPU, 1 thread, not fused",
                     _best(run, args.repeats)))
        aug.transform.fuse = True
        torch.set_num_threads(threads)
        xc = x.cuda() if torch.cuda.is_available() else None
        if xc is not None:
            rows.append((name, "dcteach batched, CUDA",
                         _best(lambda a=aug, xx=xc: a(xx, gen), args.repeats,
                               torch.cuda.synchronize)))
        tv = _torchvision(name, shape)
        for workers in (0, 2):
            loader = DataLoader(_Images(x, tv), batch_size=128, num_workers=workers,
                                persistent_workers=workers > 0)
            rows.append((name, f"torchvision v2 per image, DataLoader {workers} workers",
                         _best(lambda ld=loader: _loader_pass(ld), args.repeats)))
            del loader
        if have_kornia:
            torch.set_num_threads(threads)
            k = _kornia(name, shape)
            rows.append((name, f"kornia.augmentation, CPU, {threads} threads",
                         _best(lambda kk=k, xx=x: kk(xx), args.repeats)))
            if xc is not None:
                rows.append((name, "kornia.augmentation, CUDA",
                             _best(lambda kk=k, xx=xc: kk(xx), args.repeats,
                                   torch.cuda.synchronize)))
        print(f"  done: {name}", flush=True)
    print()
    print(f"{'recipe':<8}{'implementation':<52}{'ms / batch':>11}{'images/s':>11}")
    for name, impl, sec in rows:
        print(f"{name:<8}{impl:<52}{sec * 1e3:>11.1f}{args.n / sec:>11.0f}")


if __name__ == "__main__":
    main()
