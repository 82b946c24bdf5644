#!/usr/bin/python3
"""Gathers MolGroup's pairwise study (slurm/molgroup_pairs.sbatch) into the relative-gain matrix, as HDF5
and as a heat-map PNG (the paper's Figure 1).

    /usr/bin/python3 io/analysis/molgroup_pairs.py runs/molgroup_pairs --datasets bbbp,bace,clintox \\
        --out runs/molgroup_pairs/pairs.h5 --png runs/molgroup_pairs/heatmap.png

Cell (a, b) is the gin_group run of target a with auxiliary b (<base>/a__b/results.h5), the diagonal the
target alone (<base>/a__alone). The relative gain is (perf(a, b) - perf(a)) / perf(a) as the paper
defines it, with the sign turned for metrics where lower is better (RMSE, MAE), so that a positive gain
always means b helps a. perf is the mean over seeds of the test score at the best validation epoch.
A cell whose run is missing or incomplete is NaN (and named on stderr).

Layout of the HDF5 file (format "relfm.pairwise", format_version 1; `relfm inspect` summarises it), D
data sets:
  /                 attributes: format, format_version, source (the base directory)
  /datasets         string [D]     row = target, column = auxiliary, in this order
  /metric           string [D]     each target's metric
  /higher_is_better int64 [D]
  /score            float64 [D, D] mean test score over seeds (diagonal: the target alone)
  /score_std        float64 [D, D] its population std over seeds
  /seeds            int64 [D, D]   completed seeds per cell
  /relative_gain    float64 [D, D] as above (diagonal 0)
"""
import argparse
import os
import sys

import h5py
import numpy as np


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def read_cell(path):
    with h5py.File(path, "r") as f:
        done = f["summary/completed"][()].astype(bool)
        values = f["summary/report_at_best"][()][done]
        return (float(values.mean()) if len(values) else np.nan, float(values.std()) if len(values) else np.nan,
                int(done.sum()), text(f.attrs["report_series"]).split("_", 1)[-1], int(f.attrs["higher_is_better"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the pairs' parent directory (RELFM_OUTPUT_BASE of the array)")
    parser.add_argument("--datasets", required=True, help="comma-separated, in the array's order")
    parser.add_argument("--out", help="HDF5 file to write (default <base>/pairs.h5)")
    parser.add_argument("--png", help="heat-map to write (default <base>/heatmap.png)")
    parser.add_argument("--targets", help="comma-separated: only these rows were run (tests/bench/molgroup_pairs.sh); "
                        "the others stay NaN, are not reported missing and are left out of the heat-map")
    args = parser.parse_args()
    names = [n for n in args.datasets.split(",") if n]
    d = len(names)
    targets = [n for n in (args.targets or args.datasets).split(",") if n]
    unknown = [t for t in targets if t not in names]
    if unknown:
        sys.exit(f"molgroup_pairs.py: --targets {','.join(unknown)} not in --datasets")
    score, std = np.full((d, d), np.nan), np.full((d, d), np.nan)
    seeds = np.zeros((d, d), dtype=np.int64)
    metric, higher = [""] * d, np.ones(d, dtype=np.int64)
    missing = []
    for i, a in enumerate(names):
        if a not in targets:
            continue
        for j, b in enumerate(names):
            path = os.path.join(args.base, f"{a}__{'alone' if i == j else b}", "results.h5")
            if not os.path.exists(path):
                missing.append(path)
                continue
            score[i, j], std[i, j], seeds[i, j], m, h = read_cell(path)
            metric[i], higher[i] = m, h
    gain = np.full((d, d), np.nan)
    for i in range(d):
        sign = 1.0 if higher[i] else -1.0
        gain[i] = sign * (score[i] - score[i, i]) / score[i, i]
        gain[i, i] = 0.0 if np.isfinite(score[i, i]) else np.nan
    for path in missing:
        print(f"molgroup_pairs.py: missing {path}", file=sys.stderr)

    out = args.out or os.path.join(args.base, "pairs.h5")
    tmp = out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = "relfm.pairwise"
        f.attrs["format_version"] = 1
        f.attrs["source"] = os.path.abspath(args.base)
        f["datasets"] = np.array(names, dtype=h5py.string_dtype())
        f["metric"] = np.array(metric, dtype=h5py.string_dtype())
        f["higher_is_better"] = higher
        f["score"], f["score_std"], f["seeds"], f["relative_gain"] = score, std, seeds, gain
    os.replace(tmp, out)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    png = args.png or os.path.join(args.base, "heatmap.png")
    rows = [i for i, n in enumerate(names) if n in targets]
    shown = gain[rows]
    fig, ax = plt.subplots(figsize=(max(5.0, 2.0 + 0.6 * d), max(2.5, 1.5 + 0.55 * len(rows))))
    limit = np.nanmax(np.abs(shown)) if np.isfinite(shown).any() else 1.0
    image = ax.imshow(100 * shown, cmap="RdBu", vmin=-100 * limit, vmax=100 * limit)
    ax.set_xticks(range(d), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), [f"{names[i]} ({metric[i]})" for i in rows], fontsize=8)
    ax.set_xlabel("auxiliary data set")
    ax.set_ylabel("target data set")
    for r, i in enumerate(rows):
        for j in range(d):
            if i != j and np.isfinite(gain[i, j]):
                ax.text(j, r, f"{100 * gain[i, j]:+.1f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label="relative gain (%)")
    ax.set_title("target + one auxiliary vs the target alone", fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
    print(f"wrote {out} and {png} ({d} x {d}, {len(missing)} cell(s) missing)")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
