"""The `st-toolkit` command end to end, through the installed console script: `quickstart` into a temporary folder
with every output checked, and each subcommand's normal use and a bad argument."""
import json, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXE = shutil.which('st-toolkit') or f'{sys.executable} -m st_toolkit.cli'

def run(*args, ok=True):
    "Run `st-toolkit args...`; return the completed process (checked against `ok`)."
    exe = [EXE] if shutil.which('st-toolkit') else [sys.executable, '-c', 'from st_toolkit.cli import cli; cli()']
    p = subprocess.run(exe + [str(a) for a in args], capture_output=True, text=True, timeout=1500)
    if ok: assert p.returncode == 0, f'exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}'
    return p

@pytest.fixture(scope='module')
def qs(tmp_path_factory):
    "One real quickstart run (tiny offline model, CPU) shared by the tests below."
    out = tmp_path_factory.mktemp('qs') / 'run'
    p = run('quickstart', '--out', out)
    return out, p

def test_quickstart_outputs(qs):
    out, p = qs
    for k in ('scenes', 'data', 'pseudo-labels', 'adapter', 'evaluation', 'views', 'report'): assert k in p.stdout
    assert len(list((out / 'scenes').glob('*.mp4'))) == 5 and len(list((out / 'scenes').glob('*_depth.npz'))) == 5
    rep = json.loads((out / 'report.json').read_text())
    assert (out / 'report.md').read_text().startswith('# st_toolkit quickstart report')
    assert rep['after']['overall']['score'] > rep['before']['overall']['score'], (rep['before']['overall'], rep['after']['overall'])
    assert rep['loss_last'] < rep['loss_first']

def test_quickstart_data_in_every_format(qs):
    from st_toolkit.formats import read_dataset
    import datasets
    out, _ = qs
    d = out / 'data'
    ref = read_dataset(d / 'qa.jsonl')
    assert len(ref) >= 28 and {'distance', 'speed', 'stvg', 'tvg'} <= {s['task'] for s in ref}
    for f in ('qa_llava.json', 'qa_sharegpt.json'):
        back = read_dataset(d / f)
        assert [(s['id'], s['question'], s['answer'], s['gt']) for s in back] == [(s['id'], s['question'], s['answer'], s['gt']) for s in ref]
    hf = datasets.load_from_disk(str(d / 'qa_hf'))
    assert len(hf) == len(ref) and hf[0]['question'] == ref[0]['question']

def test_quickstart_adapter_loads(qs):
    from st_toolkit.train import load_adapter
    out, _ = qs
    model, proc = load_adapter(out / 'train' / 'final', base=out / 'tiny_model')
    assert any('lora' in n for n, _ in model.named_parameters())
    assert (out / 'train' / 'final' / 'training_card.json').exists()

@pytest.mark.browser
def test_quickstart_views_load_in_browser(qs):
    from conftest import CHROMIUM
    import playwright.sync_api as pw
    out, _ = qs
    views = sorted((out / 'views').glob('*.html'))
    assert {v.stem for v in views} >= {'trajectories_3d', 'trajectories_bev', 'qa'}
    args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--enable-unsafe-swiftshader']
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        for v in views:
            page, errors = b.new_page(), []
            page.on('pageerror', lambda e: errors.append(str(e)))
            page.goto(v.as_uri()); page.wait_for_function("document.querySelector('.js-plotly-plot') && document.querySelector('.js-plotly-plot').data", timeout=60000)
            n = page.evaluate("document.querySelector('.js-plotly-plot').data.length")
            png = page.screenshot()
            assert not errors, (v.name, errors)
            assert n > 0 and len(png) > 10000, (v.name, n, len(png))
        b.close()

# ------------------------------------------------------------------ subcommands: normal use and a bad argument
def test_help():
    p = run('--help')
    for c in ('synth', 'template', 'lift', 'train', 'eval', 'viz', 'quickstart'): assert c in p.stdout
    for c in ('synth', 'template', 'lift', 'train', 'eval', 'viz', 'quickstart'): assert run(c, '--help').returncode == 0

