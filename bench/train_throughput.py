"""Training throughput of `fit` against a minimal hand-written loop, and of each precision setting.

Usage: python bench/train_throughput.py [--steps 30] [--rounds 3] [--device cpu] [--config cpu] [--no-record]

Both sides train the same model (the `--config` preset, same initial weights) on the same MNIST batches the same way
(AdamW, the same LR, gradient clipping, EMA update, autocast and memory format). `fit` is timed by its own per-epoch
throughput (the training loop of epoch 2 of a 2-epoch run, so epoch 1 is the warm-up); the hand-written loop by the
same number of steps after its own warm-up steps. Measurements are interleaved (fit, loop, fit, loop, ...) in one
process so that machine load affects both sides; the figures are noisy when the machine is busy, the ratios less so.
Each figure printed is also written as a record to `bench/results/train_throughput.jsonl` (`--no-record`: print only):
labels `config`, `batch`, `loop` ('fit' or 'hand-written'), `precision`, `channels_last` and `against` (what `ratio`
divides by), values `img_per_s` (median, with `n` rounds) and `ratio`.
"""
import argparse, statistics, sys, time
import torch
from torch.utils.data import DataLoader
from ddpm_nb.cli import CONFIGS
from ddpm_nb.train import fit, _autocast, auto_precision, default_device, _cpu_has_bf16
from ddpm_nb.data import get_dataset, train_eval_split
from ddpm_nb.losses import diffusion_loss
from ddpm_nb.schedules import make_schedule
from ddpm_nb.unet import unet_preset
from ddpm_nb.ema import EMA
from ddpm_nb.records import make_record, write_record


def run_fit(cfg, steps, device, precision, channels_last):
    "Images/s of fit's training loop (epoch 2 of 2, `steps` optimizer steps each)."
    bs = cfg['batch_size']
    res = fit(cfg['model'], cfg['dataset'], epochs=2, batch_size=bs, lr=cfg['lr'], warmup_steps=cfg['warmup_steps'],
              grad_clip=cfg['grad_clip'], use_ema=cfg['use_ema'], ema_decay=cfg['ema_decay'], precision=precision,
              channels_last=channels_last, train_size=steps * bs, eval_size=64, outdir=None, progress=False,
              device=device, seed=0)
    return res.history['img_per_s'][-1]


def run_loop(cfg, steps, device, precision, channels_last):
    "Images/s of a minimal loop: the same model, data, optimizer, clipping, EMA and autocast, nothing else."
    warmup = steps  # as many untimed steps as fit's first epoch
    ds = get_dataset(cfg['dataset'])
    train, _ = train_eval_split(ds, (steps + warmup) * cfg['batch_size'], 64)
    torch.manual_seed(0)
    x_ex = train[0][0]
    model = unet_preset(cfg['model'], img_size=x_ex.shape[-1], in_channels=x_ex.shape[0]).to(device)
    mf = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=mf).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg['lr'])
    ema = EMA(model, decay=cfg['ema_decay']) if cfg['use_ema'] else None
    sched = make_schedule('linear', T=1000)
    loader = DataLoader(train, batch_size=cfg['batch_size'], shuffle=True, drop_last=True)
    for i, (x0, _) in enumerate(loader):
        if i == warmup: t0 = time.perf_counter()
        x0 = x0.to(device, memory_format=mf)
        t = torch.randint(0, sched.T, (len(x0),), device=device)
        eps = torch.randn_like(x0)
        with _autocast(precision, device):
            loss = diffusion_loss(model, x0, sched, t=t, noise=eps).float().mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg['grad_clip'])
        opt.step(); opt.zero_grad(set_to_none=True)
        if ema is not None: ema.update(model)
        loss.item()
    if device.type == 'cuda': torch.cuda.synchronize()
    return steps * cfg['batch_size'] / (time.perf_counter() - t0)


