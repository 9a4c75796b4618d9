"""Side by side on a CPU budget: ddpm_nb's `cpu_uncond` configuration against lucidrains' and diffusers' DDPM trainers on MNIST.

Usage: python bench/cpu_budget.py [--minutes 5] [--n 1000] [--only ddpm_nb,lucidrains,diffusers] [--samplers dpm++2m dpm++2m-sde]
       [--out rows.jsonl] [--records bench/results] [--no-record]

Each contender trains for the same wall-clock minutes on the MNIST training set, one after the other in this process,
then is scored the same way: EMA weights, DPM-Solver++(2M) with 20 steps (ddpm_nb's sampler on the contender's own
network, noise schedule and prediction target), FID against the MNIST test set with the shipped feature net, n samples;
`--samplers` adds more cards of the same network (`dpm++2m-sde`: the SDE form, ddpm_nb's default sampler), each from the
same seed. The samplers are the same for all, so the FIDs compare what each *training* recipe reaches in the time.

- ddpm_nb: `fit` with `CONFIGS['cpu_uncond']` (unconditional, as the other two are: the main job's network, v objective,
  LR 1e-3 with warm-up and a cosine over the budget, EMA 0.98, precision 'auto'), `minutes` set to the budget.
- lucidrains `denoising-diffusion-pytorch`: `GaussianDiffusion` at its defaults (1000 steps, v objective, sigmoid
  schedule) and the optimisation of its `Trainer` at its defaults (Adam lr 1e-4 betas (0.9, 0.99), batch 16, gradient
  norm clipped at 1, `ema_pytorch.EMA` with beta 0.995 every 10 steps). Not from the defaults: the network
  (`Unet(dim=32, dim_mults=(1, 2, 4))`; the README's `dim=64, dim_mults=(1, 2, 4, 8)` cannot halve 28x28 images three
  times) and no horizontal flips (the Trainer flips by default, which is wrong for digits).
- diffusers: the `train_unconditional.py` example's defaults (DDPMScheduler: 1000 steps, linear betas, epsilon target;
  AdamW lr 1e-4 betas (0.95, 0.999) weight decay 1e-6; 500 warm-up steps then a cosine, here over the budget's time;
  batch 16; gradient norm clipped at 1; `EMAModel` with warm-up, inv_gamma 1, power 3/4, max decay 0.9999) and a
  `UNet2DModel` sized for 28x28 (widths 32, 64, 128, two layers per block, attention at the two lower levels; the
  example's six-level network is for 64x64 and larger).

Run it on an otherwise idle machine: the minutes are wall-clock. `--threads` sets torch's threads for all of them.
Each card is also written as a record (`ddpm_nb.records`: the figures with the command, machine, date and commit) to
`cpu_budget.jsonl` in --records (default: bench/results), which the command-line chapter renders (`--no-record` for
trials).
"""
import argparse, copy, json, math, tempfile, time
from pathlib import Path
import torch, torch.nn as nn, torch.nn.functional as F
from torch.utils.data import DataLoader
from ddpm_nb.cli import CONFIGS
from ddpm_nb.data import get_dataset
from ddpm_nb.evaluation import evaluate
from ddpm_nb.records import make_record, write_record
from ddpm_nb.samplers import SAMPLERS
from ddpm_nb.schedules import Schedule
from ddpm_nb.train import fit

def _loader(batch_size, seed):
    g = torch.Generator().manual_seed(seed)
    return DataLoader(get_dataset('mnist', train=True), batch_size=batch_size, shuffle=True, drop_last=True, generator=g)

def _batches(batch_size, seed):
    "Endless batches of MNIST training images in [-1, 1]."
    while True:
        for x, _ in _loader(batch_size, seed): yield x
        seed += 1

class _Net(nn.Module):
    "A contender's network as ddpm_nb's samplers call it: `net(xt, t)` -> its prediction."
    def __init__(self, net, call): super().__init__(); self.net, self.call, self.in_channels, self.img_size = net, call, 1, 28
    def forward(self, x, t): return self.call(self.net, x, t)

