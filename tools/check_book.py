"""Check that the chapters read as a book: no code cell over 40 lines, no chapter over 65 cells, no lab-log prose,
no saved widget outputs, no backslash in the description line (nbdev makes it the module's docstring);
and every numbered chapter opens in Colab (a badge to its own path, a guarded install cell covering its imports).

Lab-log prose is what belongs in a record under bench/results instead of a sentence: dates, load averages, the
machine a figure came from ("this machine", a CPU model), the history of changes ("until this change", "not done
yet"), talk of issues or sessions. Where the machine matters, a chapter says it as a fact about machines
("bf16 needs AVX-512 BF16"), which this check allows.
Usage: python tools/check_book.py [NOTEBOOK ...]   (default: every notebook in nbs/); exit 1 on any finding.
"""
import configparser, json, re, shlex, sys
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
    first = ''.join(cells[0]['source']) if cells and cells[0]['cell_type'] == 'markdown' else ''
    for line in first.splitlines():
        if line.startswith('> ') and '\\' in line:                # nbdev writes it as the module's docstring, a plain string
            out.append(f"{path.name}[0]: a backslash in the description line (the exported module's docstring) is an escape "
                       f"sequence there: write it without LaTeX commands (Unicode: ε, ᾱₜ, x₀)")
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

PIP_NAME = {'PIL': 'pillow', 'IPython': 'ipython', 'sklearn': 'scikit-learn', 'torch_fidelity': 'torch-fidelity'}

def colab_findings(path:Path, root:Path) -> list[str]:
    "A numbered chapter opens in Colab: a badge to its own path, and a guarded install cell covering what it imports."
    if not path.name[:2].isdigit(): return []
    ini = configparser.ConfigParser(); ini.read(root / 'settings.ini')
    req = lambda key: {re.split('[<>=!~ ]', r)[0].lower() for r in shlex.split(ini['DEFAULT'].get(key, ''))}
    base = req('requirements') | {'ipython'}                       # IPython comes with every notebook server
    cells = json.loads(path.read_text())['cells']
    head = [''.join(c['source']) for c in cells[:7]]
    badge = f'https://colab.research.google.com/github/ddpm-nb/ddpm_nb/blob/main/nbs/{path.name}'
    out = [] if any(badge in s for s in head) else [f"{path.name}: no Colab badge pointing at {badge} in its first 7 cells"]
    install = [s for s in head if s.startswith('#| eval: false') and '%pip install' in s]
    if not install: return out + [f"{path.name}: no `#| eval: false` install cell in its first 7 cells"]
    if "find_spec('ddpm_nb') is None" not in install[0]: out.append(f"{path.name}: the install cell must install only where ddpm_nb is missing")
    args = [a for l in re.findall(r'%pip install (.*)$', install[0], re.M) for a in shlex.split(l) if not a.startswith('-')]
    got = set()
    for a in args:
        m = re.match(r'ddpm_nb(\[([\w,]+)\])?\s*@', a)
        if m: got |= base | {p for e in (m.group(2) or '').split(',') if e for p in req(f'{e}_requirements')}
        else: got.add(re.split('[<>=!~ @]', a)[0].lower())
    if not any(a.startswith('ddpm_nb') for a in args): out.append(f"{path.name}: the install cell does not install ddpm_nb")
    code = '\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'code' and 'eval: false' not in ''.join(c['source'])[:20])
    mods = set(re.findall(r'^(?:try:\s*)?(?:from|import)\s+([A-Za-z_]\w*)', code, re.M)) - set(sys.stdlib_module_names) - {'ddpm_nb'}
    norm = lambda n: n.lower().replace('_', '-')
    missing = sorted(m for m in mods if norm(PIP_NAME.get(m, m)) not in {norm(g) for g in got})
    if missing: out.append(f"{path.name} imports {missing}, which its install cell does not install")
    return out

def main():
    root = Path(__file__).resolve().parent.parent
    files = [Path(f) for f in sys.argv[1:]] or sorted((root/'nbs').glob('[!_]*.ipynb'))
    problems = [p for f in files for p in findings(f) + colab_findings(f, root)]
    for p in problems: print(p)
    print(f"{len(files)} notebooks, {len(problems)} findings")
    sys.exit(1 if problems else 0)

if __name__ == '__main__': main()
