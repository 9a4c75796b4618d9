"""Run every chapter top to bottom as JupyterLab's Run All does, time it, and record the times.

Run All runs every code cell: those marked `#| eval: false` (the guarded install cell) and the `#| slow` and `#| gpu`
cells included, which the test run skips. Each chapter runs in a new Python process (a fresh kernel: its imports count) in `nbs/`, outside a test run
(`IN_TEST` unset), so optional checks behave as they do for a learner. Prints one line per chapter (seconds, the
three slowest cells) and writes one record per chapter to `bench/results/chapter_run_all.jsonl`
(`--no-record`: print only). Timings are only meaningful on an otherwise idle machine.
Usage: python tools/run_all.py [NOTEBOOK ...] [--no-record] [--budget 300] [--data DIR]
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def run_notebook(path:Path):
    "Run every code cell of `path` in order; returns (ok, seconds, [(cell index, seconds, first line)], error)."
    from execnb.nbio import read_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    nb, shell, times, err = read_nb(path), CaptureShell(path), [], None
    t0 = time.perf_counter()
    with working_directory(path.parent):
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != 'code': continue
            t = time.perf_counter()
            shell.run(cell.source)
            first = next((l for l in cell.source.splitlines() if l.strip() and not l.startswith('#|')), '')
            times.append((i, time.perf_counter() - t, first[:60]))
            if shell.exc:
                err = f"cell {i}: {type(shell.exc).__name__}: {shell.exc}"
                break
    return err is None, time.perf_counter() - t0, times, err

def run_fresh(path:Path):
    "`run_notebook` in a new Python process, as a fresh kernel runs it."
    r = subprocess.run([sys.executable, __file__, '--child', str(path)], capture_output=True, text=True)
    try: ok, secs, times, err = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError): return False, 0.0, [], f"the runner failed: {(r.stdout + r.stderr)[-500:]}"
    return ok, secs, [tuple(t) for t in times], err

def main():
    if sys.argv[1:2] == ['--child']:                                  # one notebook, in this process; the result as JSON
        print(json.dumps(run_notebook(Path(sys.argv[2])))); return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('paths', nargs='*', help='notebooks (default: every chapter and the home page)')
    ap.add_argument('--no-record', action='store_true', help='print only; write no record')
    ap.add_argument('--budget', type=float, default=300, help='seconds a chapter may take (the run fails above it)')
    ap.add_argument('--data', default=str(ROOT / 'data'), help="the data root (DDPM_NB_DATA); '' leaves it unset: ./data")
    a = ap.parse_args()
    os.environ.pop('IN_TEST', None)
    os.environ.setdefault('MPLBACKEND', 'Agg')
    if a.data: os.environ['DDPM_NB_DATA'] = a.data
    else: os.environ.pop('DDPM_NB_DATA', None)
    files = [Path(p).resolve() for p in a.paths] or sorted((ROOT / 'nbs').glob('[0-9]*.ipynb')) + [ROOT / 'nbs' / 'index.ipynb']
    if not a.no_record: from ddpm_nb.records import make_record, write_record
    failed, recs = [], []
    for f in files:
        ok, secs, times, err = run_fresh(f)
        slow = sorted(times, key=lambda x: -x[1])[:3]
        over = ok and secs > a.budget
        print(f"{'ok  ' if ok and not over else 'FAIL'} {f.name:28s} {secs:6.0f} s   slowest: " +
              '; '.join(f"[{i}] {s:.0f} s" for i, s, _ in slow) + (f"   {err}" if err else '') +
              (f"   over the {a.budget:.0f} s budget" if over else ''))
        if not ok or over: failed.append(f.name)
        if ok and not a.no_record:
            rec = make_record('chapter_run_all', dict(chapter=f.stem), dict(seconds=secs, cells=len(times)),
                              slowest=[dict(cell=i, seconds=round(s, 1), code=c) for i, s, c in slow])
            recs.append(rec)
    for rec in recs: write_record(rec)           # after every chapter ran: each record stamped with the commit the run began on
    print(f"{len(files) - len(failed)} completed within budget, {len(failed)} did not" + (f": {', '.join(failed)}" if failed else ''))
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
