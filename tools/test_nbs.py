"""Run the notebooks' tests the way `nbdev_test` does, then print one line: `N passed, M failed`.

Usage: python tools/test_nbs.py [--flags "slow"] [--n_workers 2] [NOTEBOOK ...]
Cells flagged with a `tst_flags` directive (settings.ini) are skipped unless named in --flags.
"""
import argparse, os, sys, time
from pathlib import Path

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
    from nbdev.test import test_nb
    cfg = get_config()
    files = sorted(Path(p).absolute() for p in a.paths) if a.paths else sorted(f.absolute() for f in nbglob(None, as_path=True))
    if not files: sys.exit('no notebooks matched')
    skip, force = cfg.tst_flags.split(), a.flags.split()
    t0 = time.time()
    with working_directory(cfg.nbs_path):
        res = parallel(test_nb, files, skip_flags=skip, force_flags=force, n_workers=a.n_workers if len(files) > 1 else 0,
                       basepath=cfg.config_path, pause=0.01)
    for f, (ok, secs) in zip(files, res): print(f"{'ok  ' if ok else 'FAIL'} {f.relative_to(cfg.config_path)}  {secs:.0f}s")
    failed = [f.name for f, (ok, _) in zip(files, res) if not ok]
    print(f"wall time {time.time()-t0:.0f}s")
    print(f"{len(files)-len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
