"""Fault injection: every fault of a training run's life, tried on tiny runs through the command lines, and what happens.

Usage: python bench/faults.py [--epochs 3] [--only FAULT ...] [--keep] [--no-record]

Each fault runs against tiny runs, `ddpm_nb_train --preset tiny --train-size 512 --batch-size 32 --epochs N --device cpu`
(plus `--eval-size 64 --n-samples 0 --no-progress`, MNIST from `DDPM_NB_DATA`), each in a temporary folder, and one
table is printed: the fault, the exit status, the last line the command wrote, the work lost (optimizer steps done
since the newest checkpoint that survived) and whether the resumed run ends bit-identical to an uninterrupted one
(the command the interrupted run printed, or `ddpm_nb_train --resume <outdir>`, compared with a reference run: weights,
EMA, optimizer, random generators, step and losses). Where a fault must be timed from inside the process (a signal at
a chosen step, a kill during a save, a NaN at a chosen step), the run goes through a thin wrapper of `ddpm_nb_train`
that only watches (it writes the step it reached to a file) or slows (a slow `fsync`, a pause per step) or poisons the
loss; the record says so in `method`. A full disk is a real tmpfs of a few megabytes mounted in a user namespace
(`unshare -rm`) where the machine allows one, else a simulated disk (the checkpoint file's writes fail with ENOSPC once
its size is used), and the record says which. Damaged data runs last (a truncated archive, flipped bytes, a valid
gzip of random pixels in place of MNIST's training images). A huge `ddpm_nb_sample --n` runs under an address-space
limit (RLIMIT_AS) so that running out of memory cannot disturb the machine.

Each fault's row is also written as a record to `bench/results/faults.jsonl` (`--no-record`: print only): label
`fault`, values `exit_status`, `stderr_lines` (lines the command wrote to stderr), and where they apply `steps_lost`
and `bit_exact` (1 or 0); `message` (the last line) and `method` (how the fault was made) beside them. The figures do
not depend on the machine's speed or load.
"""
import argparse, gzip, hashlib, json, os, random, resource, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch
from ddpm_nb.checkpoints import LOCK_NAME, load_checkpoint, latest_checkpoint, save_checkpoint
from ddpm_nb.records import make_record, write_record

BIN = Path(sys.executable).parent
PER_EPOCH = 512 // 32
TRAIN = ['--preset', 'tiny', '--train-size', '512', '--batch-size', '32', '--device', 'cpu', '--eval-size', '64', '--n-samples', '0',
         '--no-progress']

WRAPPER = '''"ddpm_nb_train, watched or slowed from inside (see bench/faults.py): it computes exactly what ddpm_nb_train does."
import json, os, sys, time
import ddpm_nb.train as T, ddpm_nb.run as R
env = os.environ
if env.get('FAULTS_STEPS') or env.get('FAULTS_PAUSE'):       # the optimizer step reached, written to a file; a pause per step
    step_, pause = T.train_step, float(env.get('FAULTS_PAUSE', 0))
    def train_step(run, x0, y=None):
        time.sleep(pause); out = step_(run, x0, y)
        if env.get('FAULTS_STEPS') and not run.accumulating: open(env['FAULTS_STEPS'], 'w').write(str(run.step))
        return out
    T.train_step = train_step
if env.get('FAULTS_SLOW_SAVE'):                              # a slow disk: each save announced, each fsync slow
    save_, fsync_ = T.save_checkpoint, os.fsync
    def save_checkpoint(state, path):
        with open(env['FAULTS_SAVES'], 'a') as f: f.write(json.dumps(dict(step=state['step'], file=str(path))) + '\\n')
        return save_(state, path)
    def fsync(fd): time.sleep(float(env['FAULTS_SLOW_SAVE'])); fsync_(fd)
    T.save_checkpoint, os.fsync = save_checkpoint, fsync
if env.get('FAULTS_NAN_AT'):                                 # the loss is NaN from this call on
    loss_, at, calls = R.prediction_loss, int(env['FAULTS_NAN_AT']), [0]
    def prediction_loss(*a):
        calls[0] += 1; out = loss_(*a)
        return out * float('nan') if calls[0] >= at else out
    R.prediction_loss = prediction_loss
if env.get('FAULTS_DISK_BYTES'):                             # a simulated disk of this many bytes for checkpoint files
    import errno
    fdopen_, left = os.fdopen, [int(env['FAULTS_DISK_BYTES'])]
    class File:
        def __init__(self, f): self.f = f
        def write(self, b):
            if len(b) > left[0]: raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            left[0] -= len(b); return self.f.write(b)
        def __getattr__(self, k): return getattr(self.f, k)
        def __enter__(self): return self
        def __exit__(self, *exc): self.f.close()
    os.fdopen = lambda fd, mode='r', *a, **kw: File(fdopen_(fd, mode, *a, **kw)) if 'b' in mode else fdopen_(fd, mode, *a, **kw)
from ddpm_nb.cli import train_cli
sys.argv[0] = 'ddpm_nb_train'
train_cli()
'''

