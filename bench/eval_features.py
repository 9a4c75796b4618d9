"""Time feature extraction with the shipped MNIST feature net: 10k MNIST test images -> features and class probabilities.

Usage: DDPM_NB_DATA=data python bench/eval_features.py [--n 10000] [--repeats 3] [--no-record]
Also times one full `fid` + `kid` + `precision_recall` against the cached training statistics.
Figures are wall-clock and noisy when other processes share the CPU, so each record keeps the load average beside them.
Appends one record per step to bench/results/eval_features.jsonl (`ddpm_nb.records`: command, machine, date, commit);
the evaluation chapter renders them.
"""
import argparse, datetime, os, platform, time
import torch
from ddpm_nb.metrics import embed, feature_net, fid, kid, precision_recall, reference_stats, _load_split
from ddpm_nb.records import make_record, write_record

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=10000)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--no-record', dest='record', action='store_false', help='print only: append no record to bench/results')
    a = ap.parse_args()
    x, _ = _load_split('mnist', train=False)
    x = x[:a.n]
    net = feature_net('mnist')
    embed(x[:500], net)  # warm-up
    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter(); f, p = embed(x, net); times.append(time.perf_counter() - t0)
    tr = reference_stats('mnist')['train']
    t0 = time.perf_counter(); fid(f, tr); t_fid = time.perf_counter() - t0
    t0 = time.perf_counter(); kid(f, tr['feats'][:a.n]); t_kid = time.perf_counter() - t0
    t0 = time.perf_counter(); precision_recall(tr['feats'][:a.n], f); t_pr = time.perf_counter() - t0
    print(f"{datetime.date.today()} {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f} (figures are noisy when the machine is busy)")
    print(f"embed {a.n} MNIST images: best {min(times):.2f} s, median {sorted(times)[len(times)//2]:.2f} s "
          f"({a.n / min(times):.0f} images/s)")
    print(f"fid {t_fid:.3f} s, kid (50 subsets of 1000) {t_kid:.2f} s, precision_recall ({a.n} vs {a.n}) {t_pr:.2f} s")
    if not a.record: return
    load = round(os.getloadavg()[0], 1)
    for labels, values in ((dict(step='embed', n=a.n), dict(seconds_best=min(times), seconds_median=sorted(times)[len(times) // 2])),
                           (dict(step='fid', n=a.n), dict(seconds=t_fid)),
                           (dict(step='kid', n=a.n, subsets=50, subset_size=1000), dict(seconds=t_kid)),
                           (dict(step='precision_recall', n=a.n), dict(seconds=t_pr))):
        path = write_record(make_record('eval_features', labels, values, load_average=load, repeats=a.repeats))
    print(f"records appended to {path}")

if __name__ == '__main__': main()
