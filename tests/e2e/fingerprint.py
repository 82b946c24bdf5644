"""A run's fingerprint: every seed's per-epoch training loss and validation / test metric (exact, as hex
floats) and a hash of every model and optimiser tensor of its checkpoint, by logical name, so that runs
can be compared across file-format versions (Debian's python3-h5py).

  fingerprint.py RESULTS.h5 CHECKPOINT.h5              print the fingerprint (JSON)
  fingerprint.py RESULTS.h5 CHECKPOINT.h5 --expect F   exit 1 naming the first difference from F

A record F compares what it records: every tensor when it has "tensors", and the seeds it lists (a record
made before a deliberate change to later seeds' random streams keeps only the seeds still comparable).
Keys that begin with "_" are notes on where the record came from.
"""
import hashlib
import json
import sys

import h5py


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def fingerprint(results, checkpoint):
    out = {"seeds": {}, "tensors": {}}
    with h5py.File(results, "r") as f:
        metric = text(f.attrs["metric"])
        for s in f["summary/seed"][()]:
            g = f[f"seeds/{s}"]
            out["seeds"][str(s)] = {
                "train_loss": [float(x).hex() for x in g["train_loss"][()]],
                "valid": [float(x).hex() for x in g[f"valid_{metric}"][()]],
                "test": [float(x).hex() for x in g[f"test_{metric}"][()]],
            }
    with h5py.File(checkpoint, "r") as f:
        version = int(f.attrs["format_version"])
        # Version 1: /params/<name>, /optimizer/<name>/<slot>; version 2: named sections.
        roots = {"params/": "params/", "optimizer/": "optimizer/"} if version == 1 else \
                {"sections/model/values/": "params/", "sections/optimizer/": "optimizer/"}

        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset):
                return
            for prefix, logical in roots.items():
                if name.startswith(prefix):
                    key = logical + name[len(prefix):]
                    out["tensors"][key] = hashlib.sha256(obj[()].astype("<f4").tobytes()).hexdigest()[:16]
        f.visititems(visit)
    return out


def recorded_difference(want, got):
    """The first difference between a record and this run, over what the record holds."""
    for section in ("seeds", "tensors"):
        if section not in want:
            continue
        keys = set(want[section]) if section == "seeds" else set(want[section]) | set(got[section])
        for k in sorted(keys):
            if k not in want[section] or k not in got[section]:
                return f"/{section}/{k}: in {'the record' if k in want[section] else 'this run'} only"
            d = first_difference(want[section][k], got[section][k], f"/{section}/{k}")
            if d:
                return d
    if "seeds" not in want and "tensors" not in want:
        return "the record holds neither seeds nor tensors"
    return None


def first_difference(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}/{k}: present in only one"
            d = first_difference(a[k], b[k], f"{path}/{k}")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a} != {b}"


if __name__ == "__main__":
    got = fingerprint(sys.argv[1], sys.argv[2])
    if len(sys.argv) > 4 and sys.argv[3] == "--expect":
        with open(sys.argv[4]) as f:
            want = json.load(f)
        diff = recorded_difference(want, got)
        if diff:
            sys.exit(f"differs from {sys.argv[4]}: {diff}")
        print(f"identical to {sys.argv[4]}: seeds {sorted(want.get('seeds', {}))}, "
              f"{len(want.get('tensors', {}))} tensors")
    else:
        print(json.dumps(got, indent=1, sort_keys=True))
