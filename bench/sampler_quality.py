"""Sample quality against network calls for every sampler on the shipped MNIST model: FID, precision, calls and seconds.

Usage: python bench/sampler_quality.py [--n 1000] [--samplers ddim,dpm++2m,...] [--steps 10,15,20,25,50,100]
                                       [--reference-steps 1000] [--precision fp32] [--spacing S] [--batch-size 250] [--out rows.json]
For each sampler and step count, draws `--n` samples from `load_pretrained('mnist_eps')` with the same seed (so every sampler
starts from the same x_T), counts the network calls per sample (a `CallCounter` around the model) and the wall time, and
scores the samples with the shipped MNIST feature net: FID against the MNIST test set and improved precision (k=3) against
as many test images. The reference is ancestral sampling over `--reference-steps` steps (0: none). The table ends with the
real-vs-real floor (FID of `--n` training images against the test set) and, per sampler, its best FID within 25 calls
against the reference (the goal: a sampler within 10% of it in at most 25 calls). Long: the cost is (network calls in all) x n
forward passes, printed first; with the defaults about 2,700 calls per image, so 2.7 million forward passes of the U-Net
for n=1000 (hours on 2 CPU cores; bf16 helps only on CPUs with AVX-512 BF16 or AMX, and is much slower without).
Run it on a quiet machine, e.g. `nohup python bench/sampler_quality.py > q.txt &`.
Each point is appended as a record to bench/results/sampler_study.jsonl as soon as it is measured (`ddpm_nb.records`:
command, machine, date, commit; labels kind='sweep', model, sampler, steps, spacing, n, seed); `--no-record` for trials.
The sweeps chapter plots and tabulates the records with n=250.
"""
import argparse, json, platform, time
import torch
from ddpm_nb.samplers import SAMPLERS, SAMPLER_SPECS, SPACINGS, CallCounter
from ddpm_nb.checkpoints import load_pretrained
from ddpm_nb.metrics import embed, feature_net, fid, precision_recall, reference_stats
from ddpm_nb.evaluation import generate
from ddpm_nb.records import make_record, write_record

DEFAULT_SAMPLERS = 'ancestral,ddim,dpm++2m,dpm++2m-sde,heun,heun-churn'   # 'deterministic' is 'ddim' at a given step count

