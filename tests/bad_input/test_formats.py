"""Bad inputs of `st_toolkit.formats`: each real sample file (data_samples/formats, data_samples/real) broken in one
field, read with `on_error='raise'`; the error names the file, the item and the field."""
import copy, json, shutil
from pathlib import Path
import pytest
from st_toolkit import formats as F
from ._check import expect_error

ROOT = Path(__file__).resolve().parents[2]
FMT, REAL = ROOT / 'data_samples' / 'formats', ROOT / 'data_samples' / 'real'
HC = json.loads((FMT / 'hcstvg_v1_sample.json').read_text())
HC_KEY = next(iter(HC))
STA = json.loads((FMT / 'st_align_sample.json').read_text())
VID = json.loads((REAL / 'vidstg' / 'test_annotations_excerpt.json').read_text())

def hc(field, value):
    "The HC-STVG sample with `field` of its first item set to `value` (None deletes it)."
    d = copy.deepcopy(HC)
    if value is None: del d[HC_KEY][field]
    else: d[HC_KEY][field] = value
    return d

def sta(path, value):
    "The ST-Align sample with the field at `path` (keys, first item) set to `value` (None deletes it)."
    d = copy.deepcopy(STA)
    o = d[0]
    for k in path[:-1]: o = o[k]
    if value is None: del o[path[-1]]
    else: o[path[-1]] = value
    return d

def vid(field, value):
    "The first VidSTG excerpt item with `field` (dotted) set to `value` (None deletes it)."
    a = copy.deepcopy(VID[0])
    *ks, last = field.split('.')
    o = a
    for k in ks: o = o[k]
    if value is None: del o[last]
    else: o[last] = value
    return [a]

HCSTVG = {
    'img_num not a number': (hc('img_num', 'many'), ['img_num']),
    'width missing': (hc('width', None), ['width']),
    'height negative': (hc('height', -360), ['height']),
    'st_frame missing': (hc('st_frame', None), ['st_frame']),
    'img_num zero': (hc('img_num', 0), ['tube frames']),
    'bbox not a list': (hc('bbox', 'boxes'), ['bbox']),
    'bbox negative width': (hc('bbox', [[300, 60, -5, 220]] * 8), ['bbox[0]']),
    'bbox three numbers': (hc('bbox', [[300, 60, 80]] * 8), ['bbox[0]']),
    'bbox string number': (hc('bbox', [['300', 60, 80, 220]] * 8), ['bbox[0]']),
    'caption missing': (hc('caption', None), ['caption']),
    'tube past the last frame': (hc('st_frame', 99), ['st_frame', 'tube frames']),
    'item not an object': ({HC_KEY: [1, 2]}, [HC_KEY]),
}
ST_ALIGN = {
    'split one number': (sta(['meta', 'split'], [0]), ["'split'"]),
    'split text': (sta(['meta', 'split'], 'all'), ["'split'"]),
    'width missing': (sta(['meta', 'width'], None), ['width']),
    'conversations missing': (sta(['conversations'], None), ['conversations']),
    'conversations not a list': (sta(['conversations'], 'hi'), ['conversations']),
    'box with three numbers': (sta(['meta', 'spatial_token', '<bboxes>', '30'], [160, 120, 120]), ['30']),
    'box frame not a number': (sta(['meta', 'spatial_token', '<bboxes>'], {'x': [1, 2, 3, 4]}), ["'x'"]),
    'time token text': (sta(['meta', 'time_token', '<s>'], 'start'), ['<s>']),
    'video path missing': (sta(['video_path'], None), ['video']),
}
VIDSTG = {
    'fps zero': (vid('fps', 0), ['fps']),
    'fps text': (vid('fps', 'fast'), ['fps']),
    'frame_count missing': (vid('frame_count', None), ['frame_count']),
    'used_segment reversed': (vid('used_segment.begin_fid', 200), ['used_segment']),
    'used_segment missing': (vid('used_segment', None), ['used_segment']),
    'temporal_gt end text': (vid('temporal_gt.end_fid', 'end'), ['temporal_gt']),
    'subject/objects not a list': (vid('subject/objects', 3), ['subject/objects']),
    'captions not a list': (vid('captions', 'a toy'), ['captions']),
    'width negative': (vid('width', -640), ['width']),
    'no VidOR file for the video': (vid('vid', '0000000000'), ['0000000000']),
}

def _write(tmp, name, d):
    p = tmp / name
    p.write_text(json.dumps(d))
    return p

