#!/usr/bin/python3
"""PyTorch reference GIN graph classifier for the relfm throughput benchmark.

Trains the OGB / pretrain-gnns GIN (as MolGroup uses it, with MolGroup's
"simple" atom/bond features) on the training split of a relfm molecule shard and
reports training throughput in molecules per second. It is the baseline the C++
implementation is compared against, so it is meant to be a *fair, efficient*
PyTorch implementation: shard arrays are loaded and pre-processed once, batch
collation is fully vectorised numpy (no Python loop over molecules, atoms or
edges), message passing uses index_select + index_add_.

Run with Debian's python (python3-torch 1.13 linked against OpenBLAS):
    /usr/bin/python3 tests/bench/torch_gin.py --shard /tmp/tox21_shard.h5 --threads 1 --json

--evaluate turns it into an accuracy oracle for MolGroup's protocol instead:
train --epochs epochs per seed, evaluate valid and test ROC-AUC after every
epoch (model.eval(): BatchNorm running statistics, no dropout; OGB evaluator
averaging over tasks with both classes labelled), report the test ROC-AUC at
the first epoch with the best validation ROC-AUC, and mean +- population std
over --seeds:
    /usr/bin/python3 tests/bench/torch_gin.py --shard /tmp/bace.h5 --threads 1 \
        --evaluate --epochs 50 --seeds 0 1 2 3 4 [--sampling replacement]
"""

import argparse
import json
import os
import sys
import time


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shard", required=True, help="relfm.molecule_shard HDF5 file")
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads (torch + BLAS + OpenMP)")
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs over the training split")
    ap.add_argument("--steps", type=int, default=None,
                    help="time exactly this many steps instead of --epochs whole epochs")
    ap.add_argument("--warmup-steps", type=int, default=5, help="untimed steps before timing")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=300)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--native-dropout", action="store_true",
                    help="use F.dropout (slow bernoulli_ on this build) instead of the "
                         "equivalent rand_like mask")
    ap.add_argument("--blas", choices=("auto", "openmp", "pthread"), default="auto",
                    help="OpenBLAS threading variant; auto = OpenMP build if installed "
                         "(see setup_threading)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print a single JSON line")
    ev = ap.add_argument_group("accuracy oracle (--evaluate)")
    ev.add_argument("--evaluate", action="store_true",
                    help="train --epochs epochs per seed and report valid/test ROC-AUC "
                         "(MolGroup protocol) instead of measuring throughput")
    ev.add_argument("--seeds", type=int, nargs="+", default=None,
                    help="seeds to run with --evaluate (default: --seed)")
    ev.add_argument("--sampling", choices=("shuffle", "replacement"), default="shuffle",
                    help="shuffle: a permutation per epoch, last partial batch kept; "
                         "replacement: every slot drawn uniformly with replacement, "
                         "epoch length = train size (MolGroup's MixedDataset with "
                         "balance=True, which its train.py uses only when mixing several "
                         "data sets; a single target data set gets balance=False = shuffle)")
    ev.add_argument("--resample-train", type=int, default=None, metavar="N",
                    help="replace the training split by a fixed multiset of N molecules drawn "
                         "from it with replacement once (np.random.RandomState(0)), before any "
                         "seed, like MolGroup's CustomPygDataset ('ct-' data sets, "
                         "--n_train_graphs 5000); --sampling then applies to that multiset")
    ev.add_argument("--eval-batch-size", type=int, default=256,
                    help="batch size for evaluation (BN uses running stats, so only speed)")
    ev.add_argument("--curves", default=None,
                    help="append per-epoch records (seed, epoch, loss, valid, test) to this JSONL file")
    return ap.parse_args(argv)


OPENBLAS_OPENMP_DIR = "/usr/lib/x86_64-linux-gnu/openblas-openmp"


