"""Post-hoc EMA on a finished run: the metric card of the run's own EMA beside the post-hoc averages of several widths.

Usage: python bench/posthoc_ema.py outputs/mnist_uncond/last.pt --sigma-rels 0.05 0.1 0.15 [--seeds 1] [--n 1000]
       [--sampler dpm++2m-sde] [--steps 20] [--out rows.jsonl] [--records DIR | --no-record]

The run must have kept post-hoc EMA snapshots (`fit(..., ema_sigma_rels=[...])`, folder `phema/` beside the checkpoint).
Each set of weights is scored with `evaluate` (FID with the shipped feature net, n samples, the sampler given, from the
same seed for every set of weights, so all start from the same noise); `posthoc_model` reconstructs each width by least
squares from the snapshots ([chapter 7](../nbs/07_ema.ipynb)). MNIST-family runs only (the card needs the feature net).
FID at a fixed checkpoint does not depend on the machine's load; the seconds printed do.
Each set of weights and seed is also appended as a record to `bench/results/posthoc_ema.jsonl` (`ddpm_nb.records`:
the command, machine, date and commit stamped in), which the EMA chapter renders as its table; `--records DIR` writes
them to another folder, `--no-record` skips them.
"""
import argparse, json, time
from pathlib import Path
import torch
from ddpm_nb.checkpoints import load_checkpoint, load_model
from ddpm_nb.records import make_record, write_record
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
    ap.add_argument('--records', default=None, help='the folder of records (default: the book\'s, bench/results)')
    ap.add_argument('--no-record', action='store_true', help='do not append records to bench/results/posthoc_ema.jsonl (smoke runs)')
    a = ap.parse_args()
    ck = Path(a.checkpoint)
    try:   # the library checks the file, the snapshots and each width; all are built before the first (slow) card
        model, sched, cfg = load_model(ck, ema=True)
        if cfg.get('dataset') not in ('mnist', 'fashion_mnist'):
            raise ValueError(f"the card needs an MNIST-family run, not {cfg.get('dataset')!r}")
        weights = [(f"EMA {cfg.get('ema_decay'):g}", None, model)] + [(f'post-hoc σ_rel {s:g}', s, posthoc_model(ck, s)) for s in a.sigma_rels]
        run_steps = load_checkpoint(ck)['step']
    except (ValueError, FileNotFoundError) as e: ap.error(str(e))
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; {ck}; card n={a.n}, {a.sampler} {a.steps} steps",
          flush=True)
    rows = []
    for name, sigma_rel, m in weights:
        for seed in a.seeds:
            t0 = time.time()
            card = evaluate(m, cfg['dataset'], schedule=sched, objective=cfg['objective'], n=a.n, sampler=a.sampler,
                            steps=a.steps, seed=seed, recon_n=0)
            row = dict(checkpoint=str(ck), weights=name, seed=seed, fid=card['fid'], ci=list(card.scores['fid']['ci']),
                       precision=card['precision'], recall=card['recall'], n=a.n, sampler=a.sampler, steps=a.steps,
                       seconds=time.time() - t0, date=time.strftime('%Y-%m-%d %H:%M'))
            rows.append(row)
            print(f"{name:20s} seed {seed}: FID {row['fid']:.2f} [{row['ci'][0]:.2f}, {row['ci'][1]:.2f}], "
                  f"precision {row['precision']:.3f}, recall {row['recall']:.3f}, {row['seconds']:.0f} s", flush=True)
            if a.out:
                with open(a.out, 'a') as f: f.write(json.dumps(row) + '\n')
            if not a.no_record:
                labels = dict(run=ck.parent.name, run_steps=run_steps, batch_size=cfg['batch_size'], weights=name, sigma_rel=sigma_rel,
                              seed=seed, n=a.n, sampler=a.sampler, steps=a.steps)
                values = dict(fid=dict(value=row['fid'], interval=row['ci']), precision=row['precision'], recall=row['recall'])
                write_record(make_record('posthoc_ema', labels, values, checkpoint=str(ck), seconds=row['seconds']), a.records)
    print('\n| weights | ' + ' | '.join(f'FID, seed {s}' for s in a.seeds) + ' |\n|---|' + '---:|' * len(a.seeds))
    for name, _, _ in weights:
        print(f"| {name} | " + ' | '.join(f"{r['fid']:.2f}" for r in rows if r['weights'] == name) + ' |')

if __name__ == '__main__': main()
