"""Score a trained MNIST checkpoint and ship it in the package as `load_pretrained(NAME)`.

1. `evaluate` the checkpoint's EMA weights: FID, KID, IS, precision/recall, class balance and memorisation on the
   shipped MNIST feature net, each beside its real-vs-real floor at the same sample count (a class-conditional model's
   card also gives the share of samples classified as the class asked for);
2. `sampler_sweep`: FID, model calls and seconds for every sampler at several step counts (unconditional models);
3. a class-conditional model: `guidance_sweep`, the card's scores at every classifier-free guidance weight given;
4. `export_pretrained`: the EMA weights in float16 with their configuration, the card and the sweeps, written to
   ddpm_nb/assets/PRETRAINED[NAME] (and the card as JSON beside the checkpoint).
5. records: the card, the sampler sweep's and the guidance sweep's rows, each with the written file's SHA-256, replace
   NAME's records in bench/results/pretrained_cards.jsonl (`ddpm_nb.records`: command, machine, date, commit); the
   evaluation chapter checks each record against the shipped file and renders them.
Usage: python tools/ship_pretrained.py CHECKPOINT [--name mnist] [--n 2000] [--sweep-n 500] [--steps 5 10 20 50] [--recon-n 64]
       python tools/ship_pretrained.py CHECKPOINT --name mnist_cond --guidance best --guidance-sweep 0 1 2 3 --sweep-n 0
"""
import argparse, hashlib, json, platform, sys, time
from pathlib import Path
import torch
from ddpm_nb.evaluation import evaluate
from ddpm_nb.sweeps import sampler_sweep, guidance_sweep
from ddpm_nb.checkpoints import load_model, export_pretrained, PRETRAINED
from ddpm_nb.records import make_record, read_records, results_dir, write_record

ROOT = Path(__file__).resolve().parent.parent

def shipped_records(name, path, payload) -> list[dict]:
    "Records of a shipped model's card and sweeps, as the evaluation and sweeps chapters read them; each names the file's SHA-256."
    card, cmd = payload['card'], payload['command']
    extra = dict(model=name, file=path.name, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), feature_net=card['feature_net'])
    vals = {}
    for k, s in card['scores'].items():
        vals[k] = dict(value=s['value'], **({'interval': list(s['ci'])} if s.get('ci') else {}), **({'sd': s['spread']} if s.get('spread') is not None else {}))
        if s.get('floor') is not None: vals[k + '_floor'] = s['floor']
    recs = [make_record('pretrained_cards', dict(kind='card', model=name, sampler=card['sampler'], steps=card['steps'], n=card['n'],
                                                 guidance=card['info'].get('guidance')), vals, command=cmd, **extra)]
    for r in payload['sweep']:
        if 'fid' in r: recs.append(make_record('pretrained_cards', dict(kind='sampler_sweep', model=name, sampler=r['sampler'], steps=r['steps'], n=r['n']),
                                               dict(fid=r['fid'], floor=r['floor'], calls=r['calls'], seconds=r['seconds']), command=cmd, **extra))
    for r in payload.get('guidance_sweep') or []:
        lab = dict(kind='guidance_sweep', model=name, sampler=r['sampler'], steps=r['steps'], n=r['n'], guidance=r['guidance'])
        v = dict(fid=dict(value=r['fid'], interval=list(r['fid_ci'])), floor=r['floor'], precision=r['precision'], recall=r['recall'],
                 class_accuracy=r['class_accuracy'], accuracy_floor=r['accuracy_floor'], seconds=r['seconds'])
        recs.append(make_record('pretrained_cards', lab, v, command=cmd, **extra))
    return recs