def test_unknown_command():
    p = run('frobnicate', ok=False)
    assert p.returncode == 2 and 'invalid choice' in p.stderr

def test_synth(tmp_path):
    run('synth', '--out', tmp_path, '--n', 2, '--seed', 5, '--duration', 3, '--objects', 2, '--camera', 'ego', '--quiet')
    from st_toolkit.core import Scene
    s = [Scene.from_json(f) for f in sorted(tmp_path.glob('*.json'))]
    assert len(s) == 2 and all(x.video_path.exists() and x.depth_path.exists() for x in s) and s[0].meta['camera'] == 'ego'

def test_synth_bad_size(tmp_path):
    p = run('synth', '--out', tmp_path, '--size', '321x240', ok=False)
    assert p.returncode == 2 and '--size must be WIDTHxHEIGHT' in p.stderr

def test_template(tmp_path):
    f = tmp_path / 'd.json'
    run('template', ROOT / 'data_samples/scenes/sample_00.json', '--out', f, '--tasks', 'distance,speed,tvg', '--format', 'sharegpt', '--quiet')
    from st_toolkit.formats import read_dataset
    assert {s['task'] for s in read_dataset(f)} == {'distance', 'speed', 'tvg'}

def test_template_bad_scene(tmp_path):
    bad = tmp_path / 'bad.json'; bad.write_text('{"format": "st_toolkit.scene", "version": 1, "tracks": [')
    p = run('template', bad, '--out', tmp_path / 'd.json', ok=False)
    assert p.returncode == 2 and 'malformed JSON' in p.stderr and 'bad.json' in p.stderr

def test_lift(tmp_path):
    run('lift', ROOT / 'data_samples/scenes/sample_01.json', '--out', tmp_path / 'l.json', '--quiet')
    from st_toolkit.core import Scene
    assert Scene.from_json(tmp_path / 'l.json').meta['pseudo_label'] is True

def test_lift_missing_scene(tmp_path):
    p = run('lift', tmp_path / 'nope.json', '--out', tmp_path / 'l.json', ok=False)
    assert p.returncode == 2 and 'scene file not found' in p.stderr

def test_viz(tmp_path):
    run('viz', ROOT / 'data_samples/scenes/sample_02.json', '--out', tmp_path / 'v.html', '--view', 'bev', '--quiet')
    html = (tmp_path / 'v.html').read_text()
    assert 'plotly' in html.lower() and len(html) > 100_000

def test_viz_bad_view(tmp_path):
    p = run('viz', ROOT / 'data_samples/scenes/sample_02.json', '--out', tmp_path / 'v.html', '--view', 'xyz', ok=False)
    assert p.returncode == 2 and "invalid choice: 'xyz'" in p.stderr

def test_train_and_eval(qs, tmp_path):
    out, _ = qs
    data = tmp_path / 'd.json'
    run('template', out / 'scenes' / 'sample_00.json', '--out', data, '--tasks', 'distance,speed', '--quiet')
    run('train', data, '--model', out / 'tiny_model', '--out', tmp_path / 'tr', '--steps', 4, '--frames', 2, '--quiet')
    assert (tmp_path / 'tr' / 'final' / 'adapter_config.json').exists()
    run('eval', data, '--model', out / 'tiny_model', '--adapter', tmp_path / 'tr' / 'final', '--out', tmp_path / 'ev', '--frames', 2, '--quiet')
    card = json.loads((tmp_path / 'ev' / 'report_card.json').read_text())
    assert set(card['tasks']) == {'distance', 'speed'}

def test_train_bad_data(tmp_path):
    bad = tmp_path / 'd.json'; bad.write_text('[{"id": 1}]')
    p = run('train', bad, '--out', tmp_path / 'tr', '--steps', 1, ok=False)
    assert p.returncode == 2 and 'd.json' in p.stderr

def test_eval_missing_data(qs, tmp_path):
    out, _ = qs
    p = run('eval', tmp_path / 'none.json', '--model', out / 'tiny_model', '--out', tmp_path / 'ev', ok=False)
    assert p.returncode == 2 and 'none.json' in p.stderr