MOUNT = '''set -u
mnt=$1; copy=$2; size=$3; shift 3
mount -t tmpfs -o size=$size tmpfs "$mnt" || exit 97
"$@"; rc=$?
cp -a "$mnt/." "$copy/"
exit $rc
'''


class Faults:
    "The tiny runs, their folders and the reference run every resume is compared with."
    def __init__(self, root:Path, epochs:int):
        self.root, self.epochs = root, epochs
        (root/'wrapper.py').write_text(WRAPPER); (root/'mount.sh').write_text(MOUNT)
        self.ref = root/'ref'
        r = self.run(self.train(self.ref))
        if r.returncode: sys.exit(f"faults: the reference run failed:\n{r.stderr[-3000:]}")

    def train(self, outdir, *extra, wrapped=False) -> list[str]:
        "The command of the tiny run into `outdir` (through the wrapper when `wrapped`)."
        head = [sys.executable, str(self.root/'wrapper.py')] if wrapped else [str(BIN/'ddpm_nb_train')]
        return head + TRAIN + ['--epochs', str(self.epochs), '--outdir', str(outdir), *map(str, extra)]

    def run(self, cmd, env=None, timeout=900, **kw) -> subprocess.CompletedProcess:
        "Run `cmd` to its end, its output kept."
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, **kw)

    def start(self, cmd, env=None) -> subprocess.Popen:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def _equal(a, b) -> bool:
    if torch.is_tensor(a): return torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict): return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)): return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_equal, a, b))
    return a == b

def same_run(a:Path, b:Path) -> int:
    "1 if the runs in folders `a` and `b` end with the same `last.pt` (weights, EMA, optimizer, generators, step, losses), else 0."
    try: x, y = load_checkpoint(a/'last.pt'), load_checkpoint(b/'last.pt')
    except Exception: return 0
    return int(all(_equal(x[k], y[k]) for k in ('model', 'ema', 'optimizer', 'rng', 'step', 'epoch')) and
               all(_equal(x['history'][k], y['history'][k]) for k in ('step', 'step_loss', 'train_loss', 'eval_loss', 'lr')))

def lines(text:str) -> list[str]: return [l for l in (text or '').strip().splitlines() if l.strip()]

def row(fault, r, method, **values) -> dict:
    "One fault's result: exit status, the command's last line on stderr (or stdout), how many lines, and the figures given."
    err = lines(r.stderr) if r is not None else []
    msg = values.pop('message', None) or (err[-1] if err else (lines(r.stdout)[-1] if r is not None and lines(r.stdout) else ''))
    return dict(fault=fault, exit_status=None if r is None else r.returncode, message=msg, stderr_lines=len(err), method=method,
                **{k: v for k, v in values.items() if v is not None})

def resume_command(msg:str, outdir:Path) -> list[str]:
    "The resume command a stopped run printed, else `ddpm_nb_train --resume <outdir>`."
    cmd = msg.split('resume with: ', 1)[1].split() if 'resume with: ' in msg else ['ddpm_nb_train', '--resume', str(outdir)]
    return [str(BIN/cmd[0])] + cmd[1:] if cmd[0] == 'ddpm_nb_train' else cmd

def wait_for(cond, proc=None, timeout=300):
    t0 = time.time()
    while not cond():
        if time.time() - t0 > timeout or (proc is not None and proc.poll() is not None):
            raise RuntimeError(f"faults: gave up waiting ({proc.stderr.read()[-2000:] if proc is not None and proc.stderr else ''})")
        time.sleep(0.02)

def read_int(p:Path) -> int:
    try: return int(p.read_text() or -1)
    except (OSError, ValueError): return -1

def ckpt_step(outdir:Path) -> int:
    "The step of the newest checkpoint in `outdir` that loads (0: none, the run starts over)."
    p = latest_checkpoint(outdir)
    return load_checkpoint(p)['step'] if p is not None else 0


