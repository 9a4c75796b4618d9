"""Run chapters the way a Colab user does: from a wheel in a new virtual environment, outside this repository.

Builds a wheel of the project, installs it into a new virtual environment as the chapters' install cell would (a
plain `pip install`, no editable install, no extras; IPython and execnb come with it because a notebook server
provides them), copies each chapter into an empty folder elsewhere with the MNIST archives under `data/` there (the
default data root, as on Colab), and runs every cell top to bottom with `tools/run_all.py` (Run All: the guarded
install cell, slow and GPU cells included). Fails if the package resolves to this repository, or if any chapter
stops. Nothing may assume this repository's layout.
Usage: python tools/check_fresh.py [CHAPTER ...]   (default: 00_schedules 06_sampling 10_run 11_train)
"""
import argparse, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def sh(*cmd, cwd=None, env=None):
    "Run a command, echoing it; raise with its output if it fails."
    print('$', ' '.join(str(c) for c in cmd), flush=True)
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode != 0: raise RuntimeError(f"{cmd[0]} failed ({r.returncode}):\n{(r.stdout + r.stderr)[-4000:]}")
    return r.stdout

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('chapters', nargs='*', default=['00_schedules', '06_sampling', '10_run', '11_train'])
    ap.add_argument('--keep', action='store_true', help='keep the temporary folder (its path is printed)')
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix='check_fresh_'))
    t0 = time.time()
    try:
        sh(sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '-w', work / 'dist', ROOT)
        wheel = next((work / 'dist').glob('ddpm_nb-*.whl'))
        venv = work / 'venv'
        sh(sys.executable, '-m', 'venv', venv)
        py = venv / 'bin' / 'python'
        sh(py, '-m', 'pip', 'install', '-q', wheel, 'ipython', 'execnb<0.2')
        env = {k: v for k, v in os.environ.items() if k not in ('DDPM_NB_DATA', 'PYTHONPATH', 'IN_TEST', 'VIRTUAL_ENV')}
        where = sh(py, '-c', 'import ddpm_nb, ddpm_nb.records as r; print(ddpm_nb.__file__); print(r.results_dir())', cwd=work, env=env).split()
        if str(ROOT) in where[0] or not Path(where[1]).is_dir():
            raise RuntimeError(f"the fresh environment's ddpm_nb is {where[0]} with records in {where[1]}: not a plain install")
        print(f"ddpm_nb installed from the wheel at {where[0]}; records at {where[1]}")
        failed = []
        for name in a.chapters:
            name = name.removesuffix('.ipynb')
            here = work / 'elsewhere' / name
            here.mkdir(parents=True)
            shutil.copy(ROOT / 'nbs' / f'{name}.ipynb', here)
            for ds in ('MNIST', 'FashionMNIST'):
                src = ROOT / 'data' / ds / 'raw'
                if src.is_dir(): shutil.copytree(src, here / 'data' / ds / 'raw', ignore=shutil.ignore_patterns('*-ubyte'))
            r = subprocess.run([str(py), str(ROOT / 'tools' / 'run_all.py'), str(here / f'{name}.ipynb'), '--no-record', '--data', ''],
                               cwd=here, env=env, capture_output=True, text=True)
            print((r.stdout + r.stderr).strip().splitlines()[0] if r.returncode == 0 else (r.stdout + r.stderr)[-3000:])
            if r.returncode != 0: failed.append(name)
        print(f"{len(a.chapters) - len(failed)} chapters ran in a fresh environment, {len(failed)} failed"
              + (f": {', '.join(failed)}" if failed else '') + f" ({time.time() - t0:.0f} s in all)")
        sys.exit(1 if failed else 0)
    finally:
        if a.keep: print('kept', work)
        else: shutil.rmtree(work, ignore_errors=True)

if __name__ == '__main__': main()
