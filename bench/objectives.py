"""One network, one budget, every objective: the main job's network and data trained with each objective and path, scored on the metric card and the variational bound.

Usage: python bench/objectives.py [--rows eps_linear,...] [--seeds 0,1] [--minutes 11] [--n 1000] [--bpd-n 1000] [--strata 20]
                                  [--snapshot-seeds 0] [--outdir outputs/objectives] [--records DIR] [--images DIR] [--no-record]

Each row of `ROWS` is `CONFIGS['cpu']` (the class-conditional `mnist` U-Net on MNIST, `--minutes` of wall-clock training) with
its own objective, schedule or path, way of drawing t and continuous or discrete t (each row states all four; the row that
matches `CONFIGS['cpu']` is the main job); each row is trained once per seed
of `--seeds` (the training seed) in `<outdir>/<row>_s<seed>`. For the seeds of `--snapshot-seeds`, the EMA weights are copied
at each epoch's end (`ema_<fraction of the budget>.pt` beside `last.pt`, loadable with `load_model`), for the curve of FID
against training minutes. After training, outside the budget: the metric card of the final EMA weights (n samples, the
default sampler `DEFAULT_SAMPLER` at 20 and at 4 network calls, sampling seed 0, `recon_n=0`), the card of each copy at 20
calls, and the variational bound (`nll_bpd`, bits/dim, `--strata` strata of t) of the first `--bpd-n` MNIST test images given
their labels. Records go to bench/results/objectives.jsonl (`--records` for another folder), labels `kind` 'run' | 'card' |
'snapshot' | 'bpd'; a (row, seed) is written only when all of its measurements are done, its final cards last, and one whose
final cards are there (same budget and n) is skipped (on this machine), so later sessions finish the remaining rows. A run's records are also kept
in its folder (`objectives.jsonl`) as each step ends, so a stopped evaluation resumes on the same trained weights.
A grid of 40 samples (labels 0-9 in turn, seed 0) at 4 calls of each row's seed-0 model goes to nbs/images/objectives_<row>_4.png.
Run it alone on the machine: the budget is wall-clock, and the figures compare only within one machine (a CPU model and
instruction set): each machine's records are a table of their own, and what is skipped as done is what this machine recorded.
"""
import argparse, json, time
from pathlib import Path
import torch
from ddpm_nb.cli import CONFIGS
from ddpm_nb.checkpoints import load_model, save_checkpoint
from ddpm_nb.data import get_dataset
from ddpm_nb.evaluation import evaluate, generate
from ddpm_nb.forward import save_grid
from ddpm_nb.likelihood import nll_bpd
from ddpm_nb.records import cpu_isa, cpu_model, make_record, write_record, read_records, results_dir
from ddpm_nb.samplers import DEFAULT_SAMPLER, DEFAULT_STEPS
from ddpm_nb.train import Run, TrainConfig, fit

IMAGES = Path(__file__).resolve().parent.parent / 'nbs' / 'images'
WHAT = 'objectives'
ROWS = {  # row -> its label in words, and its objective, schedule or path, t sampling and continuous t (the rest is CONFIGS['cpu'])
    'eps_linear':      dict(label='eps, linear schedule, uniform t',
                            overrides=dict(objective='eps', schedule='linear', t_sampling='uniform', continuous_t=False)),
    'eps_cosine':      dict(label='eps, cosine schedule, uniform t',
                            overrides=dict(objective='eps', schedule='cosine', t_sampling='uniform', continuous_t=False)),
    'x0_cosine':       dict(label='x0, cosine schedule, uniform t',
                            overrides=dict(objective='x0', schedule='cosine', t_sampling='uniform', continuous_t=False)),
    'v_cosine':        dict(label='v, cosine schedule, uniform t',
                            overrides=dict(objective='v', schedule='cosine', t_sampling='uniform', continuous_t=False)),
    'rf_uniform':      dict(label='flow (rectified flow), linear path, uniform continuous t',
                            overrides=dict(objective='flow', schedule='linear_path', t_sampling='uniform', continuous_t=True)),
    'rf_logit_normal': dict(label='flow (rectified flow), linear path, logit-normal continuous t',
                            overrides=dict(objective='flow', schedule='linear_path', t_sampling='logit_normal', continuous_t=True)),
    'trigflow':        dict(label='v, trig path (TrigFlow), uniform continuous t',
                            overrides=dict(objective='v', schedule='trig', t_sampling='uniform', continuous_t=True)),
}
CALLS = (DEFAULT_STEPS, 4)  # the final cards; snapshots at the first (the default sampler takes one network call a step)

