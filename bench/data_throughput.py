"""DataLoader throughput of `ddpm_nb.data` on MNIST (padded to 32, batch 128): images/s per loading path.

Usage: DDPM_NB_DATA=<root> python bench/data_throughput.py [--images 20000] [--threads 1] [--rounds 3] [--records DIR | --no-record]
The paths are measured interleaved, `--rounds` times each, and the best round is kept, so load from other processes
affects them alike; on a busy machine the figures are noisy (compare ratios, not absolute rates).
Each path's best rate is also appended as a record to `bench/results/data_throughput.jsonl` (`ddpm_nb.records`: the
command, machine, date and commit stamped in); `--records DIR` writes them to another folder, `--no-record` skips them.
"""
import argparse, time
import torch
from torch.utils.data import DataLoader, Dataset
from ddpm_nb.data import get_dataset, DataSubset
from ddpm_nb.records import make_record, write_record

class PerItem(Dataset):
    "Hides `__getitems__`, so the DataLoader fetches and converts one image at a time."
    def __init__(self, ds): self.ds = ds
    def __len__(self): return len(self.ds)
    def __getitem__(self, i): return self.ds[i]

def rate(ds, workers, bs):
    dl = DataLoader(ds, batch_size=bs, shuffle=True, drop_last=True, num_workers=workers, persistent_workers=False)
    t0, n = time.perf_counter(), 0
    for xb, yb in dl: n += len(xb)
    return n / (time.perf_counter() - t0)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--images', type=int, default=20000)
    ap.add_argument('--threads', type=int, default=1, help='torch intra-op threads in the main process')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--batch-size', type=int, default=128)
    ap.add_argument('--records', default=None, help="the folder of records (default: the book's, bench/results)")
    ap.add_argument('--no-record', action='store_true', help='do not append records (smoke runs)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    ds = get_dataset('mnist', pad_to=32, hflip=True, download=False)
    load_s = time.perf_counter() - t0
    print(f'load MNIST train (60000 images, uint8 in memory): {load_s:.2f} s')
    sub = DataSubset(ds, range(a.images))
    paths = {'batched (__getitems__), 0 workers': (sub, 0), 'per item, 0 workers': (PerItem(sub), 0),
             'batched, 2 workers': (sub, 2)}
    best = {k: 0.0 for k in paths}
    for _ in range(a.rounds):
        for k, (d, w) in paths.items(): best[k] = max(best[k], rate(d, w, a.batch_size))
    print(f'{a.images} images a pass, batch {a.batch_size}, {a.threads} torch thread(s), best of {a.rounds} rounds '
          '(noisy if the machine is busy):')
    for k, v in best.items(): print(f'  {k:36s} {v:10,.0f} images/s')
    if a.no_record: return
    for k, (_, workers) in paths.items():
        labels = dict(path=k, workers=workers, images=a.images, batch_size=a.batch_size, threads=a.threads, rounds=a.rounds)
        write_record(make_record('data_throughput', labels, dict(images_per_s=best[k]), load_seconds=load_s), a.records)

if __name__ == '__main__': main()
