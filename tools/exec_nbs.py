"""Run notebooks top to bottom and save them with their outputs (plots, tables), for the docs site.

Cells flagged `#| slow` or `#| gpu` (settings.ini `tst_flags`) and `#| eval: false` cells are not
run: they keep the outputs they have. Stops at the first error, leaving that notebook unchanged. Widget outputs are
not saved (their state cannot be restored when the notebook is reopened, where they would show "Error displaying
widget"): a chapter that shows a widget follows it with a still picture for the docs.
Usage: python tools/exec_nbs.py [NOTEBOOK ...]   (default: every notebook in nbs/)
"""
import os, sys

WIDGET = 'application/vnd.jupyter.widget-view+json'
from pathlib import Path

def main():
    os.environ.setdefault('MPLBACKEND', 'module://matplotlib_inline.backend_inline')
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    from nbdev.config import get_config
    from nbdev.process import NBProcessor
    cfg = get_config()
    flags = set(cfg.tst_flags.split())
    files = [Path(f).absolute() for f in sys.argv[1:]] or sorted(cfg.nbs_path.glob('[!_]*.ipynb'))
    def skipped(fn):
        "Indices of the cells not to run: markdown, `eval: false`, and cells with a test flag."
        out = set()
        for c in NBProcessor(fn, process=True).nb.cells:  # parses directives (and strips them: a copy)
            d = getattr(c, 'directives_', {}) or {}
            if c.cell_type != 'code' or d.get('eval:', [''])[0].lower() == 'false' or flags & d.keys(): out.add(c.idx_)
        return out
    failed = []
    for fn in files:
        nb, skip = read_nb(fn), skipped(fn)
        if 'skip_exec: true' in (nb.cells[0].source if nb.cells else ''): print(f'skip {fn.name} (skip_exec)'); continue
        k = CaptureShell(fn)
        try:
            with working_directory(fn.parent): k.run_all(nb, exc_stop=True, preproc=lambda c: c.idx_ in skip)
        except Exception as e: print(f'FAIL {fn.name}: {e!r}'); failed.append(fn.name); continue
        for c in nb.cells:
            if c.cell_type == 'code':
                c.outputs = [o for o in c.get('outputs', []) if WIDGET not in (o.get('data') or {})]
        nb.metadata.pop('widgets', None)
        write_nb(nb, fn)
        print(f'ok   {fn.name}')
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
