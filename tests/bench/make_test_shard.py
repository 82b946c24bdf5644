#!/usr/bin/python3
"""Build a relfm molecule shard (HDF5) from a MoleculeNet-style CSV.

Stand-in for the C++ shard writer, which does not exist yet: it lets the
PyTorch reference benchmark (torch_gin.py) run on the same layout the C++ code
will read. Featurisation reproduces ogb/utils/features.py (atom_to_feature_vector
/ bond_to_feature_vector) so the categorical indices match OGB / MolGroup.

The split is a plain seeded random 80/10/10 split. The real shards will use a
scaffold split; for throughput measurements the split does not matter.

Usage:
    /usr/bin/python3 tests/bench/make_test_shard.py \
        --csv /work/main/data/moleculenet/tox21.csv --out /tmp/tox21_shard.h5
"""

import argparse
import csv
import gzip
import os
import sys

import h5py
import numpy as np
from rdkit import Chem
from rdkit import RDLogger

DEFAULT_CSVS = [
    "/work/main/data/moleculenet/tox21.csv",
    "/work/shared/data/moleculenet/tox21.csv",
]

# Value lists from ogb/utils/features.py. Index = position in the list; values
# not in the list map to the trailing "misc" slot (len(list)), exactly like
# OGB's safe_index().
ATOMIC_NUM = list(range(1, 119))                       # misc -> 118
CHIRALITY = ["CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW",
             "CHI_TETRAHEDRAL_CCW", "CHI_OTHER"]       # misc -> 4
DEGREE = list(range(0, 11))                            # misc -> 11
FORMAL_CHARGE = list(range(-5, 6))                     # misc -> 11
NUM_HS = list(range(0, 9))                             # misc -> 9
RADICALS = list(range(0, 5))                           # misc -> 5
HYBRIDIZATION = ["SP", "SP2", "SP3", "SP3D", "SP3D2"]  # misc -> 5
BOND_TYPE = ["SINGLE", "DOUBLE", "TRIPLE", "AROMATIC"]  # misc -> 4
# OGB uses list.index() for stereo (no misc slot); RDKit only produces these six.
BOND_STEREO = ["STEREONONE", "STEREOZ", "STEREOE",
               "STEREOCIS", "STEREOTRANS", "STEREOANY"]


def safe_index(values, v):
    try:
        return values.index(v)
    except ValueError:
        return len(values)


def atom_features(atom):
    return [
        safe_index(ATOMIC_NUM, atom.GetAtomicNum()),
        safe_index(CHIRALITY, str(atom.GetChiralTag())),
        safe_index(DEGREE, atom.GetTotalDegree()),
        safe_index(FORMAL_CHARGE, atom.GetFormalCharge()),
        safe_index(NUM_HS, atom.GetTotalNumHs()),
        safe_index(RADICALS, atom.GetNumRadicalElectrons()),
        safe_index(HYBRIDIZATION, str(atom.GetHybridization())),
        int(atom.GetIsAromatic()),
        int(atom.IsInRing()),
    ]


def bond_features(bond):
    return [
        safe_index(BOND_TYPE, str(bond.GetBondType())),
        BOND_STEREO.index(str(bond.GetStereo())),
        int(bond.GetIsConjugated()),
    ]


