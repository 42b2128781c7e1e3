"""Bad command lines and output paths of the `st-toolkit` command: numbers and choices are argparse errors naming the
option and the value (`UsageError`, exit status 2) before anything runs; an output path that cannot be written is an
`OutputPathError` naming the path, raised before the long work; a bad input names the file."""
import errno, os
from pathlib import Path
import pytest
from st_toolkit.cli import parse, run, main, UsageError, OutputPathError
from ._check import expect_error

ROOT = Path(__file__).resolve().parents[2]
SCENE = str(ROOT / 'data_samples/scenes/sample_00.json')

def _tree(d):
    "What the cases point at: a file, a folder, and folders whose output file names are taken by folders."
    (d / 'file.txt').write_text('x')
    (d / 'folder').mkdir()
    (d / 'taken' / 'report_card.json').mkdir(parents=True)
    (d / 'taken2' / 'answers.jsonl').mkdir(parents=True)
    (d / 'empty').mkdir()
    return d

def _argv(argv, d): return [a.format(d=d, scene=SCENE) for a in argv]

SYNTH = ['synth', '--out', '{d}/o']
TRAIN = ['train', '{d}/data.json', '--out', '{d}/run']
EVAL = ['eval', '{d}/data.json', '--model', '{d}/no_model', '--out', '{d}/ev']
TEMPLATE = ['template', '{scene}', '--out', '{d}/t.json']