def setup_threading(args):
    """Fix BLAS variant and thread counts before torch is loaded.

    Both must happen before `import torch`: libgomp and OpenBLAS read their
    environment once at library init, and the BLAS variant is chosen by the
    dynamic loader at process start (hence the re-exec with LD_LIBRARY_PATH).

    Why the OpenMP build of OpenBLAS: Debian's default libopenblas0-pthread
    keeps its own worker pool next to torch's libgomp pool. With 2 threads on
    2 cores that is 3 busy threads, each pool spin-waiting while the other
    works; measured on tox21 this made --threads 2 *slower* than --threads 1
    (~300 vs ~430 molecules/s). libopenblas0-openmp runs its GEMMs on the same
    libgomp pool, which removes the contention (~710 molecules/s). It is
    selected per process only; the system's libblas alternative is untouched.
    If it is not installed (or --blas pthread), the pthread build is used with
    short spin timeouts on both pools, the best setting found for it.
    """
    want_openmp = args.blas in ("auto", "openmp") and os.path.isdir(OPENBLAS_OPENMP_DIR)
    if args.blas == "openmp" and not want_openmp:
        sys.exit("--blas openmp: %s not found (apt-get install libopenblas0-openmp)"
                 % OPENBLAS_OPENMP_DIR)
    env = os.environ
    if want_openmp and env.get("_TORCH_GIN_REEXEC") != "1":
        env["LD_LIBRARY_PATH"] = ":".join(
            p for p in (OPENBLAS_OPENMP_DIR, env.get("LD_LIBRARY_PATH")) if p)
        env["_TORCH_GIN_REEXEC"] = "1"
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(args.threads)
    if not want_openmp and args.threads > 1:
        # pthread OpenBLAS: let its idle workers sleep after 2^4 cycles and
        # shorten libgomp's spin so the two pools stop stealing each other's
        # cores (~640-720 instead of ~320 molecules/s at 2 threads). Only defaults:
        # explicit settings in the caller's environment win.
        env.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
        env.setdefault("GOMP_SPINCOUNT", "10000")


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    setup_threading(ARGS)

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# Vocabulary sizes of the "simple" features (OGB: atomic number incl. misc slot,
# chirality incl. misc; bond type incl. misc, bond stereo).
ATOM_VOCAB = (119, 5)
BOND_VOCAB = (5, 6)


# --------------------------------------------------------------------------- data

class Shard:
    """The shard's arrays held in memory, plus per-edge arrays derived once.

    All collation work that does not depend on the batch composition is done
    here (untimed), so that per-step collation is only fancy indexing and a few
    np.repeat calls -- what an efficient data pipeline would do.
    """

    def __init__(self, path):
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
            if isinstance(fmt, (bytes, np.bytes_)):  # `relfm shard` writes fixed-length strings
                fmt = fmt.decode()
            if fmt != "relfm.molecule_shard":
                raise ValueError("%s: not a relfm.molecule_shard" % path)
            if int(f.attrs.get("format_version")) != 1:
                raise ValueError("%s: unsupported format_version" % path)
            self.num_tasks = int(f.attrs["num_tasks"])
            self.labels = f["labels"][:].astype(np.float32)
            g = f["graph"]
            self.atom_offsets = g["atom_offsets"][:].astype(np.int64)
            atom_feats = g["atom_features"][:]
            self.edge_offsets = g["edge_offsets"][:].astype(np.int64)
            row_ptr = g["edge_row_ptr"][:].astype(np.int64)
            edge_src = g["edge_src"][:].astype(np.int64)
            edge_feats = g["edge_features"][:]
            self.train = f["split/train"][:].astype(np.int64)
            self.valid = f["split/valid"][:].astype(np.int64)
            self.test = f["split/test"][:].astype(np.int64)

        A = len(atom_feats)
        # Only the two "simple" columns are used; keep them contiguous and int64
        # (the dtype nn.Embedding wants) so that collation is a single gather.
        self.atom_x = np.ascontiguousarray(atom_feats[:, :2].astype(np.int64))
        self.edge_x = np.ascontiguousarray(edge_feats[:, :2].astype(np.int64))
        # Per-edge destination as a LOCAL atom index (the CSR row pointer gives
        # global destinations). With local src and dst, a batch only needs a
        # per-molecule offset added to both.
        dst_global = np.repeat(np.arange(A, dtype=np.int64), np.diff(row_ptr))
        n_edges = np.diff(self.edge_offsets)
        mol_of_edge = np.repeat(np.arange(len(n_edges)), n_edges)
        self.edge_src = edge_src
        self.edge_dst = dst_global - self.atom_offsets[mol_of_edge]
        self.n_atoms = np.diff(self.atom_offsets)
        self.n_edges = n_edges


