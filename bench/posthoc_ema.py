"""Post-hoc EMA on a finished run: the metric card of the run's own EMA beside the post-hoc averages of several widths.

Usage: python bench/posthoc_ema.py outputs/mnist_uncond/last.pt --sigma-rels 0.05 0.1 0.15 [--seeds 1] [--n 1000]
       [--sampler dpm++2m-sde] [--steps 20] [--out rows.jsonl]

The run must have kept post-hoc EMA snapshots (`fit(..., ema_sigma_rels=[...])`, folder `phema/` beside the checkpoint).
Each set of weights is scored with `evaluate` (FID with the shipped feature net, n samples, the sampler given, from the
same seed for every set of weights, so all start from the same noise); `posthoc_model` reconstructs each width by least
squares from the snapshots ([chapter 7](../nbs/07_ema.ipynb)). MNIST-family runs only (the card needs the feature net).
FID at a fixed checkpoint does not depend on the machine's load; the seconds printed do.
"""
import argparse, json, time
from pathlib import Path
import torch
from ddpm_nb.checkpoints import load_model
from ddpm_nb.evaluation import evaluate
from ddpm_nb.samplers import SAMPLERS, DEFAULT_SAMPLER, DEFAULT_STEPS
from ddpm_nb.train import posthoc_model

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('checkpoint')
    ap.add_argument('--sigma-rels', type=float, nargs='+', default=[0.05, 0.1, 0.15])
    ap.add_argument('--seeds', type=int, nargs='+', default=[0])
    ap.add_argument('--n', type=int, default=1000)
    ap.add_argument('--sampler', default=DEFAULT_SAMPLER, choices=SAMPLERS)
    ap.add_argument('--steps', type=int, default=DEFAULT_STEPS)
    ap.add_argument('--out', default=None, help='also append one JSON line per set of weights and seed here')
    a = ap.parse_args()
    ck = Path(a.checkpoint)
    try:   # the library checks the file, the snapshots and each width; all are built before the first (slow) card
        model, sched, cfg = load_model(ck, ema=True)
        if cfg.get('dataset') not in ('mnist', 'fashion_mnist'):
            raise ValueError(f"the card needs an MNIST-family run, not {cfg.get('dataset')!r}")
        weights = [(f"EMA {cfg.get('ema_decay')}", model)] + [(f'post-hoc {s:g}', posthoc_model(ck, s)) for s in a.sigma_rels]
    except (ValueError, FileNotFoundError) as e: ap.error(str(e))
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; {ck}; card n={a.n}, {a.sampler} {a.steps} steps",
          flush=True)
    rows = []
    for name, m in weights:
        for seed in a.seeds:
            t0 = time.time()
            card = evaluate(m, cfg['dataset'], schedule=sched, objective=cfg['objective'], n=a.n, sampler=a.sampler,
                            steps=a.steps, seed=seed, recon_n=0)
            row = dict(checkpoint=str(ck), weights=name, seed=seed, fid=card['fid'], ci=list(card.scores['fid']['ci']),
                       precision=card['precision'], recall=card['recall'], n=a.n, sampler=a.sampler, steps=a.steps,
                       seconds=time.time() - t0, date=time.strftime('%Y-%m-%d %H:%M'))
            rows.append(row)
            print(f"{name:14s} seed {seed}: FID {row['fid']:.2f} [{row['ci'][0]:.2f}, {row['ci'][1]:.2f}], "
                  f"precision {row['precision']:.3f}, recall {row['recall']:.3f}, {row['seconds']:.0f} s", flush=True)
            if a.out:
                with open(a.out, 'a') as f: f.write(json.dumps(row) + '\n')
    print('\n| weights | ' + ' | '.join(f'FID, seed {s}' for s in a.seeds) + ' |\n|---|' + '---:|' * len(a.seeds))
    for name, _ in weights:
        print(f"| {name} | " + ' | '.join(f"{r['fid']:.2f}" for r in rows if r['weights'] == name) + ' |')

if __name__ == '__main__': main()
