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
    train = rep['scores']['train']    # the training scenes: what the short tiny run surely moves (held-out may tie)
    assert train['after']['overall']['score'] > train['before']['overall']['score'], train
    assert rep['after'] == rep['scores']['heldout']['after']   # the headline is the held-out card
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

@pytest.mark.browser
def test_quickstart_grounding_view_prediction_beside_truth(qs):
    """The quickstart's grounding view (a held-out STVG sample) opens where the report says: on a frame inside the
    event with the ground-truth box (green) and, when the trained model's answer put a box there, the predicted box
    (red) at the place its parsed answer gives; the report's facts match the saved answer."""
    from conftest import CHROMIUM
    import playwright.sync_api as pw
    from PIL import Image
    from io import BytesIO
    from st_toolkit.formats import read_dataset
    from st_toolkit.metrics import align_tube
    from st_toolkit.video import COLORS
    from test_viz_browser import coloured
    out, _ = qs
    g = json.loads((out / 'report.json').read_text())['grounding_view']
    s = next(x for x in read_dataset(out / 'data' / 'eval_heldout.json') if x['id'] == g['sample'])
    ans = [json.loads(l) for l in (out / 'eval' / 'heldout_after' / 'answers.jsonl').read_text().splitlines()]
    pred = next(a['parsed'] for a in ans if a['id'] == g['sample'])
    g0, g1 = s['gt']['span']
    assert s['task'] == 'stvg' and s['scene'] in ('sample_03', 'sample_04') and g['event'] == [g0, g1]
    inside = sum(g0 <= float(t) <= g1 for t in ((pred or {}).get('boxes') or {}))
    assert g['inside_event'] == inside and g['tube'] == bool((pred or {}).get('boxes'))
    note = next(l for l in (out / 'report.md').read_text().splitlines() if l.startswith('- [grounding]'))
    assert ('a frame inside the event with both boxes' in note) == (g['opens_at'] is not None), note
    args = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--enable-unsafe-swiftshader']
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        page, errors = b.new_page(viewport=dict(width=1280, height=900)), []
        page.on('pageerror', lambda e: errors.append(str(e)))
        page.goto((out / 'views' / 'grounding.html').as_uri())
        page.wait_for_function("document.querySelector('.js-plotly-plot') && "
                               "document.querySelector('.js-plotly-plot')._fullLayout", timeout=60000)
        page.wait_for_timeout(700)
        meta = page.evaluate("document.querySelector('.js-plotly-plot').layout.meta")
        ts = np.array(meta['times'])
        f = meta['opens_at'] if meta['opens_at'] is not None else int(np.flatnonzero((ts >= g0) & (ts <= g1))[0])
        assert meta['opens_at'] == g['opens_at'] and meta['sample'] == g['sample'] and g0 <= ts[f] <= g1
        shot = np.asarray(Image.open(BytesIO(page.locator('.js-plotly-plot image').first.screenshot())).convert('RGB'))
        b.close()
    from st_toolkit.core import Scene
    k = shot.shape[1] / Scene.from_json(out / 'scenes' / f"{s['scene']}.json").width   # screen px per video px
    def outline(box, rgb):
        "Share of points along a box outline (screen pixels) with a pixel of colour `rgb` within 2 pixels."
        x1, y1, x2, y2 = np.asarray(box, float) * k
        pts = [(x, y) for x in np.linspace(x1, x2, 12) for y in (y1, y2)] + \
              [(x, y) for y in np.linspace(y1, y2, 12) for x in (x1, x2)]
        near = lambda x, y: coloured(shot[max(int(y) - 2, 0):int(y) + 3, max(int(x) - 2, 0):int(x) + 3], rgb, 150)
        return np.mean([near(x, y).any() for x, y in pts])
    gt_box = align_tube(s['gt']['value'], ts[f:f + 1])[0]
    assert outline(gt_box, COLORS['green']) > 0.5, ('no green ground-truth box', gt_box, ts[f])
    if g['opens_at'] is not None:                                     # the model put a box inside the event
        pb = align_tube(pred['boxes'], ts[f:f + 1], tol=np.inf)[0]
        assert outline(pb, COLORS['red']) > 0.5, ('no red predicted box', pb, ts[f])
    assert not errors, errors

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
    assert p.returncode == 2 and "argument --size: must be WIDTHxHEIGHT" in p.stderr and "'321x240'" in p.stderr

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


