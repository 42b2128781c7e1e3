"""Write README.md from nbs/index.ipynb (quarto-free stand-in for `nbdev-readme`).

    python tools/make_readme.py          # write README.md
    python tools/make_readme.py --check  # exit 1 when README.md is out of sync
"""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = "<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->\n\n"

def _hidden(src): return any(l.strip().startswith(('#| hide', '#|hide', '#| export')) for l in src.splitlines()[:3])

def _output_text(o):
    "Plain text of a kept output, or None."
    if o['output_type'] == 'stream': return ''.join(o['text'])
    d = o.get('data', {})
    if 'text/markdown' in d: return ''.join(d['text/markdown'])
    if 'text/plain' in d: return '```\n' + ''.join(d['text/plain']).rstrip() + '\n```'

def _from_root(md):
    "Relative image links of a notebook in nbs/ (they resolve from nbs/ in Jupyter) rewritten for the repository root."
    return re.sub(r'(!\[[^\]]*\]\()(?![a-z]+:|/)([^)]+\))', r'\1nbs/\2', md)

def render(nb_path=ROOT / 'nbs' / 'index.ipynb'):
    "README text for the index notebook."
    parts = []
    for c in json.loads(Path(nb_path).read_text())['cells']:
        src = ''.join(c['source']).rstrip()
        if c['cell_type'] == 'markdown': parts.append(_from_root(src))
        elif c['cell_type'] == 'code' and src and not _hidden(src):
            parts.append(f"```python\n{src}\n```")
            parts += [t.rstrip() for t in map(_output_text, c.get('outputs', [])) if t]
    return HEADER + '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    txt, readme = render(), ROOT / 'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != txt:
            sys.exit('README.md is out of sync with nbs/index.ipynb: run `python tools/make_readme.py`')
        print('README.md is in sync with nbs/index.ipynb')
    else: readme.write_text(txt)
