#!/usr/bin/python3
"""PyTorch reference of MolGroup's meta step, for the cost benchmark (tests/bench/molgroup_vs_torch.sh).

The official code's step (research/molgroup.md §1.4) on the same sub-batches as relfm's benchmark
(`relfm_molgroup_step dump M FILE.h5` writes them): MetaGIN 5 x 300 (one GIN per data set; an auxiliary
batch mixes its own branch with the target's by its gate at the atom encoder and at every layer), the
MACCS router (task embeddings, structure projection, Set2Set with one step, gate
sigmoid(((1 - lambda) a_task + lambda a_struct) / tau)), the virtual SGD step of the target's GNN on the
auxiliary loss with create_graph=True, the target loss at the stepped parameters (functional_call), its
gradient with respect to the router by double backward, and the real gradient of
(L_0 + sum_k L_k) / (1 + M). Also times a plain step (the real gradient alone) of the same batch.

    /usr/bin/python3 tests/bench/torch_molgroup.py --batches /tmp/mg5.h5 --threads 1 --reps 5

Prints one JSON line: medians of the meta and plain steps in seconds and their ratio.
"""
import argparse
import json
import time

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.stateless import functional_call


def load(path):
    out = []
    with h5py.File(path, "r") as f:
        for m in sorted(f.keys(), key=int):
            g = f[m]
            offsets = g["graph_offsets"][()]
            graph_of = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
            out.append(dict(
                atoms=torch.from_numpy(g["atoms"][()].astype(np.int64)),
                bonds=torch.from_numpy(g["bonds"][()].astype(np.int64)),
                src=torch.from_numpy(g["edge_src"][()]), dst=torch.from_numpy(g["edge_dst"][()]),
                graph=torch.from_numpy(graph_of), graphs=len(offsets) - 1,
                counts=torch.from_numpy(np.diff(offsets).astype(np.float32)),
                labels=torch.from_numpy(g["labels"][()]), fp=torch.from_numpy(g["fingerprints"][()]),
                regression=bool(g.attrs["regression"])))
    return out


class EmbeddingSum(nn.Module):
    def __init__(self, sizes, dim):
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(s, dim) for s in sizes)

    def forward(self, x):
        return sum(t(x[:, i]) for i, t in enumerate(self.tables))


class Layer(nn.Module):
    """OGB's GINConv + the layer's batch norm, up to (not including) the relu and dropout."""

    def __init__(self, h):
        super().__init__()
        self.bond = EmbeddingSum((5, 6), h)
        self.eps = nn.Parameter(torch.zeros(1))
        self.mlp = nn.Sequential(nn.Linear(h, 2 * h), nn.BatchNorm1d(2 * h), nn.ReLU(), nn.Linear(2 * h, h))
        self.norm = nn.BatchNorm1d(h)

    def forward(self, x, b):
        msg = F.relu(x[b["src"]] + self.bond(b["bonds"]))
        agg = torch.zeros_like(x).index_add_(0, b["dst"], msg)
        return self.norm(self.mlp((1 + self.eps) * x + agg))


class Branch(nn.Module):
    def __init__(self, h, layers, tasks, dropout):
        super().__init__()
        self.atom = EmbeddingSum((119, 4), h)
        self.layers = nn.ModuleList(Layer(h) for _ in range(layers))
        self.head = nn.Linear(h, tasks)
        self.dropout = dropout

    def forward(self, b):  # the branch alone (the target's batches, the virtual pass)
        z = self.atom(b["atoms"])
        for i, layer in enumerate(self.layers):
            z = layer(z, b)
            if i + 1 < len(self.layers):
                z = F.relu(z)
            z = F.dropout(z, self.dropout, self.training)
        return self.head(pool(z, b))


def pool(z, b):
    return torch.zeros(b["graphs"], z.shape[1]).index_add_(0, b["graph"], z) / b["counts"][:, None]


def mixed(target, own, b, g):
    z = g * own.atom(b["atoms"]) + (1 - g) * target.atom(b["atoms"])
    for i in range(len(own.layers)):
        z = g * own.layers[i](z, b) + (1 - g) * target.layers[i](z, b)
        if i + 1 < len(own.layers):
            z = F.relu(z)
        z = F.dropout(z, own.dropout, own.training)
    return own.head(pool(z, b))


