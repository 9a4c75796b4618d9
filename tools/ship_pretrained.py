"""Score a trained MNIST checkpoint and ship it in the package as `load_pretrained('mnist')`.

1. `evaluate` the checkpoint's EMA weights: FID, KID, IS, precision/recall, class balance and memorisation on the
   shipped MNIST feature net, each beside its real-vs-real floor at the same sample count;
2. `sampler_sweep`: FID, model calls and seconds for every sampler at several step counts;
3. `export_pretrained`: the EMA weights in float16 with their configuration, the card and the sweep, written to
   ddpm_nb/assets/pretrained_mnist.pt (and the card as JSON beside the checkpoint).
Usage: python tools/ship_pretrained.py CHECKPOINT [--n 2000] [--sweep-n 500] [--steps 5 10 20 50]
"""
import argparse, json, platform, sys, time
from pathlib import Path
import torch
from ddpm_nb.evaluation import evaluate, sampler_sweep
from ddpm_nb.checkpoints import load_model, export_pretrained, PRETRAINED

ROOT = Path(__file__).resolve().parent.parent

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('checkpoint')
    ap.add_argument('--n', type=int, default=2000, help='samples for the metric card')
    ap.add_argument('--sampler', default='dpm++2m'); ap.add_argument('--sampler-steps', type=int, default=20)
    ap.add_argument('--sweep-n', type=int, default=500, help='samples per point of the sweep (0: no sweep)')
    ap.add_argument('--steps', type=int, nargs='+', default=[5, 10, 20, 50], help='step counts of the sweep')
    a = ap.parse_args()
    torch.manual_seed(0)
    cmd = 'python tools/ship_pretrained.py ' + ' '.join(sys.argv[1:])
    t0 = time.time()
    card = evaluate(a.checkpoint, 'mnist', n=a.n, sampler=a.sampler, steps=a.sampler_steps, device='cpu')
    card.info.update(seconds_total=round(time.time() - t0, 1), command=cmd, cpu=platform.processor() or platform.machine(),
                     torch=torch.__version__)
    print(card)
    rows = []
    if a.sweep_n:
        model, sched, cfg = load_model(a.checkpoint, ema=True)
        rows = sampler_sweep(model, sched, 'mnist', steps=tuple(a.steps), n=a.sweep_n, objective=cfg.get('objective', 'eps'))
        for r in rows: print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})
    out = Path(a.checkpoint).with_name('card.json')
    payload = dict(card=card.to_dict(), sweep=json.loads(json.dumps(rows, default=float)), sweep_n=a.sweep_n, command=cmd)
    out.write_text(json.dumps(payload, indent=1))
    dest = export_pretrained(a.checkpoint, ROOT/'ddpm_nb'/'assets'/PRETRAINED['mnist'], card=payload)
    print(f'wrote {dest} ({dest.stat().st_size/2**20:.2f} MiB) and {out}')

if __name__ == '__main__': main()
