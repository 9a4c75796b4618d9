"""The GPU chapter's figures in one run: each GPU configuration's training speed at three settings, then a short run of `mnist` scored on the metric card.

Usage: python bench/gpu_train.py                                   # on a CUDA machine: all of it, in about 8 minutes
       python bench/gpu_train.py --configs mnist --minutes 1 --n 500
       python bench/gpu_train.py --device cpu --smoke --records /tmp/try --images /tmp/try   # the same code, tiny, on the CPU

Part 1, speed. For each of `--configs` (default: `mnist`, `cifar10` and `tiny_imagenet` of `CONFIGS`; `fashion_mnist`
trains `mnist`'s network on images of the same shape), `fit` trains the configuration's network for two epochs of
`--steps` optimizer steps (default 300 for `mnist`, 80 for `cifar10`, 40 for `tiny_imagenet`) at each of three settings, in one process: the configuration's own (bf16 autocast,
channels_last, torch.compile), the same without compile, and fp32 without either. The figure is the second epoch's
images/s; the first epoch's extra seconds are what compiling and warming up cost. Where the configuration's data set
is not on the machine (CIFAR-10 and Tiny ImageNet cannot be fetched here) the network trains on random uint8 images
of the same shape and number of classes, held in memory: the record says so (`data`: 'real' | 'synthetic'), and the
figure is then the network's speed, not the loader's. Records: bench/results/gpu_throughput.jsonl, labels `config`,
`model`, `batch`, `precision`, `channels_last`, `compile`, `data`; values `img_per_s`, `steps_per_s`,
`first_epoch_s`, `second_epoch_s`, `ratio` (to fp32 without compile, same configuration), `params` and `forward_macs`
(multiply-adds of one image's forward pass).

Part 2, a short run. `CONFIGS['mnist']` (unconditional, eps on the linear schedule, bf16 + compile) trained for
`--minutes` of wall-clock time instead of its 50 epochs (the learning rate's cosine follows the budget), then its EMA
weights scored on the metric card (`--n` samples, the default sampler, sampling seed 0, no reconstructions), as
`ddpm_nb_eval <run>/last.pt --n 1000 --recon-n 0` does. Record: bench/results/gpu_train.jsonl, labels `config`, `n`
and `run` (the budget, in words); values `minutes`, `steps`, `fid` with its interval, `fid_floor`, `precision`,
`recall`, `img_per_s`. A grid of 100 of its samples goes to `--images` as gpu_mnist_samples.png.

Each record is written as soon as it is measured. A setting or part that fails prints its error and the run goes on;
one that would not end before `--deadline-s` is skipped and says so. On a copy of the repository whose git history
is not its tree's, `--commit` names the commit the copy was made from (records otherwise carry `git_commit()`).
`--eager` leaves out the compiled setting (compiling the large networks takes minutes).
"""
import argparse, time, traceback
from pathlib import Path
import torch
from ddpm_nb.cli import CONFIGS
from ddpm_nb.checkpoints import load_model
from ddpm_nb.data import DatasetCorruptError, DatasetNotFoundError, TensorImages, get_dataset
from ddpm_nb.evaluation import eval_card
from ddpm_nb.forward import save_grid
from ddpm_nb.records import make_record, write_record
from ddpm_nb.samplers import sample
from ddpm_nb.train import TrainConfig, fit
from ddpm_nb.unet import count_macs

SETTINGS = (('bf16', True, True), ('bf16', True, False), ('fp32', False, False))   # (precision, channels_last, compile)
STEPS = dict(mnist=300, fashion_mnist=300, cifar10=80, tiny_imagenet=40)     # optimizer steps per epoch, two epochs
SHAPES = dict(mnist=(1, 28, 10), fashion_mnist=(1, 28, 10), cifar10=(3, 32, 10), tiny_imagenet=(3, 64, 200))
IMAGES = Path(__file__).resolve().parent.parent / 'nbs' / 'images'

class Clock:
    "Seconds left before the deadline; `fits(s, what)` is False (and says so) where `s` more seconds would overrun it."
    def __init__(self, deadline_s): self.t0, self.deadline_s = time.perf_counter(), deadline_s
    def left(self): return self.deadline_s - (time.perf_counter() - self.t0)
    def fits(self, s, what):
        if self.left() >= s: return True
        print(f"skipped: {what} (needs about {s:.0f} s, {self.left():.0f} s left)", flush=True)
        return False