def _concat_ranges(starts, counts):
    """Indices of the concatenation of ranges [starts[i], starts[i]+counts[i])."""
    total = int(counts.sum())
    excl = np.cumsum(counts) - counts
    return np.repeat(starts - excl, counts) + np.arange(total, dtype=np.int64)


def collate(shard, mols):
    """Batch molecules `mols` into one disjoint graph (torch tensors)."""
    na = shard.n_atoms[mols]
    ne = shard.n_edges[mols]
    atom_ids = _concat_ranges(shard.atom_offsets[mols], na)
    edge_ids = _concat_ranges(shard.edge_offsets[mols], ne)
    # First atom of each molecule inside the batch, repeated per edge.
    base = np.repeat(np.cumsum(na) - na, ne)
    src = shard.edge_src[edge_ids] + base
    dst = shard.edge_dst[edge_ids] + base
    graph_of_atom = np.repeat(np.arange(len(mols), dtype=np.int64), na)
    return dict(
        x=torch.from_numpy(shard.atom_x[atom_ids]),
        edge_attr=torch.from_numpy(shard.edge_x[edge_ids]),
        src=torch.from_numpy(src),
        dst=torch.from_numpy(dst),
        batch=torch.from_numpy(graph_of_atom),
        # Atom counts for mean pooling, precomputed here rather than via a
        # scatter of ones in the model.
        inv_count=torch.from_numpy((1.0 / np.maximum(na, 1)).astype(np.float32)).unsqueeze(1),
        y=torch.from_numpy(shard.labels[mols]),
    )


# -------------------------------------------------------------------------- model

class CategoricalEncoder(nn.Module):
    """Sum of one embedding table per categorical column (OGB AtomEncoder /
    BondEncoder restricted to the "simple" columns)."""

    def __init__(self, vocab_sizes, dim):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(v, dim) for v in vocab_sizes)
        for t in self.tables:
            nn.init.xavier_uniform_(t.weight.data)

    def forward(self, x):
        out = self.tables[0](x[:, 0])
        for i in range(1, len(self.tables)):
            out = out + self.tables[i](x[:, i])
        return out


class GINConv(nn.Module):
    """OGB GINConv: mlp((1 + eps) * h_i + sum_{j->i} relu(h_j + e_ji))."""

    def __init__(self, dim):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.BatchNorm1d(2 * dim),
                                 nn.ReLU(), nn.Linear(2 * dim, dim))
        self.eps = nn.Parameter(torch.zeros(1))
        self.bond_encoder = CategoricalEncoder(BOND_VOCAB, dim)

    def forward(self, h, src, dst, edge_attr):
        e = self.bond_encoder(edge_attr)
        msg = F.relu(h.index_select(0, src) + e)
        # Scatter-add the messages straight into (1 + eps) * h_i instead of into
        # a zero tensor followed by an add: same result, one pass fewer. (In-place
        # is autograd-safe: mul saves its inputs, not its output.) index_add_ is
        # what PyG's "add" aggregation amounts to on CPU; its backward is an
        # index_select.
        z = ((1 + self.eps) * h).index_add_(0, dst, msg)
        return self.mlp(z)


class GIN(nn.Module):
    def __init__(self, hidden, layers, num_tasks, dropout, native_dropout=False):
        super().__init__()
        self.native_dropout = native_dropout
        self.atom_encoder = CategoricalEncoder(ATOM_VOCAB, hidden)
        self.convs = nn.ModuleList(GINConv(hidden) for _ in range(layers))
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(layers))
        self.head = nn.Linear(hidden, num_tasks)
        self.dropout = dropout

    def forward(self, g, num_graphs):
        h = self.atom_encoder(g["x"])
        last = len(self.convs) - 1
        for l, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = norm(conv(h, g["src"], g["dst"], g["edge_attr"]))
            if l != last:
                h = F.relu(h)
            h = dropout(h, self.dropout, self.training, self.native_dropout)
        pooled = h.new_zeros(num_graphs, h.shape[1]).index_add_(0, g["batch"], h)
        return self.head(pooled * g["inv_count"])


