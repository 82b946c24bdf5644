"""BatchSampler's mini-batches from relfm, in a PyTorch training loop.

relfm builds the proximity graph over your embeddings and draws the batches (random walks with restart,
research/batchsampler.md); PyTorch trains on them. Three steps:

1. Export one embedding per training instance (any modality), e.g. from your encoder's projection head:

       import h5py
       with h5py.File("embeddings.h5", "w") as f:
           f["embeddings"] = z.numpy()          # float32 [N, d]
           f["labels"] = y.numpy()              # optional int [N]: relfm reports same-label pairs per batch

2. Draw the batches (on any number of ranks; the same seed gives the same batches on any rank count):

       mpirun -n 2 relfm sample --embeddings embeddings.h5 --labels labels --out batches.h5 \\
           --batch-size 256 --epochs 10 --candidates 1000 --neighbours 100

3. Hand them to the DataLoader as its batch sampler, one epoch at a time:

       sampler = RelfmBatchSampler("batches.h5")
       loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=4)
       for epoch in range(10):
           sampler.set_epoch(epoch)
           for batch in loader:
               ...

As the official code does, refresh the embeddings and draw new batches every few hundred steps for
training that moves the embeddings (relfm's graphcl job does this in-process, with the bank and the
rebuild schedule built in).

Run this file to see it work end to end on random clustered data:

    /usr/bin/python3 examples/relfm_batch_sampler.py build/jobs/relfm
"""
import subprocess
import sys
import tempfile

import h5py
import numpy as np
import torch
import torch.utils.data


class RelfmBatchSampler(torch.utils.data.Sampler):
    """Yields the batches (lists of instance indices) `relfm sample` wrote for one epoch."""

    def __init__(self, path, epoch=0):
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") not in ("relfm.batches", b"relfm.batches"):
                raise ValueError(f"{path}: not a relfm.batches file")
            self.offsets = f["offsets"][()]
            self.instances = f["instances"][()]
            self.epochs = f["epoch"][()]
        self.set_epoch(epoch)

    def set_epoch(self, epoch):
        self.batches = np.flatnonzero(self.epochs == epoch)
        if len(self.batches) == 0:
            raise ValueError(f"no batches for epoch {epoch} (the file holds epochs 0..{self.epochs.max()})")

    def __iter__(self):
        for b in self.batches:
            yield self.instances[self.offsets[b]:self.offsets[b + 1]].tolist()

    def __len__(self):
        return len(self.batches)


def demo(relfm):
    rng = np.random.default_rng(0)
    n, d, clusters = 2000, 32, 10
    centres = rng.normal(size=(clusters, d))
    labels = rng.integers(0, clusters, size=n)
    z = (centres[labels] + 0.3 * rng.normal(size=(n, d))).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        with h5py.File(f"{tmp}/embeddings.h5", "w") as f:
            f["embeddings"] = z
            f["labels"] = labels
        subprocess.run([relfm, "sample", "--embeddings", f"{tmp}/embeddings.h5", "--labels", "labels",
                        "--out", f"{tmp}/batches.h5", "--batch-size", "128", "--epochs", "2",
                        "--candidates", "200", "--neighbours", "20"], check=True)
        dataset = torch.utils.data.TensorDataset(torch.from_numpy(z), torch.from_numpy(labels))
        sampler = RelfmBatchSampler(f"{tmp}/batches.h5")
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler)
        for epoch in range(2):
            sampler.set_epoch(epoch)
            same = []
            for x, y in loader:
                m = len(y)
                same.append(((y[:, None] == y[None, :]).sum().item() - m) / (m * (m - 1)))
            print(f"epoch {epoch}: {len(sampler)} batches, same-label pair share {np.mean(same):.3f} "
                  f"(uniform batches: {1 / clusters:.3f})")


if __name__ == "__main__":
    demo(sys.argv[1] if len(sys.argv) > 1 else "relfm")
