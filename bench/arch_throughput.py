"""Training images/s of the MNIST network candidates of the CPU recipe, in fp32 (or bf16), contiguous and channels_last.

Usage: python bench/arch_throughput.py [--batch 128 [256 ...]] [--steps 5] [--nets small mnist ...] [--precision fp32 bf16]
       [--records bench/results] [--no-record]

One DDPM training step (q_sample, noise MSE, AdamW) per iteration at each batch size (128 unless told) on 28x28 images,
3 warm-up steps, then `--steps` timed ones, for each network in `NETS` (or those whose names start with one of --nets)
and both memory formats, in each precision (fp32 unless told; bf16: the forward pass under CPU autocast, as `fit` with
precision 'bf16' runs it), one after the other in this process. Run it
on an idle machine; the figures are what the CPU recipe's screening (bench/cpu_recipe.py --steps) cannot tell.
Each figure is also written as a record (`ddpm_nb.records`: with the command, machine, date and commit) to
`arch_throughput.jsonl` in --records (default: bench/results), which the command-line chapter renders (`--no-record`
for trials).
"""
import argparse, time
import torch
from ddpm_nb.unet import unet_preset
from ddpm_nb.schedules import make_schedule
from ddpm_nb.forward import q_sample
from ddpm_nb.records import make_record, write_record

NETS = {'mnist': ('mnist', {}), 'mnist_light': ('mnist_light', {}),
        'small (cpu config)': ('mnist', dict(base=32, mults=(1, 2, 4), blocks=1, mid_attn=False, groups=8)),
        'base48 (1,2,2)': ('mnist', dict(base=48, mults=(1, 2, 2), blocks=1, mid_attn=False, groups=8)),
        'base32 (1,2,2), attn': ('mnist', dict(base=32, mults=(1, 2, 2), blocks=(1, 1, 0), mid_attn=True, groups=8))}

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch', type=int, nargs='+', default=[128])
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--nets', nargs='+', default=None, help='only the networks whose names start with one of these')
    ap.add_argument('--precision', nargs='+', default=['fp32'], choices=['fp32', 'bf16'])
    ap.add_argument('--records', default=None, help='folder of the records (default: bench/results); arch_throughput.jsonl there')
    ap.add_argument('--no-record', action='store_true', help='print the figures only; write no records')
    a = ap.parse_args()
    nets = {k: v for k, v in NETS.items() if a.nets is None or any(k.startswith(p) for p in a.nets)}
    if not nets: ap.error(f"no network matches --nets {' '.join(a.nets)}; the networks: {', '.join(NETS)}")
    torch.manual_seed(0)
    sched = make_schedule('linear', T=1000)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    for (name, (preset, kw)), bs, prec, cl in ((nb, bs, p, cl) for nb in nets.items() for bs in a.batch for p in a.precision
                                              for cl in (False, True)):
        x = torch.rand(bs, 1, 28, 28) * 2 - 1
        m = unet_preset(preset, **kw); n = sum(p.numel() for p in m.parameters())
        mf = torch.channels_last if cl else torch.contiguous_format
        m, xx = m.to(memory_format=mf), x.to(memory_format=mf)
        opt = torch.optim.AdamW(m.parameters(), 1e-3)
        for i in range(3 + a.steps):
            if i == 3: t0 = time.perf_counter()
            t = torch.randint(0, 1000, (bs,)); eps = torch.randn_like(xx)
            with torch.autocast('cpu', dtype=torch.bfloat16, enabled=prec == 'bf16'): pred = m(q_sample(xx, t, sched, eps), t)
            loss = ((pred.float() - eps) ** 2).mean(); loss.backward(); opt.step(); opt.zero_grad()
        ips = a.steps * bs / (time.perf_counter() - t0)
        print(f"{name:22s} {n / 1e6:5.2f}M  batch {bs:4d}  {prec}  channels_last={str(cl):5s}  {ips:6.0f} img/s", flush=True)
        rec = make_record('arch_throughput', dict(net=name, batch=bs, train_precision=prec, channels_last=cl),
                          dict(img_per_s=round(ips, 1), params_m=round(n / 1e6, 2)), steps=a.steps)
        if not a.no_record: write_record(rec, a.records)

if __name__ == '__main__': main()