def signal_mid_epoch(F:Faults, signum:int) -> dict:
    "SIGTERM or SIGINT at a random step in the middle of epoch 2, sent from outside; then the printed resume command."
    name = signal.Signals(signum).name
    out, steps = F.root/f'sig_{name}', F.root/f'sig_{name}.step'
    k = random.randrange(PER_EPOCH + 2, 2 * PER_EPOCH - 2)
    p = F.start(F.train(out, wrapped=True), env=dict(FAULTS_STEPS=str(steps), FAULTS_PAUSE='0.05'))
    wait_for(lambda: read_int(steps) >= k, proc=p)
    p.send_signal(signum)
    stdout, stderr = p.communicate(timeout=300)
    r = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    done, kept = read_int(steps), ckpt_step(out)
    msg = (lines(stderr) or [''])[-1]
    res = F.run(resume_command(msg, out))
    return row(f'{name} mid-epoch', r, f'{name} sent from outside once the run reached step {k} (a wrapper writes the step reached)',
               steps_lost=done - kept, bit_exact=same_run(out, F.ref) if res.returncode == 0 else 0,
               resume=f"exit {res.returncode}: {(lines(res.stderr) or lines(res.stdout) or [''])[-1]}")

def kill_during_save(F:Faults) -> dict:
    "kill -9 while the third periodic save (`--save-every-steps 5`) is being written; then `--resume <outdir>`."
    out, saves = F.root/'kill_saving', F.root/'kill_saving.saves'
    p = F.start(F.train(out, '--save-every-steps', 5, wrapped=True), env=dict(FAULTS_SLOW_SAVE='2', FAULTS_SAVES=str(saves)))
    wait_for(lambda: saves.exists() and len(saves.read_text().splitlines()) >= 3, proc=p)
    time.sleep(0.5); p.kill(); stdout, stderr = p.communicate()
    r = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    saving = json.loads(saves.read_text().splitlines()[-1])['step']
    orphans, kept = sorted(f.name for f in out.glob('.*.tmp')), ckpt_step(out)
    res = F.run(resume_command('', out))
    note = next((l for l in lines(res.stderr) if 'temporary file' in l), '')
    return row('kill -9 during a save', r, 'SIGKILL while the save of step 15 waits in a slow fsync (a wrapper slows fsync by 2 s)',
               message=f"(killed: no message) {len(orphans)} orphan(s); next start: {note}", steps_lost=saving - kept,
               bit_exact=same_run(out, F.ref) if res.returncode == 0 else 0, orphans_left=len(list(out.glob('.*.tmp'))),
               resume=f"exit {res.returncode}")

def kill_between_saves(F:Faults) -> dict:
    "kill -9 at a random step between periodic saves (`--save-every-steps 5`); then `--resume <outdir>`."
    out, steps = F.root/'kill_between', F.root/'kill_between.step'
    k = random.choice([s for s in range(PER_EPOCH + 1, 2 * PER_EPOCH) if s % 5])
    p = F.start(F.train(out, '--save-every-steps', 5, wrapped=True), env=dict(FAULTS_STEPS=str(steps), FAULTS_PAUSE='0.05'))
    wait_for(lambda: read_int(steps) >= k, proc=p)
    p.kill(); stdout, stderr = p.communicate()
    r = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    done, kept = read_int(steps), ckpt_step(out)
    res = F.run(resume_command('', out))
    note = next((l for l in lines(res.stderr) if 'reclaiming' in l), '')
    return row('kill -9 between periodic saves', r, f'SIGKILL once the run reached step {k}, saving every 5 steps',
               message=f"(killed: no message) next start: {note}", steps_lost=done - kept,
               bit_exact=same_run(out, F.ref) if res.returncode == 0 else 0, resume=f"exit {res.returncode}")

def two_runs(F:Faults) -> dict:
    "A second run started into the folder a first run is training in."
    out = F.root/'shared'
    p = F.start(F.train(out, wrapped=True), env=dict(FAULTS_PAUSE='0.05'))
    wait_for(lambda: (out/LOCK_NAME).exists(), proc=p)
    r = F.run(F.train(out))
    p.communicate(timeout=600)
    return row('two runs into one folder', r, 'a second ddpm_nb_train into the folder while the first trains',
               steps_lost=0, bit_exact=same_run(out, F.ref), first_exit=p.returncode)

def finished_folder(F:Faults) -> dict:
    "A new run (not resuming) into a folder holding a finished run."
    out = F.root/'finished'; shutil.copytree(F.ref, out)
    best = hashlib.sha256((out/'best.pt').read_bytes()).hexdigest()
    r = F.run(F.train(out))
    return row('new run into a finished folder', r, 'ddpm_nb_train into a copy of the reference run\'s folder',
               best_kept=int(hashlib.sha256((out/'best.pt').read_bytes()).hexdigest() == best))