# (id, argv, the names the message must hold)
USAGE = [
    ('synth-n-negative', SYNTH + ['--n', '-1'], ['--n', "'-1'"]),
    ('synth-n-zero', SYNTH + ['--n', '0'], ['--n', "'0'"]),
    ('synth-n-fraction', SYNTH + ['--n', '2.5'], ['--n', "'2.5'"]),
    ('synth-fps-negative', SYNTH + ['--fps', '-5'], ['--fps', "'-5'"]),
    ('synth-fps-zero', SYNTH + ['--fps', '0'], ['--fps', "'0'"]),
    ('synth-fps-nan', SYNTH + ['--fps', 'nan'], ['--fps', "'nan'"]),
    ('synth-duration-zero', SYNTH + ['--duration', '0'], ['--duration', "'0'"]),
    ('synth-duration-negative', SYNTH + ['--duration', '-1'], ['--duration', "'-1'"]),
    ('synth-duration-inf', SYNTH + ['--duration', 'inf'], ['--duration', "'inf'"]),
    ('synth-duration-below-one-frame', SYNTH + ['--duration', '0.05'], ['--duration 0.05', '--fps 10']),
    ('synth-objects-negative', SYNTH + ['--objects', '-2'], ['--objects', "'-2'"]),
    ('synth-objects-zero', SYNTH + ['--objects', '0'], ['--objects', "'0'"]),
    ('synth-size-odd', SYNTH + ['--size', '321x240'], ['--size', "'321x240'"]),
    ('synth-size-words', SYNTH + ['--size', '320by240'], ['--size', "'320by240'"]),
    ('synth-size-zero', SYNTH + ['--size', '0x240'], ['--size', "'0x240'"]),
    ('synth-camera-unknown', SYNTH + ['--camera', 'drone'], ['--camera', "'drone'"]),
    ('synth-seed-text', SYNTH + ['--seed', 'abc'], ['--seed', "'abc'"]),
    ('template-task-unknown', TEMPLATE + ['--tasks', 'speed,sped'], ['--tasks', "'sped'"]),
    ('template-tasks-empty', TEMPLATE + ['--tasks', ','], ['--tasks', "','"]),
    ('template-format-unknown', TEMPLATE + ['--format', 'csv'], ['--format', "'csv'"]),
    ('template-codec-unknown', TEMPLATE + ['--codec', 'qwen9'], ['--codec', "'qwen9'"]),
    ('template-reference-unknown', TEMPLATE + ['--reference', 'south'], ['--reference', "'south'"]),
    ('template-refer-unknown', TEMPLATE + ['--refer', 'name'], ['--refer', "'name'"]),
    ('template-per-task-zero', TEMPLATE + ['--per-task', '0'], ['--per-task', "'0'"]),
    ('template-units-unknown', TEMPLATE + ['--units', 'furlongs'], ['--units', "'furlongs'"]),
    ('template-read-unknown', TEMPLATE + ['--read', 'youtube'], ['--read', "'youtube'"]),
    ('train-steps-negative', TRAIN + ['--steps', '-3'], ['--steps', "'-3'"]),
    ('train-steps-zero', TRAIN + ['--steps', '0'], ['--steps', "'0'"]),
    ('train-frames-zero', TRAIN + ['--frames', '0'], ['--frames', "'0'"]),
    ('train-frames-negative', TRAIN + ['--frames', '-4'], ['--frames', "'-4'"]),
    ('train-max-pixels-negative', TRAIN + ['--max-pixels', '-5'], ['--max-pixels', "'-5'"]),
    ('train-max-pixels-zero', TRAIN + ['--max-pixels', '0'], ['--max-pixels', "'0'"]),
    ('train-max-tokens-zero', TRAIN + ['--max-tokens', '0'], ['--max-tokens', "'0'"]),
    ('train-workers-negative', TRAIN + ['--workers', '-1'], ['--workers', "'-1'"]),
    ('train-lr-zero', TRAIN + ['--lr', '0'], ['--lr', "'0'"]),
    ('train-lr-negative', TRAIN + ['--lr', '-0.001'], ['--lr', "'-0.001'"]),
    ('train-epochs-zero', TRAIN + ['--epochs', '0'], ['--epochs', "'0'"]),
    ('train-batch-size-zero', TRAIN + ['--batch-size', '0'], ['--batch-size', "'0'"]),
    ('train-grad-accum-zero', TRAIN + ['--grad-accum', '0'], ['--grad-accum', "'0'"]),
    ('train-lora-r-zero', TRAIN + ['--lora-r', '0'], ['--lora-r', "'0'"]),
    ('train-lora-alpha-negative', TRAIN + ['--lora-alpha', '-8'], ['--lora-alpha', "'-8'"]),
    ('train-save-steps-zero', TRAIN + ['--save-steps', '0'], ['--save-steps', "'0'"]),
    ('train-logging-steps-zero', TRAIN + ['--logging-steps', '0'], ['--logging-steps', "'0'"]),
    ('train-report-to-unknown', TRAIN + ['--report-to', 'mlflow'], ['--report-to', "'mlflow'"]),
    ('train-shrink-first-unknown', TRAIN + ['--shrink-first', 'tokens'], ['--shrink-first', "'tokens'"]),
    ('train-threads-zero', TRAIN + ['--threads', '0'], ['--threads', "'0'"]),
    ('train-out-missing', ['train', '{d}/data.json'], ['--out']),
    ('eval-frames-zero', EVAL + ['--frames', '0'], ['--frames', "'0'"]),
    ('eval-fps-negative', EVAL + ['--fps', '-1'], ['--fps', "'-1'"]),
    ('eval-max-pixels-negative', EVAL + ['--max-pixels', '-5'], ['--max-pixels', "'-5'"]),
    ('eval-batch-size-zero', EVAL + ['--batch-size', '0'], ['--batch-size', "'0'"]),
    ('eval-max-new-tokens-zero', EVAL + ['--max-new-tokens', '0'], ['--max-new-tokens', "'0'"]),
    ('eval-model-missing', ['eval', '{d}/data.json', '--out', '{d}/ev'], ['--model']),
    ('quickstart-steps-zero', ['quickstart', '--steps', '0'], ['--steps', "'0'"]),
    ('score-protocol-unknown', ['score', '{d}/a.jsonl', '--data', '{d}/d.json', '--protocol', 'lmms'],
     ['--protocol', "'lmms'"]),
    ('viz-view-unknown', ['viz', '{scene}', '--out', '{d}/v.html', '--view', 'xyz'], ['--view', "'xyz'"]),
    ('viz-reference-unknown', ['viz', '{scene}', '--out', '{d}/v.html', '--reference', 'east'],
     ['--reference', "'east'"]),
    ('lift-out-missing', ['lift', '{scene}'], ['--out']),
    ('score-data-missing', ['score', '{d}/a.jsonl'], ['--data']),
    ('eval-frames-text', EVAL + ['--frames', 'eight'], ['--frames', "'eight'"]),
    ('quickstart-threads-negative', ['quickstart', '--threads', '-2'], ['--threads', "'-2'"]),
    ('command-unknown', ['frobnicate'], ["'frobnicate'"]),
]

@pytest.mark.parametrize('argv,names', [c[1:] for c in USAGE], ids=[c[0] for c in USAGE])
def test_usage(argv, names, tmp_path):
    expect_error(lambda: parse(_argv(argv, tmp_path)), UsageError, *names)

