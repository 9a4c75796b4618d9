"""Training throughput (images/s) of ddpm_nb's `mnist` U-Net against diffusers' UNet2DModel and lucidrains'
denoising-diffusion-pytorch Unet, on the CPU this runs on.

Each configuration (model x setting) runs the same DDPM training step: draw t and noise, make x_t with
`q_sample`, predict the noise, MSE loss, backward, AdamW step. Settings: `fp32` (what users get by default:
float32, NCHW) and `bf16+cl` (torch.autocast('cpu', bfloat16) with channels_last model and inputs, the fastest
setting all three support here). Every configuration is timed in the same process, round-robin: each
repeat times `--steps` steps of every configuration in turn, and the median over repeats is reported, so
load from other processes slows all of them alike and the ratios stay fair; absolute figures are noisy when
the machine is busy (the load average is printed, and kept in the records).

Achieved GFLOP/s uses the usual training estimate: 3 x forward FLOPs (forward + a backward of twice its cost)
= 6 x forward multiply-adds per image, with multiply-adds counted by torch's FlopCounterMode (convolutions,
linear layers, attention matmuls). The peak is the best of a large matrix product and a large convolution measured in
this process.

Besides printing, it writes records (`ddpm_nb.records`): one per configuration to `<records>/unet_throughput.jsonl`
(images/s with the range over repeats, size, GFLOP/s, the peaks) and one per printed ratio to
`<records>/unet_speedups.jsonl`, each stamped with the machine, the date, the commit and this command.

    python bench/unet_throughput.py            # batch 64, 4 steps x 5 repeats
    python bench/unet_throughput.py --quick    # batch 64, 2 steps x 3 repeats
    python bench/unet_throughput.py --quick --records /tmp/try   # records elsewhere than bench/results
"""
import argparse, copy, os, statistics, sys, time, warnings
from pathlib import Path
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ddpm_nb.unet import unet_preset, n_params
from ddpm_nb.records import make_record, write_record
from ddpm_nb.schedules import make_schedule
from ddpm_nb.forward import q_sample

SETTINGS = {'fp32': dict(bf16=False, cl=False), 'bf16+cl': dict(bf16=True, cl=True)}
SETTING_NAMES = {'fp32': 'fp32', 'bf16+cl': 'bf16 + channels_last', 'bf16+cl+compile': 'bf16 + channels_last + torch.compile'}  # as recorded

def build_models():
    "name -> (model, forward(model, x, t) -> prediction); anchors that fail to import are reported and skipped."
    models = {'ddpm_nb mnist': (unet_preset('mnist'), lambda m, x, t: m(x, t))}
    try:
        from diffusers import UNet2DModel
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            m = UNet2DModel(sample_size=28, in_channels=1, out_channels=1, layers_per_block=2, block_out_channels=(32, 64, 128),
                            down_block_types=('DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D'),
                            up_block_types=('AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'))
        models['diffusers UNet2DModel'] = (m, lambda m, x, t: m(x, t).sample)
    except Exception as e: print(f'diffusers unavailable ({type(e).__name__}: {e}); skipped')
    try:
        from denoising_diffusion_pytorch import Unet
        models['lucidrains Unet'] = (Unet(dim=32, dim_mults=(1, 2, 4), channels=1), lambda m, x, t: m(x, t))
    except Exception as e: print(f'denoising_diffusion_pytorch unavailable ({type(e).__name__}: {e}); skipped')
    return models

def forward_macs(model, fwd):
    "Multiply-adds of one forward pass for one 1x28x28 image."
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        fwd(model, torch.zeros(1, 1, 28, 28), torch.zeros(1, dtype=torch.long))
    return fc.get_total_flops() / 2

def make_step(model, fwd, batch, bf16, cl, sched, compile=False, seed=0):
    "A closure running one training step of a private copy of `model` in the given setting."
    m = copy.deepcopy(model).train()
    if cl: m = m.to(memory_format=torch.channels_last)
    opt_m = torch.compile(m) if compile else m
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(batch, 1, 28, 28, generator=g) * 2 - 1  # pixel values do not change the cost
    fmt = torch.channels_last if cl else torch.contiguous_format
    def step():
        t = torch.randint(0, sched.T, (batch,))
        eps = torch.randn_like(x0)
        xt = q_sample(x0, t, sched, eps).contiguous(memory_format=fmt)
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            pred = fwd(opt_m, xt, t)
        loss = F.mse_loss(pred.float(), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    return step

def _median_time(f, reps):
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)

