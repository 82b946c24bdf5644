#!/usr/bin/python3
"""Cross-check of relfm's MolGroup meta step against the official PyTorch procedure, same parameters and sub-batches.

`relfm_molgroup_step check M FILE.h5 [PERTURB [SKIP]]` (tests/bench/molgroup_step.cpp, its header documents the
file) writes the sub-batches, every MetaGIN and router parameter by relfm's name, and relfm's exact (dual,
double) meta step: gates, L_0, L_k, L_aux, L_meta, h_k, the router's meta-gradient and the real gradients.
This script rebuilds the official model in float64 (research/molgroup.md §1.2-1.4; the classes below follow
the official `models/metagin.py`, `models/model_utils.py`, `models/gater.py` module by module, parameter
names included: ParamWrapper's `w - w.lr * w.grad`, BNLayer, LinearLayer, EmbeddingLayer, MetaGINConv,
MixGate with PyTorch Geometric's Set2Set over one set, NNDecoder), loads relfm's values through an explicit
name map (it fails on any relfm parameter it cannot map and on any official parameter left unloaded), runs
the official `meta_train` step (the losses; `aux_loss.backward(create_graph=True)`; the target pass with
update=True; `torch.autograd.grad` of the meta loss w.r.t. every 'gate' parameter; the real gradient of
sum(losses) / len(losses)), and prints relfm vs torch with the relative error
||relfm - torch|| / max(||relfm||, ||torch||) per quantity.

Dropout is 0 (as relfm's check mode). Known intended difference: the official BNLayer normalises with the
unbiased batch variance, relfm with the biased one; the default here is relfm's choice, --official-bn
takes the official one. Unless --no-variants, the script also reports how much the meta-gradient changes
with the other variance, and the losses under the project page's (inverted) gate convention. It also
compares the file's float central / forward (and double central) meta-gradients, the ones the molgroup
job computes by default, with the exact one (informational, not part of the exit status), and shows
where one Adam step of the router (lr 1e-3, x1000 gradient) moves each gate.

    build/tests/relfm_molgroup_step check 11 /tmp/mgcheck/m11.h5 [PERTURB [SKIP]]
    /usr/bin/python3 tests/bench/torch_molgroup_check.py /tmp/mgcheck/m11.h5 [--official-bn] [--tol 1e-6] [--no-variants]

Exit status 0 when every compared quantity agrees within --tol, 1 otherwise.
"""
import argparse
import sys

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


# ---- the official modules (float64), parameter names as in the official code --------------------------------

def wrap(weight, update):
    """ParamWrapper: the virtual step w - w.lr * w.grad when update is set and a gradient is present."""
    if update and weight.grad is not None:
        return weight - weight.lr * weight.grad
    return weight


class BNLayer(nn.Module):
    unbiased = False  # relfm's choice by default; the official BNLayer uses x.var(dim=0), unbiased

    def __init__(self, n, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.gamma = nn.Parameter(torch.ones(n))
        self.beta = nn.Parameter(torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def forward(self, x, update=False, bn_update=True):
        gamma, beta = wrap(self.gamma, update), wrap(self.beta, update)
        if self.training:
            mean = x.mean(dim=0, keepdim=True)
            var = x.var(dim=0, keepdim=True, unbiased=BNLayer.unbiased)
            if bn_update:
                self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean.detach()
                self.running_var = (1 - self.momentum) * self.running_var + self.momentum * var.detach()
        else:
            mean, var = self.running_mean, self.running_var
        return gamma * ((x - mean) / torch.sqrt(var + self.eps)) + beta


class LinearLayer(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_out, n_in))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x, update=False):
        return torch.matmul(x, wrap(self.weight, update).t()) + wrap(self.bias, update)


class EmbeddingLayer(nn.Module):
    def __init__(self, n, dim):
        super().__init__()
        self.embedding = nn.Embedding(n, dim)

    def forward(self, x, update=False):
        emb = self.embedding(x)
        w = self.embedding.weight
        if update and w.grad is not None:  # the official code sets emb.grad = w.grad[x], emb.lr = w.lr
            return emb - w.lr * w.grad[x]
        return emb