def stamp(rec, a):
    "The record with `--commit`, where given, as its commit (a copy's own git history may not be the tree's)."
    if a.commit: rec['commit'] = a.commit
    return rec

def has_data(name, a) -> bool:
    "True if the named data set is on this machine (it is never downloaded here); a damaged copy is an error, not a missing one."
    try: get_dataset(name, root=a.data_root, download=False); return True
    except DatasetCorruptError: raise
    except DatasetNotFoundError: return False

def synthetic(name, n, hflip) -> TensorImages:
    "Random uint8 images with the shape and classes of data set `name`, in memory."
    c, s, k = SHAPES[name]
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, c, s, s), dtype=torch.uint8, generator=g)
    return TensorImages(x, torch.randint(0, k, (n,), generator=g), classes=range(k), hflip=hflip, name=f'synthetic {name}')

def steps_of(name, a) -> int: return a.steps or STEPS[name]

def speed_config(name, a, setting, data) -> TrainConfig:
    "Configuration `name` at `setting` for a speed measurement: two epochs of `--steps` steps, no grids, no files."
    precision, channels_last, compile = setting
    c = {**CONFIGS[name], **(dict(model='tiny', batch_size=8) if a.smoke else {})}
    if data == 'synthetic': c['data_kwargs'] = None                     # flips are the synthetic set's own
    return TrainConfig.from_dict(dict(c, epochs=2, train_size=steps_of(name, a) * c['batch_size'], eval_size=64, n_samples=0,
                                      outdir=None, progress=False, device=a.device, precision=precision,
                                      channels_last=channels_last, compile=compile), where=name)

def one_speed(name, ds, data, setting, a):
    "Train configuration `name` at one setting; its record (without the ratio)."
    precision, channels_last, compile = setting
    cfg = speed_config(name, a, setting, data)
    run = fit(cfg.model, ds if data == 'synthetic' else cfg.dataset, config=cfg)
    h = run.history
    if len(h['seconds']) != 2: raise RuntimeError(f"{name}: expected 2 epochs, got {len(h['seconds'])}")
    values = dict(img_per_s=h['img_per_s'][-1], steps_per_s=h['img_per_s'][-1] / cfg.batch_size,
                  first_epoch_s=h['seconds'][0], second_epoch_s=h['seconds'][1],
                  params=sum(p.numel() for p in run.model.parameters()), forward_macs=count_macs(run.model))
    labels = dict(config=name, model=cfg.model, batch=cfg.batch_size, precision=precision, channels_last=channels_last,
                  compile=compile, data=data, steps=steps_of(name, a))
    print(f"{name} {precision} channels_last={channels_last} compile={compile} ({data} data): {values['img_per_s']:.0f} img/s, "
          f"epochs {values['first_epoch_s']:.1f} s then {values['second_epoch_s']:.1f} s", flush=True)
    return labels, values

def speeds(name, a, clock):
    "Part 1 for one configuration: each setting in turn, each record written once the fp32 baseline is known."
    data = 'real' if has_data(CONFIGS[name]['dataset'], a) else 'synthetic'
    n = steps_of(name, a) * (8 if a.smoke else CONFIGS[name]['batch_size']) + 64
    ds = synthetic(CONFIGS[name]['dataset'], n, bool((CONFIGS[name].get('data_kwargs') or {}).get('hflip'))) if data == 'synthetic' else None
    done = []
    for setting in [s for s in SETTINGS if not (a.eager and s[2])]:
        if not clock.fits(a.need_s[name] / len(SETTINGS), f"{name} at {setting}"): continue
        try: done.append(one_speed(name, ds, data, setting, a))
        except Exception: print(f"{name} at {setting} failed:"); traceback.print_exc()
    base = next((v['img_per_s'] for l, v in done if (l['precision'], l['compile']) == ('fp32', False)), None)
    for labels, values in done:
        if base: values = dict(values, ratio=values['img_per_s'] / base)
        path = write_record(stamp(make_record('gpu_throughput', labels, values, command=a.command), a), a.records)
    if done: print(f"records: {path}", flush=True)

