"""Sampling throughput of `ddpm_nb.samplers.sample`: samples/s for DDIM with the `mnist` U-Net preset, fp32 vs bf16.

Usage: python bench/sample_throughput.py [--preset mnist] [--steps 50] [--batch 64] [--repeats 2] [--threads 2] [--device cpu]
                                         [--records bench/results]
Measures, interleaved in one process (`--repeats` rounds, best round kept, so load from other processes affects the
variants alike; on a busy machine the figures are noisy: compare ratios, not absolute rates):
  fp32                           the model in float32, contiguous tensors
  bf16 autocast + channels_last  the same call under torch.autocast(bfloat16) with model and noise in channels_last
  loop only (no network)         the sampler with a zero-cost model: what the sampling loop itself costs per step
The model has random weights: speed does not depend on them.
Besides printing, it writes one record per variant to `<records>/sample_throughput.jsonl` (`ddpm_nb.records`: seconds
per batch, samples/s and ms per step of the best round, every round's seconds, the machine, the date, the commit and
this command).
"""
import argparse, os, sys, time, platform
from pathlib import Path
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ddpm_nb.schedules import make_schedule
from ddpm_nb.samplers import sample
from ddpm_nb.records import make_record, write_record

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
    ap.add_argument('--records', default=str(ROOT / 'bench' / 'results'), help='folder the records are written to (default: bench/results)')
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

    variants = {'fp32': fp32, 'bf16 autocast + channels_last': bf16, 'loop only (no network)': loop}   # the names the records use
    fp32(2); bf16(2)   # warm-up (allocator, oneDNN kernel selection)
    load0 = os.getloadavg()[0]
    rounds = {k: [] for k in variants}
    for _ in range(a.repeats):
        for k, fn in variants.items():
            s, out = timed(fn, dev)
            assert out.shape == shape and torch.isfinite(out).all() and out.abs().max() <= 1, k
            rounds[k].append(s)
    best = {k: min(v) for k, v in rounds.items()}
    load = [round(load0, 1), round(os.getloadavg()[0], 1)]
    print(f"{a.preset} preset ({nparams / 1e6:.2f}M params, {C}x{H}x{H}, "
          f"{'conditional' if y is not None else 'unconditional'}), DDIM {a.steps} steps, batch {a.batch}, "
          f"device {dev} ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads), "
          f"torch {torch.__version__}, best of {a.repeats} rounds (noisy if the machine is busy):")
    for k, s in best.items():
        print(f"  {k:30s} {s:8.2f} s a batch  {a.batch / s:9.2f} samples/s  {s / a.steps * 1e3:8.1f} ms/step")
    print(f"  bf16 speed-up over fp32: {best['fp32'] / best['bf16 autocast + channels_last']:.2f}x; "
          f"sampling loop overhead: {100 * best['loop only (no network)'] / best['fp32']:.2f}% of the fp32 time")
    r4 = lambda x: float(f'{x:.4g}')
    recs = []
    for k, s in best.items():
        labels = dict(variant=k, preset=a.preset, sampler='ddim', steps=a.steps, batch=a.batch, device=dev.type)
        values = dict(s_per_batch=r4(s), samples_per_s=r4(a.batch / s), ms_per_step=r4(s / a.steps * 1e3))
        recs.append(make_record('sample_throughput', labels, values, rounds_s=[r4(x) for x in rounds[k]], load_average=load,
                                params_m=round(nparams / 1e6, 2), conditional=y is not None))
    for rec in recs: write_record({**rec, 'date': recs[0]['date']}, a.records)   # one run, one date: the variants compare within it
    print(f"wrote {len(best)} records to {Path(a.records) / 'sample_throughput.jsonl'}")

if __name__ == '__main__': main()