@pytest.mark.parametrize('case', list(HCSTVG))
def test_hcstvg(tmp_path, case):
    d, names = HCSTVG[case]
    p = _write(tmp_path, 'hc.json', d)
    expect_error(lambda: F.read_hcstvg(p, on_error='raise'), F.FormatError, 'hc.json', *names)

@pytest.mark.parametrize('case', list(ST_ALIGN))
def test_st_align(tmp_path, case):
    d, names = ST_ALIGN[case]
    p = _write(tmp_path, 'sa.json', d)
    expect_error(lambda: F.read_st_align(p, on_error='raise'), F.FormatError, 'sa.json', 'item 0', *names)

@pytest.mark.parametrize('case', list(VIDSTG))
def test_vidstg(tmp_path, case):
    d, names = VIDSTG[case]
    p = _write(tmp_path, 'vs.json', d)
    vidor = REAL / 'vidstg' / 'vidor'
    expect_error(lambda: F.read_vidstg(p, vidor, on_error='raise'), F.FormatError, 'vs.json', 'item 0', *names)

CHARADES = {
    'no separator': ('AO8RW 0.0 6.9 a person is putting a book on a shelf.', ['line 1']),
    'start not a number': ('AO8RW zero 6.9##a person opens a door.', ['line 1', 'zero']),
    'end missing': ('AO8RW 0.0##a person opens a door.', ['line 1']),
    'empty sentence': ('AO8RW 0.0 6.9##', ['line 1']),
    'negative start': ('AO8RW -3.0 6.9##a person opens a door.', ['line 1', '-3']),
    'nan end': ('AO8RW 0.0 nan##a person opens a door.', ['line 1', 'nan']),
}

@pytest.mark.parametrize('case', list(CHARADES))
def test_charades(tmp_path, case):
    line, names = CHARADES[case]
    p = tmp_path / 'sta.txt'
    p.write_text(line + '\n')
    expect_error(lambda: F.read_charades_sta(p, on_error='raise'), F.FormatError, 'sta.txt', *names)

FILES = {
    'not JSON': ('{"a": ', F.FormatError, ['malformed JSON']),
    'a number, not items': ('5', F.FormatError, ['list']),
    'empty file': ('', F.FormatError, ['ds.json']),
}

@pytest.mark.parametrize('case', list(FILES))
def test_hcstvg_whole_file(tmp_path, case):
    text, exc, names = FILES[case]
    p = tmp_path / 'ds.json'
    p.write_text(text)
    expect_error(lambda: F.read_vidstg(p, tmp_path, on_error='raise'), exc, 'ds.json', *names)

def _jsonl(tmp, rec):
    p = tmp / 'q.jsonl'
    p.write_text(json.dumps(rec) + '\n')
    return p

def _good():
    "One real kinematic sample as a JSONL record (written by `write_dataset`)."
    import tempfile
    from st_toolkit.synthetic import make_scene
    from st_toolkit.templates import kinematic_qa
    d = Path(tempfile.mkdtemp())
    F.write_dataset(kinematic_qa(make_scene(0, n_objects=3, duration=6.0, fps=5))[:1], d / 'one.jsonl', 'jsonl')
    return json.loads((d / 'one.jsonl').read_text().splitlines()[0])

GOOD = _good()
DATASETS = {
    'task missing': ({k: v for k, v in GOOD.items() if k != 'task'}, ["'task'"]),
    'question missing': ({k: v for k, v in GOOD.items() if k != 'question'}, ["'question'"]),
    'answer missing': ({k: v for k, v in GOOD.items() if k != 'answer'}, ["'answer'"]),
    'question not text': (dict(GOOD, question=5), ['question']),
    'id missing': ({k: v for k, v in GOOD.items() if k != 'id'}, ['id']),
    'clip ends before it starts': (dict(GOOD, clip=dict(t0=4.0, t1=0.5)), ['clip']),
    'gt not an object': (dict(GOOD, gt=12.9), ['gt']),
    'answer null': (dict(GOOD, answer=None), ['answer']),
}

@pytest.mark.parametrize('case', list(DATASETS))
def test_dataset_records(tmp_path, case):
    rec, names = DATASETS[case]
    p = _jsonl(tmp_path, rec)
    expect_error(lambda: F.read_dataset(p), (F.FormatError, ValueError), 'q.jsonl', 'line 1', *names)

def test_dataset_folder_missing(tmp_path):
    expect_error(lambda: F.read_dataset(tmp_path / 'nothing.json'), (F.FormatError, FileNotFoundError), 'nothing.json')