def run(model, schedule, sampler, steps, a, net, test):
    "Sample, count, time and score one (sampler, steps) point; one dict."
    spacing = a.spacing or SAMPLER_SPECS[sampler].spacing
    counter = CallCounter(model)
    ac = torch.autocast('cpu', dtype=torch.bfloat16, enabled=a.precision == 'bf16')
    t0 = time.perf_counter()
    with ac:
        x = generate(counter, schedule, a.n, (model.in_channels, model.img_size, model.img_size), sampler, steps, a.batch_size, a.seed,
                     spacing=spacing)
    secs = time.perf_counter() - t0
    feats = embed(x.float(), net)[0]
    prec = precision_recall(test['feats'][:a.n], feats, k=3)[0]
    batches = -(-a.n // a.batch_size)
    return dict(sampler=sampler, steps=steps, calls=counter.calls / batches, seconds=secs, fid=fid(feats, test), precision=prec, n=a.n,
                spacing=spacing, feature_net=net.sha256)

def point_record(r, floor, a) -> dict:
    "The record of one measured point, as the sweeps chapter reads it."
    labels = dict(kind='sweep', model='mnist_eps', sampler=r['sampler'], steps=r['steps'], spacing=r['spacing'], n=r['n'], seed=a.seed)
    if a.precision != 'fp32': labels['precision'] = a.precision
    values = dict(fid=r['fid'], precision=r['precision'], calls=r['calls'], seconds=r['seconds'], floor=floor)
    return make_record('sampler_study', labels, values, feature_net=r['feature_net'], batch_size=a.batch_size)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=1000, help="samples per point (FID wants several times the feature net's 64 dimensions)")
    ap.add_argument('--samplers', default=DEFAULT_SAMPLERS, help=f'comma-separated names from {", ".join(SAMPLERS)}')
    ap.add_argument('--steps', default='10,15,20,25,50,100', help='comma-separated step counts')
    ap.add_argument('--reference-steps', type=int, default=1000, help='steps of the ancestral reference (0: no reference)')
    ap.add_argument('--precision', choices=('fp32', 'bf16'), default='fp32',
                    help='bf16: autocast and channels_last (faster only on CPUs with AVX-512 BF16 or AMX)')
    ap.add_argument('--spacing', choices=SPACINGS, default=None, help="timestep spacing of every sampler (default: each sampler's own)")
    ap.add_argument('--batch-size', type=int, default=250)
    ap.add_argument('--seed', type=int, default=0, help='the sampling seed, the same for every point')
    ap.add_argument('--threads', type=int, default=None, help='torch intra-op threads (default: torch default)')
    ap.add_argument('--out', default=None, help='also write the rows as JSON here (rewritten after each point)')
    ap.add_argument('--no-record', dest='record', action='store_false', help='append no record to bench/results/sampler_study.jsonl')
    a = ap.parse_args()
    samplers, steps = [s for s in a.samplers.split(',') if s], [int(k) for k in a.steps.split(',') if k]
    bad = [s for s in samplers if s not in SAMPLERS]
    if bad: ap.error(f"unknown sampler(s) {', '.join(bad)}; valid choices: {', '.join(SAMPLERS)}")
    if a.threads: torch.set_num_threads(a.threads)
    model, schedule, cfg = load_pretrained('mnist_eps')
    if a.precision == 'bf16': model.to(memory_format=torch.channels_last)
    net, ref = feature_net('mnist'), reference_stats('mnist')
    test, train = ref['test'], ref['train']
    floor = fid(train['feats'][torch.randperm(len(train['feats']), generator=torch.Generator().manual_seed(a.seed))[:a.n]], test)
    print(f"# shipped mnist model, n={a.n}, {a.precision}, batch {a.batch_size}, seed {a.seed}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"# FID against the MNIST test set ({test['n']} images); precision (k=3) against {min(a.n, test['n'])} test images; "
          f"real vs real (n={a.n} training images): FID {floor:.3f}")
    points = [(s, k) for s in samplers for k in steps] + ([('ancestral', a.reference_steps)] if a.reference_steps else [])
    calls = sum((2 * k - 1 if s in ('heun', 'heun-churn') else k) for s, k in points)
    print(f"# {len(points)} points, {calls} network calls per image in all: {calls * a.n:,} forward passes\n", flush=True)
    print('| sampler | steps | network calls | seconds | FID | precision |\n|---|---:|---:|---:|---:|---:|', flush=True)
    rows = []
    for s, k in points:
        r = run(model, schedule, s, k, a, net, test)
        rows.append(dict(r, floor=floor))
        print(f"| {s} | {k} | {r['calls']:.0f} | {r['seconds']:.1f} | {r['fid']:.3f} | {r['precision']:.3f} |", flush=True)
        if a.out: open(a.out, 'w').write(json.dumps(dict(rows=rows, floor=floor, args=vars(a)), indent=1))   # after each point
        if a.record: write_record(point_record(r, floor, a))
    if a.reference_steps:
        ref_fid = rows[-1]['fid']
        print(f"\nreference: ancestral, {a.reference_steps} steps: FID {ref_fid:.3f}; goal: within 10% ({1.1 * ref_fid:.3f}) in <= 25 calls")
        for s in samplers:
            ok = [r for r in rows[:-1] if r['sampler'] == s and r['calls'] <= 25]
            if not ok: print(f"  {s}: no point with <= 25 calls"); continue
            b = min(ok, key=lambda r: r['fid'])
            print(f"  {s}: best within 25 calls: {b['steps']} steps ({b['calls']:.0f} calls), FID {b['fid']:.3f} = "
                  f"{b['fid'] / ref_fid:.2f} x reference{' (goal met)' if b['fid'] <= 1.1 * ref_fid else ''}")

if __name__ == '__main__': main()