def full_disk(F:Faults) -> dict:
    "The disk fills up at the first save of epoch 2: a tmpfs with room for epoch 1's two checkpoints and not a third."
    size = int(2.5 * (F.ref/'last.pt').stat().st_size)
    mnt, copy = F.root/'mnt', F.root/'full'; mnt.mkdir(); copy.mkdir()
    r = F.run(['unshare', '-rm', 'sh', str(F.root/'mount.sh'), str(mnt), str(copy), str(size)] + F.train(mnt/'run')) if shutil.which('unshare') else None
    if r is not None and r.returncode != 97:
        method, out = f'a real tmpfs of {size} bytes (unshare -rm, mount -t tmpfs)', copy/'run'
    else:                                                          # no mount here: the checkpoint files' writes fail instead
        method, out = f'simulated: checkpoint writes fail with ENOSPC after {size} bytes (a wrapper patches os.fdopen)', F.root/'full_sim'
        r = F.run(F.train(out, wrapped=True), env=dict(FAULTS_DISK_BYTES=str(size)))
    partial, kept = len(list(out.glob('.*.tmp'))), ckpt_step(out)
    res = F.run(resume_command('', out) + ['--outdir', str(out)])
    return row('full disk on save', r, method, steps_lost=2 * PER_EPOCH - kept if r.returncode else None, partial_files=partial,
               bit_exact=same_run(out, F.ref) if res.returncode == 0 else 0, resume=f"exit {res.returncode}")

def nan_loss(F:Faults) -> dict:
    "The loss turns NaN in epoch 2."
    out, steps = F.root/'nan', F.root/'nan.step'
    r = F.run(F.train(out, wrapped=True), env=dict(FAULTS_NAN_AT=str(PER_EPOCH + 8), FAULTS_STEPS=str(steps)))
    return row('NaN loss', r, f'the loss made NaN from its {PER_EPOCH + 8}th call on (a wrapper patches prediction_loss)',
               steps_lost=read_int(steps) - ckpt_step(out))

def config_mismatch(F:Faults) -> dict:
    "A checkpoint whose model_config does not match its weights, sampled from."
    ck = load_checkpoint(F.ref/'last.pt'); ck['model_config'] = {**ck['model_config'], 'base': 32}
    bad = save_checkpoint(ck, F.root/'mismatch.pt')
    r = F.run([str(BIN/'ddpm_nb_sample'), '--checkpoint', str(bad), '--n', '4', '--steps', '2', '--device', 'cpu', '--outdir', str(F.root/'s1')])
    return row('checkpoint config does not match its weights', r, "ddpm_nb_sample --checkpoint on last.pt with model_config['base'] 16 -> 32")

def bad_options(F:Faults) -> list[dict]:
    "Values that make no sense, given to the command lines."
    s = [str(BIN/'ddpm_nb_sample'), '--n', '4', '--steps', '2', '--device', 'cpu', '--outdir', str(F.root/'s2')]
    cases = [('--lr inf', F.train(F.root/'lr', '--lr', 'inf')), ('--grad-clip nan', F.train(F.root/'gc', '--grad-clip', 'nan')),
             ('ddpm_nb_sample --guidance -1', s + ['--pretrained', 'mnist_cond', '--guidance', '-1']),
             ('ddpm_nb_eval --n-train -4', [str(BIN/'ddpm_nb_eval'), '--pretrained', 'mnist', '--n', '8', '--steps', '2', '--recon-n', '0',
                                           '--n-train', '-4', '--device', 'cpu'])]
    out = []
    for fault, cmd in cases:
        try: r = F.run(cmd, timeout=600)
        except subprocess.TimeoutExpired: r = subprocess.CompletedProcess(cmd, -1, '', 'still running after 600 s: stopped')
        out.append(row(fault, r, ' '.join(Path(c).name if i == 0 else c for i, c in enumerate(cmd[:1] + cmd[1:]))))
    return out

def huge_n(F:Faults) -> dict:
    "ddpm_nb_sample with an --n far beyond what fits through the network at once, under a 6 GiB address-space limit."
    lim = 6 * 2**30
    cmd = [str(BIN/'ddpm_nb_sample'), '--pretrained', 'mnist', '--n', '20000', '--steps', '2', '--device', 'cpu', '--outdir', str(F.root/'huge')]
    try: r = F.run(cmd, timeout=900, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (lim, lim)))
    except subprocess.TimeoutExpired: r = subprocess.CompletedProcess(cmd, -1, '', 'still running after 900 s: stopped')
    return row('huge ddpm_nb_sample --n', r, 'ddpm_nb_sample --pretrained mnist --n 20000 --steps 2, under RLIMIT_AS of 6 GiB')