def row_config(row, seed, a) -> TrainConfig:
    "CONFIGS['cpu'] with the row's changes, the budget, the training seed and the run's folder."
    return TrainConfig.from_dict({**CONFIGS['cpu'], **ROWS[row]['overrides'], 'minutes': a.minutes, 'seed': seed,
                                  'outdir': str(Path(a.outdir) / f'{row}_s{seed}'), 'overwrite': True})

def base_labels(row, cfg, a) -> dict:
    "The labels every record of one (row, seed) carries."
    return dict(row=row, row_label=ROWS[row]['label'], objective=cfg.objective, schedule=cfg.schedule, t_sampling=cfg.t_sampling,
                continuous_t=cfg.continuous_t, seed=cfg.seed, budget=a.minutes)

class EpochSnapshots:
    "A `fit` callback: at each epoch's end, a copy of the EMA (and raw) weights, kept in memory, for the curve of FID against minutes."
    def __init__(self): self.taken = []
    def __call__(self, run):
        copy = lambda m: {k: v.detach().clone() for k, v in m.state_dict().items()}
        ema = dict(run.ema.state_dict(), model=copy(run.ema.model))
        self.taken.append(dict(fraction=round(run.elapsed / (60 * run.cfg.minutes), 3), step=run.step, elapsed=run.elapsed,
                               model=copy(run.model), ema=ema))

def save_snapshots(snaps:EpochSnapshots, run:Run) -> list[dict]:
    "Each copy but the final weights' as `ema_<fraction>.pt` in the run's folder (a checkpoint `load_model` reads; no optimizer state)."
    out = []
    for s in snaps.taken:
        if s['step'] == run.step: continue                             # the end of the budget: that is `last.pt`
        path = run.outdir / f"ema_{s['fraction']:g}.pt"
        save_checkpoint(dict(model=s['model'], model_config=getattr(run.model, 'config', None), ema=s['ema'], step=s['step'],
                             elapsed=s['elapsed'], config=run.cfg.to_dict(),
                             schedule=dict(name=run.schedule.name, beta=run.schedule.beta.double().cpu(), path=run.schedule.path)), path)
        out.append(dict(fraction=s['fraction'], step=s['step'], minutes=s['elapsed'] / 60, path=str(path)))
    return out

def train(row, seed, a) -> dict:
    "Train one (row, seed) from scratch; write its snapshots and `trained.json`, and start its folder's `objectives.jsonl` afresh."
    cfg = row_config(row, seed, a)
    out = Path(cfg.outdir)
    for p in [out / 'trained.json', out / f'{WHAT}.jsonl', *out.glob('ema_*.pt')]: p.unlink(missing_ok=True)
    snaps = EpochSnapshots()
    t0 = time.perf_counter()
    run = fit(config=cfg, callbacks=[snaps] if seed in a.snapshot_seeds else [])
    wall = time.perf_counter() - t0
    h = run.history
    info = dict(config=cfg.to_dict(), snapshot_seeds=a.snapshot_seeds, snapshots=save_snapshots(snaps, run), last=str(out / 'last.pt'),
                step=run.step, epochs=run.step / run.per_epoch, epochs_started=run.epoch, minutes=run.elapsed / 60, wall_seconds=wall,
                images=run.step * cfg.batch_size, precision=run.precision, train_loss=h['train_loss'][-1], eval_loss=h['eval_loss'][-1],
                last_epoch_img_per_s=h['img_per_s'][-1])
    (out / 'trained.json').write_text(json.dumps(info, indent=1))
    return info

def trained(row, seed, a) -> dict|None:
    "The finished training of this (row, seed) in its folder, if it is one of this configuration and these snapshot seeds."
    cfg = row_config(row, seed, a)
    p = Path(cfg.outdir) / 'trained.json'
    if not p.exists(): return None
    info = json.loads(p.read_text())
    same = info['config'] == json.loads(json.dumps(cfg.to_dict())) and info.get('snapshot_seeds') == a.snapshot_seeds
    return info if same and Path(info['last']).exists() and all(Path(s['path']).exists() for s in info['snapshots']) else None

