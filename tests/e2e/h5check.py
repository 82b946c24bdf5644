"""Checks on relfm HDF5 outputs for the end-to-end tests (Debian's python3-h5py).

  h5check.py same FILE_A FILE_B GROUP...   datasets under the groups are bit-identical in both files
  h5check.py attr FILE NAME                print a root attribute
  h5check.py results FILE SEEDS EPOCHS     a complete results file: every seed and epoch, finite metrics
"""
import sys

import h5py
import numpy as np


def datasets(f, group):
    out = {}
    f[group].visititems(lambda name, obj: out.__setitem__(f"{group}/{name}", obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def same(a, b, groups):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        for g in groups:
            da, db = datasets(fa, g), datasets(fb, g)
            if da.keys() != db.keys():
                sys.exit(f"{g}: different datasets: {sorted(da.keys() ^ db.keys())[:5]}")
            for name in da:
                x, y = np.asarray(da[name]), np.asarray(db[name])
                if x.shape != y.shape or x.tobytes() != y.tobytes():
                    sys.exit(f"{name} differs between {a} and {b}")
            print(f"identical: {g} ({len(da)} datasets)")


def results(path, seeds, epochs):
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] in (b"relfm.results", "relfm.results"), f.attrs["format"]
        assert int(f.attrs["seeds_completed"]) == seeds, (int(f.attrs["seeds_completed"]), seeds)
        metric = f.attrs["metric"]
        metric = metric.decode() if isinstance(metric, bytes) else metric
        for s in f["summary/seed"][()]:
            g = f[f"seeds/{s}"]
            assert list(g["epoch"][()]) == list(range(1, epochs + 1)), g["epoch"][()]
            for key in ("train_loss", f"valid_{metric}", f"test_{metric}"):
                assert np.all(np.isfinite(g[key][()])), key
            # One column per rank; a run resumed on other ranks keeps its widest epoch's (NaN = no such rank).
            shape = g["rank_train_seconds"].shape
            assert shape[0] == epochs and shape[1] >= int(f.attrs["world_size"]), shape
            assert (np.isfinite(g["rank_train_seconds"][()]).sum(axis=1) >= 1).all()
        config = f["config"][()]
        assert b"[train]" in (config if isinstance(config, bytes) else config.encode())
        print(f"results ok: {seeds} seeds x {epochs} epochs, test {metric} {float(f.attrs['summary_mean']):.4f}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "same":
        same(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "attr":
        with h5py.File(sys.argv[2], "r") as f:
            v = f.attrs[sys.argv[3]]
            print(v.decode() if isinstance(v, bytes) else v)
    elif cmd == "results":
        results(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(f"unknown command {cmd}")
