"""Build the docs site and open every page in headless Chromium.

Checks, for every page: it loads and has a title; internal links and images resolve (files and
#anchors); the maths renders (KaTeX ran, no `katex-error`, no raw `$$`, `\\(` or `\\[` left in the text);
each module page shows the API signature of every name its module defines and lists in `__all__`.
KaTeX comes from Debian's `libjs-katex` (no network): the CDN address in the built pages is pointed
at a local copy in the checked copy of the site only.
Usage: python tools/check_site.py [--no-build] [--shots DIR]   (exit 1 on any problem)
"""
import argparse, functools, http.server, importlib, json, re, shutil, socketserver, subprocess, sys, tempfile, threading
from pathlib import Path
from urllib.parse import urljoin, urlparse, unquote
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
KATEX_CDN = 'https://cdn.jsdelivr.net/npm/katex@0.16.11/dist'
KATEX_LOCAL = Path('/usr/share/javascript/katex')
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
         '--no-first-run', '--disable-component-update', '--disable-sync', '--hide-scrollbars']

def vendor_katex(site:Path):
    "Copy Debian's KaTeX into the site and point every page at it."
    dst = site/'site_libs'/'katex'
    shutil.copytree(KATEX_LOCAL, dst, dirs_exist_ok=True)
    ar = dst/'contrib'/'auto-render.min.js'
    if not ar.exists(): shutil.copy(dst/'contrib'/'auto-render.js', ar)
    for p in site.rglob('*.html'):
        depth = len(p.relative_to(site).parts) - 1
        s = p.read_text()
        if KATEX_CDN in s: p.write_text(s.replace(KATEX_CDN, '../'*depth + 'site_libs/katex'))

def serve(site:Path):
    "Serve `site` on a free loopback port in a thread; return the base URL and the server."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    handler = functools.partial(Quiet, directory=str(site))
    srv = socketserver.TCPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f'http://127.0.0.1:{srv.server_address[1]}/', srv

def chromium(args, url, prof):
    r = subprocess.run([CHROMIUM, *FLAGS, f'--user-data-dir={prof}', '--virtual-time-budget=15000', *args, url],
                       capture_output=True, text=True, timeout=120)
    return r.stdout

def module_pages():
    "Map each page name (notebook stem) to the module its notebook exports."
    out = {}
    for nb in sorted((ROOT/'nbs').glob('[0-9]*.ipynb')):
        for c in json.loads(nb.read_text())['cells']:
            m = re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M)
            if m: out[nb.stem] = 'ddpm_nb.' + m.group(1); break
    return out

def visible_text(soup):
    soup = BeautifulSoup(str(soup), 'html.parser')
    for t in soup(['script', 'style', 'pre', 'code', 'annotation', 'textarea']): t.decompose()
    for t in soup.select('.katex'): t.decompose()
    return soup.get_text(' ')

def check_page(page:Path, site:Path, base:str, prof, mods):
    probs = []
    rel = page.relative_to(site).as_posix()
    dom = chromium(['--dump-dom'], base + rel, prof)
    if not dom.strip(): return [f'{rel}: the page did not load']
    soup = BeautifulSoup(dom, 'html.parser')
    if not soup.title or not soup.title.get_text(strip=True): probs.append(f'{rel}: no title')
    if soup.select('.katex-error'):
        probs += [f'{rel}: KaTeX error: {e.get("title", e.get_text())[:120]}' for e in soup.select('.katex-error')]
    text = visible_text(soup.find('main') or soup.body)
    for raw in ('$$', '\\(', '\\[', '\\frac', '\\alpha', '\\bar'):
        if raw in text:
            i = text.index(raw); probs.append(f'{rel}: raw maths left on the page: ...{text[max(0,i-60):i+60]!r}...')
            break
    for nav in soup.select('nav#TOC, #quarto-sidebar, nav.sidebar'):  # KaTeX does not run there: no TeX in headings
        m = re.search(r'\\[A-Za-z]+|\$', nav.get_text(' '))
        if m: probs.append(f'{rel}: TeX in a heading shows raw in the navigation: {nav.get_text(" ")[max(0,m.start()-40):m.end()+40]!r}')
    if '\\(' in dom and not soup.select('.katex'): probs.append(f'{rel}: the page has maths but KaTeX rendered none')
    ids = {t.get('id') for t in soup.find_all(id=True)}
    for tag, attr in (('a', 'href'), ('img', 'src'), ('link', 'href'), ('script', 'src')):
        for el in soup.find_all(tag):
            u = el.get(attr)
            if not u or u.startswith(('data:', 'mailto:', 'javascript:')): continue
            full = urlparse(urljoin(base + rel, u))
            if not (base.startswith(f'{full.scheme}://{full.netloc}/')): continue  # external: not checked offline
            target = site/unquote(full.path.lstrip('/'))
            if target.is_dir(): target = target/'index.html'
            if not target.exists(): probs.append(f'{rel}: broken {tag} {attr}={u}'); continue
            if full.fragment and tag == 'a' and target.suffix == '.html':
                tids = ids if target == page else set(re.findall(r'id="([^"]+)"', target.read_text()))
                if full.fragment not in tids: probs.append(f'{rel}: broken anchor {u}')
    stem = page.stem
    if stem in mods:
        try:  # functions and classes get a signature on their page (constants do not)
            mod = importlib.import_module(mods[stem])
            names = [n for n in mod.__all__ if callable(obj := getattr(mod, n, None))   # defined here: a re-exported name
                     and getattr(obj, '__module__', mods[stem]) == mods[stem]]            # has its signature on its own page
        except Exception as e: names = []; probs.append(f'{rel}: cannot import {mods[stem]}: {e}')
        missing = [n for n in names if n.lower() not in ids]
        if missing: probs.append(f'{rel}: API signatures missing for {missing}')
    return probs

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--no-build', action='store_true', help='check the site already built in _proc/_docs')
    ap.add_argument('--shots', default=None, help='folder for a full-page screenshot of every page')
    a = ap.parse_args()
    if not CHROMIUM: sys.exit('site check: no Chromium found (Debian package `chromium`)')
    if not KATEX_LOCAL.exists(): sys.exit('site check: no KaTeX found (Debian package `libjs-katex`)')
    if not a.no_build: subprocess.run([sys.executable, str(ROOT/'tools'/'build_site.py')], check=True, cwd=ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)/'site'; prof = Path(tmp)/'profile'
        shutil.copytree(ROOT/'_proc'/'_docs', site)
        vendor_katex(site)
        base, srv = serve(site)
        pages = sorted(site.rglob('*.html'))
        mods, probs = module_pages(), []
        for p in pages:
            probs += check_page(p, site, base, prof, mods)
            if a.shots:
                Path(a.shots).mkdir(parents=True, exist_ok=True)
                chromium([f'--screenshot={Path(a.shots).resolve()/(p.stem + ".png")}', '--window-size=1280,4000'],
                         base + p.relative_to(site).as_posix(), prof)
        srv.shutdown()
    for p in probs: print(p)
    print(f'site check: {len(pages)} pages, {len(probs)} problems')
    sys.exit(1 if probs else 0)

if __name__ == '__main__': main()
