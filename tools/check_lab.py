"""Run chapters in a real JupyterLab, in headless Chromium, and check what a learner sees.

Starts JupyterLab from this virtual environment on a copy of `nbs/` (nothing is autosaved into the repository),
opens each chapter in headless Chromium (Playwright driving the system's `chromium`), runs all cells as Run All does,
moves every widget slider and dropdown, and fails on: an error output; a widget that does not render ("Error
displaying widget", or a widget shown as its plain-text repr); a widget whose picture does not change when its slider
moves; maths left as TeX; an image output that is not drawn. Screenshots go to `_proc/lab/`.
`--disable-extension @jupyter-widgets/jupyterlab-manager` starts JupyterLab without the widgets' JavaScript package,
to show that the check fails when widgets cannot render.
Usage: python tools/check_lab.py [CHAPTER ...] [--disable-extension NAME]   (default: 01_forward 06_sampling)
"""
import argparse, json, os, secrets, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']

def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def lab_settings(settings:Path, config:Path, disabled:list):
    "JupyterLab settings for checking: every cell rendered (no windowing), no autosave; `disabled` front-end extensions."
    for plugin, values in {'notebook-extension/tracker': {'windowingMode': 'none'},
                           'docmanager-extension/plugin': {'autosave': False},
                           'apputils-extension/notification': {'fetchNews': 'false', 'checkForUpdates': False}}.items():
        p = settings / '@jupyterlab' / f"{plugin}.jupyterlab-settings"
        p.parent.mkdir(parents=True, exist_ok=True); p.write_text(json.dumps(values))
    (config / 'labconfig').mkdir(parents=True, exist_ok=True)
    (config / 'labconfig' / 'page_config.json').write_text(json.dumps({'disabledExtensions': {d: True for d in disabled}}))

def start_lab(root:Path, work:Path, disabled:list):
    "Start JupyterLab serving `root`; returns (process, base URL, token, log path)."
    port, token = free_port(), secrets.token_hex(16)
    settings, config = work / 'settings', work / 'config'
    lab_settings(settings, config, disabled)
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTER_CONFIG_DIR=str(config),
               DDPM_NB_DATA=os.environ.get('DDPM_NB_DATA', str(ROOT / 'data')))
    env.pop('IN_TEST', None); env.pop('MPLBACKEND', None)
    log = work / 'lab.log'
    cmd = [str(Path(sys.executable).parent / 'jupyter-lab'), '--no-browser', f'--port={port}', '--ip=127.0.0.1',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}', '--LabApp.expose_app_in_browser=True']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')
    proc = subprocess.Popen(cmd, env=env, stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    for _ in range(120):
        try:
            urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2); return proc, base, token, log
        except OSError:
            if proc.poll() is not None: break
            time.sleep(1)
    proc.kill()
    raise RuntimeError(f"JupyterLab did not start; its log:\n{log.read_text()[-3000:]}")

# What the notebook's model and DOM say after a run: pending cells, errors, widgets, maths and images per cell.
# The chapter's notebook is found by its path, never as the current widget: focus can move while the page settles.
FIND_NB = "const nb = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === path);"
STATE_JS = r"""(path) => {
  """ + FIND_NB + r"""
  if (!nb || !nb.content || !nb.sessionContext.session || !nb.sessionContext.session.kernel) return null;
  const out = {status: nb.sessionContext.session.kernel.status, code: 0, pending: 0, started: 0,
               errors: [], widgets: [], maths: [], images: []};
  nb.content.widgets.forEach((cell, i) => {
    const m = cell.model, node = cell.node;
    if (m.type === 'markdown') {
      const src = m.sharedModel.getSource();
      if (/\$[^$]+\$/.test(src)) out.maths.push({cell: i, typeset: node.querySelectorAll('mjx-container, .MathJax').length,
                                                  raw: /\\(frac|alpha|bar|sqrt|epsilon)\b/.test(node.innerText)});
      return;
    }
    if (m.type !== 'code') return;
    out.code++;
    const busy = node.querySelector('.jp-InputPrompt')?.innerText.includes('*');
    if (m.executionCount === null || busy) out.pending++;
    if (m.executionCount !== null || busy) out.started++;
    for (let j = 0; j < m.outputs.length; j++) {
      const o = m.outputs.get(j).toJSON();
      if (o.output_type === 'error') out.errors.push({cell: i, error: o.ename + ': ' + o.evalue});
      const data = o.data || {};
      if (data['application/vnd.jupyter.widget-view+json'])
        out.widgets.push({cell: i, rendered: node.querySelectorAll('.jp-OutputArea .jupyter-widgets').length,
                          failed: /Error displaying widget|model not found/.test(node.innerText)});
      if (data['image/png']) out.images.push({cell: i, drawn: Array.from(node.querySelectorAll('.jp-OutputArea img'))
                                                              .filter(im => im.complete && im.naturalWidth > 0).length});
    }
  });
  return out;
}"""

