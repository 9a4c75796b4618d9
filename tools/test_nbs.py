"""Run the notebooks' tests the way `nbdev_test` does, then print one line: `N passed, M failed`.

Usage: python tools/test_nbs.py [--flags "slow"] [--n_workers 2] [NOTEBOOK ...]
Cells flagged with a `tst_flags` directive (settings.ini) are skipped unless named in --flags.
Lines that a cell prints starting with the word `checked` (what a slow check compared, against what, and how closely)
are shown under the notebook's result line, so the log shows that each check ran, and so is the number of cells each
notebook skipped for their flags (`skipped: 3 slow`); the `N passed, M failed` line stays last.
"""
import argparse, os, re, sys, time
from pathlib import Path

MARKER = re.compile(r'checked\b')  # e.g. `checked against diffusers 0.42.1: ...` or `checked: ...`

def _stream_lines(cell):
    "The lines a code cell printed to stdout."
    for o in getattr(cell, 'outputs', None) or []:
        if o.get('output_type') == 'stream' and o.get('name') == 'stdout':
            t = o.get('text', '')
            yield from (''.join(t) if isinstance(t, list) else t).splitlines()

def test_nb(fn, skip_flags=None, force_flags=None, basepath=None):
    "`nbdev.test.test_nb`, also returning the `checked ...` lines the cells printed and what was skipped: `(ok, seconds, lines)`."
    from fastcore.basics import str2bool
    from fastcore.xtras import working_directory
    from execnb.shell import CaptureShell
    from nbdev.process import NBProcessor
    from nbdev.frontmatter import FrontmatterProc
    from nbdev.sync import nb_lang
    if basepath: sys.path.insert(0, str(basepath))
    os.environ['IN_TEST'] = '1'
    flags = set(skip_flags or []) - set(force_flags or [])
    nb = NBProcessor(fn, procs=FrontmatterProc, process=True).nb
    if str2bool(getattr(nb, 'frontmatter_', {}).get('skip_exec', False)) or nb_lang(nb) != 'python': return True, 0, []
    skipped = {}
    def _no_eval(cell):
        if cell.cell_type != 'code' or 'nbdev_export' + '(' in cell.source: return True
        direc = getattr(cell, 'directives_', {}) or {}
        if direc.get('eval:', [''])[0].lower() == 'false': return True
        for f in flags & direc.keys(): skipped[f] = skipped.get(f, 0) + 1
        return flags & direc.keys()
    lines = []
    def _collect(cell): lines.extend(l.strip() for l in _stream_lines(cell) if MARKER.match(l.strip()))
    start, k = time.time(), CaptureShell(fn)
    try:
        with working_directory(fn.parent): k.run_all(nb, exc_stop=True, preproc=_no_eval, postproc=_collect)
        ok = True
    except BaseException:
        sys.stderr.write(k.prettytb(fname=fn) + '\n')
        ok = False
    if skipped: lines.append('skipped: ' + ', '.join(f"{n} {f}" for f, n in sorted(skipped.items())))
    return ok, time.time() - start, lines

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('paths', nargs='*', help='notebooks to test (default: every notebook in nbs/)')
    ap.add_argument('--flags', default='', help='space-separated test flags to run that are normally skipped')
    ap.add_argument('--n_workers', type=int, default=min(os.cpu_count() or 1, 2))
    a = ap.parse_args()
    # each worker gets its share of the cores, so parallel notebooks do not oversubscribe them
    os.environ.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // max(a.n_workers, 1))))
    os.environ.setdefault('MPLBACKEND', 'Agg')
    from fastcore.parallel import parallel
    from fastcore.xtras import working_directory
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    cfg = get_config()
    files = sorted(Path(p).absolute() for p in a.paths) if a.paths else sorted(f.absolute() for f in nbglob(None, as_path=True))
    if not files: sys.exit('no notebooks matched')
    skip, force = cfg.tst_flags.split(), a.flags.split()
    # the workers are spawned: they must find `test_nb` in an importable module, not in `__main__`
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_nbs import test_nb as run_nb
    t0 = time.time()
    with working_directory(cfg.nbs_path):
        res = parallel(run_nb, files, skip_flags=skip, force_flags=force, n_workers=a.n_workers if len(files) > 1 else 0,
                       basepath=cfg.config_path, pause=0.01)
    for f, (ok, secs, lines) in zip(files, res):
        print(f"{'ok  ' if ok else 'FAIL'} {f.relative_to(cfg.config_path)}  {secs:.0f}s")
        for l in lines: print(f"       {l}")
    failed = [f.name for f, (ok, *_) in zip(files, res) if not ok]
    print(f"wall time {time.time()-t0:.0f}s")
    print(f"{len(files)-len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