def _timed_loop(minutes, step, log):
    "Call `step(i, frac)` until `minutes` of wall-clock time are spent; `frac` is the fraction of the budget used."
    t0, i = time.perf_counter(), 0
    while (el := time.perf_counter() - t0) < 60 * minutes:
        loss = step(i, el / (60 * minutes)); i += 1
        if i % 100 == 0: log(f"  step {i}, loss {loss:.4f}, {el / 60:.1f} min")
    return i, time.perf_counter() - t0

def train_ddpm_nb(minutes, seed, log):
    cfg = {**CONFIGS['cpu_uncond'], 'minutes': minutes, 'epochs': 1000, 'seed': seed, 'outdir': tempfile.mkdtemp(), 'n_samples': 0,
           'progress': False, 'save_every': 1000}
    res = fit(cfg.pop('model'), cfg.pop('dataset'), **cfg)
    return dict(model=res.sampling_model, schedule=res.schedule, objective=res.cfg.objective, steps=res.step,
                batch=res.cfg.batch_size, seconds=res.elapsed, params=sum(p.numel() for p in res.model.parameters()),
                precision=getattr(res, 'precision', cfg['precision']))

def train_lucidrains(minutes, seed, log):
    from denoising_diffusion_pytorch import Unet, GaussianDiffusion
    from ema_pytorch import EMA
    torch.manual_seed(seed)
    diff = GaussianDiffusion(Unet(dim=32, dim_mults=(1, 2, 4), channels=1), image_size=28)   # defaults: 1000 steps, pred_v, sigmoid
    opt = torch.optim.Adam(diff.parameters(), lr=1e-4, betas=(0.9, 0.99))
    ema = EMA(diff, beta=0.995, update_every=10)
    data = _batches(16, seed)
    def step(i, frac):
        loss = diff((next(data) + 1) / 2)                       # the Trainer feeds [0, 1]; GaussianDiffusion normalises to [-1, 1]
        loss.backward(); torch.nn.utils.clip_grad_norm_(diff.parameters(), 1.0)
        opt.step(); opt.zero_grad(); ema.update()
        return loss.item()
    steps, secs = _timed_loop(minutes, step, log)
    d = ema.ema_model
    assert d.objective == 'pred_v'
    return dict(model=_Net(d.model, lambda m, x, t: m(x, t)).eval(), schedule=Schedule(d.betas.double(), name='lucidrains-sigmoid'),
                objective='v', steps=steps, batch=16, seconds=secs, params=sum(p.numel() for p in diff.model.parameters()), precision='fp32')

def train_diffusers(minutes, seed, log):
    from diffusers import UNet2DModel, DDPMScheduler
    from diffusers.training_utils import EMAModel
    torch.manual_seed(seed)
    net = UNet2DModel(sample_size=28, in_channels=1, out_channels=1, layers_per_block=2, block_out_channels=(32, 64, 128),
                      down_block_types=('DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D'),
                      up_block_types=('AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'))
    sched = DDPMScheduler(num_train_timesteps=1000)            # linear betas, epsilon
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
    ema = EMAModel(net.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=3 / 4)
    data, g = _batches(16, seed), torch.Generator().manual_seed(seed)
    def step(i, frac):
        lr = 1e-4 * (min(1.0, (i + 1) / 500) if i < 500 else 0.5 * (1 + math.cos(math.pi * frac)))
        for pg in opt.param_groups: pg['lr'] = lr
        x0 = next(data)
        noise = torch.randn(x0.shape, generator=g)
        t = torch.randint(0, 1000, (len(x0),), generator=g)
        loss = F.mse_loss(net(sched.add_noise(x0, noise, t), t).sample, noise)
        loss.backward(); torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step(); opt.zero_grad(); ema.step(net.parameters())
        return loss.item()
    steps, secs = _timed_loop(minutes, step, log)
    ema_net = copy.deepcopy(net); ema.copy_to(ema_net.parameters())
    return dict(model=_Net(ema_net, lambda m, x, t: m(x, t).sample).eval(), schedule=Schedule(sched.betas.double(), name='diffusers-linear'),
                objective='eps', steps=steps, batch=16, seconds=secs, params=sum(p.numel() for p in net.parameters()), precision='fp32')

