"""Few-step students against their teacher on the metric card: progressive and consistency distillation, and the teacher's solvers.

Usage: python bench/distill.py teacher      [--teacher mnist_cond] [--label NAME] [--solvers ddim,dpm++2m] [--no-default]
       python bench/distill.py progressive  [--teacher mnist_cond] [--minutes 11] [--outdir outputs/distill]
       python bench/distill.py consistency  [--teacher mnist_cond] [--minutes 11] [--outdir outputs/distill]
       (common: [--n 1000] [--seeds 0,1] [--calls 1,2,4,8] [--no-record])

`teacher` scores the teacher at its default (`DEFAULT_SAMPLER`, `DEFAULT_STEPS` calls) and with the deterministic solvers
DDIM and DPM-Solver++(2M) at each of `--calls` network calls. `progressive` and `consistency` distil the teacher with
`ddpm_nb.students.distill` in `--minutes` of wall-clock time, then score every student at its call counts (a progressive run
gives one student per round). Each card is the metric card (n samples, EMA weights, seeds as given, `recon_n=0`), one record
per card in bench/results/distill.jsonl (labels: teacher, method, calls, sampler, seed), and one record per distillation run
in bench/results/distill_runs.jsonl (minutes, optimizer steps, teacher calls). A grid of 40 samples per student and call
count (seed 0, labels 0-9 in turn) is written to nbs/images/distill_<label>_<method>_<calls>.png.
Run it alone on the machine: the minutes are wall-clock, and the figures compare only within one machine.
"""
import argparse, time
from pathlib import Path
import torch
from ddpm_nb.checkpoints import load_pretrained, load_model, PRETRAINED
from ddpm_nb.students import distill
from ddpm_nb.evaluation import evaluate, generate
from ddpm_nb.forward import save_grid
from ddpm_nb.records import make_record, write_record
from ddpm_nb.samplers import DEFAULT_SAMPLER, DEFAULT_STEPS

IMAGES = Path(__file__).resolve().parent.parent / 'nbs' / 'images'

def card_values(card) -> dict:
    "The figures of one card worth a table row."
    f = card.scores['fid']
    return dict(fid=dict(value=f['value'], interval=list(f['ci'])), fid_floor=f['floor'], precision=card['precision'],
                recall=card['recall'], class_accuracy=card['class_accuracy'], sampling_seconds=card.info['sampling_seconds'])

def score(model, sched, cfg, a, labels, sampler=None, steps=None):
    "Cards of `model` at one plan for every seed; one record each (unless --no-record); the FIDs."
    out = []
    for seed in a.seeds:
        card = evaluate(model, schedule=sched, config=cfg, n=a.n, sampler=sampler, steps=steps, seed=seed, recon_n=0)
        lab = dict(labels, teacher=a.label, calls=card.steps, sampler=card.sampler,
                   seed=seed, n=a.n)
        print(lab, f"FID {card['fid']:.3f}", flush=True)
        if a.record: write_record(make_record('distill', lab, card_values(card), feature_net=card.feature_net))
        out.append(card['fid'])
    return out

def grid(model, sched, cfg, name, steps=None, sampler=None):
    "40 samples, labels 0-9 in turn, seed 0, as nbs/images/distill_<name>.png."
    x = generate(model, sched, 40, (model.in_channels, model.img_size, model.img_size), sampler, steps, seed=0,
                 num_classes=getattr(model, 'num_classes', None), objective=cfg.get('objective', 'eps'))
    save_grid(x, IMAGES / f'distill_{name}.png', nrow=10)

def teacher_phase(a):
    model, sched, cfg = a.teacher_model
    if a.default:
        score(model, sched, cfg, a, dict(kind='teacher', method='teacher'), DEFAULT_SAMPLER, DEFAULT_STEPS)
        grid(model, sched, cfg, f'{a.label}_teacher_{DEFAULT_STEPS}')
    for calls in a.calls:
        for smp in a.solvers: score(model, sched, cfg, a, dict(kind='teacher', method=smp), smp, calls)
        if 'dpm++2m' in a.solvers: grid(model, sched, cfg, f'{a.label}_teacher_{calls}', calls, 'dpm++2m')

def student_phase(a):
    kw = dict(steps=1, start_steps=16) if a.phase == 'progressive' else dict(steps=1, levels=a.levels)
    t0 = time.perf_counter()
    runs = distill(a.teacher_model, a.phase, minutes=a.minutes, outdir=a.outdir, progress=False, **kw)
    wall = time.perf_counter() - t0
    per = 2 if a.phase == 'progressive' else 1                       # teacher calls per image and optimizer step
    steps = sum(r.step for r in runs.values())
    if a.record:
        write_record(make_record('distill_runs', dict(teacher=a.label, method=a.phase, **kw),
                                 dict(minutes=sum(r.elapsed for r in runs.values()) / 60, wall_minutes=wall / 60, optimizer_steps=steps,
                                      teacher_calls=steps * runs[min(runs)].cfg.batch_size * per,
                                      img_per_s=sum(r.history['img_per_s'][-1] * r.elapsed for r in runs.values()) / sum(r.elapsed for r in runs.values())),
                                 outdirs={k: str(r.outdir) for k, r in runs.items()}))
    for k, r in sorted(runs.items()):
        model, sched, cfg = load_model(r.outdir / 'last.pt')
        calls = [k] if a.phase == 'progressive' else a.calls
        for c in calls:
            score(model, sched, cfg, a, dict(kind='student', method=a.phase), None, c)
            grid(model, sched, cfg, f'{a.label}_{a.phase}_{c}', c)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('phase', choices=('teacher', 'progressive', 'consistency'))
    ap.add_argument('--teacher', default='mnist_cond', help=f"a shipped model ({', '.join(PRETRAINED)}) or a checkpoint")
    ap.add_argument('--label', default=None, help='the teacher\'s name in the records (default: --teacher)')
    ap.add_argument('--minutes', type=float, default=11.0)
    ap.add_argument('--levels', type=int, default=32)
    ap.add_argument('--outdir', default='outputs/distill')
    ap.add_argument('--n', type=int, default=1000)
    ap.add_argument('--seeds', default='0,1')
    ap.add_argument('--calls', default='1,2,4,8')
    ap.add_argument('--solvers', default='ddim,dpm++2m', help="teacher: the deterministic solvers to score at each of --calls")
    ap.add_argument('--no-default', dest='default', action='store_false', help="teacher: skip the card at the default sampler's 20 calls")
    ap.add_argument('--no-record', dest='record', action='store_false')
    a = ap.parse_args()
    a.seeds, a.calls, a.label = [int(s) for s in a.seeds.split(',')], [int(c) for c in a.calls.split(',')], a.label or a.teacher
    a.solvers = a.solvers.split(',')
    a.teacher_model = load_pretrained(a.teacher) if a.teacher in PRETRAINED else load_model(a.teacher)
    teacher_phase(a) if a.phase == 'teacher' else student_phase(a)

if __name__ == '__main__': main()
