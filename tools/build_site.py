"""Build the docs site without Quarto: nbdev's notebook processing, then `smalldocs render`.

Does what `nbdev_proc_nbs` does except installing Quarto (which needs a download), then renders
`_proc/` with smalldocs into `_proc/_docs/`. Where Quarto is installed, `nbdev_docs` builds the
same site. Usage: python tools/build_site.py
"""
import subprocess, sys
from pathlib import Path

def main():
    from nbdev.config import get_config
    from nbdev.doclinks import _build_modidx
    from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar, _def_file_re
    from nbdev.serve import proc_nbs
    cfg = get_config()
    refresh_quarto_yml()
    _build_modidx()
    nbdev_sidebar.__wrapped__(path=cfg.nbs_path, file_re=_def_file_re)
    proc_nbs(cfg.nbs_path, n_workers=0)
    proc = cfg.config_path/'_proc'
    subprocess.run([Path(sys.executable).parent/'smalldocs', 'render', '--quiet', str(proc)], check=True)
    print(f"site written to {proc/cfg.doc_path.name}")

if __name__ == '__main__': main()
