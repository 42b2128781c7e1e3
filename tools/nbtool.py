"""Author notebooks as plain text, keep notebooks as the source of truth.

    python tools/nbtool.py py2nb SRC.py NB.ipynb   # percent-script -> notebook (outputs dropped)
    python tools/nbtool.py nb2py NB.ipynb SRC.py   # notebook -> percent-script
    python tools/nbtool.py run NB.ipynb [...] [--flags="slow gpu"]   # execute as the tests do, keep outputs, nbdev-clean

Percent format: a line `# %%` starts a code cell, `# %% [markdown]` a markdown cell whose
lines are written with a leading `# `.
"""
import hashlib, json, subprocess, sys
from pathlib import Path

def _cell(kind, lines):
    while lines and not lines[-1].strip(): lines.pop()
    while lines and not lines[0].strip(): lines.pop(0)
    if kind == 'markdown': lines = [l[2:] if l.startswith('# ') else l.lstrip('#') for l in lines]
    src = [l + '\n' for l in lines]
    if src: src[-1] = src[-1][:-1]
    c = dict(cell_type=kind, id=hashlib.sha1(''.join(src).encode()).hexdigest()[:8], metadata={}, source=src)
    if kind == 'code': c.update(execution_count=None, outputs=[])
    return c

def py2nb(src, dst):
    "Convert a percent-script to a notebook."
    cells, kind, buf = [], None, []
    for line in Path(src).read_text().splitlines():
        if line.startswith('# %%'):
            if kind: cells.append(_cell(kind, buf))
            kind, buf = ('markdown' if '[markdown]' in line else 'code'), []
        else: buf.append(line)
    if kind: cells.append(_cell(kind, buf))
    seen = set()
    for i, c in enumerate(cells):
        if c['id'] in seen: c['id'] = hashlib.sha1(f"{c['id']}{i}".encode()).hexdigest()[:8]
        seen.add(c['id'])
    nb = dict(cells=cells, nbformat=4, nbformat_minor=5,
              metadata=dict(kernelspec=dict(display_name='python3', language='python', name='python3')))
    Path(dst).write_text(json.dumps(nb, indent=1) + '\n')

def nb2py(src, dst):
    "Convert a notebook to a percent-script."
    out = []
    for c in json.loads(Path(src).read_text())['cells']:
        s = ''.join(c['source'])
        if c['cell_type'] == 'markdown': out += ['# %% [markdown]'] + ['# ' + l if l else '#' for l in s.splitlines()]
        else: out += ['# %%', s]
        out.append('')
    Path(dst).write_text('\n'.join(out))

def run(*nbs, flags=''):
    "Execute notebooks in place as the tests do (cells flagged slow/gpu skipped unless in `flags`), keep outputs, clean them."
    import nbdev.test as nbt
    from nbdev.config import get_config
    skip = str(get_config().tst_flags).split()
    for nb in nbs:
        ok, secs = nbt.test_nb(Path(nb).resolve(), skip_flags=skip, force_flags=flags.split(), save=True,
                               basepath=get_config().config_path)
        if not ok: sys.exit(f'{nb} failed (traceback above)')
        print(f'{nb}: ran in {secs:.0f} s, outputs saved')
    for nb in nbs: subprocess.run(['nbdev-clean', '--fname', nb], check=True)

if __name__ == '__main__':
    cmd, *args = sys.argv[1:]
    flags = next((a.split('=', 1)[1] for a in args if a.startswith('--flags=')), '')
    args = [a for a in args if not a.startswith('--flags=')]
    if cmd == 'run': run(*args, flags=flags)
    else: dict(py2nb=py2nb, nb2py=nb2py)[cmd](*args)