def wait_state(page, path, pred, timeout, what):
    "Poll the state of notebook `path` until `pred(state)` holds; raise naming `what` on timeout."
    t0, state = time.time(), None
    while time.time() - t0 < timeout:
        state = page.evaluate(STATE_JS, path)
        if state is not None and pred(state): return state
        time.sleep(1)
    raise TimeoutError(f"{what}: not reached in {timeout:.0f} s (last state: {json.dumps(state)[:500]})")

def widget_picture(page, path:str, cell:int) -> str:
    "The sources of the images inside the widget output of cell `cell` (what a slider move must change)."
    return page.evaluate("""([path, i]) => { """ + FIND_NB + """
                            return Array.from(nb.content.widgets[i].node.querySelectorAll('.jupyter-widgets img'))
                                        .map(im => im.src.slice(-200)).join('|'); }""", [path, cell])

RUN_ALL_JS = r"""(path) => {
  """ + FIND_NB + r"""
  const app = window.jupyterapp;
  app.shell.activateById(nb.id); nb.content.activeCellIndex = 0;
  app.commands.execute('notebook:run-all-cells', {widgetId: nb.id});   // named by id: not whichever notebook has focus
}"""

def run_all(page, name:str, tries:int=3):
    "Run All, issued again where no cell has started within 30 s; 'started' means a cell is running or has run."
    path = f"{name}.ipynb"
    for k in range(tries):
        page.evaluate(RUN_ALL_JS, path)
        try: return wait_state(page, path, lambda s: s['started'] > 0, 30, f"{name}: Run All started")
        except TimeoutError:
            if k == tries - 1: raise
            print(f"{name}: Run All had not started after 30 s; issued again")

def check_chapter(page, base, token, name, shots:Path, timeout:float) -> list:
    "Open chapter `name`, Run All, move the widgets, screenshot; returns the problems found."
    problems, path = [], f"{name}.ipynb"
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}")          # reset: no notebook of an earlier chapter restored
    page.wait_for_function("(path) => { if (!window.jupyterapp) return false; " + FIND_NB +
                           " return !!(nb && nb.context.isReady); }", arg=path, timeout=120_000)
    wait_state(page, path, lambda s: s['status'] == 'idle', 120, f"{name}: kernel ready")
    t0 = time.time()
    run_all(page, name)
    st = wait_state(page, path, lambda s: s['errors'] or (s['pending'] == 0 and s['status'] == 'idle'), timeout, f"{name}: Run All")
    secs = time.time() - t0
    time.sleep(3)                                                    # let MathJax and images settle
    st = page.evaluate(STATE_JS, path)
    problems += [f"{name}[{e['cell']}]: error output {e['error']}" for e in st['errors']]
    problems += [f"{name}[{w['cell']}]: widget not rendered" + (" (Error displaying widget)" if w['failed'] else ' (plain-text repr)')
                 for w in st['widgets'] if w['failed'] or not w['rendered']]
    problems += [f"{name}[{m['cell']}]: maths not typeset" for m in st['maths'] if not m['typeset'] or m['raw']]
    problems += [f"{name}[{im['cell']}]: image output not drawn" for im in st['images'] if not im['drawn']]
    page.screenshot(path=str(shots / f"{name}.png"))
    for w in st['widgets']:
        if not w['rendered']: continue
        cell = page.locator('.jp-Notebook .jp-Cell').nth(w['cell'])
        cell.scroll_into_view_if_needed()
        for kind, move in (('slider', _move_slider), ('dropdown', _move_dropdown)):
            before = widget_picture(page, path, w['cell'])
            if not move(cell): continue
            time.sleep(3)
            if widget_picture(page, path, w['cell']) == before: problems.append(f"{name}[{w['cell']}]: the picture did not change when the {kind} moved")
            cell.screenshot(path=str(shots / f"{name}_cell{w['cell']}_{kind}.png"))
    print(f"{name}: Run All {secs:.0f} s, {len(st['images'])} images, {len(st['widgets'])} widgets, "
          f"{len(st['maths'])} markdown cells with maths; {len(problems)} problems")
    return problems