# (id, argv, the path the message must name, relative to the test folder)
OUTPUTS = [
    ('synth-out-is-a-file', ['synth', '--out', '{d}/file.txt'], 'file.txt: is a file'),
    ('synth-out-under-a-file', ['synth', '--out', '{d}/file.txt/scenes'], 'file.txt/scenes: cannot write'),
    ('template-out-is-a-folder', TEMPLATE[:2] + ['--out', '{d}/folder'], 'folder: is a folder'),
    ('template-hf-out-is-a-file', TEMPLATE[:2] + ['--out', '{d}/file.txt', '--format', 'hf'], 'file.txt: is a file'),
    ('lift-out-is-a-folder', ['lift', '{scene}', '--out', '{d}/folder'], 'folder: is a folder'),
    ('viz-out-is-a-folder', ['viz', '{scene}', '--out', '{d}/folder'], 'folder: is a folder'),
    ('viz-out-under-a-file', ['viz', '{scene}', '--out', '{d}/file.txt/v.html'], 'file.txt: is a file'),
    ('eval-out-is-a-file', EVAL[:4] + ['--out', '{d}/file.txt'], 'file.txt: is a file'),
    ('eval-report-card-is-a-folder', EVAL[:4] + ['--out', '{d}/taken'], 'taken/report_card.json: is a folder'),
    ('eval-answers-is-a-folder', EVAL[:4] + ['--out', '{d}/taken2'], 'taken2/answers.jsonl: is a folder'),
    ('score-out-is-a-file', ['score', '{d}/a.jsonl', '--data', '{d}/d.json', '--out', '{d}/file.txt'],
     'file.txt: is a file'),
    ('score-report-card-is-a-folder', ['score', '{d}/a.jsonl', '--data', '{d}/d.json', '--out', '{d}/taken'],
     'taken/report_card.json: is a folder'),
    ('train-out-is-a-file', ['train', '{d}/data.json', '--out', '{d}/file.txt'], 'file.txt: is a file'),
    ('quickstart-out-is-a-file', ['quickstart', '--out', '{d}/file.txt'], 'file.txt: is a file'),
]

@pytest.mark.parametrize('argv,name', [c[1:] for c in OUTPUTS], ids=[c[0] for c in OUTPUTS])
def test_output_path(argv, name, tmp_path):
    d = _tree(tmp_path)
    expect_error(lambda: run(parse(_argv(argv, d))), OutputPathError, str(d / name.split(':')[0]), name.split(': ')[1])

@pytest.mark.skipif(not Path('/sys').is_dir(), reason='needs Linux /sys (a place nobody may create files in)')
def test_output_read_only_place():
    expect_error(lambda: run(parse(['synth', '--out', '/sys/st_toolkit_scenes'])), OutputPathError,
                 '/sys/st_toolkit_scenes', 'cannot write')

@pytest.mark.skipif(os.geteuid() == 0, reason='root writes into read-only folders')
def test_output_read_only_folder(tmp_path):
    ro = tmp_path / 'ro'
    ro.mkdir()
    ro.chmod(0o555)
    try: expect_error(lambda: run(parse(['synth', '--out', str(ro / 'x')])), OutputPathError, str(ro / 'x'))
    finally: ro.chmod(0o755)

def test_output_full_disk(tmp_path, monkeypatch):
    "A full disk fails the check (the probe's fsync), before any scene is rendered."
    def full(fd): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, 'fsync', full)
    expect_error(lambda: run(parse(['synth', '--out', str(tmp_path / 's')])), OutputPathError, str(tmp_path / 's'),
                 'No space left on device')
    assert not list((tmp_path / 's').glob('*.json'))

def test_output_error_is_one_line(tmp_path, capsys):
    d = _tree(tmp_path)
    assert main(['synth', '--out', str(d / 'file.txt')]) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and str(d / 'file.txt') in err, err

# (id, argv, error class, names)
INPUTS = [
    ('template-scene-missing', ['template', '{d}/nope.json', '--out', '{d}/t.json'], ValueError, ['nope.json']),
    ('template-no-scenes-in-folder', ['template', '{d}/empty', '--out', '{d}/t.json'], ValueError, ['empty']),
    ('template-nothing-made', ['template', '{d}/hand.json', '--out', '{d}/t.json', '--tasks', 'stvg,rec'],
     ValueError, ['no samples made', 't.json', 'no event with boxes']),
    ('lift-scene-missing', ['lift', '{d}/nope.json', '--out', '{d}/l.json'], ValueError, ['nope.json']),
    ('score-answers-not-a-field', ['score', 'prediction', '--data', '{d}/d.jsonl'], ValueError, ["'prediction'"]),
]

def _hand_scene(d):
    "A hand-written scene: one car, no boxes, no camera poses."
    import numpy as np
    from st_toolkit.core import Scene, Track
    t = np.arange(0, 8, 0.1)
    trk = Track('car', t, np.stack([2 * t, 10 + 0 * t, 0 * t], 1), category='car')
    Scene([trk], fps=10, width=320, height=240, name='hand').to_json(d / 'hand.json')

def _qa_file(d):
    "A one-sample dataset file."
    import json
    s = dict(id='c0', task='tvg', scene='s0', video='v.mp4', clip=dict(t0=0, t1=5), overlays=[], question='When?',
             answer='from 0s to 2s', gt=dict(type='span', value=[0, 2]), meta=dict(codec='seconds'))
    (d / 'd.jsonl').write_text(json.dumps(s) + '\n')

@pytest.mark.parametrize('argv,exc,names', [c[1:] for c in INPUTS], ids=[c[0] for c in INPUTS])
def test_input(argv, exc, names, tmp_path):
    d = _tree(tmp_path)
    _hand_scene(d)
    _qa_file(d)
    expect_error(lambda: run(parse(_argv(argv, d))), exc, *names)
