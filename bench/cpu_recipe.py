"""Card FID against wall-clock minutes for each lever of the CPU recipe: train on MNIST for a fixed time, then score.

Usage: python bench/cpu_recipe.py --minutes 3 --variants base v cosine small ... [--n 1000] [--seed 0] [--out bench/results/raw/cpu_recipe.jsonl]
       python bench/cpu_recipe.py --steps 500 --variants ...    (a fixed number of optimizer steps instead of minutes)
       python bench/cpu_recipe.py --images 51200 --variants small-v small-v-bs64 small-v-bs256   (a fixed number of images)
       add --posthoc to keep post-hoc EMA snapshots and score the EMA of several lengths (sigma_rel) from each run

Every variant starts from `BASE` (the options below) and changes one or a few levers. Each is trained with
`fit(..., minutes=M)` (the LR decay follows the time budget, so every run ends annealed), then scored with the metric
card of the book with the deterministic DPM-Solver++(2M) (20 steps): FID with the shipped MNIST feature net, n samples,
EMA weights.
Runs go one after the other in this process; run it on an otherwise idle machine, or the minutes mean nothing.
With --steps every variant trains the same number of optimizer steps (one epoch of steps x batch images), so its FID
does not depend on the machine's load: screen levers that way, and compare speeds separately. Levers that change the
batch size compare at the same number of training images instead (--images: images / batch optimizer steps each), and
their variants scale the warm-up with it (the same warm-up images).
One JSON line per run is appended to --out, with the variant, its options, steps, images/s, FID and precision/recall,
and one record per run (`ddpm_nb.records`: the figures with the command, machine, date and commit) to
`cpu_recipe_screen.jsonl` in --records (default: bench/results), which the command-line chapter renders
(`--no-record` for trials).
"""
import argparse, json, tempfile, time
from pathlib import Path
import torch
from ddpm_nb.train import fit, posthoc_model
from ddpm_nb.evaluation import evaluate
from ddpm_nb.records import make_record, write_record

BASE = dict(model='mnist', dataset='mnist', batch_size=128, lr=1e-3, warmup_steps=200, min_lr_ratio=0.05, grad_clip=1.0,
            precision='auto', channels_last=True, use_ema=True, ema_decay=0.998, eval_size=1000, n_samples=0, progress=False,
            objective='eps', schedule='linear')
SMALL = dict(model_kwargs=dict(base=32, mults=(1, 2, 4), blocks=1, mid_attn=False, groups=8))   # ~1M parameters, no attention
VARIANTS = {
    'base': {},                                                        # the `mnist` preset, eps, linear (today's cpu config)
    'v': dict(objective='v'),
    'x0': dict(objective='x0'),
    'minsnr': dict(min_snr_gamma=5.0),
    'v-minsnr': dict(objective='v', min_snr_gamma=5.0),
    'cosine': dict(schedule='cosine'),
    'v-cosine': dict(objective='v', schedule='cosine'),
    'light': dict(model='mnist_light'),
    'small': SMALL,
    'small-v': dict(SMALL, objective='v'),
    'small-minsnr': dict(SMALL, min_snr_gamma=5.0),
    'small-v-minsnr': dict(SMALL, objective='v', min_snr_gamma=5.0),
    'small-cosine': dict(SMALL, schedule='cosine'),
    'small-v-cosine': dict(SMALL, objective='v', schedule='cosine'),
    'small-bs64': dict(SMALL, batch_size=64),
    'small-lr2e-3': dict(SMALL, lr=2e-3),
    'small-lr5e-4': dict(SMALL, lr=5e-4),
    'small-ema999': dict(SMALL, ema_decay=0.999),
    'small-ema995': dict(SMALL, ema_decay=0.995),
    'small-attn': dict(model_kwargs=dict(SMALL['model_kwargs'], mid_attn=True)),
    'small-x0': dict(SMALL, objective='x0'),
    'small-v-lr2e-3': dict(SMALL, objective='v', lr=2e-3),
    'small-v-bs64': dict(SMALL, objective='v', batch_size=64, warmup_steps=400),      # same warm-up images as batch 128
    'small-v-bs256': dict(SMALL, objective='v', batch_size=256, warmup_steps=100),
    'small-v-attn': dict(objective='v', model_kwargs=dict(SMALL['model_kwargs'], mid_attn=True)),
    'small-v-strat': dict(SMALL, objective='v', t_sampling='stratified'),
    'small-v-lognormal': dict(SMALL, objective='v', t_sampling='lognormal'),
    'small-v-minsnr-lr2e-3': dict(SMALL, objective='v', min_snr_gamma=5.0, lr=2e-3),
    'small-v-minsnr-cosine': dict(SMALL, objective='v', min_snr_gamma=5.0, schedule='cosine'),
    'small-v-warmup50': dict(SMALL, objective='v', warmup_steps=50),
    'light-v': dict(model='mnist_light', objective='v'),                # the depthwise preset
    'small-v-cond': dict(objective='v', model_kwargs=dict(SMALL['model_kwargs'], num_classes=10)),   # labels 0-9; the card asks for each in turn
}