# ------------------------------------------------------------------ the CLI explains itself (in-process, fast)
def _subparsers():
    from st_toolkit.cli import _parser
    sub = next(a for a in _parser()._actions if a.dest == 'cmd')
    return sub.choices

def test_every_option_has_help_and_every_command_an_example(capsys):
    from st_toolkit.cli import main
    for name, q in _subparsers().items():
        bare = [a.option_strings or a.dest for a in q._actions if a.dest != 'help' and not a.help]
        assert not bare, (name, bare)
        assert q.epilog.startswith('example:\n  st-toolkit ' + name), name
        with pytest.raises(SystemExit) as e: main([name, '--help'])
        assert e.value.code == 0
        out = capsys.readouterr().out.rstrip().splitlines()
        assert out[-1].strip().startswith(f'st-toolkit {name}') and out[-2] == 'example:', (name, out[-3:])

def test_choices_are_listed():
    from st_toolkit.coords import CODECS
    from st_toolkit.templates import TEMPLATES
    from st_toolkit.evaluate import PRESETS
    t = {a.dest: a for a in _subparsers()['template']._actions}
    assert list(t['codec'].choices) == list(CODECS) and all(k in t['tasks'].help for k in TEMPLATES)
    assert list({a.dest: a for a in _subparsers()['score']._actions}['protocol'].choices) == list(PRESETS)

CONTRACT = [('--frames', '4', 'num_frames', 4), ('--fps', '2', 'fps', 2.0), ('--max-pixels', '50176', 'max_pixels', 50176),
            ('--max-tokens', '2048', 'max_tokens', 2048), ('--workers', '2', 'dataloader_workers', 2),
            ('--lora-r', '8', 'lora_r', 8), ('--lora-alpha', '16', 'lora_alpha', 16), ('--lr', '1e-3', 'learning_rate', 1e-3),
            ('--steps', '30', 'max_steps', 30), ('--epochs', '2', 'epochs', 2.0), ('--batch-size', '2', 'batch_size', 2),
            ('--grad-accum', '4', 'grad_accum', 4), ('--save-steps', '5', 'save_steps', 5),
            ('--logging-steps', '1', 'logging_steps', 1), ('--val', 'v.json', 'val_data', 'v.json'),
            ('--report-to', 'tensorboard', 'report_to', 'tensorboard'), ('--full', None, 'full_finetune', True),
            ('--no-freeze-vision', None, 'freeze_vision', False), ('--no-freeze-projector', None, 'freeze_projector', False),
            ('--freeze-llm', None, 'freeze_llm', True), ('--deepspeed', 'zero2', 'deepspeed', 'zero2'),
            ('--fsdp', 'full_shard', 'fsdp', 'full_shard'), ('--shrink-first', 'frames', 'shrink_first', 'frames'),
            ('--no-resume', None, 'resume', False), ('--overwrite', None, 'overwrite', True),
            ('--threads', '3', 'threads', 3), ('--seed', '7', 'seed', 7)]

def test_train_flags_map_onto_trainconfig_fields():
    "Every flag of the agreed list sets its TrainConfig field; a flag not given sets nothing (TrainConfig's default)."
    from st_toolkit.cli import parse, _train_settings
    argv = ['train', 'd.json', '--out', 'run'] + [x for f, v, _, _ in CONTRACT for x in ([f] if v is None else [f, v])]
    assert _train_settings(parse(argv)) == {field: want for _, _, field, want in CONTRACT}
    assert _train_settings(parse(['train', 'd.json', '--out', 'run'])) == {}
    assert _train_settings(parse(['train', 'd.json', '--out', 'run', '--resume']))['resume'] is True