def masked_loss(out, b):
    y = b["labels"]
    mask = ~torch.isnan(y)
    if b["regression"]:
        return ((out - torch.nan_to_num(y)) ** 2)[mask].mean()
    return F.binary_cross_entropy_with_logits(out[mask], y[mask])


class Set2Set(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.lstm = nn.LSTM(2 * d, d)
        self.d = d

    def forward(self, x):  # x: molecules x d, one set
        h = (torch.zeros(1, 1, self.d), torch.zeros(1, 1, self.d))
        q_star = torch.zeros(1, 2 * self.d)
        q, h = self.lstm(q_star[None], h)
        q = q[0]
        a = torch.softmax((x * q).sum(-1), 0)
        return torch.cat([q, (a[:, None] * x).sum(0, keepdim=True)], 1)


class Router(nn.Module):
    def __init__(self, datasets, bits=167, d=16, lam=0.1, tau=0.1):
        super().__init__()
        self.task = nn.Parameter(torch.randn(datasets, d) * 0.1 + 1.0)
        self.project = nn.Linear(bits, d)
        self.s2s = nn.ModuleList(Set2Set(d) for _ in range(datasets))
        self.lam, self.tau = lam, tau

    def structure(self, m, fp):
        return F.normalize(self.s2s[m](self.project(fp)), dim=1)

    def gate(self, k, s0, fp):
        a_task = (F.normalize(self.task[0], dim=0) * F.normalize(self.task[k], dim=0)).sum()
        a_struct = (s0 * self.structure(k, fp)).sum()
        return torch.sigmoid(((1 - self.lam) * a_task + self.lam * a_struct) / self.tau)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = load(args.batches)
    m_aux = len(data) - 1
    branches = nn.ModuleList(Branch(300, 5, d["labels"].shape[1], 0.5) for d in data)
    router = Router(len(data))
    target = branches[0]
    theta = {n: p for n, p in target.named_parameters() if not n.startswith("head.")}
    head = {n: p for n, p in target.named_parameters() if n.startswith("head.")}

    def losses():
        l0 = masked_loss(target(data[0]), data[0])
        s0 = router.structure(0, data[0]["fp"])
        gates = [router.gate(k, s0, data[k]["fp"]) for k in range(1, len(data))]
        lk = [masked_loss(mixed(target, branches[k], data[k], gates[k - 1]), data[k]) for k in range(1, len(data))]
        return l0, lk

    def plain():
        branches.zero_grad()
        l0, lk = losses()
        ((l0 + sum(lk)) / (1 + m_aux)).backward()

    def meta():
        branches.zero_grad()
        router.zero_grad()
        l0, lk = losses()
        total = (l0 + sum(lk)) / (1 + m_aux)
        total.backward(retain_graph=True)  # the real gradient of every branch and decoder
        l_aux = sum(lk) / m_aux
        grads = torch.autograd.grad(l_aux, list(theta.values()), create_graph=True, allow_unused=True)
        stepped = {n: (p - args.lr * g if g is not None else p) for (n, p), g in zip(theta.items(), grads)}
        l_meta = masked_loss(functional_call(target, {**stepped, **head}, (data[0],)), data[0])
        meta_grads = torch.autograd.grad(l_meta, list(router.parameters()), allow_unused=True)
        for p, g in zip(router.parameters(), meta_grads):
            p.grad = None if g is None else 1000 * g

    def timed(f):
        t0 = time.perf_counter()
        f()
        return time.perf_counter() - t0

    plain()
    meta()
    t_plain, t_meta = [], []
    for _ in range(args.reps):
        t_plain.append(timed(plain))
        t_meta.append(timed(meta))
    print(json.dumps({"torch": torch.__version__, "threads": args.threads, "auxiliaries": m_aux,
                      "plain_step_s": float(np.median(t_plain)), "meta_step_s": float(np.median(t_meta)),
                      "ratio": float(np.median(t_meta) / np.median(t_plain))}))


if __name__ == "__main__":
    main()