def short_run(a, clock):
    "Part 2: `CONFIGS['mnist']` for `--minutes`, its card and its grid."
    if not clock.fits(60 * a.minutes + a.need_s['card'], f"the {a.minutes:g}-minute mnist run and its card"): return
    c = {**CONFIGS['mnist'], **(dict(model='tiny', eval_size=64, n_samples=16) if a.smoke else {})}
    cfg = TrainConfig.from_dict(dict(c, minutes=a.minutes, outdir=a.outdir, overwrite=True, progress=False, device=a.device),
                                where='mnist')
    t0 = time.perf_counter()
    run = fit(cfg.model, cfg.dataset, config=cfg)
    wall = time.perf_counter() - t0
    print(f"mnist, {a.minutes:g} min: {run.step} steps, {wall:.0f} s with set-up", flush=True)
    last = str(Path(a.outdir) / 'last.pt')
    card = eval_card(last, n=a.n, recon_n=0, seed=0, device=a.device)
    fid = card.scores['fid']
    print(f"card: FID {fid['value']:.2f} {fid['ci']}, precision {card['precision']:.3f}, recall {card['recall']:.3f}", flush=True)
    values = dict(minutes=wall / 60, steps=run.step, fid=dict(value=fid['value'], interval=list(fid['ci'])), fid_floor=fid['floor'],
                  precision=card['precision'], recall=card['recall'], img_per_s=run.history['img_per_s'][-1])
    labels = dict(config='mnist', n=a.n, run=f"{a.minutes:g} min instead of {CONFIGS['mnist']['epochs']} epochs")
    path = write_record(stamp(make_record('gpu_train', labels, values, command=a.command, sampler=card.sampler,
                                          feature_net=card.feature_net), a), a.records)
    print(f"record: {path}", flush=True)
    model, sched, conf = load_model(last, device=a.device)
    x = sample(model, sched, (100, model.in_channels, model.img_size, model.img_size), objective=conf['objective'],
               generator=0, device=a.device)
    print(f"grid: {save_grid(x.float().cpu(), Path(a.images) / 'gpu_mnist_samples.png', nrow=10)}", flush=True)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--configs', default='mnist,cifar10,tiny_imagenet', help='configurations whose speed is measured')
    ap.add_argument('--steps', type=int, default=None, help='optimizer steps per epoch of each speed measurement (two epochs; default: STEPS)')
    ap.add_argument('--minutes', type=float, default=2.0, help="the short mnist run's budget (0: no short run)")
    ap.add_argument('--n', type=int, default=1000, help="samples on the short run's card")
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--deadline-s', type=float, default=500, help='skip what would not end within this many seconds')
    ap.add_argument('--data-root', default=None, help='data root (default: $DDPM_NB_DATA, else ./data)')
    ap.add_argument('--outdir', default='outputs/gpu_mnist', help="the short run's folder")
    ap.add_argument('--records', default=None, help='folder of records (default: bench/results)')
    ap.add_argument('--images', default=str(IMAGES), help="where the short run's grid goes")
    ap.add_argument('--commit', default=None, help="the commit this copy was made from, where its git history is not the tree's")
    ap.add_argument('--eager', action='store_true', help='leave out the compiled setting')
    ap.add_argument('--smoke', action='store_true', help="the 'tiny' network at batch 8: checks the code path, measures nothing")
    a = ap.parse_args()
    if a.device.startswith('cuda') and not torch.cuda.is_available(): ap.error("no CUDA device here (use --device cpu --smoke to try the code)")
    if a.smoke and a.records is None: ap.error("--smoke writes its records elsewhere: give --records DIR")
    a.command = 'python bench/gpu_train.py' + (f' --configs {a.configs}' if a.configs != ap.get_default('configs') else '') + (' --eager' if a.eager else '')
    a.command += f' --minutes {a.minutes:g}' if a.minutes != ap.get_default('minutes') else ''
    a.need_s = dict(mnist=90, fashion_mnist=90, cifar10=150, tiny_imagenet=180, card=60)
    clock = Clock(a.deadline_s)
    if torch.cuda.is_available(): print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)
    names = [s for s in a.configs.split(',') if s]
    bad = [s for s in names if s not in SHAPES]
    if bad: ap.error(f"not a GPU configuration: {', '.join(bad)} (choose from {', '.join(SHAPES)})")
    for name in names[:1]: speeds(name, a, clock)                      # the first one compiles the short run's network too
    if a.minutes > 0:
        try: short_run(a, clock)
        except Exception: print("the short run failed:"); traceback.print_exc()
    for name in names[1:]: speeds(name, a, clock)
    print(f"done in {clock.deadline_s - clock.left():.0f} s", flush=True)

if __name__ == '__main__': main()
