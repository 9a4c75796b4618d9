"""Write README.md from nbs/index.ipynb (what `nbdev_readme` does with Quarto, in plain Python).

Markdown cells are copied; shown code cells go in ```python fences without their `#|` directives;
`#| hide` cells are left out; `#| echo: false` cells show only their outputs; text outputs go in
plain fences, markdown outputs as they are, PNG outputs into README_files/.
Usage: python tools/make_readme.py [--check]   (--check: exit 1 if README.md differs from the notebook)
"""
import base64, hashlib, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTE = '<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n'

def directives(src):
    return {m.group(1): m.group(2).strip() for m in re.finditer(r'^#\|\s*([\w-]+:?)\s*(.*)$', src, re.M)}

def render(nb):
    parts, images = [], {}
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown': parts.append(src.strip()); continue
        d = directives(src)
        if 'hide' in d or d.get('include:') == 'false': continue
        code = '\n'.join(l for l in src.splitlines() if not l.startswith('#|')).strip()
        if code and d.get('echo:') != 'false': parts.append(f'```python\n{code}\n```')
        if d.get('output:') == 'false': continue
        for o in c.get('outputs', []):
            data = o.get('data', {})
            if o.get('output_type') == 'stream': parts.append('```\n' + ''.join(o['text']).rstrip() + '\n```')
            elif 'image/png' in data:
                png = base64.b64decode(''.join(data['image/png']))
                name = f"README_files/{hashlib.sha256(png).hexdigest()[:16]}.png"
                images[name] = png; parts.append(f'![]({name})')
            elif 'text/markdown' in data: parts.append(''.join(data['text/markdown']).strip())
            elif 'text/plain' in data: parts.append('```\n' + ''.join(data['text/plain']).rstrip() + '\n```')
    text = '\n\n'.join(parts) + '\n'
    # the home page's links to chapters point at notebooks; on GitHub they open the notebook
    text = re.sub(r'\]\((\d\d_[\w]+\.ipynb)\)', r'](nbs/\1)', text)
    return NOTE + text, images

def main():
    nb = json.loads((ROOT/'nbs'/'index.ipynb').read_text())
    text, images = render(nb)
    readme = ROOT/'README.md'
    if '--check' in sys.argv:
        stale = readme.read_text() != text if readme.exists() else True
        missing = [n for n in images if not (ROOT/n).exists()]
        if stale or missing:
            sys.exit('README.md is out of step with nbs/index.ipynb: run `python tools/make_readme.py`')
        print('README.md is in step with nbs/index.ipynb'); return
    (ROOT/'README_files').mkdir(exist_ok=True)
    for old in (ROOT/'README_files').glob('*.png'):
        if f'README_files/{old.name}' not in images: old.unlink()
    for n, png in images.items(): (ROOT/n).write_bytes(png)
    readme.write_text(text)
    print(f'wrote README.md ({len(images)} images)')

if __name__ == '__main__': main()
