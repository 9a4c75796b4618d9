"""Check that the chapters read as a book: no code cell over 40 lines, no chapter over 65 cells, no lab-log prose,
no saved widget outputs.

Lab-log prose is what belongs in a record under bench/results instead of a sentence: dates, load averages, the
machine a figure came from ("this machine", a CPU model), the history of changes ("until this change", "not done
yet"), talk of issues or sessions. Where the machine matters, a chapter says it as a fact about machines
("bf16 needs AVX-512 BF16"), which this check allows.
Usage: python tools/check_book.py [NOTEBOOK ...]   (default: every notebook in nbs/); exit 1 on any finding.
"""
import json, re, sys
from pathlib import Path

MAX_LINES, MAX_CELLS = 40, 65
LAB_LOG = re.compile(r"\b20\d\d-\d\d-\d\d\b|load average|lightly loaded|busy at the time|heavier load|this session|"
                     r"\bthe issue\b|build machine|this machine|our machine|until this change|before this change|"
                     r"not done yet|\bEPYC\b|\bXeon\b|founding projects?", re.I)

def findings(path:Path) -> list[str]:
    "Each problem of one notebook, as `name[cell] what`."
    nb, out = json.loads(path.read_text()), []
    cells = nb['cells']
    if path.name[:2].isdigit() and len(cells) > MAX_CELLS: out.append(f"{path.name}: {len(cells)} cells (at most {MAX_CELLS})")
    if 'widgets' in nb.get('metadata', {}): out.append(f"{path.name}: widget state saved in the notebook's metadata")
    for i, c in enumerate(cells):
        src = ''.join(c['source'])
        if any('application/vnd.jupyter.widget-view+json' in (o.get('data') or {}) for o in c.get('outputs', [])):
            out.append(f"{path.name}[{i}]: a saved widget output (it shows 'Error displaying widget' when reopened)")
        if c['cell_type'] == 'code' and len(src.splitlines()) > MAX_LINES:
            out.append(f"{path.name}[{i}]: code cell of {len(src.splitlines())} lines (at most {MAX_LINES})")
        if c['cell_type'] == 'markdown':
            for m in LAB_LOG.finditer(src):
                line = src[:m.start()].count('\n')
                out.append(f"{path.name}[{i}]: lab-log prose {m.group(0)!r} in: {src.splitlines()[line].strip()[:100]}")
    return out

def main():
    root = Path(__file__).resolve().parent.parent
    files = [Path(f) for f in sys.argv[1:]] or sorted((root/'nbs').glob('[!_]*.ipynb'))
    problems = [p for f in files for p in findings(f)]
    for p in problems: print(p)
    print(f"{len(files)} notebooks, {len(problems)} findings")
    sys.exit(1 if problems else 0)

if __name__ == '__main__': main()
