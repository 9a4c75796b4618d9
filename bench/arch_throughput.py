"""Training images/s of the MNIST network candidates of the CPU recipe, in fp32, contiguous and channels_last.

Usage: python bench/arch_throughput.py [--batch 128] [--steps 5]

One DDPM training step (q_sample, noise MSE, AdamW) per iteration at batch 128 on 28x28 images, 3 warm-up steps, then
`--steps` timed ones, for each network in `NETS` and both memory formats, one after the other in this process. Run it
on an idle machine; the figures are what the CPU recipe's screening (bench/cpu_recipe.py --steps) cannot tell.
"""
import argparse, time
import torch
from ddpm_nb.unet import unet_preset
from ddpm_nb.schedules import make_schedule
from ddpm_nb.forward import q_sample

NETS = {'mnist': ('mnist', {}), 'mnist_light': ('mnist_light', {}),
        'small (cpu config)': ('mnist', dict(base=32, mults=(1, 2, 4), blocks=1, mid_attn=False, groups=8)),
        'base48 (1,2,2)': ('mnist', dict(base=48, mults=(1, 2, 2), blocks=1, mid_attn=False, groups=8)),
        'base32 (1,2,2), attn': ('mnist', dict(base=32, mults=(1, 2, 2), blocks=(1, 1, 0), mid_attn=True, groups=8))}

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--steps', type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(0)
    sched, x = make_schedule('linear', T=1000), torch.rand(a.batch, 1, 28, 28) * 2 - 1
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    for name, (preset, kw) in NETS.items():
        for cl in (False, True):
            m = unet_preset(preset, **kw); n = sum(p.numel() for p in m.parameters())
            mf = torch.channels_last if cl else torch.contiguous_format
            m, xx = m.to(memory_format=mf), x.to(memory_format=mf)
            opt = torch.optim.AdamW(m.parameters(), 1e-3)
            for i in range(3 + a.steps):
                if i == 3: t0 = time.perf_counter()
                t = torch.randint(0, 1000, (a.batch,)); eps = torch.randn_like(xx)
                loss = ((m(q_sample(xx, t, sched, eps), t) - eps) ** 2).mean(); loss.backward(); opt.step(); opt.zero_grad()
            print(f"{name:22s} {n / 1e6:5.2f}M  channels_last={str(cl):5s}  {a.steps * a.batch / (time.perf_counter() - t0):6.0f} img/s", flush=True)

if __name__ == '__main__': main()