def test_train_config_built_or_flag_named():
    "Fields this TrainConfig has are set; a flag whose field it lacks (before the train branch lands) is named."
    import dataclasses
    from st_toolkit.cli import parse, _train_config
    from st_toolkit.train import TrainConfig
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    for flag, v, field, want in CONTRACT:
        a = parse(['train', 'd.json', '--out', 'run'] + ([flag] if v is None else [flag, v]))
        if field in known: assert getattr(_train_config(a, 'm'), field) == want, flag
        else:
            with pytest.raises(ValueError, match=flag.replace('--no-', '--')): _train_config(a, 'm')

def test_template_options_and_clock_reference(tmp_path, capsys):
    from st_toolkit.cli import main
    from st_toolkit.formats import read_dataset
    from st_toolkit.viz import plot_trajectories_3d
    from st_toolkit.core import Scene
    scene = ROOT / 'data_samples/scenes/sample_00.json'
    assert main(['template', str(scene), '--out', str(tmp_path / 'one.json'), '--tasks', 'distance,direction']) == 0
    assert 'clock reference: camera' in capsys.readouterr().out
    assert plot_trajectories_3d(Scene.from_json(scene)).layout.meta['reference'] == 'camera'     # viz agrees
    main(['template', str(scene), '--out', str(tmp_path / 'two.json'), '--tasks', 'distance,direction', '--per-task',
          '2', '--reference', 'north', '--refer', 'description', '--quiet'])
    one, two = read_dataset(tmp_path / 'one.json'), read_dataset(tmp_path / 'two.json')
    assert len(two) == 2 * len(one) == 4
    assert {s['meta']['reference'] for s in two} == {'north'} and {s['meta']['refer'] for s in two} == {'description'}
    assert {s['meta']['reference'] for s in one} == {'camera'}

def test_template_nothing_made_fails_with_reasons(tmp_path):
    from st_toolkit.core import Scene, Track
    t = np.arange(0, 8, 0.1)
    Scene([Track('car', t, np.stack([2 * t, 10 + 0 * t, 0 * t], 1), category='car')], fps=10, width=320, height=240,
          name='hand').to_json(tmp_path / 'hand.json')
    p = run('template', tmp_path / 'hand.json', '--out', tmp_path / 'd.json', ok=False)
    assert p.returncode == 2 and not (tmp_path / 'd.json').exists()
    assert p.stderr.count('\n') == 1 and 'no samples made' in p.stderr and 'skipped 4: no box in window' in p.stderr
    p = run('template', tmp_path / 'hand.json', '--out', tmp_path / 'd.json', '--refer', 'description', '--tasks',
            'distance,speed,direction,cmp_speed')
    assert 'clock reference: north' in p.stdout and 'skipped 1: needs 2 object(s)' in p.stdout, p.stdout

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "The tiny offline model and a small kinematic dataset."
    from st_toolkit.models import build_tiny_model
    d = tmp_path_factory.mktemp('tiny')
    run('template', ROOT / 'data_samples/scenes/sample_00.json', '--out', d / 'qa.json', '--tasks', 'distance,speed',
        '--quiet')
    return build_tiny_model(path=d / 'model'), d / 'qa.json'

def test_train_flags_reach_the_run(tiny, tmp_path):
    "A real (tiny) run with the flags whose TrainConfig fields exist now: the card records each setting."
    from st_toolkit.cli import main
    model, data = tiny
    argv = ['train', data, '--model', model, '--out', tmp_path / 'run', '--steps', 2, '--frames', 2, '--lora-r', 4,
            '--lora-alpha', 8, '--save-steps', 1, '--logging-steps', 1, '--lr', '1e-3', '--batch-size', 1,
            '--grad-accum', 1, '--max-tokens', 2048, '--workers', 0, '--seed', 3, '--quiet']
    assert main([str(x) for x in argv]) == 0
    card = json.loads((tmp_path / 'run' / 'final' / 'training_card.json').read_text())
    cfg = card['config']
    assert (cfg['max_steps'], cfg['num_frames'], cfg['lora_r'], cfg['lora_alpha'], cfg['save_steps']) == (2, 2, 4, 8, 1)
    assert (cfg['logging_steps'], cfg['learning_rate'], cfg['max_tokens'], cfg['seed']) == (1, 1e-3, 2048, 3)
    assert card['result']['global_step'] == 2

