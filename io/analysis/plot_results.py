#!/usr/bin/python3
"""Learning curves from a relfm results file (io/results.hpp), as a PNG.

    /usr/bin/python3 io/analysis/plot_results.py runs/gin_bbbp/results.h5 --out curves.png

One column per seed: training loss (left axis) and the validation / test metric per epoch (right axis),
with the best validation epoch marked. Needs Debian's python3-h5py and python3-matplotlib.
"""
import argparse

import h5py
import matplotlib

matplotlib.use("Agg")  # files only; no display on cluster nodes
import matplotlib.pyplot as plt


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results.h5 written by relfm train")
    parser.add_argument("--out", default="learning_curves.png", help="PNG to write")
    args = parser.parse_args()

    with h5py.File(args.results, "r") as f:
        if text(f.attrs.get("format", "")) != "relfm.results":
            raise SystemExit(f"{args.results} is not a relfm results file")
        metric = text(f.attrs["metric"])
        seeds = list(f["summary/seed"][()])
        best = dict(zip(seeds, f["summary/best_epoch"][()]))
        fig, axes = plt.subplots(1, len(seeds), figsize=(4.2 * len(seeds), 3.4), squeeze=False)
        for ax, seed in zip(axes[0], seeds):
            g = f[f"seeds/{seed}"]
            epoch = g["epoch"][()]
            ax.plot(epoch, g["train_loss"][()], color="tab:gray", label="train loss")
            ax.set_xlabel("epoch")
            ax.set_ylabel("training loss")
            twin = ax.twinx()
            twin.plot(epoch, g[f"valid_{metric}"][()], color="tab:blue", label=f"valid {metric}")
            twin.plot(epoch, g[f"test_{metric}"][()], color="tab:orange", label=f"test {metric}")
            if best[seed] > 0:
                twin.axvline(best[seed], color="tab:blue", linestyle=":", linewidth=1)
            twin.set_ylabel(metric)
            ax.set_title(f"{text(f.attrs['dataset'])}, seed {seed}")
            lines = [l for l in ax.get_lines() + twin.get_lines() if not l.get_label().startswith("_")]
            ax.legend(lines, [line.get_label() for line in lines], fontsize=7, loc="lower left")
        fig.suptitle(f"{text(f.attrs['job'])}: test {metric} at best validation = "
                     f"{float(f.attrs['test_mean']):.4f} ± {float(f.attrs['test_std']):.4f}", fontsize=9)
        fig.tight_layout()
        fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