def _move_slider(cell) -> bool:
    "Move the first slider of a widget by keyboard (as a user would); False if there is none."
    handle = cell.locator('.jupyter-widgets .noUi-handle, .jupyter-widgets input[type=range]').first
    if handle.count() == 0: return False
    handle.focus()
    for _ in range(10): handle.press('PageUp')
    for _ in range(30): handle.press('ArrowRight')
    return True

def _move_dropdown(cell) -> bool:
    "Choose the dropdown's next option; False if there is none."
    sel = cell.locator('.jupyter-widgets select').first
    if sel.count() == 0: return False
    options = sel.locator('option').all_inner_texts()
    if len(options) < 2: return False
    current = sel.input_value()
    sel.select_option(next(o for o in options if o != current))
    return True

def clear_outputs(f:Path):
    "Drop the outputs and execution counts of notebook `f`: whatever the check then sees, and 'started', come from its own run."
    nb = json.loads(f.read_text())
    for c in nb['cells']:
        if c['cell_type'] == 'code': c['outputs'], c['execution_count'] = [], None
    f.write_text(json.dumps(nb, indent=1, ensure_ascii=False))

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('chapters', nargs='*', default=['01_forward', '06_sampling'])
    ap.add_argument('--disable-extension', action='append', default=[], help='a JupyterLab front-end extension to disable')
    ap.add_argument('--timeout', type=float, default=600, help='seconds a chapter may take to run')
    ap.add_argument('--shots', default=str(ROOT / '_proc' / 'lab'))
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright
    shots = Path(a.shots); shots.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix='check_lab_'))
    root = work / 'nbs'
    shutil.copytree(ROOT / 'nbs', root, ignore=shutil.ignore_patterns('.ipynb_checkpoints', '_*', 'outputs', 'data'))
    for f in root.glob('*.ipynb'): clear_outputs(f)
    proc, base, token, log = start_lab(root, work, a.disable_extension)
    problems = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which('chromium') or '/usr/bin/chromium', args=CHROMIUM_ARGS)
            for name in a.chapters:                                  # each chapter on a page of its own, its kernel shut down after
                page = browser.new_page(viewport={'width': 1400, 'height': 1000})
                try: problems += check_chapter(page, base, token, name.removesuffix('.ipynb'), shots, a.timeout)
                except Exception as e: problems.append(f"{name}: {type(e).__name__}: {e}")
                try: page.evaluate("() => window.jupyterapp.serviceManager.sessions.shutdownAll()")
                except Exception as e: print(f"{name}: kernel not shut down: {e}")
                page.close()
            browser.close()
    finally:
        proc.terminate()
        try: proc.wait(20)
        except subprocess.TimeoutExpired: proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    for p_ in problems: print('problem:', p_)
    print(f"{len(a.chapters)} chapters checked in JupyterLab, {len(problems)} problems; screenshots in {shots}")
    sys.exit(1 if problems else 0)

if __name__ == '__main__': main()