def dropout(h, p, training, native=False):
    """Inverted dropout (same distribution as F.dropout: keep w.p. 1-p, scale
    by 1/(1-p)).

    On this torch build (no MKL) F.dropout draws its mask with a scalar
    per-element bernoulli_ loop: ~4.3 ms forward+backward for a 1150x300
    activation (a batch of 64 tox21 molecules), i.e. ~10% of a training step.
    Thresholding torch.rand_like (vectorised) gives the same Bernoulli(1-p) mask
    in ~1.3 ms, so the baseline is not slowed down by an RNG quirk.
    --native-dropout restores F.dropout for comparison.
    """
    if not training or p == 0.0:
        return h
    if native:
        return F.dropout(h, p, training=True)
    mask = torch.rand_like(h).ge_(p).mul_(1.0 / (1.0 - p))
    return h * mask


def masked_bce(logits, y):
    """BCE-with-logits averaged over labelled entries only (NaN = missing)."""
    mask = ~torch.isnan(y)
    n = int(mask.sum())
    if n == 0:
        return logits.sum() * 0.0
    return F.binary_cross_entropy_with_logits(logits[mask], y[mask], reduction="sum") / n


# ---------------------------------------------------------------------- benchmark

def blas_in_use():
    """(library, variant) of the BLAS actually mapped into this process
    (Debian's libblas.so.3 is an alternatives symlink, so the link name says
    nothing)."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return "unknown", ""
    if "libmkl" in maps:
        return "mkl", ""
    if "libopenblas" in maps:
        for variant in ("openmp", "pthread", "serial"):
            if "/openblas-%s/" % variant in maps:
                return "openblas", variant
        return "openblas", ""
    if "libblis" in maps:
        return "blis", ""
    if "/blas/libblas.so" in maps:
        return "reference", ""
    return "unknown", ""


def blas_core():
    """The kernel OpenBLAS picked in this process (openblas_get_corename(); it
    honours OPENBLAS_CORETYPE), or "" when the BLAS is not OpenBLAS: the
    benchmark prints it so that relfm and this peer are compared on known kernels."""
    import ctypes
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libopenblas" in line}
    except OSError:
        return ""
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)  # already mapped: the same library, not a second copy
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode().strip()
        except (OSError, AttributeError):
            continue
    return ""


def batches(train, batch_size, rng):
    """One epoch: a seeded shuffle cut into batches (last one may be short,
    like a DataLoader with drop_last=False)."""
    perm = train[rng.permutation(len(train))]
    for i in range(0, len(perm), batch_size):
        yield perm[i:i + batch_size]


def run(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    shard = Shard(args.shard)
    model = GIN(args.hidden, args.layers, shard.num_tasks, args.dropout, args.native_dropout)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)

    phase = dict(collate=0.0, forward=0.0, backward=0.0, optimizer=0.0)

    def step(mols, record):
        # CPU ops are synchronous, so perf_counter brackets measure real work.
        t0 = time.perf_counter()
        g = collate(shard, mols)
        t1 = time.perf_counter()
        loss = masked_bce(model(g, len(mols)), g["y"])
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if record:
            phase["collate"] += t1 - t0
            phase["forward"] += t2 - t1
            phase["backward"] += t3 - t2
            phase["optimizer"] += t4 - t3
        return loss

    # Warmup draws from its own shuffle so the timed part covers whole epochs.
    warm_rng = np.random.default_rng(args.seed + 1_000_003)
    done = 0
    while done < args.warmup_steps:
        for mols in batches(shard.train, args.batch_size, warm_rng):
            step(mols, False)
            done += 1
            if done >= args.warmup_steps:
                break

    rng = np.random.default_rng(args.seed)
    n_mols = n_steps = n_atoms = n_edges = 0
    loss = None
    t_start = time.perf_counter()
    epoch = 0
    while True:
        if args.steps is None and epoch >= args.epochs:
            break
        for mols in batches(shard.train, args.batch_size, rng):
            if args.steps is not None and n_steps >= args.steps:
                break
            loss = step(mols, True)
            n_steps += 1
            n_mols += len(mols)
            n_atoms += int(shard.n_atoms[mols].sum())
            n_edges += int(shard.n_edges[mols].sum())
        epoch += 1
        if args.steps is not None and n_steps >= args.steps:
            break
    seconds = time.perf_counter() - t_start

    return {
        "impl": "pytorch",
        "threads": args.threads,
        "molecules_per_s": n_mols / seconds,
        "seconds": seconds,
        "molecules": n_mols,
        "steps": n_steps,
        "atoms": n_atoms,
        "directed_edges": n_edges,
        "ms_per_step": {k: 1e3 * v / max(n_steps, 1) for k, v in phase.items()},
        "final_loss": float(loss) if loss is not None else None,
        "batch_size": args.batch_size,
        "hidden": args.hidden,
        "layers": args.layers,
        "warmup_steps": args.warmup_steps,
        "dropout_impl": "native" if args.native_dropout else "rand_mask",
        "shard": os.path.abspath(args.shard),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "blas": blas_in_use()[0],
        "blas_variant": blas_in_use()[1],
        "blas_core": blas_core(),
        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE", ""),
    }


# ------------------------------------------------------------------ accuracy oracle

def binary_roc_auc(y, score):
    """ROC-AUC of scores against 0/1 labels: the Mann-Whitney U statistic with
    average ranks for tied scores (equal to sklearn's roc_auc_score)."""
    y = np.asarray(y, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    order = np.argsort(score, kind="mergesort")
    s_sorted = score[order]
    ranks_sorted = np.empty(len(score), dtype=np.float64)
    # Runs of equal scores get the mean of their 1-based ranks.
    boundaries = np.flatnonzero(np.diff(s_sorted)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(score)]))
    for a, b in zip(starts, ends):
        ranks_sorted[a:b] = 0.5 * (a + 1 + b)
    ranks = np.empty_like(ranks_sorted)
    ranks[order] = ranks_sorted
    pos = y == 1
    n_pos = int(pos.sum())
    n_neg = len(y) - n_pos
    return (ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def ogb_rocauc(y_true, y_pred):
    """OGB Evaluator's rocauc: mean over tasks that have both classes among the
    labelled (non-NaN) entries; NaN if no task qualifies."""
    aucs = []
    for t in range(y_true.shape[1]):
        labelled = ~np.isnan(y_true[:, t])
        yt = y_true[labelled, t]
        if np.sum(yt == 1) > 0 and np.sum(yt == 0) > 0:
            aucs.append(binary_roc_auc(yt, y_pred[labelled, t]))
    return float(np.mean(aucs)) if aucs else float("nan")


@torch.no_grad()
def predict(model, shard, mols, batch_size):
    model.eval()
    out = []
    for i in range(0, len(mols), batch_size):
        b = mols[i:i + batch_size]
        out.append(model(collate(shard, b), len(b)).numpy())
    return np.concatenate(out, axis=0)


def epoch_batches(train, batch_size, rng, sampling):
    if sampling == "shuffle":
        return batches(train, batch_size, rng)
    # With replacement: len(train) slots, each an independent uniform draw.
    draws = train[rng.integers(0, len(train), size=len(train))]
    return (draws[i:i + batch_size] for i in range(0, len(draws), batch_size))


def evaluate_seed(args, shard, seed, curves):
    torch.manual_seed(seed)
    model = GIN(args.hidden, args.layers, shard.num_tasks, args.dropout, args.native_dropout)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(seed)
    best = dict(epoch=-1, valid=-np.inf, test=float("nan"))
    history = []
    t0 = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        loss_sum = 0.0
        n_batches = 0
        for mols in epoch_batches(shard.train, args.batch_size, rng, args.sampling):
            g = collate(shard, mols)
            loss = masked_bce(model(g, len(mols)), g["y"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss)
            n_batches += 1
        valid = ogb_rocauc(shard.labels[shard.valid],
                           predict(model, shard, shard.valid, args.eval_batch_size))
        test = ogb_rocauc(shard.labels[shard.test],
                          predict(model, shard, shard.test, args.eval_batch_size))
        if valid > best["valid"]:  # strictly greater: the first best epoch wins ties
            best = dict(epoch=epoch, valid=valid, test=test)
        rec = dict(seed=seed, epoch=epoch, loss=loss_sum / max(n_batches, 1),
                   valid=valid, test=test, seconds=time.perf_counter() - t0)
        history.append(rec)
        if curves is not None:
            curves.write(json.dumps(rec) + "\n")
            curves.flush()
        if not args.json:
            print("seed %d epoch %3d  loss %.4f  valid %.4f  test %.4f  (%.0f s)"
                  % (seed, epoch, rec["loss"], valid, test, rec["seconds"]),
                  file=sys.stderr, flush=True)
    tests = np.array([h["test"] for h in history])
    return dict(seed=seed, best_epoch=best["epoch"], valid=best["valid"], test=best["test"],
                last_test=float(tests[-1]),
                mean_test_last10=float(np.mean(tests[-10:])),
                seconds=time.perf_counter() - t0)


def run_evaluate(args):
    torch.set_num_threads(args.threads)
    shard = Shard(args.shard)
    if args.resample_train is not None:
        pick = np.random.RandomState(0).choice(len(shard.train), args.resample_train)
        shard.train = shard.train[pick]
    seeds = args.seeds if args.seeds is not None else [args.seed]
    curves = open(args.curves, "a") if args.curves else None
    per_seed = []
    try:
        for seed in seeds:
            r = evaluate_seed(args, shard, seed, curves)
            per_seed.append(r)
            print(json.dumps(dict(kind="seed", **r)), flush=True)
    finally:
        if curves is not None:
            curves.close()
    tests = np.array([r["test"] for r in per_seed])
    valids = np.array([r["valid"] for r in per_seed])
    with h5py.File(args.shard, "r") as f:
        dataset = f.attrs.get("dataset")
    dataset = dataset.decode() if isinstance(dataset, bytes) else str(dataset)
    return dict(
        kind="summary", impl="pytorch", dataset=dataset, shard=os.path.abspath(args.shard),
        sampling=args.sampling, resample_train=args.resample_train, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, hidden=args.hidden, layers=args.layers, dropout=args.dropout,
        seeds=seeds,
        per_seed=[(r["seed"], r["best_epoch"], round(r["valid"], 4), round(r["test"], 4))
                  for r in per_seed],
        test_mean=float(tests.mean()), test_std=float(tests.std()),  # population std
        valid_mean=float(valids.mean()), valid_std=float(valids.std()),
        last_test_mean=float(np.mean([r["last_test"] for r in per_seed])),
        mean_test_last10=float(np.mean([r["mean_test_last10"] for r in per_seed])),
        torch=torch.__version__, threads=torch.get_num_threads(),
    )


def main():
    if ARGS.evaluate:
        print(json.dumps(run_evaluate(ARGS)), flush=True)
        return 0
    res = run(ARGS)
    if ARGS.json:
        print(json.dumps(res), flush=True)
    else:
        ph = res["ms_per_step"]
        print("pytorch GIN: %.1f molecules/s (%d molecules, %d steps, %.2f s, %d threads, blas=%s-%s)"
              % (res["molecules_per_s"], res["molecules"], res["steps"], res["seconds"],
                 res["threads"], res["blas"], res["blas_variant"]))
        print("per step: collate %.2f ms, forward %.2f ms, backward %.2f ms, optimizer %.2f ms"
              % (ph["collate"], ph["forward"], ph["backward"], ph["optimizer"]))
        print("final loss %.4f" % res["final_loss"])


if __name__ == "__main__":
    sys.exit(main())
