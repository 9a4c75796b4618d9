"""Sampling throughput of `ddpm_nb.samplers.sample`: samples/s for DDIM with the `mnist` U-Net preset, fp32 vs bf16.

Usage: python bench/sample_throughput.py [--preset mnist] [--steps 50] [--batch 64] [--repeats 2] [--threads 2] [--device cpu]
Measures, interleaved in one process (`--repeats` rounds, best round kept, so load from other processes affects the
variants alike; on a busy machine the figures are noisy: compare ratios, not absolute rates):
  fp32                       the model in float32, contiguous tensors
  bf16 autocast+chan_last    the same call under torch.autocast(bfloat16) with model and noise in channels_last
  loop only (no network)     the sampler with a zero-cost model: what the sampling loop itself costs per step
The model has random weights: speed does not depend on them.
"""
import argparse, time, platform
import torch
from ddpm_nb.schedules import make_schedule
from ddpm_nb.samplers import sample

def timed(fn, device):
    if device.type == 'cuda': torch.cuda.synchronize()
    t0 = time.perf_counter(); out = fn()
    if device.type == 'cuda': torch.cuda.synchronize()
    return time.perf_counter() - t0, out

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--preset', default='mnist')
    ap.add_argument('--steps', type=int, default=50)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--repeats', type=int, default=2)
    ap.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: torch default)')
    ap.add_argument('--device', default='cpu')
    a = ap.parse_args()
    try: from ddpm_nb.unet import unet_preset
    except ImportError: raise SystemExit('ddpm_nb.unet is not available yet: this benchmark needs unet_preset')
    if a.threads: torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    model = unet_preset(a.preset).to(dev).eval()
    C, H = model.in_channels, model.img_size
    shape = (a.batch, C, H, H)
    sched = make_schedule('linear', T=1000).to(device=dev)
    nparams = sum(p.numel() for p in model.parameters())
    y = None if model.num_classes is None else torch.arange(a.batch, device=dev) % model.num_classes
    xT = torch.randn(shape, device=dev)
    ac = 'cuda' if dev.type == 'cuda' else 'cpu'

    def fp32(steps=a.steps):
        model.to(memory_format=torch.contiguous_format)
        return sample(model, sched, shape, sampler='ddim', steps=steps, y=y, xT=xT)
    def bf16(steps=a.steps):
        model.to(memory_format=torch.channels_last)
        with torch.autocast(ac, dtype=torch.bfloat16):
            return sample(model, sched, shape, sampler='ddim', steps=steps, y=y, xT=xT.contiguous(memory_format=torch.channels_last))
    zero = lambda x, t, y=None: torch.zeros_like(x)
    def loop(): return sample(zero, sched, shape, sampler='ddim', steps=a.steps, xT=xT, clip=True)

    variants = {'fp32': fp32, 'bf16 autocast+chan_last': bf16, 'loop only (no network)': loop}
    fp32(2); bf16(2)   # warm-up (allocator, oneDNN kernel selection)
    best = {k: float('inf') for k in variants}
    for _ in range(a.repeats):
        for k, fn in variants.items():
            s, out = timed(fn, dev)
            assert out.shape == shape and torch.isfinite(out).all() and out.abs().max() <= 1, k
            best[k] = min(best[k], s)
    print(f"{a.preset} preset ({nparams / 1e6:.2f}M params, {C}x{H}x{H}, "
          f"{'conditional' if y is not None else 'unconditional'}), DDIM {a.steps} steps, batch {a.batch}, "
          f"device {dev} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads), "
          f"torch {torch.__version__}, best of {a.repeats} rounds (noisy if the machine is busy):")
    for k, s in best.items():
        print(f"  {k:26s} {s:8.2f} s a batch  {a.batch / s:9.2f} samples/s  {s / a.steps * 1e3:8.1f} ms/step")
    print(f"  bf16 speed-up over fp32: {best['fp32'] / best['bf16 autocast+chan_last']:.2f}x; "
          f"sampling loop overhead: {100 * best['loop only (no network)'] / best['fp32']:.2f}% of the fp32 time")

if __name__ == '__main__': main()