def this_machine(rec) -> bool:
    "Whether a record was measured on a machine like this one (same CPU model and instruction set): budgets are wall-clock."
    return (rec['machine'].get('cpu'), rec['machine'].get('isa')) == (cpu_model(), cpu_isa())

def recorded(a, **labels) -> list[dict]:
    "This machine's records of the study whose labels include `labels` (none when there is no record file yet)."
    try: return [r for r in read_records(WHAT, a.records, **labels) if this_machine(r)]
    except FileNotFoundError: return []

def final_done(row, seed, a) -> bool:
    "Both final cards of this (row, seed) at this budget and n are in this machine's records."
    recs = recorded(a, kind='card', row=row, seed=seed, budget=a.minutes, n=a.n)
    return all(any(r['labels']['calls'] == c for r in recs) for c in CALLS)

def card_values(card, steps) -> dict:
    "The figures of one card worth a table row (as in bench/distill.py), with the optimizer steps behind the weights."
    f = card.scores['fid']
    return dict(fid=dict(value=f['value'], interval=list(f['ci'])), fid_floor=f['floor'], precision=card['precision'],
                recall=card['recall'], class_accuracy=card['class_accuracy'], sampling_seconds=card.info['sampling_seconds'],
                optimizer_steps=steps)

class Measurements:
    "The records of one trained (row, seed), kept in its folder as each is measured; a measurement already there is not redone."
    def __init__(self, folder, labels):
        self.folder, self.labels = Path(folder), labels
        self.recs = read_records(WHAT, self.folder) if (self.folder / f'{WHAT}.jsonl').exists() else []
    def find(self, **want):
        return next((r for r in self.recs if all(r['labels'].get(k) == v for k, v in want.items())), None)
    def get(self, want:dict, measure):
        "The record whose labels include `want`, measured by `measure() -> (labels, values, extra)` if it is not there yet."
        rec = self.find(**want)
        if rec is None:
            labels, values, extra = measure()
            rec = make_record(WHAT, {**self.labels, **want, **labels}, values, **extra)
            write_record(rec, self.folder)                                # an atomic rewrite: a stop mid-write leaves the file whole
            self.recs.append(rec)
        return rec

def card(model, sched, cfg, calls, a):
    "One metric card: n samples at `calls` calls of the default sampler, sampling seed 0, no reconstructions."
    c = evaluate(model, ema=True, schedule=sched, config=cfg, n=a.n, sampler=DEFAULT_SAMPLER, steps=calls, seed=0, recon_n=0)
    return c, dict(sampler=c.sampler, sampling_seed=0)

