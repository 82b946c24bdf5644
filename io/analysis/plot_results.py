#!/usr/bin/python3
"""Learning curves from any relfm results file (io/results.hpp), as a PNG.

    /usr/bin/python3 io/analysis/plot_results.py runs/gin_bbbp/results.h5 --out curves.png

One column per seed: the training loss (left axis) and, on the right axis, the series the job's summary
rule selects by and reports (e.g. valid_rocauc and test_rocauc), with the selected epoch marked. Works for
every job kind: the names come from the file's `select_series` and `report_series` attributes. A Diffuser
run (job kind `diffuser`) gets a second row: its diffusion statistics per layer over the epochs, the share
of the diffused attention that arrives from beyond one hop (`beyond_one_hop_layer<l>`). Needs Debian's
python3-h5py and python3-matplotlib.
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
        if int(f.attrs.get("format_version", 0)) < 2:
            raise SystemExit(f"{args.results} is a format_version 1 results file; this script reads version 2")
        select, report = text(f.attrs["select_series"]), text(f.attrs["report_series"])
        title = text(f.attrs.get("dataset", f.attrs["job_kind"]))
        # Runs are named by their seed, or by the job (MolGroup's rounds); version 2 had seeds only.
        if "summary/run" in f:
            seeds = [text(r) for r in f["summary/run"][()]]
        else:
            seeds = [str(s) for s in f["summary/seed"][()]]
        best = dict(zip(seeds, f["summary/best_epoch"][()]))
        # Per-layer diffusion statistics (Diffuser): series named beyond_one_hop_layer<l>, in layer order.
        prefix = "beyond_one_hop_layer"
        layers = sorted({k for seed in seeds for k in f[f"seeds/{seed}"] if k.startswith(prefix)},
                        key=lambda k: int(k[len(prefix):]))
        rows = 2 if layers else 1
        fig, axes = plt.subplots(rows, len(seeds), figsize=(4.2 * len(seeds), 3.4 * rows), squeeze=False)
        for ax, seed in zip(axes[1] if layers else [], seeds):
            g = f[f"seeds/{seed}"]
            for name in layers:
                if name in g:
                    ax.plot(g["epoch"][()], g[name][()], marker="o", markersize=3, label=f"layer {name[len(prefix):]}")
            ax.set_ylim(0, 1)
            ax.set_xlabel("epoch")
            ax.set_ylabel("attention from beyond one hop")
            ax.set_title("diffusion: share of each query's attention\nthat arrives from outside its keys", fontsize=8)
            ax.legend(fontsize=7)
        for ax, seed in zip(axes[0], seeds):
            g = f[f"seeds/{seed}"]
            epoch = g["epoch"][()]
            ax.plot(epoch, g["train_loss"][()], color="tab:gray", label="train loss")
            ax.set_xlabel("epoch")
            ax.set_ylabel("training loss")
            twin = ax.twinx()
            for name, color in ((select, "tab:blue"), (report, "tab:orange")):
                if name in g:
                    twin.plot(epoch, g[name][()], color=color, label=name)
            if best[seed] > 0:
                twin.axvline(best[seed], color="tab:blue", linestyle=":", linewidth=1)
            twin.set_ylabel(f"{select} / {report}")
            ax.set_title(f"{title}, {'seed ' if seed.isdigit() else ''}{seed}")
            lines = [l for l in ax.get_lines() + twin.get_lines() if not l.get_label().startswith("_")]
            ax.legend(lines, [line.get_label() for line in lines], fontsize=7, loc="lower left")
        fig.suptitle(f"{text(f.attrs['job'])}: {report} at the best {select} = "
                     f"{float(f.attrs['summary_mean']):.4f} ± {float(f.attrs['summary_std']):.4f}", fontsize=9)
        fig.tight_layout()
        fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