def records(config, batch, prec, cl, fit_main, loop_main, per, rounds, steps):
    "The records of one measurement: fit against the hand-written loop at the config's setting, then fit at each setting against fp32 contiguous."
    med = lambda v: dict(value=round(statistics.median(v), 1), n=len(v))
    base = dict(config=config, batch=batch)
    f, l, b = statistics.median(fit_main), statistics.median(loop_main), statistics.median(per[('fp32', False)])
    recs = [make_record('train_throughput', dict(base, loop='fit', precision=prec, channels_last=cl, against='hand-written loop, same setting'),
                        dict(img_per_s=med(fit_main), ratio=round(f / l, 3)), rounds=rounds, steps=steps),
            make_record('train_throughput', dict(base, loop='hand-written', precision=prec, channels_last=cl, against=''),
                        dict(img_per_s=med(loop_main)), rounds=rounds, steps=steps)]
    for (p, c), v in per.items():
        recs.append(make_record('train_throughput', dict(base, loop='fit', precision=p, channels_last=c, against='fit, fp32 contiguous'),
                                dict(img_per_s=med(v), ratio=round(statistics.median(v) / b, 3)), rounds=rounds, steps=steps))
    return recs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--config', default='cpu', choices=list(CONFIGS))
    ap.add_argument('--steps', type=int, default=30, help='timed optimizer steps per measurement')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved repetitions (medians are reported)')
    ap.add_argument('--device', default=None)
    ap.add_argument('--no-record', action='store_true', help='print the figures only; write no records')
    a = ap.parse_args()
    cfg, device = CONFIGS[a.config], torch.device(a.device) if a.device else default_device()
    prec, cl = cfg['precision'], cfg['channels_last']
    if prec == 'auto': prec = auto_precision(device)
    print(f"config {a.config!r}: preset {cfg['model']}, batch {cfg['batch_size']}, {prec}, channels_last={cl}, "
          f"device {device}, torch threads {torch.get_num_threads()}; {a.steps} steps x {a.rounds} rounds (interleaved)")
    print("figures are noisy when the machine is busy; compare the ratios", flush=True)

    settings = [('fp32', False), ('fp32', True)]
    if device.type == 'cuda' or _cpu_has_bf16(): settings += [('bf16', False), ('bf16', True)]
    else: print("this CPU has no native bf16 (AVX-512 BF16 / AMX): bf16 settings left out (emulated bf16 is many times slower)")
    if device.type == 'cuda': settings += [('fp16', False), ('fp16', True)]
    f_main, l_main, per = [], [], {s: [] for s in settings}
    for r in range(a.rounds):
        f_main.append(run_fit(cfg, a.steps, device, prec, cl)); l_main.append(run_loop(cfg, a.steps, device, prec, cl))
        print(f"round {r + 1}: fit {f_main[-1]:.0f} img/s, hand-written loop {l_main[-1]:.0f} img/s", flush=True)
        for s in settings:
            if s == (prec, cl): per[s].append(f_main[-1]); continue
            per[s].append(run_fit(cfg, a.steps, device, *s))
    f, l = statistics.median(f_main), statistics.median(l_main)
    print(f"\nfit {f:.0f} img/s vs hand-written loop {l:.0f} img/s: fit/loop = {f / l:.3f} "
          f"(overhead {100 * (1 - f / l):+.1f}%)")
    base = statistics.median(per[('fp32', False)])
    print("\nfit by precision (median img/s, ratio to fp32 contiguous):")
    for (p, c), v in per.items():
        m = statistics.median(v)
        print(f"  {p:5s} channels_last={str(c):5s} {m:7.0f} img/s  x{m / base:.2f}")
    if not a.no_record:
        for rec in records(a.config, cfg['batch_size'], prec, cl, f_main, l_main, per, a.rounds, a.steps): path = write_record(rec)
        print(f"\nrecords written to {path}")


if __name__ == '__main__': main()