def measure(row, seed, a, info):
    "Every record of one trained (row, seed): the run, a card per snapshot, the bound, the final cards; the grid for seed 0."
    cfg = row_config(row, seed, a)
    m = Measurements(cfg.outdir, base_labels(row, cfg, a))
    recs = [m.get(dict(kind='run', fraction=1.0, calls=None, n=None), lambda: (
        dict(minutes=info['minutes'], precision=info['precision']),
        dict(optimizer_steps=info['step'], epochs=info['epochs'], images=info['images'], train_seconds=60 * info['minutes'],
             wall_seconds=info['wall_seconds'], img_per_s=info['images'] / (60 * info['minutes']),
             train_loss=info['train_loss'], eval_loss=info['eval_loss']),
        dict(outdir=cfg.outdir, epochs_started=info['epochs_started'])))]
    for s in info['snapshots']:
        def snap(s=s):
            model, sched, c = load_model(s['path'])
            cd, lab = card(model, sched, c, CALLS[0], a)
            print(f"{row} s{seed} snapshot {s['fraction']:g} ({s['minutes']:.2f} min): FID {cd['fid']:.3f}", flush=True)
            return dict(lab, minutes=s['minutes']), card_values(cd, s['step']), dict(feature_net=cd.feature_net, checkpoint=s['path'])
        recs.append(m.get(dict(kind='snapshot', fraction=s['fraction'], calls=CALLS[0], n=a.n), snap))
    model, sched, c = load_model(info['last'])
    def bpd():
        ds = get_dataset(c['dataset'], train=False)
        xs, ys = zip(*(ds[i] for i in range(min(a.bpd_n, len(ds)))))           # the first test images and their labels
        x0, y = torch.stack(xs), torch.tensor(ys)
        b = nll_bpd(model, x0, sched, objective=c['objective'], strata=a.strata, y=y, generator=0, progress=False)
        print(f"{row} s{seed} bound: {b.bpd:.4f} ± {b.se:.4f} bits/dim ({b.seconds:.0f} s)", flush=True)
        return (dict(minutes=info['minutes']),
                dict(bpd=dict(value=b.bpd, se=b.se, interval=[b.bpd - 1.96 * b.se, b.bpd + 1.96 * b.se], n=b.n),
                     prior=b.prior, diffusion=b.diffusion, decoder=b.decoder, seconds=b.seconds),
                dict(variance=b.variance, bins=b.bins, clip=b.clip, conditional=True))
    recs.append(m.get(dict(kind='bpd', fraction=1.0, calls=None, n=a.bpd_n, strata=a.strata), bpd))
    if seed == 0:
        x = generate(model, sched, 40, (model.in_channels, model.img_size, model.img_size), DEFAULT_SAMPLER, 4, seed=0,
                     num_classes=model.num_classes, objective=c['objective'])
        save_grid(x, Path(a.images) / f'objectives_{row}_4.png', nrow=10)
    for calls in CALLS:
        def final(calls=calls):
            cd, lab = card(model, sched, c, calls, a)
            print(f"{row} s{seed} final, {calls} calls: FID {cd['fid']:.3f}", flush=True)
            return dict(lab, minutes=info['minutes']), card_values(cd, info['step']), dict(feature_net=cd.feature_net)
        recs.append(m.get(dict(kind='card', fraction=1.0, calls=calls, n=a.n), final))
    return recs

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--rows', default=','.join(ROWS), help=f"comma-separated, of: {', '.join(ROWS)}")
    ap.add_argument('--seeds', default='0,1', help='training seeds')
    ap.add_argument('--minutes', type=float, default=CONFIGS['cpu']['minutes'], help='wall-clock training budget of each run')
    ap.add_argument('--snapshot-seeds', default='0', help="training seeds whose EMA weights are kept at each epoch's end and carded (the curve)")
    ap.add_argument('--n', type=int, default=1000, help='samples per card')
    ap.add_argument('--bpd-n', type=int, default=1000, help='test images for the bound')
    ap.add_argument('--strata', type=int, default=20, help='strata of t for the bound')
    ap.add_argument('--outdir', default='outputs/objectives')
    ap.add_argument('--records', default=None, help="the folder of records (default: the book's, bench/results)")
    ap.add_argument('--images', default=str(IMAGES), help='where the sample grids go')
    ap.add_argument('--no-record', dest='record', action='store_false', help='write no records (they stay in each run\'s folder)')
    a = ap.parse_args()
    a.rows, a.seeds = a.rows.split(','), [int(s) for s in a.seeds.split(',')]
    a.snapshot_seeds = [int(s) for s in a.snapshot_seeds.split(',') if s]
    bad = [r for r in a.rows if r not in ROWS]
    if bad: ap.error(f"unknown rows {bad}; valid: {', '.join(ROWS)}")
    a.records = a.records or str(results_dir())
    for row in a.rows:
        for seed in a.seeds:
            if a.record and final_done(row, seed, a):
                print(f"skip {row} s{seed}: its final cards (budget {a.minutes:g} min, n={a.n}) are in {Path(a.records) / WHAT}.jsonl", flush=True)
                continue
            info = trained(row, seed, a)
            if info is None: info = train(row, seed, a)
            else: print(f"{row} s{seed}: reusing the finished training in {info['last']}", flush=True)
            recs = measure(row, seed, a, info)
            if a.record:
                have = [r['labels'] for r in recorded(a, row=row, seed=seed, budget=a.minutes)]
                for rec in recs:                                          # the final cards last: they mark the (row, seed) done
                    if rec['labels'] not in have: write_record(rec, a.records)   # (a rerun after a stop mid-write adds no duplicates)

if __name__ == '__main__': main()