CONTENDERS = {'ddpm_nb': train_ddpm_nb, 'lucidrains': train_lucidrains, 'diffusers': train_diffusers}

def budget_record(row, precision):
    "The record of one contender's card: what was trained and scored (labels) and the figures, stamped by `make_record`."
    labels = dict(contender=row['contender'], minutes=row['minutes'], sampler=row['sampler'], train_precision=precision,
                  batch=row['batch'], seed=row['seed'])
    values = dict(fid=row['fid'], precision=row['precision'], recall=row['recall'], img_per_s=row['img_per_s'], steps=row['steps'],
                  params=row['params'])
    return make_record('cpu_budget', labels, values, n=row['n'])

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--minutes', type=float, default=5.0, help='training budget of each contender')
    ap.add_argument('--n', type=int, default=1000, help='samples for each FID')
    ap.add_argument('--only', default=','.join(CONTENDERS), help='comma-separated contenders')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=None)
    ap.add_argument('--samplers', nargs='+', default=['dpm++2m'], help='a card (20 steps) with each of these samplers')
    ap.add_argument('--out', default=None, help='also append one JSON line per contender and sampler here')
    ap.add_argument('--records', default=None, help='folder of the records (default: bench/results); cpu_budget.jsonl there')
    ap.add_argument('--no-record', action='store_true', help='print the figures (and --out) only; write no records')
    a = ap.parse_args()
    names = [s for s in a.only.split(',') if s]
    bad = [s for s in names if s not in CONTENDERS]
    if bad: ap.error(f"unknown contender(s) {', '.join(bad)}; valid choices: {', '.join(CONTENDERS)}")
    bad = [s for s in a.samplers if s not in SAMPLERS]
    if bad: ap.error(f"unknown sampler(s) {', '.join(bad)}; valid choices: {', '.join(SAMPLERS)}")
    if a.threads: torch.set_num_threads(a.threads)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; {a.minutes} min of training each; cards: n={a.n}, "
          f"{', '.join(a.samplers)} with 20 steps, EMA weights, shipped MNIST feature net", flush=True)
    rows = []
    for name in names:
        r = CONTENDERS[name](a.minutes, a.seed, lambda s: print(f"[{name}]{s}", flush=True))
        for sampler in a.samplers:
            card = evaluate(r['model'], 'mnist', schedule=r['schedule'], objective=r['objective'], n=a.n, sampler=sampler, steps=20,
                            seed=a.seed, ema=True, recon_n=0)
            row = dict(contender=name, minutes=a.minutes, steps=r['steps'], batch=r['batch'], img_per_s=r['steps'] * r['batch'] / r['seconds'],
                       params=r['params'], sampler=sampler, fid=card['fid'], precision=card['precision'], recall=card['recall'], n=a.n,
                       seed=a.seed, threads=torch.get_num_threads(), date=time.strftime('%Y-%m-%d %H:%M'))
            rows.append(row)
            print(f"{name}: {row['steps']} steps x {row['batch']}, {row['img_per_s']:.0f} img/s, {row['params'] / 1e6:.2f}M params, "
                  f"{sampler}: FID {row['fid']:.2f}, precision {row['precision']:.3f}, recall {row['recall']:.3f}", flush=True)
            if a.out:
                with open(a.out, 'a') as f: f.write(json.dumps(row) + '\n')
            if not a.no_record: write_record(budget_record(row, r['precision']), a.records)
    print('\n| contender | steps x batch | img/s | params | sampler | FID | precision | recall |\n|---|---:|---:|---:|---|---:|---:|---:|')
    for r in rows:
        print(f"| {r['contender']} | {r['steps']} x {r['batch']} | {r['img_per_s']:.0f} | {r['params'] / 1e6:.2f}M | {r['sampler']} | "
              f"{r['fid']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} |")
    ours = {r['sampler']: r['fid'] for r in rows if r['contender'] == 'ddpm_nb'}
    for r in rows:
        if r['contender'] != 'ddpm_nb' and r['sampler'] in ours:
            print(f"FID {r['contender']} / ddpm_nb, {r['sampler']}: {r['fid'] / ours[r['sampler']]:.2f}")

if __name__ == '__main__': main()
