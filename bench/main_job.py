"""The main job's records: a finished `ddpm_nb_train --config cpu` run (what `make train` runs) scored on the metric card with the default and the deterministic sampler.

Usage: /usr/bin/time -f %e -o e2e.txt make train && python bench/main_job.py --run 'make train on a fresh clone' --end-to-end-s $(cat e2e.txt)
       python bench/main_job.py --outdir outputs/mnist_cpu_s1 --run ddpm_nb_train      # a run of `ddpm_nb_train --config cpu --seed 1 ...`
       python bench/main_job.py --n 64 --no-record                                       # a smoke run: cards printed, nothing written

Reads `<outdir>/last.pt`, which must be a finished run of `CONFIGS['cpu']` (the same configuration but for the seed, the
folder and the data workers; anything else is refused), and scores its EMA weights on the metric card (`--n` samples,
sampling seed 0, no reconstructions) with the default sampler (`DEFAULT_SAMPLER`, `DEFAULT_STEPS` steps) and with the
deterministic `dpm++2m` at the same steps, as `ddpm_nb_eval <outdir>/last.pt --n 1000 --recon-n 0 [--sampler dpm++2m]`
does. Two records go to bench/results/main_job.jsonl (`--records DIR` for another folder), labelled `run`, `config`
('cpu'), `conditional`, `objective`, `schedule`, `t_sampling`, `continuous_t`, `seed`, `train_precision`, `sampler`,
`sampler_kind` ('default' | 'deterministic'), `lever` (None) and `current` (True); the values are the card's FID with its
interval and floor, precision, recall and class accuracy, the optimizer steps, the training's or the whole command's time
(`train_s`, or `end_to_end_s` when `--end-to-end-s` gives it: `real` of `time make train`, set-up included), the last
epoch's images/s and losses; `train_precision` is what `precision='auto'` picks on this machine (so run it where the
job ran). Records of `config='cpu'` whose objective, schedule, t sampling or continuous t differ from `CONFIGS['cpu']`
are relabelled `current: False` in the same atomic rewrite of the file. Run it alone on the machine.
"""
import argparse, json
import torch
from pathlib import Path
from ddpm_nb.checkpoints import load_checkpoint
from ddpm_nb.cli import CONFIGS
from ddpm_nb.evaluation import eval_card
from ddpm_nb.records import make_record, write_records
from ddpm_nb.run import auto_precision
from ddpm_nb.samplers import DEFAULT_SAMPLER, DEFAULT_STEPS
from ddpm_nb.train import TrainConfig

WHAT, DETERMINISTIC = 'main_job', 'dpm++2m'
RECIPE = ('objective', 'schedule', 't_sampling', 'continuous_t')   # what tells one main job's recipe from another's
FREE = ('seed', 'outdir', 'overwrite', 'num_workers')              # what a run of the main job may change

def main_job_config(ckpt:dict) -> TrainConfig:
    "The run's configuration, if it is `CONFIGS['cpu']` but for `FREE`; a ValueError naming what differs if it is not."
    cfg, want = TrainConfig.from_dict(ckpt['config']).to_dict(), TrainConfig.from_dict(CONFIGS['cpu']).to_dict()
    diff = sorted(k for k in want if k not in FREE and json.dumps(cfg.get(k)) != json.dumps(want[k]))
    if diff: raise ValueError(f"not a run of CONFIGS['cpu']: {', '.join(f'{k}={cfg.get(k)!r} (the main job: {want[k]!r})' for k in diff)}")
    return TrainConfig.from_dict(ckpt['config'])

def labels_of(cfg:TrainConfig, run:str, precision:str, sampler:str) -> dict:
    "The labels of one record of the main job."
    return dict(run=run, config='cpu', conditional=bool(cfg.model_kwargs.get('num_classes')),
                **{k: getattr(cfg, k) for k in RECIPE}, seed=cfg.seed, train_precision=precision, sampler=sampler,
                sampler_kind='default' if sampler == DEFAULT_SAMPLER else 'deterministic', lever=None, current=True)

def values_of(card, ckpt:dict, end_to_end_s:float|None) -> dict:
    "A record's values: the card's figures, the optimizer steps, the time, the last epoch's throughput and losses."
    f, h = card.scores['fid'], ckpt.get('history', {})
    last = lambda k: h[k][-1] if h.get(k) else None
    time = dict(end_to_end_s=round(end_to_end_s, 1)) if end_to_end_s is not None else dict(train_s=round(ckpt['elapsed'], 1))
    return dict(fid=dict(value=f['value'], interval=list(f['ci'])), fid_floor=f['floor'], precision=card['precision'],
                recall=card['recall'], class_accuracy=card['class_accuracy'], steps=ckpt['step'], **time,
                img_per_s=last('img_per_s'), train_loss=last('train_loss'), eval_loss=last('eval_loss'))

def relabel_current(rec:dict) -> dict:
    "The record, with `current` true only if it is a main job record whose recipe is `CONFIGS['cpu']`'s."
    want = {k: CONFIGS['cpu'].get(k, getattr(TrainConfig, k)) for k in RECIPE}
    if rec['labels'].get('config') == 'cpu' and rec['labels'].get('current'):
        rec = dict(rec, labels={**rec['labels'], 'current': all(rec['labels'].get(k) == v for k, v in want.items())})
    return rec

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--outdir', default=CONFIGS['cpu']['outdir'], help="the run's folder (its last.pt is scored)")
    ap.add_argument('--run', default='make train on a fresh clone', help="how it was run, in words: the records' `run` label")
    ap.add_argument('--end-to-end-s', type=float, default=None, help='seconds of the whole command (`real` of `time make train`)')
    ap.add_argument('--n', type=int, default=1000, help='samples per card')
    ap.add_argument('--records', default=None, help='folder of records (default: bench/results)')
    ap.add_argument('--no-record', action='store_true', help='print the cards, write nothing')
    a = ap.parse_args()
    path = Path(a.outdir) / 'last.pt'
    ckpt = load_checkpoint(path)
    cfg = main_job_config(ckpt)                                        # before any sampling: a wrong run is refused at once
    precision = auto_precision(torch.device('cpu')) if cfg.precision == 'auto' else cfg.precision   # trained here, on the CPU
    recs = []
    for sampler in (DEFAULT_SAMPLER, DETERMINISTIC):
        card = eval_card(str(path), n=a.n, sampler=sampler, steps=DEFAULT_STEPS, recon_n=0, seed=0)
        print(f"{sampler} ({DEFAULT_STEPS} steps): FID {card['fid']:.3f} {card.scores['fid']['ci']}", flush=True)
        extra = f" --sampler {sampler} --steps {DEFAULT_STEPS}" if sampler != DEFAULT_SAMPLER else ''
        how = 'make train' if a.run.startswith('make train') else f'ddpm_nb_train --config cpu --seed {cfg.seed}'
        recs.append(make_record(WHAT, labels_of(cfg, a.run, precision, sampler), values_of(card, ckpt, a.end_to_end_s),
                                command=f"{how}; ddpm_nb_eval {path} --n {a.n} --recon-n 0{extra}", feature_net=card.feature_net))
    if not a.no_record: print('records:', write_records(recs, a.records, relabel=relabel_current))

if __name__ == '__main__': main()