def replace_records(name, recs):
    "Write `recs` as model `name`'s records in pretrained_cards.jsonl, dropping its older ones (they describe a file that no longer ships)."
    root = results_dir()
    path = root / 'pretrained_cards.jsonl'
    keep = [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []
    keep = [r for r in keep if r['labels'].get('model') != name]
    tmp = path.with_suffix('.jsonl.tmp')
    tmp.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in keep)); tmp.replace(path)
    for r in recs: write_record(r, root)
    read_records('pretrained_cards', root)   # every record still checks
    return path

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('checkpoint')
    ap.add_argument('--name', default='mnist', choices=list(PRETRAINED), help='the shipped model to write')
    ap.add_argument('--n', type=int, default=2000, help='samples for the metric card')
    ap.add_argument('--sampler', default='dpm++2m'); ap.add_argument('--sampler-steps', type=int, default=20)
    ap.add_argument('--guidance', default=None, help="the card's classifier-free guidance weight (conditional models), "
                    "or 'best': the weight of --guidance-sweep with the lowest FID")
    ap.add_argument('--guidance-sweep', type=float, nargs='*', default=[], help='guidance weights to score (conditional models)')
    ap.add_argument('--guidance-n', type=int, default=1000, help='samples per guidance weight')
    ap.add_argument('--batch-size', type=int, default=500, help='samples per sampling call')
    ap.add_argument('--sweep-n', type=int, default=500, help='samples per point of the sampler sweep (0: no sweep)')
    ap.add_argument('--steps', type=int, nargs='+', default=[5, 10, 20, 50], help='step counts of the sweep')
    ap.add_argument('--recon-n', type=int, default=64, help='test images reconstructed by DDIM inversion on the card (0: none, as for a student)')
    a = ap.parse_args()
    model, sched, cfg = load_model(a.checkpoint, ema=True)
    if (a.guidance is not None or a.guidance_sweep) and not getattr(model, 'num_classes', None):
        ap.error('--guidance and --guidance-sweep need a class-conditional model')
    if a.guidance == 'best' and not a.guidance_sweep: ap.error('--guidance best needs --guidance-sweep')
    if a.guidance not in (None, 'best'):
        try: a.guidance = float(a.guidance)
        except ValueError: ap.error(f"--guidance must be a number or 'best', got {a.guidance!r}")
    torch.manual_seed(0)
    cmd = 'python tools/ship_pretrained.py ' + ' '.join(sys.argv[1:])
    gsweep = None
    if a.guidance_sweep:
        gsweep = guidance_sweep(a.checkpoint, a.guidance_sweep, 'mnist', n=a.guidance_n, sampler=a.sampler, steps=a.sampler_steps, device='cpu',
                                batch_size=a.batch_size)
        for r in gsweep: print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != 'feature_net'}, flush=True)
    if a.guidance == 'best': a.guidance = min(gsweep, key=lambda r: r['fid'])['guidance']
    t0 = time.time()
    card = evaluate(a.checkpoint, 'mnist', n=a.n, sampler=a.sampler, steps=a.sampler_steps, device='cpu', guidance=a.guidance,
                    batch_size=a.batch_size, recon_n=a.recon_n)
    card.info.update(seconds_total=round(time.time() - t0, 1), command=cmd, cpu=platform.processor() or platform.machine(),
                     torch=torch.__version__, guidance=a.guidance)
    print(card, flush=True)
    rows = []
    if a.sweep_n:
        rows = sampler_sweep(model, sched, 'mnist', steps=tuple(a.steps), n=a.sweep_n, objective=cfg.get('objective', 'eps'),
                             guidance=a.guidance)
        for r in rows: print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()})
    out = Path(a.checkpoint).with_name('card.json')
    payload = dict(card=card.to_dict(), sweep=json.loads(json.dumps(rows, default=float)), sweep_n=a.sweep_n, command=cmd)
    if gsweep is not None: payload.update(guidance_sweep=gsweep, guidance_n=a.guidance_n)
    out.write_text(json.dumps(payload, indent=1))
    dest = export_pretrained(a.checkpoint, ROOT/'ddpm_nb'/'assets'/PRETRAINED[a.name], card=payload)
    print(f'wrote {dest} ({dest.stat().st_size/2**20:.2f} MiB) and {out}')
    print(f"records of {a.name} written to {replace_records(a.name, shipped_records(a.name, dest, payload))}")

if __name__ == '__main__': main()