def peak_gflops(dtype, reps=3):
    "Best GFLOP/s of a 2048x2048 matrix product (MKL) and a 256->256 3x3 convolution on 32x256x28x28 (oneDNN)."
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    mm = 2 * 2048**3 / _median_time(lambda: a @ b, reps) / 1e9
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).to(dtype=dtype, memory_format=torch.channels_last)
    x = torch.randn(32, 256, 28, 28, dtype=dtype).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(): cv = 2 * 32 * 28 * 28 * 256 * 256 * 9 / _median_time(lambda: conv(x), reps) / 1e9
    return mm, cv

def _r(x:float) -> float: return float(f'{x:.4g}')  # four significant figures in the records

def _labels(name, setting, batch):
    "What a `unet_throughput` record measured: the model, the setting (as the records name it), the batch and torch's threads."
    return dict(model=name, setting=SETTING_NAMES[setting], batch=batch, threads=torch.get_num_threads())

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='2 steps x 3 repeats (a rough figure in about a minute on an idle machine)')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--steps', type=int, default=None, help='timed steps per configuration per repeat (default 4; --quick 2)')
    ap.add_argument('--repeats', type=int, default=None, help='round-robin repeats (default 5; --quick 3)')
    ap.add_argument('--warmup', type=int, default=2, help='untimed steps per configuration first')
    ap.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (default: torch default)')
    ap.add_argument('--compile', action='store_true', help='also time ddpm_nb mnist under torch.compile (bf16+cl); prints the compile time')
    ap.add_argument('--models', default=None, help='comma-separated subset of: ddpm,diffusers,lucidrains')
    ap.add_argument('--records', default=str(ROOT / 'bench' / 'results'), help="folder the records are written to (default: bench/results)")
    a = ap.parse_args()
    steps = a.steps or (2 if a.quick else 4)
    repeats = a.repeats or (3 if a.quick else 5)
    if a.threads: torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    load0 = os.getloadavg()[0]
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, '
          f'bf16 CPU support: {torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()}')
    print(f'batch {a.batch}, {a.warmup} warm-up + {steps} timed steps x {repeats} round-robin repeats; load average at start {load0:.1f}')
    sched = make_schedule('linear', T=1000)
    models = build_models()
    if a.models:
        keep = a.models.split(',')
        models = {k: v for k, v in models.items() if any(s in k for s in keep)}
    info = {name: (n_params(m), forward_macs(m, f)) for name, (m, f) in models.items()}
    configs = {}
    for name, (m, f) in models.items():
        for s, kw in SETTINGS.items(): configs[(name, s)] = make_step(m, f, a.batch, sched=sched, **kw)
    if a.compile and 'ddpm_nb mnist' in models:
        configs[('ddpm_nb mnist', 'bf16+cl+compile')] = make_step(*models['ddpm_nb mnist'], a.batch, sched=sched, compile=True, **SETTINGS['bf16+cl'])
    compile_s = None
    for k, step in configs.items():
        t0 = time.perf_counter(); step(); first = time.perf_counter() - t0
        if k[1].endswith('compile'):
            t0 = time.perf_counter(); step(); compile_s = first - (time.perf_counter() - t0)
        for _ in range(a.warmup - 1): step()
    ips = {k: [] for k in configs}
    peaks = {'fp32': [], 'bf16+cl': []}
    for r in range(repeats):
        peaks['fp32'].append(peak_gflops(torch.float32)); peaks['bf16+cl'].append(peak_gflops(torch.bfloat16))
        for k, step in configs.items():
            t0 = time.perf_counter()
            for _ in range(steps): step()
            ips[k].append(steps * a.batch / (time.perf_counter() - t0))
    load1 = os.getloadavg()[0]
    med = {k: statistics.median(v) for k, v in ips.items()}
    pk = {s: [statistics.median(x) for x in zip(*v)] for s, v in peaks.items()}
    peak = {s: max(v) for s, v in pk.items()}
    print(f"\nmeasured peak, best of a 2048^3 matmul and a 256->256 3x3 conv at 32x28x28 (median over repeats): "
          f"fp32 {peak['fp32']:.0f} GFLOP/s (matmul {pk['fp32'][0]:.0f}, conv {pk['fp32'][1]:.0f}), "
          f"bf16 {peak['bf16+cl']:.0f} GFLOP/s (matmul {pk['bf16+cl'][0]:.0f}, conv {pk['bf16+cl'][1]:.0f})")
    print(f"\n{'model':24s} {'params':>7s} {'fwd MACs':>9s} {'setting':8s} {'img/s':>7s} {'(min-max)':>13s} {'GFLOP/s':>8s} {'% peak':>7s}")
    runs = dict(steps=steps, repeats=repeats, warmup=a.warmup)
    records = []
    for (name, s), v in med.items():
        p, macs = info[name]
        gf = v * 6 * macs / 1e9
        dt = 'fp32' if s == 'fp32' else 'bf16+cl'
        print(f"{name:24s} {p/1e6:6.2f}M {macs/1e6:8.0f}M {s:8s} {v:7.1f} {f'({min(ips[(name, s)]):.0f}-{max(ips[(name, s)]):.0f})':>13s} {gf:8.1f} {100*gf/peak[dt]:6.1f}%")
        records.append(make_record('unet_throughput', _labels(name, s, a.batch),
            dict(img_per_s=dict(value=_r(v), interval=[_r(min(ips[(name, s)])), _r(max(ips[(name, s)]))], n=repeats),
                 params_m=round(p / 1e6, 2), forward_mmacs=round(macs / 1e6), gflop_per_s=_r(gf), pct_of_peak=_r(100 * gf / peak[dt]),
                 peak_conv_gflop_per_s=_r(pk[dt][1]), peak_matmul_gflop_per_s=_r(pk[dt][0])),
            **runs, load_average=[round(load0, 1), round(load1, 1)]))
    if compile_s is not None: print(f"torch.compile time (first step minus a compiled step): {compile_s:.0f} s")
    def ratio(comparison, r, **values):
        records.append(make_record('unet_speedups', dict(comparison=comparison, threads=torch.get_num_threads(), batch=a.batch),
                                   dict(ratio=_r(r), **values), **runs))
    ours = 'ddpm_nb mnist'
    anchors = [n for n in models if n != ours]
    if ours in models and anchors:
        best_ours = max(med[(ours, s)] for s in SETTINGS)
        fastest_default = max(anchors, key=lambda n: med[(n, 'fp32')])
        print(f"\nratios (ddpm_nb mnist / anchor, images per second):")
        if compile_s is not None:
            print(f"  compiled bf16+cl vs the faster anchor at its fp32 default: {med[(ours, 'bf16+cl+compile')] / med[(fastest_default, 'fp32')]:.2f}x, "
                  f"vs eager bf16+cl: {med[(ours, 'bf16+cl+compile')] / med[(ours, 'bf16+cl')]:.2f}x (not counted as a default setting)")
        print(f"  best setting vs the faster anchor at its fp32 default ({fastest_default}): "
              f"{best_ours / med[(fastest_default, 'fp32')]:.2f}x")
        ratio('best setting vs the faster anchor at its fp32 default', best_ours / med[(fastest_default, 'fp32')])
        for s in SETTINGS:
            fastest = max(anchors, key=lambda n: med[(n, s)])
            print(f"  like for like, {s:8s} vs the faster anchor there ({fastest}): {med[(ours, s)] / med[(fastest, s)]:.2f}x")
            ratio(f'like for like, {SETTING_NAMES[s]}', med[(ours, s)] / med[(fastest, s)])
        for n in anchors:
            print(f"  vs {n}: " + ', '.join(f"{s} {med[(ours, s)] / med[(n, s)]:.2f}x" for s in SETTINGS)
                  + f", best vs best {best_ours / max(med[(n, s)] for s in SETTINGS):.2f}x")
    if compile_s is not None and ours in models:
        ratio('torch.compile vs eager, bf16 + channels_last', med[(ours, 'bf16+cl+compile')] / med[(ours, 'bf16+cl')], compile_s=_r(compile_s))
    print(f"\nload average at end {load1:.1f} on {os.cpu_count()} CPUs"
          + (' (busy machine: absolute figures are noisy, ratios are fairer since all configurations were interleaved)'
             if max(load0, load1) > (os.cpu_count() or 1) else ''))
    for rec in records: write_record(rec, a.records)
    if records: print(f"wrote {len(records)} records to {a.records}: unet_throughput.jsonl" + (", unet_speedups.jsonl" if len(records) > len(med) else ''))

if __name__ == '__main__': main()