def damaged_data(F:Faults) -> list[dict]:
    "MNIST's training images damaged three ways, each in a data folder of its own; one epoch trained on it."
    src = Path(os.environ.get('DDPM_NB_DATA', 'data'))/'MNIST'/'raw'
    good = (src/'train-images-idx3-ubyte.gz').read_bytes()
    raw_imgs = gzip.decompress(good)
    rng = np.random.default_rng(0)
    flipped = bytearray(good); mid = len(good) // 2; flipped[mid:mid + 64] = bytes(b ^ 0xFF for b in flipped[mid:mid + 64])
    damages = {'data: truncated .gz': good[:len(good) // 2], 'data: .gz with flipped bytes': bytes(flipped),
               'data: valid gzip of random pixels': gzip.compress(raw_imgs[:16] + rng.integers(0, 256, len(raw_imgs) - 16, dtype=np.uint8).tobytes())}
    out = []
    for fault, data in damages.items():
        root = F.root/f"data_{len(out)}"; shutil.copytree(src, root/'MNIST'/'raw')
        (root/'MNIST'/'raw'/'train-images-idx3-ubyte.gz').write_bytes(data)
        r = F.run(F.train(F.root/f"d{len(out)}", '--epochs', 1, '--data-root', root), env=dict(DDPM_NB_DATA=str(root)))
        out.append(row(fault, r, f"MNIST's train-images-idx3-ubyte.gz replaced: {fault.split(': ')[1]}", trained=int(r.returncode == 0)))
    return out

FAULTS = dict(sigterm=lambda F: [signal_mid_epoch(F, signal.SIGTERM)], sigint=lambda F: [signal_mid_epoch(F, signal.SIGINT)],
              kill_saving=lambda F: [kill_during_save(F)], kill_between=lambda F: [kill_between_saves(F)],
              two_runs=lambda F: [two_runs(F)], finished=lambda F: [finished_folder(F)], full_disk=lambda F: [full_disk(F)],
              nan=lambda F: [nan_loss(F)], mismatch=lambda F: [config_mismatch(F)], options=bad_options,
              huge_n=lambda F: [huge_n(F)], data=damaged_data)   # damaged data last: the loaders' checks are the newest part


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--epochs', type=int, default=3, help='epochs of each tiny run (at least 3: faults are timed in epoch 2)')
    ap.add_argument('--only', nargs='+', choices=list(FAULTS), help='run only these faults')
    ap.add_argument('--keep', action='store_true', help='keep the temporary folders (their path is printed)')
    ap.add_argument('--no-record', action='store_true', help='print the table only')
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix='ddpm_nb_faults_'))
    try:
        F = Faults(root, max(3, a.epochs))
        rows = []
        for name in a.only or FAULTS:
            got = FAULTS[name](F); rows += got
            for r in got: print(f"{r['fault']}: exit {r['exit_status']}; {r['message'][:150]}", file=sys.stderr, flush=True)
    finally:
        if a.keep: print(f"folders kept in {root}", file=sys.stderr)
        else: shutil.rmtree(root, ignore_errors=True)
    for r in rows:                                                 # the temporary folder's name says nothing: <tmp>
        for k in ('message', 'resume', 'method'):
            if k in r: r[k] = r[k].replace(str(root), '<tmp>')
    na = lambda v: 'n.a.' if v is None else v
    print('| fault | exit status | message (last line) | steps lost | resume bit-exact |\n|---|---:|---|---:|---|')
    for r in rows:
        be = {1: 'yes', 0: 'no'}.get(r.get('bit_exact'), 'n.a.')
        print(f"| {r['fault']} | {r['exit_status']} | {r['message'][:200]} | {na(r.get('steps_lost'))} | {be} |")
    if a.no_record: return
    cmd = 'python bench/faults.py' + (f" --epochs {a.epochs}" if a.epochs != 3 else '')
    for r in rows:
        values = {k: r[k] for k in ('exit_status', 'stderr_lines', 'steps_lost', 'bit_exact', 'best_kept', 'orphans_left',
                                    'partial_files', 'trained', 'first_exit') if isinstance(r.get(k), int)}
        write_record(make_record('faults', labels=dict(fault=r['fault']), values=values, command=cmd, message=r['message'],
                                 method=r['method'], **({'resume': r['resume']} if 'resume' in r else {})))
    print(f"{len(rows)} records written to bench/results/faults.jsonl", file=sys.stderr)


if __name__ == '__main__': main()
