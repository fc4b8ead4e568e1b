"""Command line: ``dcteach list | run | eval``.

    dcteach list
    dcteach run kmeans --dataset digits
    dcteach run dec --dataset mnist --preset fast --json out.json --out runs/dec
    dcteach run dec --dataset mnist --out runs/dec --resume      # after an interruption
    dcteach eval labels.npy --dataset digits
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import __version__, distributed
from .data import DATASETS, DatasetNotFound, data_root, is_available, list_datasets, load_dataset
from .engine import pick_device, write_result
from .methods import METHODS, get_method
from .methods import _load_all as _load_methods
from .methods.config import parse_option
from .metrics import evaluate, format_table


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dcteach",
        description="Deep clustering course kit: run reference implementations and evaluate.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Examples:\n"
               "  dcteach list\n"
               "  dcteach list dec                 # the options --set accepts, and presets\n"
               "  dcteach run kmeans --dataset digits\n"
               "  dcteach run spectral --dataset moons --json out.json\n"
               "  dcteach run kmeans --dataset mnist --out runs/km --resume\n\n"
               "Data root: --data-root > $DCTEACH_DATA > ~/.cache/dcteach",
    )
    p.add_argument("--version", action="version", version=f"dcteach {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    li = sub.add_parser("list", help="list methods and data sets (and which data sets are here);"
                                      " `list METHOD` shows a method's options and presets")
    li.add_argument("method", nargs="?", default=None,
                    help="show this method's options (for --set), their types, defaults and "
                         "allowed values, and its presets")

    r = sub.add_parser("run", help="cluster a data set with a method and report ACC/NMI/ARI",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("method", help="method name (see `dcteach list`)")
    r.add_argument("--dataset", default="digits",
                   help="registered data set name, a label<TAB>text file, or an image folder")
    r.add_argument("--split", default="all", choices=["train", "test", "all"],
                   help="which split to cluster ('all' = train+test merged)")
    r.add_argument("--n-samples", type=int, default=None, help="random subset of this size")
    r.add_argument("--image-size", type=int, default=None, metavar="PX",
                   help="resize the images of an ImageFolder directory (--dataset PATH) to "
                        "PX x PX (needed when they differ in size)")
    r.add_argument("--k", "--n-clusters", dest="k", type=int, default=None,
                   help="number of clusters (default: the data set's number of classes)")
    r.add_argument("--preset", default="quick", help="named settings: quick, fast, paper")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: auto)")
    r.add_argument("--out", default=None,
                   help="output folder: checkpoints, metrics.jsonl, labels.npy, plots")
    r.add_argument("--json", default=None, help="write the result JSON here")
    r.add_argument("--resume", action="store_true",
                   help="continue from the last checkpoint in --out")
    r.add_argument("--data-root", default=None, help="overrides $DCTEACH_DATA")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config field of the preset (repeatable)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")

    e = sub.add_parser("eval", help="score saved cluster labels (.npy or one int per line)")
    e.add_argument("labels", help="predicted labels file")
    e.add_argument("--dataset", required=True, help="data set whose labels to compare with")
    e.add_argument("--split", default="all", choices=["train", "test", "all"])
    e.add_argument("--data-root", default=None)
    return p


def cmd_options(name: str) -> int:
    """One method's options: what ``--set KEY=VALUE`` accepts, and its presets."""
    from .methods.config import describe_options

    cls = get_method(name)
    print(f"{cls.name}: {cls.description}")
    if cls.defaults:
        print(f"  variant settings: {cls.defaults}")
    print("\nOptions (--set KEY=VALUE; the preset's value unless set):")
    for row in describe_options(cls.Config):
        print(f"  {row['name']:<24} {row['type']:<36} default {row['default']!r:<18} "
              f"{row['allowed']}".rstrip())
    print("\nPresets (compute budgets):")
    for preset, values in cls.presets.items():
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items()) or "(the defaults)"
        print(f"  {preset:<7} {shown}")
    return 0


def cmd_list() -> int:
    _load_methods()
    print("Methods:")
    for name in sorted(METHODS):
        cls = METHODS[name]
        print(f"  {name:<14} {cls.description}  [presets: {', '.join(cls.presets)}]")
    root = data_root()
    print(f"\nData sets (data root: {root}):")
    for name in list_datasets():
        info = DATASETS[name]
        here = "yes" if is_available(name) else "no"
        print(f"  {name:<15} k={info.n_clusters:<4} local={here:<4} {info.description}")
    return 0