LEVERS = {  # how the command-line chapter's table names each screened lever (other variants: their options)
    'small': 'ε objective', 'small-v': 'v objective (the reference)', 'small-v-lognormal': 'v, log-normal t',
    'small-v-strat': 'v, stratified t', 'small-v-minsnr': 'v, Min-SNR-5', 'small-v-minsnr-lr2e-3': 'v, Min-SNR-5, peak LR 2e-3',
    'small-v-cond': 'v, class-conditional', 'small-v-cosine': 'v, cosine schedule', 'small-v-warmup50': 'v, 50 warm-up steps',
    'light-v': 'v, mnist_light (0.75M, depthwise)', 'small-v-attn': 'v, attention in the middle block',
    'small-v-bs64': 'v, batch 64 (800 steps, 400 warm-up)', 'small-v-bs256': 'v, batch 256 (200 steps, 100 warm-up)'}

def screen_record(name, opts, row, res):
    "The record of one run: what was trained (labels) and its card (values), stamped by `make_record` with command, machine, date and commit."
    mk = opts.get('model_kwargs') or {}
    net = 'mnist_light' if opts['model'] == 'mnist_light' else \
          ', '.join([f"base {mk.get('base', '?')}", f"mults {tuple(mk.get('mults', ()))}"] + (['mid-block attention'] if mk.get('mid_attn') else []))
    bs = opts['batch_size']
    labels = dict(variant=name, lever=LEVERS.get(name) or ', '.join(f'{k}={v!r}' for k, v in row['options'].items()),
                  objective=opts['objective'], schedule=opts['schedule'], network=net, conditional=bool(mk.get('num_classes')), batch=bs,
                  steps=row['steps'], images=row['steps'] * bs, minutes=row['minutes'], train_precision=getattr(res, 'precision', opts['precision']),
                  sampler='dpm++2m', seed=row['seed'])
    values = dict(fid=row['fid'], precision=row['precision'], recall=row['recall'], img_per_s=row['img_per_s'], train_s=row['train_s'],
                  params=row['params'], **{f'posthoc_{k:g}': v for k, v in row['posthoc_fid'].items()})
    return make_record('cpu_recipe_screen', labels, values, options=row['options'], n=row['n'])

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--minutes', type=float, default=3.0, help='training budget of each run')
    ap.add_argument('--steps', type=int, default=None, help='train this many optimizer steps instead of --minutes')
    ap.add_argument('--images', type=int, default=None,
                    help='train on this many images (images / batch_size optimizer steps) instead of --minutes')
    ap.add_argument('--posthoc', nargs='*', type=float, default=None,
                    help='keep post-hoc EMA snapshots and also score these EMA widths sigma_rel (e.g. 0.05 0.1 0.2)')
    ap.add_argument('--variants', nargs='+', default=['base', 'small'], choices=list(VARIANTS))
    ap.add_argument('--set', nargs='*', default=[], help='extra options for every run, as key=python-literal (e.g. ema_decay=0.999)')
    ap.add_argument('--n', type=int, default=1000, help='samples for the card')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--keep', default=None, help='folder to keep checkpoints in (default: a temporary folder)')
    ap.add_argument('--out', default='bench/results/raw/cpu_recipe.jsonl')
    ap.add_argument('--records', default=None, help='folder of the records (default: bench/results); cpu_recipe_screen.jsonl there')
    ap.add_argument('--no-record', action='store_true', help='print the figures (and --out) only; write no records')
    a = ap.parse_args()
    import ast
    extra = {k: ast.literal_eval(v) for k, v in (s.split('=', 1) for s in a.set)}
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    if a.steps and a.images: ap.error('give --steps or --images, not both')
    budget = f"{a.steps} optimizer steps" if a.steps else f"{a.images} images" if a.images else f"{a.minutes} min"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {budget} per run, card n={a.n}", flush=True)
    print(f"{'variant':18s} {'steps':>6s} {'img/s':>6s} {'train min':>9s} {'FID':>6s} {'prec':>5s} {'rec':>5s}", flush=True)
    for name in a.variants:
        opts = {**BASE, **VARIANTS[name], **extra, 'seed': a.seed}
        model = opts['model']
        if a.steps: opts.update(epochs=1, train_size=a.steps * opts['batch_size'])
        elif a.images:
            if a.images % opts['batch_size']: ap.error(f"--images {a.images} is not a multiple of {name}'s batch {opts['batch_size']}")
            opts.update(epochs=1, train_size=a.images)
        else: opts.update(minutes=a.minutes, epochs=1000)
        if a.posthoc is not None: opts.update(ema_sigma_rels=[0.05, 0.15], ema_snapshots=20)
        folder = Path(a.keep) / name if a.keep else Path(tempfile.mkdtemp())
        t0 = time.time()
        res = fit(opts.pop('model'), opts.pop('dataset'), outdir=folder, save_every=1000, **opts)
        train_s = time.time() - t0
        card = evaluate(folder / 'last.pt', 'mnist', n=a.n, sampler='dpm++2m', steps=20, seed=a.seed, device='cpu')
        n_params = sum(p.numel() for p in res.model.parameters())
        phe = {}
        for sr in a.posthoc or []:
            m = posthoc_model(folder / 'last.pt', sr)
            phe[sr] = evaluate(m, 'mnist', schedule=res.schedule, objective=res.cfg.objective, n=a.n, sampler='dpm++2m',
                               steps=20, seed=a.seed, ema=True)['fid']
        row = dict(variant=name, options={**VARIANTS[name], **extra}, minutes=None if a.steps or a.images else a.minutes, images=a.images, seed=a.seed, steps=res.step,
                   epochs=res.epoch, params=n_params, img_per_s=res.step * res.cfg.batch_size / res.elapsed, train_s=train_s,
                   fid=card['fid'], precision=card['precision'], recall=card['recall'], n=a.n, posthoc_fid=phe,
                   date=time.strftime('%Y-%m-%d %H:%M'))
        with out.open('a') as f: f.write(json.dumps(row) + '\n')
        if not a.no_record: write_record(screen_record(name, {**opts, 'model': model}, row, res), a.records)
        print(f"{name:18s} {res.step:6d} {row['img_per_s']:6.0f} {train_s / 60:9.1f} {row['fid']:6.2f} {row['precision']:5.3f} "
              f"{row['recall']:5.3f}" + (f"  post-hoc EMA FID by sigma_rel: " + ', '.join(f'{k:g}: {v:.2f}' for k, v in phe.items()) if phe else ''), flush=True)

if __name__ == '__main__': main()