class FeatureEncoder(nn.Module):
    """AtomEncoder / BondEncoder restricted to the tables the 'simple' features use (atom 119, 4; bond 5, 6):
    the official modules hold 9 / 3 tables, of which only the first x.shape[1] = 2 are read."""

    def __init__(self, sizes, dim, attr):
        super().__init__()
        setattr(self, attr, nn.ModuleList(EmbeddingLayer(s, dim) for s in sizes))
        self.attr = attr

    def forward(self, x, update=False):
        tables = getattr(self, self.attr)
        return sum(tables[i](x[:, i], update) for i in range(x.shape[1]))


class TwoLayerMLP(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = LinearLayer(dim, 2 * dim)
        self.bn = BNLayer(2 * dim)
        self.weight2 = LinearLayer(2 * dim, dim)
        self.bn2 = BNLayer(dim)

    def forward(self, x, update=False, bn_update=True):
        x = F.relu(self.bn(self.weight(x, update), update, bn_update))
        return self.bn2(self.weight2(x, update), update, bn_update)


def propagate(x, b, edge_embedding):  # MessagePassing(aggr="add") with message relu(x_j + e_ij)
    msg = F.relu(x[b["src"]] + edge_embedding)
    return torch.zeros_like(x).index_add_(0, b["dst"], msg)


class MetaGINConv(nn.Module):
    def __init__(self, dim, n):
        super().__init__()
        self.mlps = nn.ModuleList(TwoLayerMLP(dim) for _ in range(n))
        self.eps = nn.ParameterList([nn.Parameter(torch.zeros(1)) for _ in range(n)])
        self.bond_encoders = nn.ModuleList(FeatureEncoder((5, 6), dim, "bond_embedding_list") for _ in range(n))

    def forward(self, x, b, k, gate=None, update=False):
        out = self.mlps[k]((1 + wrap(self.eps[k], update)) * x + propagate(x, b, self.bond_encoders[k](b["bonds"], update)),
                           update=update)
        if k != 0 and gate is not None:
            target = self.mlps[0]((1 + wrap(self.eps[0], update)) * x + propagate(x, b, self.bond_encoders[0](b["bonds"], update)),
                                  update=update, bn_update=False)
            return gate * out + (1 - gate) * target  # the code's convention: g weights the auxiliary's own branch
        return out


def global_mean_pool(x, b):
    return torch.zeros(b["graphs"], x.shape[1]).index_add_(0, b["graph"], x) / b["counts"][:, None]


class Set2Set(nn.Module):
    """torch_geometric.nn.aggr.Set2Set called without an index (PyG >= 2.3: every row in one set)."""

    def __init__(self, d, steps):
        super().__init__()
        self.d, self.steps = d, steps
        self.lstm = nn.LSTM(2 * d, d)

    def forward(self, x):
        index = torch.zeros(x.shape[0], dtype=torch.long)
        h = (x.new_zeros(1, 1, self.d), x.new_zeros(1, 1, self.d))
        q_star = x.new_zeros(1, 2 * self.d)
        for _ in range(self.steps):
            q, h = self.lstm(q_star.unsqueeze(0), h)
            q = q.view(1, self.d)
            e = (x * q[index]).sum(dim=-1, keepdim=True)
            e = (e - e.max()).exp()
            a = e / (e.sum() + 1e-16)  # torch_geometric.utils.softmax
            r = (a * x).sum(dim=0, keepdim=True)
            q_star = torch.cat([q, r], dim=-1)
        return q_star


class MixGate(nn.Module):
    def __init__(self, n, bits, d, temp, alpha):
        super().__init__()
        self.alpha, self.temp = alpha, temp
        self.task_embedding = nn.Parameter(torch.zeros(n, d))
        self.structure_embeddings = nn.Linear(bits, d, bias=False)
        self.structure_pool = nn.ModuleList(Set2Set(d, 1) for _ in range(n))

    def forward(self, target_fp_nodes, aux_fp_nodes, target_b, aux_b, k):
        norm = F.normalize
        task = norm(self.task_embedding, dim=-1)
        t = norm(global_mean_pool(self.structure_embeddings(target_fp_nodes), target_b), dim=-1)
        a = norm(global_mean_pool(self.structure_embeddings(aux_fp_nodes), aux_b), dim=-1)
        s_t = norm(self.structure_pool[0](t), dim=-1)
        s_a = norm(self.structure_pool[k](a), dim=-1)
        structure = (s_t * s_a).sum(dim=-1)
        task_aff = (task[0] * task[k]).sum(dim=-1)
        return torch.sigmoid(((1 - self.alpha) * task_aff + self.alpha * structure) / self.temp)


class GaterWrapper(nn.Module):
    def __init__(self, *args):
        super().__init__()
        self.gaters = MixGate(*args)


class MetaGIN(nn.Module):
    def __init__(self, layers, dim, n, bits, gate_dim, temp, alpha, convention="code"):
        super().__init__()
        self.layers, self.convention = layers, convention
        self.gater = GaterWrapper(n, bits, gate_dim, temp, alpha)
        self.atom_encoder = nn.Module()
        self.atom_encoder.atom_encoders = nn.ModuleList(FeatureEncoder((119, 4), dim, "atom_embedding_list") for _ in range(n))
        self.convs = nn.ModuleList(MetaGINConv(dim, n) for _ in range(layers))

    def forward(self, b, k, target=None, update=False):
        gate = None
        if k != 0:
            gate = self.gater.gaters(target["fp_nodes"], b["fp_nodes"], target, b, k)
            if self.convention == "blog":  # the project page's labelling, for the convention test only
                gate = 1 - gate
        enc = self.atom_encoder.atom_encoders
        h = enc[k](b["atoms"], update)
        if gate is not None:
            h = gate * h + (1 - gate) * enc[0](b["atoms"], update)
        for layer in range(self.layers):
            h = self.convs[layer](h, b, k, gate=gate, update=update)
            if layer + 1 < self.layers:
                h = F.relu(h)
            # dropout 0
        return h, gate


class NNDecoder(nn.Module):
    def __init__(self, tasks, dim):
        super().__init__()
        self.decoder = nn.ModuleList(nn.Linear(dim, t) for t in tasks)

    def forward(self, b, node_rep, k):
        return self.decoder[k](global_mean_pool(node_rep, b))


def criterion(pred, b):
    y = b["labels"]
    lab = y == y
    if b["regression"]:
        return F.mse_loss(pred[lab], y[lab])
    return F.binary_cross_entropy_with_logits(pred[lab], y[lab])


# ---- data and the name map ---------------------------------------------------------------------------------

def load_batches(f):
    out = []
    for m in sorted((k for k in f.keys() if k.isdigit()), key=int):
        g = f[m]
        offsets = g["graph_offsets"][()]
        graph_of = torch.from_numpy(np.repeat(np.arange(len(offsets) - 1), np.diff(offsets)))
        fp = torch.from_numpy(g["fingerprints"][()].astype(np.float64))
        out.append(dict(atoms=torch.from_numpy(g["atoms"][()].astype(np.int64)),
                        bonds=torch.from_numpy(g["bonds"][()].astype(np.int64)),
                        src=torch.from_numpy(g["edge_src"][()]), dst=torch.from_numpy(g["edge_dst"][()]),
                        graph=graph_of, graphs=len(offsets) - 1,
                        counts=torch.from_numpy(np.diff(offsets).astype(np.float64)),
                        labels=torch.from_numpy(g["labels"][()].astype(np.float64)),
                        fp_nodes=fp[graph_of],  # the official DataLoaderFP copies the fingerprint onto every node
                        regression=bool(g.attrs["regression"])))
    return out


GATES = ("input", "forget", "cell", "output")  # torch.nn.LSTM's row blocks i, f, g, o


def name_map(relfm_name, shape, d):
    """relfm name -> list of (official name, to_torch(array) -> array, to_relfm(torch array) -> array piece).

    Each entry gives the official tensor and, for stacked relfm tensors, which block it is."""
    parts = relfm_name.split(".")
    T = lambda a: a.T
    if parts[0] == "datasets":
        m = parts[1]
        rest = ".".join(parts[2:])
        if rest == "atom_encoder.weight":
            return [(f"atom_encoder.atom_encoders.{m}.atom_embedding_list.0.embedding.weight", slice(0, 119), None),
                    (f"atom_encoder.atom_encoders.{m}.atom_embedding_list.1.embedding.weight", slice(119, 123), None)]
        if rest == "head.weight":
            return [(f"decoder.decoder.{m}.weight", None, T)]
        if rest == "head.bias":
            return [(f"decoder.decoder.{m}.bias", None, "row")]
        if parts[2] == "layers":
            l, tail = parts[3], ".".join(parts[4:])
            if tail == "bond_encoder.weight":
                return [(f"convs.{l}.bond_encoders.{m}.bond_embedding_list.0.embedding.weight", slice(0, 5), None),
                        (f"convs.{l}.bond_encoders.{m}.bond_embedding_list.1.embedding.weight", slice(5, 11), None)]
            if tail == "eps":
                return [(f"convs.{l}.eps.{m}", None, "row")]
            mods = {"mlp.0.linear": "weight", "mlp.0.norm": "bn", "mlp.1.linear": "weight2", "norm": "bn2"}
            for prefix, mod in mods.items():
                if tail.startswith(prefix + "."):
                    leaf = tail[len(prefix) + 1:]
                    if mod.startswith("weight"):
                        if leaf == "weight":
                            return [(f"convs.{l}.mlps.{m}.{mod}.weight", None, T)]
                        if leaf == "bias":
                            return [(f"convs.{l}.mlps.{m}.{mod}.bias", None, "row")]
                    else:
                        official = {"weight": "gamma", "bias": "beta", "running_mean": "running_mean",
                                    "running_var": "running_var"}.get(leaf)
                        if official:
                            return [(f"convs.{l}.mlps.{m}.{mod}.{official}", None, "row")]
        return None
    if parts[0] == "gate":
        if relfm_name == "gate.task_embeddings":
            return [("gater.gaters.task_embedding", None, None)]
        if relfm_name == "gate.structure_projection.weight":
            return [("gater.gaters.structure_embeddings.weight", None, T)]
        if parts[1] == "set2set" and parts[3] == "lstm" and parts[4] in GATES:
            m, q, leaf = parts[2], GATES.index(parts[4]), parts[5]
            rows = slice(q * d, (q + 1) * d)
            if leaf in ("weight_ih", "weight_hh"):
                return [(f"gater.gaters.structure_pool.{m}.lstm.{leaf}_l0", rows, T)]
            if leaf in ("bias_ih", "bias_hh"):
                return [(f"gater.gaters.structure_pool.{m}.lstm.{leaf}_l0", rows, "row")]
        return None
    return None


def to_official(value, how):
    if how is None:
        return value
    if how == "row":
        return value.reshape(-1)
    return how(value)


# ---- main ---------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--official-bn", action="store_true", help="unbiased batch variance (the official BNLayer)")
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--no-variants", action="store_true", help="skip the BN-variance and convention variants")
    args = ap.parse_args()
    torch.set_num_threads(1)

    f = h5py.File(args.file, "r")
    data = load_batches(f)
    M = len(data) - 1
    lr = float(f.attrs["lr"])
    scale = float(f.attrs["gate_grad_scale"])
    temp, alpha = float(f.attrs["temperature"]), float(f.attrs["mix_lambda"])
    relfm_params = {**{n: f["params/gin"][n][()] for n in f["params/gin"]},
                    **{n: f["params/router"][n][()] for n in f["params/router"]}}
    d = relfm_params["gate.task_embeddings"].shape[1]
    bits = relfm_params["gate.structure_projection.weight"].shape[0]
    layers = 1 + max(int(n.split(".")[3]) for n in relfm_params if ".layers." in n)
    hidden = relfm_params["datasets.0.atom_encoder.weight"].shape[1]
    tasks = [relfm_params[f"datasets.{m}.head.bias"].shape[1] for m in range(M + 1)]
    print(f"file {args.file}: target + {M} auxiliaries, MetaGIN {layers} x {hidden}, router d = {d}, bits = {bits}, "
          f"lr = {lr}, scale = {scale}, tau = {temp}, lambda = {alpha}, perturb = {f.attrs['perturb']}")
    print("sub-batches (molecules/atoms):", ", ".join(f"{b['graphs']}/{b['atoms'].shape[0]}" for b in data))

    def build(unbiased, convention="code"):
        BNLayer.unbiased = unbiased
        model = MetaGIN(layers, hidden, M + 1, bits, d, temp, alpha, convention)
        decoder = NNDecoder(tasks, hidden)
        official = {**{n: p for n, p in model.named_parameters()}, **{"decoder." + n: p for n, p in decoder.named_parameters()},
                    **{n: b for n, b in model.named_buffers()}}
        loaded, unmapped = set(), []
        with torch.no_grad():
            for name, value in relfm_params.items():
                entries = name_map(name, value.shape, d)
                if entries is None:
                    unmapped.append(name)
                    continue
                for off, rows, how in entries:
                    if off not in official:
                        unmapped.append(f"{name} -> {off} (no such official tensor)")
                        continue
                    v = torch.from_numpy(value.astype(np.float64))
                    t = official[off]
                    if off.endswith("_l0"):  # one gate's block of the stacked LSTM tensor
                        t[rows] = to_official(v, how).reshape(t[rows].shape)
                    elif rows is not None:  # one feature's table of relfm's stacked table
                        t.copy_(v[rows])
                    else:
                        t.copy_(to_official(v, how).reshape(t.shape))
                    loaded.add(off)
        left = sorted(set(official) - loaded)
        if unmapped or left:
            for n in unmapped:
                print("UNMAPPED relfm parameter:", n)
            for n in left:
                print("UNLOADED official tensor:", n)
            sys.exit(2)
        for p in model.parameters():
            p.lr = lr  # run(): `for param in model.parameters(): param.lr = args.lr`
        return model, decoder

    def official_step(model, decoder):
        """meta_train's body for one batch list (research §1.4), returning every quantity."""
        model.train()
        decoder.train()
        gate_params = [(n, p) for n, p in model.named_parameters() if "gate" in n]
        all_params = list(model.named_parameters()) + [("decoder." + n, p) for n, p in decoder.named_parameters()]
        for _, p in all_params:
            p.grad = None
        losses, gates = [], []
        for k, b in enumerate(data):
            rep, g = model(b, k, target=data[0])
            losses.append(criterion(decoder(b, rep, k), b))
            if k:
                gates.append(g)
        aux_loss = sum(losses[1:]) / len(losses[1:])
        aux_loss.backward(retain_graph=True, create_graph=True)
        rep, _ = model(data[0], 0, update=True)
        meta_loss = criterion(decoder(data[0], rep, 0), data[0])
        meta_grads = torch.autograd.grad(meta_loss, [p for _, p in gate_params], retain_graph=True, allow_unused=True)
        dmeta_dg = torch.autograd.grad(meta_loss, gates, retain_graph=True, allow_unused=True)
        loss = sum(losses) / len(losses)
        all_grads = torch.autograd.grad(loss, [p for _, p in all_params], retain_graph=True, allow_unused=True)
        return dict(gates=[float(g) for g in gates], L0=float(losses[0]), Lk=[float(l) for l in losses[1:]],
                    L_aux=float(aux_loss), L_meta=float(meta_loss),
                    dmeta_dg=[0.0 if x is None else float(x) for x in dmeta_dg],
                    meta_grads={n: g for (n, _), g in zip(gate_params, meta_grads)},
                    real_grads={n: g for (n, _), g in zip(all_params, all_grads)})

    def relfm_layout(grads, name, shape):
        entries = name_map(name, shape, d)
        out = np.zeros(shape)
        any_grad = False
        for off, rows, how in entries:
            g = grads.get(off)
            if g is None:
                continue
            any_grad = True
            a = g.detach().numpy()
            if off.endswith("_l0"):
                blk = a[rows]
                out[...] = blk.reshape(shape) if how == "row" else blk.T
            elif rows is not None:
                out[rows] = a
            elif how == "row":
                out[...] = a.reshape(shape)
            elif how is None:
                out[...] = a
            else:
                out[...] = a.T
        return out if any_grad else None

    def rel(a, b):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        den = max(np.linalg.norm(a), np.linalg.norm(b))
        return 0.0 if den == 0 else float(np.linalg.norm(a - b) / den)

    def adam_report(model, res):
        gate_params = [(n, p) for n, p in model.named_parameters() if "gate" in n]
        opt = torch.optim.Adam([p for _, p in gate_params], lr=1e-3)
        for n, p in gate_params:
            g = res["meta_grads"][n]
            p.grad = None if g is None else scale * g.detach()

        def gates():
            return [float(model.gater.gaters(data[0]["fp_nodes"], data[k]["fp_nodes"], data[0], data[k], k)) for k in range(1, M + 1)]

        with torch.no_grad():
            before = gates()
            opt.step()
            after = gates()
        for k in range(M):
            direction = "down" if after[k] < before[k] else "up"
            print(f"  g_{k + 1}: dL_meta/dg = {res['dmeta_dg'][k]:+.4e} -> plain descent moves g "
                  f"{'down' if res['dmeta_dg'][k] > 0 else 'up'}; one Adam step: {before[k]:.6f} -> {after[k]:.6f} ({direction})")

    model, decoder = build(args.official_bn)
    res = official_step(model, decoder)
    rows, worst = [], 0.0

    def row(q, a, b, show=True):
        nonlocal worst
        e = rel(a, b)
        worst = max(worst, e)
        if np.ndim(a) == 0:
            rows.append((q, f"{float(a):.10g}", f"{float(b):.10g}", e))
        else:
            rows.append((q, f"|.|={np.linalg.norm(a):.6g}", f"|.|={np.linalg.norm(b):.6g}", e))

    rg = f["relfm/gates"][()]
    hvp = f["relfm/hvp"][()]
    rlk = f["relfm/aux_losses"][()]
    for k in range(M):
        row(f"g_{k + 1}", rg[k], res["gates"][k])
    row("L_0", f["relfm/L0"][0], res["L0"])
    for k in range(M):
        row(f"L_{k + 1}", rlk[k], res["Lk"][k])
    row("L_aux", f["relfm/L_aux"][0], res["L_aux"])
    row("L_meta", f["relfm/L_meta"][0], res["L_meta"])
    for k in range(M):
        row(f"dL_meta/dg_{k + 1} (relfm -lr h_k)", -lr * hvp[k], res["dmeta_dg"][k])
    # the router's meta-gradient, unscaled (x1000 is a plain factor on both sides; checked separately)
    rmg = {n: f["relfm/router_meta_grad"][n][()] for n in f["relfm/router_meta_grad"]}
    rmg_x = {n: f["relfm/router_meta_grad_x1000"][n][()] for n in f["relfm/router_meta_grad_x1000"]}
    all_r, all_t = [], []
    for name in sorted(relfm_params):
        if not name.startswith("gate."):
            continue
        t = relfm_layout(res["meta_grads"], name, relfm_params[name].shape)
        r = rmg.get(name)
        if r is None and t is None:
            continue
        r = np.zeros(relfm_params[name].shape) if r is None else r
        t = np.zeros(relfm_params[name].shape) if t is None else t
        row(f"dL_meta/d {name}", r, t)
        all_r.append(r.ravel())
        all_t.append(t.ravel())
        if name in rmg_x:
            assert rel(rmg_x[name], scale * r) < 1e-12, name
    row("dL_meta/d phi (all router params)", np.concatenate(all_r), np.concatenate(all_t))
    # the real gradients of a few target parameters, then all of them together
    rrg = {n: f["relfm/real_grad"][n][()] for n in f["relfm/real_grad"]}
    picks = ["datasets.0.atom_encoder.weight", "datasets.0.layers.0.eps", "datasets.0.layers.0.mlp.0.linear.weight",
             f"datasets.0.layers.{layers - 1}.norm.weight", "datasets.0.head.weight", "datasets.1.layers.0.bond_encoder.weight",
             "datasets.1.head.bias"]
    flat_r, flat_t = [], []
    for name in sorted(rrg):
        t = relfm_layout(res["real_grads"], name, rrg[name].shape)
        t = np.zeros(rrg[name].shape) if t is None else t
        if name in picks:
            row(f"real grad {name}", rrg[name], t)
        flat_r.append(rrg[name].ravel())
        flat_t.append(t.ravel())
    row(f"real grad (all {len(rrg)} MetaGIN tensors)", np.concatenate(flat_r), np.concatenate(flat_t))

    bn_label = "unbiased (official BNLayer)" if args.official_bn else "biased (relfm)"
    print(f"\ntorch side: the official step in float64, dropout 0, batch-norm variance {bn_label}\n")
    w = max(len(r[0]) for r in rows)
    print(f"{'quantity':<{w}}  {'relfm':>22}  {'torch':>22}  {'rel. error':>10}")
    for q, a, b, e in rows:
        print(f"{q:<{w}}  {a:>22}  {b:>22}  {e:>10.2e}")
    ok = worst <= args.tol
    print(f"\nworst relative error {worst:.2e}: {'AGREE' if ok else 'DISAGREE'} (tol {args.tol:g})")

    # ---- what a gate does under the step -----------------------------------------------------------------------
    if "relfm_float" in f:
        print("\nrelfm's step as the job computes it (float; central / forward differences, default epsilons; and "
              "central in double) against the exact official step (torch, float64):")
        t_all = np.concatenate(all_t)
        variants = [(f"{m} (float)", f["relfm_float"][m]) for m in f["relfm_float"]]
        if "relfm_double" in f:
            variants += [(f"{m} (double)", f["relfm_double"][m]) for m in f["relfm_double"]]
        for method, g in variants:
            flat = []
            for name in sorted(relfm_params):
                if not name.startswith("gate."):
                    continue
                a = g["router_meta_grad_x1000"][name][()] if name in g["router_meta_grad_x1000"] else np.zeros(relfm_params[name].shape)
                flat.append(a.ravel().astype(np.float64) / scale)
            flat = np.concatenate(flat)
            hk = -lr * g["hvp"][()]
            cos = float(flat @ t_all / (np.linalg.norm(flat) * np.linalg.norm(t_all)))
            signs = sum(np.sign(hk[k]) == np.sign(res["dmeta_dg"][k]) for k in range(M))
            worst_k = max(range(M), key=lambda k: abs(hk[k] - res["dmeta_dg"][k]) / max(abs(res["dmeta_dg"][k]), 1e-300))
            print(f"  {method:16s} router meta-gradient rel. error {rel(flat, t_all):.2e} (cosine {cos:.8f}); dL_meta/dg_k "
                  f"rel. error {rel(hk, res['dmeta_dg']):.2e}, sign agrees for {signs}/{M}, worst g_{worst_k + 1}: "
                  f"{hk[worst_k]:+.4e} vs {res['dmeta_dg'][worst_k]:+.4e}")

    print("\nsign of the meta-gradient: dL_meta/dg_k (torch) and the gate after one Adam step of the router "
          "(lr 1e-3, grad = 1000 x meta-gradient, the official gate optimiser):")
    adam_report(model, res)

    if args.no_variants:
        return 0 if ok else 1
    # ---- variants: the other BN variance; the blog's gate convention ---------------------------------------------
    model2, decoder2 = build(not args.official_bn)
    res2 = official_step(model2, decoder2)
    v1 = np.concatenate([res["meta_grads"][n].detach().numpy().ravel() for n in res["meta_grads"] if res["meta_grads"][n] is not None])
    v2 = np.concatenate([res2["meta_grads"][n].detach().numpy().ravel() for n in res2["meta_grads"] if res2["meta_grads"][n] is not None])
    cos = float(v1 @ v2 / (np.linalg.norm(v1) * np.linalg.norm(v2)))
    print(f"\nbatch-norm variance {'biased' if args.official_bn else 'unbiased (official)'} instead: "
          f"router meta-gradient changes by {rel(v1, v2):.3e} (relative), cosine {cos:.8f}; "
          f"L_meta {res['L_meta']:.10g} -> {res2['L_meta']:.10g}; one Adam step with it:")
    adam_report(model2, res2)
    model3, decoder3 = build(args.official_bn, convention="blog")
    res3 = official_step(model3, decoder3)
    print("gate convention of the project page (g on the target branch) instead: L_k "
          f"{[round(x, 8) for x in res3['Lk']]} vs relfm {[round(float(x), 8) for x in rlk]} "
          f"(relative error {rel(rlk, res3['Lk']):.2e}); the code's convention gives {rel(rlk, res['Lk']):.2e}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