def read_csv(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    return header, rows


def featurise(smiles):
    """Return (atom_feats [n,9], src_local [e], dst_local [e], bond_feats [e,3])
    with edges sorted by (destination, source) so that each molecule's edges form
    a CSR-by-destination block, as the shard format requires."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    x = np.array([atom_features(a) for a in mol.GetAtoms()], dtype=np.uint8).reshape(-1, 9)
    src, dst, ef = [], [], []
    for b in mol.GetBonds():
        i, j = b.GetBeginAtomIdx(), b.GetEndAtomIdx()
        f = bond_features(b)
        # Both directions, as in OGB's smiles2graph.
        src += [i, j]
        dst += [j, i]
        ef += [f, f]
    src = np.array(src, dtype=np.int64)
    dst = np.array(dst, dtype=np.int64)
    ef = np.array(ef, dtype=np.uint8).reshape(-1, 3)
    order = np.lexsort((src, dst))  # primary key dst, secondary src
    return x, src[order], dst[order], ef[order]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", default=None,
                    help="MoleculeNet CSV (col 0 = SMILES, remaining cols = binary labels, "
                         "empty = missing). Default: tox21.csv from the data folder.")
    ap.add_argument("--out", required=True, help="output .h5 path (put it under /tmp)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random split")
    ap.add_argument("--task-type", default="classification")
    args = ap.parse_args()

    csv_path = args.csv or next((p for p in DEFAULT_CSVS if os.path.exists(p)), None)
    if csv_path is None:
        sys.exit("no CSV given and no default tox21.csv found")

    RDLogger.DisableLog("rdApp.*")
    header, rows = read_csv(csv_path)
    task_names = header[1:]
    T = len(task_names)

    atom_blocks, src_blocks, dst_blocks, ef_blocks, labels, smiles_kept = [], [], [], [], [], []
    n_failed = 0
    for r in rows:
        g = featurise(r[0])
        if g is None:
            n_failed += 1
            continue
        x, s, d, ef = g
        atom_blocks.append(x)
        src_blocks.append(s)
        dst_blocks.append(d)
        ef_blocks.append(ef)
        labels.append([float(v) if v != "" else np.nan for v in r[1:1 + T]])
        smiles_kept.append(r[0])

    M = len(atom_blocks)
    n_atoms = np.array([len(x) for x in atom_blocks], dtype=np.int64)
    n_edges = np.array([len(s) for s in src_blocks], dtype=np.int64)
    atom_offsets = np.concatenate([[0], np.cumsum(n_atoms)]).astype(np.int64)
    edge_offsets = np.concatenate([[0], np.cumsum(n_edges)]).astype(np.int64)
    A, E = int(atom_offsets[-1]), int(edge_offsets[-1])

    atom_feats = np.concatenate(atom_blocks, axis=0) if M else np.zeros((0, 9), np.uint8)
    edge_src = np.concatenate(src_blocks).astype(np.int32)   # local ids
    edge_feats = np.concatenate(ef_blocks, axis=0).reshape(-1, 3)
    # Global destination of each edge -> in-degree per global atom -> CSR row ptr.
    dst_global = np.concatenate([d + atom_offsets[m] for m, d in enumerate(dst_blocks)])
    assert np.all(np.diff(dst_global) >= 0), "edges must be sorted by destination"
    indeg = np.bincount(dst_global, minlength=A)
    edge_row_ptr = np.concatenate([[0], np.cumsum(indeg)]).astype(np.int64)
    assert edge_row_ptr[-1] == E

    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(M)
    n_train, n_valid = int(0.8 * M), int(0.1 * M)
    train = np.sort(perm[:n_train])
    valid = np.sort(perm[n_train:n_train + n_valid])
    test = np.sort(perm[n_train + n_valid:])

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with h5py.File(args.out, "w") as f:
        f.attrs["format"] = "relfm.molecule_shard"
        f.attrs["format_version"] = np.int64(1)
        f.attrs["num_tasks"] = np.int64(T)
        f.attrs["task_type"] = args.task_type
        f.attrs["num_molecules"] = np.int64(M)
        f.attrs["num_atoms"] = np.int64(A)
        f.attrs["num_edges"] = np.int64(E)
        f.attrs["source_csv"] = os.path.abspath(csv_path)
        f.attrs["featurisation"] = "ogb.utils.features (atom 9 cols, bond 3 cols)"
        f.attrs["split"] = "random 80/10/10 seed %d (test shard, not scaffold)" % args.seed
        f.attrs["task_names"] = np.array(task_names, dtype=h5py.string_dtype())
        f.create_dataset("labels", data=np.array(labels, dtype=np.float32).reshape(M, T))
        g = f.create_group("graph")
        g.create_dataset("atom_offsets", data=atom_offsets)
        g.create_dataset("atom_features", data=atom_feats.astype(np.uint8))
        g.create_dataset("edge_offsets", data=edge_offsets)
        g.create_dataset("edge_row_ptr", data=edge_row_ptr)
        g.create_dataset("edge_src", data=edge_src)
        g.create_dataset("edge_features", data=edge_feats.astype(np.uint8))
        s = f.create_group("split")
        s.create_dataset("train", data=train.astype(np.int64))
        s.create_dataset("valid", data=valid.astype(np.int64))
        s.create_dataset("test", data=test.astype(np.int64))

    print("wrote %s: %d molecules (%d unparsable skipped), %d atoms, %d directed edges, "
          "%d tasks, split %d/%d/%d" % (args.out, M, n_failed, A, E, T,
                                        len(train), len(valid), len(test)))


if __name__ == "__main__":
    main()
