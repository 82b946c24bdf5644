#!/usr/bin/python3
"""What a chemist reads after MolGroup's grouping: per target, the selected group with its gate scores
round by round (markdown), and a plot of every candidate's gate along the steps of each round.

    /usr/bin/python3 io/analysis/molgroup_report.py runs/molgroup/*/results.h5 --out runs/molgroup/report

writes <out>/report.md and <out>/gates_<target>.png. The inputs are results files of the `molgroup` job
(io/results.hpp; each round is a run /seeds/round<r> with the table `gates`, one row per step). A low gate
means the router found the auxiliary data set close to the target (the official code's convention: g
weights the auxiliary's own branch); a data set survives a round when its score, the mean gate over the
round's last epoch, is at most the threshold, and every round drops at least one. With --pairs (the file
io/analysis/molgroup_pairs.py writes) the report adds each selected auxiliary's pairwise gain.
"""
import argparse
import os

import h5py
import numpy as np


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def config_value(config, key):
    section, name = key.split(".")
    current = None
    for line in config.splitlines():
        line = line.strip()
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section and line.split("=")[0].strip() == name:
            return line.split("=", 1)[1].strip()
    return None


def rounds_of(f):
    return [text(r) for r in f["summary/run"][()]]


def plot_gates(f, target, threshold, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = rounds_of(f)
    fig, axes = plt.subplots(1, len(runs), figsize=(4.6 * len(runs), 3.4), squeeze=False, sharey=True)
    for ax, run in zip(axes[0], runs):
        g = f[f"seeds/{run}"]
        gates, columns = g["gates"][()], [text(c) for c in g["gates"].attrs["columns"]]
        epochs = g["gates_epoch"][()]
        for c, name in enumerate(columns):
            if not np.isfinite(gates[:, c]).any():
                continue
            steps = np.arange(len(gates))
            line, = ax.plot(steps, gates[:, c], linewidth=0.6, alpha=0.45)
            # Per-epoch means, at each epoch's last step (the warm-up epoch has no gates).
            scored = [e for e in np.unique(epochs) if np.isfinite(gates[epochs == e, c]).any()]
            means = [np.nanmean(gates[epochs == e, c]) for e in scored]
            ends = [steps[epochs == e][-1] for e in scored]
            ax.plot(ends, means, marker="o", markersize=3, color=line.get_color(), label=name)
        ax.axhline(threshold, color="black", linestyle=":", linewidth=1)
        ax.set_title(f"{target}: {run} (kept: {text(g.attrs.get('kept', '')) or 'none'})", fontsize=8)
        ax.set_xlabel("step")
        ax.legend(fontsize=6, loc="upper right")
    axes[0][0].set_ylabel("gate g (low = close to the target)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="results.h5 files of molgroup jobs")
    parser.add_argument("--out", default="molgroup_report", help="directory for report.md and the plots")
    parser.add_argument("--pairs", help="pairs.h5 of the pairwise study (optional)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    pairs = None
    if args.pairs:
        with h5py.File(args.pairs, "r") as p:
            names = [text(n) for n in p["datasets"][()]]
            pairs = (names, p["relative_gain"][()])
    lines = ["# MolGroup: selected auxiliary data sets", ""]
    for path in args.results:
        with h5py.File(path, "r") as f:
            if text(f.attrs.get("job_kind", "")) != "molgroup":
                raise SystemExit(f"{path} is not the results file of a molgroup job")
            target = text(f.attrs["target"])
            threshold = float(config_value(text(f["config"][()]), "grouping.threshold") or 0.4)
            group = text(f.attrs.get("selected_group", ""))
            survivors = text(f.attrs.get("survivors", group))
            top_k = (f"; grouping.top_k kept the {len(group.split(', ')) if group else 0} best of the survivors "
                     f"{survivors}") if survivors != group else ""
            lines += [f"## {target} ({text(f.attrs['metric'])})", "",
                      f"Selected group: **{group or 'none (the target alone)'}** after {text(f.attrs.get('rounds_run', '?'))} "
                      f"round(s){top_k}; candidates {text(f.attrs.get('candidates', ''))}; threshold {threshold}.", "",
                      "| round | data sets | score per candidate (mean gate, last epoch) | kept | dropped |",
                      "|---|---|---|---|---|"]
            for run in rounds_of(f):
                a = f[f"seeds/{run}"].attrs
                scores = sorted((s.split("=") for s in text(a.get("scores", "")).split(", ") if "=" in s),
                                key=lambda kv: float(kv[1]))
                dropped = text(a.get("dropped", "")) + (" (forced)" if text(a.get("forced_drop", "")) == "yes" else "")
                lines.append(f"| {run} | {text(a.get('datasets', ''))} | "
                             f"{', '.join(f'{k} {float(v):.3f}' for k, v in scores)} | {text(a.get('kept', '')) or '-'} | {dropped} |")
            if pairs and group:
                names, gain = pairs
                if target in names:
                    row = names.index(target)
                    cells = [f"{n} {100 * gain[row, names.index(n)]:+.1f}%" for n in group.split(", ") if n in names]
                    lines += ["", f"Pairwise gain of the selected auxiliaries with {target}: {', '.join(cells)}."]
            png = os.path.join(args.out, f"gates_{target}.png")
            plot_gates(f, target, threshold, png)
            lines += ["", f"![gates of {target}](gates_{target}.png)", ""]
    with open(os.path.join(args.out, "report.md"), "w") as out:
        out.write("\n".join(lines) + "\n")
    print(f"wrote {os.path.join(args.out, 'report.md')} and {len(args.results)} gate plot(s)")


if __name__ == "__main__":
    main()