def test_eval_flags_reach_the_card(tiny, tmp_path):
    from st_toolkit.cli import main
    model, data = tiny
    argv = ['eval', data, '--model', model, '--out', tmp_path / 'ev', '--frames', 3, '--fps', 2, '--max-pixels', 16384,
            '--batch-size', 2, '--max-new-tokens', 9, '--quiet']
    assert main([str(x) for x in argv]) == 0
    card = json.loads((tmp_path / 'ev' / 'report_card.json').read_text())
    dec, extra = card['protocol']['decoding'], card['protocol']['extra']
    assert (dec['max_new_tokens'], dec['batch_size'], dec['do_sample'], dec['repetition_penalty']) == (9, 2, False, 1.0)
    assert (extra['frames'], extra['fps']) == (3, 2.0)
    assert extra['max_pixels'] <= 16384       # the per-frame budget used: the user's cap, or the family's smaller one
    assert len((tmp_path / 'ev' / 'answers.jsonl').read_text().splitlines()) == card['overall']['n']
    assert not [p.name for p in (tmp_path / 'ev').iterdir() if p.name.startswith('.')]     # no temporary left

def test_eval_out_taken_fails_before_generating(tiny, tmp_path):
    model, data = tiny
    (tmp_path / 'ev' / 'answers.jsonl').mkdir(parents=True)
    p = run('eval', data, '--model', model, '--out', tmp_path / 'ev', ok=False)
    assert p.returncode == 2 and p.stderr.count('\n') == 1 and 'answers.jsonl: is a folder' in p.stderr
    assert not (tmp_path / 'ev' / 'report_card.json').exists()

def test_oserror_during_the_work_is_one_line(tmp_path, monkeypatch, capsys):
    "A disk that fills up after the check: any OSError (not only PermissionError) is one line naming the file."
    import errno, os
    import st_toolkit.cli as cli
    def full(scene, out): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / 'scene_0.mp4'))
    monkeypatch.setattr(cli, 'save_scene', full)
    assert cli.main(['synth', '--out', str(tmp_path / 's'), '--n', '1', '--quiet']) == 2
    err = capsys.readouterr().err
    assert err == f"st-toolkit synth: error: {tmp_path / 's' / 'scene_0.mp4'}: No space left on device\n", err

def test_quickstart_rerun_with_other_settings_refused_then_overwritten(tmp_path, capsys, monkeypatch):
    "A used quickstart folder with other settings is refused before any work, naming the difference; --overwrite clears it."
    from st_toolkit import quickstart as Q
    from st_toolkit.cli import main
    out = tmp_path / 'qs'
    out.mkdir()
    (out / Q.SETTINGS_FILE).write_text(json.dumps(Q.run_settings(steps=60)))
    (out / 'report.md').write_text('old report')
    assert main(['quickstart', '--out', str(out), '--steps', '10', '--quiet']) == 2
    err = capsys.readouterr().err
    assert 'steps: 60 -> 10' in err and '--overwrite' in err and str(out) in err, err
    assert (out / 'report.md').read_text() == 'old report'
    seen = {}
    def stop(out, st, say): seen.update(st)
    monkeypatch.setattr(Q, '_prepare', stop)
    with pytest.raises(TypeError): main(['quickstart', '--out', str(out), '--steps', '10', '--quiet', '--overwrite'])
    assert seen['steps'] == 10 and not (out / 'report.md').exists()
    assert json.loads((out / Q.SETTINGS_FILE).read_text())['steps'] == 10