def _prepare_input(method_cls, data):
    if method_cls.input_kind == "text":
        if data.kind != "text":
            raise ValueError(f"method {method_cls.name} clusters texts; {data.name} is not text")
        return data.x
    if data.kind == "text":
        raise ValueError(f"{data.name} is a text corpus: use a text method "
                         "(see `dcteach list`)")
    if method_cls.input_kind == "image":
        return data.x if method_cls.keeps_uint8 else data.floats
    return data.flat


def cmd_run(args) -> int:
    method_cls = get_method(args.method)
    overrides = {}
    for item in args.set:
        if "=" not in item:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        overrides[k.strip()] = parse_option(method_cls.Config, k.strip(), v.strip())
    if args.k is not None and args.k < 1:
        raise ValueError(f"--k must be a positive integer (the number of clusters), "
                         f"got {args.k}")
    if args.n_samples is not None and args.n_samples < 2:
        raise ValueError(f"--n-samples must be at least 2, got {args.n_samples}")
    # wrong option values and unknown presets fail here, before any data is loaded
    method_cls(preset=args.preset, **overrides).build_config()
    if args.quiet:
        os.environ["DCTEACH_QUIET"] = "1"
    if args.image_size is not None and args.image_size < 1:
        raise ValueError(f"--image-size must be a positive number of pixels, got "
                         f"{args.image_size}")
    data = load_dataset(args.dataset, split=args.split, root=args.data_root,
                        n_samples=args.n_samples, seed=args.seed, image_size=args.image_size)
    k = args.k or data.n_clusters
    if not k:
        raise ValueError(f"{data.name} has no labels: give the number of clusters with --k")
    # under torchrun: join the process group; each rank uses its own GPU; rank 0 reports
    device = distributed.init(pick_device(args.device))
    main_rank = distributed.is_main()
    model = method_cls(n_clusters=k, preset=args.preset, device=device, seed=args.seed,
                       out_dir=args.out, resume=args.resume, verbose=main_rank, **overrides)
    x = _prepare_input(method_cls, data)
    if main_rank:
        pick_device(device, verbose=True)
        ranks = (f", {distributed.world_size()} processes"
                 if distributed.world_size() > 1 else "")
        print(f"dcteach: {method_cls.name} on {data.name} ({len(data)} samples, k={k}, "
              f"preset={args.preset}, seed={args.seed}{ranks})", file=sys.stderr)
    t0 = time.perf_counter()
    labels = model.fit_predict(x, data.y)
    seconds = time.perf_counter() - t0
    if not main_rank:
        return 0
    result = {"method": method_cls.name, "dataset": data.name, "n": len(data), "n_clusters": k,
              "acc": None, "nmi": None, "ari": None, "seconds": round(seconds, 3),
              "device": str(model.device_), "seed": args.seed,
              "config": dict(dataclasses.asdict(model.config), preset=args.preset)}
    if data.y is not None:
        result.update(evaluate(data.y, labels))
        print(format_table([{"name": f"{method_cls.name} / {data.name}", **result,
                             "time(s)": f"{seconds:.1f}"}],
                           keys=("acc", "nmi", "ari", "time(s)")))
    else:
        sizes = np.bincount(labels, minlength=k)
        print(f"{data.name}: no labels, clustered into {k} clusters of sizes {sizes.tolist()}"
              f" in {seconds:.1f}s")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / "labels.npy", labels)
        if data.kind == "text":
            with open(out / "assignments.tsv", "w", encoding="utf-8") as fh:
                for lab, text in zip(labels, data.x, strict=True):
                    fh.write(f"{lab}\t{text}\n")
        write_result(out / "result.json", result)
        from .viz import save_run_plots

        save_run_plots(out, data.y, labels, model.history_, data.class_names or None)
    if args.json:
        write_result(args.json, result)
    return 0


def cmd_eval(args) -> int:
    path = Path(args.labels)
    labels = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, dtype=np.int64)
    data = load_dataset(args.dataset, split=args.split, root=args.data_root)
    if data.y is None:
        raise ValueError(f"{data.name} has no labels to evaluate against")
    res = evaluate(data.y, labels)
    print(format_table([{"name": f"{path.name} / {data.name}", **res}]))
    print(json.dumps(res))
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line for the user, not a source location."""
    print(f"dcteach: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    show, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        if args.command == "list":
            return cmd_options(args.method) if args.method else cmd_list()
        if args.command == "run":
            return cmd_run(args)
        if args.command == "eval":
            return cmd_eval(args)
    except DatasetNotFound as err:
        print(f"dcteach: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as err:
        print(f"dcteach: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("\ndcteach: interrupted; rerun with --resume (same --out) to continue",
              file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = show
    return 1


if __name__ == "__main__":
    sys.exit(main())
