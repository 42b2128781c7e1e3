"Dataset formats: every writer read back with nothing lost (by our readers and by `datasets` itself); the public readers on the shipped samples."
import json, os, shutil
from pathlib import Path
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
import fastcore.test as fct
import datasets
from st_toolkit.core import Scene
from st_toolkit.synthetic import make_scene
from st_toolkit import templates as T
from st_toolkit import formats as F

datasets.disable_progress_bars()
ROOT = Path(__file__).resolve().parents[1]
FMT = ROOT / 'data_samples' / 'formats'

@pytest.fixture(scope='module')
def samples():
    "Every task, several codecs and unit settings, from synthetic scenes and from the shipped public-format samples."
    sc = [make_scene(i, n_objects=3, duration=8, occlusion=False) for i in range(12)]
    sc[3].meta['pseudo_label'] = True
    out = T.generate(sc, seed=0) + T.generate(sc[:4], seed=1, codec='qwen25', units='imperial', refer='coords')
    out += T.generate(sc[4:8], seed=2, codec='qwen2', speed_unit='m/s', overlay='all', refer='mixed')
    out += T.generate(F.read_hcstvg(FMT / 'hcstvg_v2_sample.json') + F.read_charades_sta(FMT / 'charades_sta_test.txt'), kind='grounding', codec='norm')
    return list(out)

def absolute(samples):
    "The samples with their videos as absolute paths (in memory a relative path is relative to the working directory)."
    return [dict(s, video=s['video'] and os.path.abspath(s['video'])) for s in samples]

@pytest.mark.parametrize('fmt', F.FORMATS)
def test_round_trip(tmp_path, samples, fmt):
    "Written and read back: identical, floats included (videos come back as absolute paths to the same files)."
    assert any(s['video'] and not os.path.isabs(s['video']) for s in samples)
    p = F.write_dataset(samples, tmp_path / ('d' if fmt == 'hf' else f'd.{"jsonl" if fmt == "jsonl" else "json"}'), fmt)
    back = F.read_dataset(p)
    assert back == absolute(samples)
    assert json.dumps(back, sort_keys=True) == json.dumps(absolute(samples), sort_keys=True)
    assert {s['task'] for s in back} == set(T.KINEMATIC_TASKS + T.GROUNDING_TASKS)

def test_datasets_reads_it_alone(tmp_path, samples):
    "`datasets` loads the saved dataset and the ShareGPT file (as LLaMA-Factory does) without our code."
    F.write_dataset(samples, tmp_path / 'hf', 'hf')
    ds = datasets.load_from_disk(str(tmp_path / 'hf'))
    assert len(ds) == len(samples) and ds['id'] == [s['id'] for s in samples]
    assert [json.loads(g) for g in ds['gt']] == [s['gt'] for s in samples]
    assert [m[1]['content'] for m in ds['messages']] == [s['answer'] for s in samples]
    F.write_dataset(samples, tmp_path / 'sg.json', 'sharegpt', system='You are a careful video analyst.')
    lf = datasets.load_dataset('json', data_files=str(tmp_path / 'sg.json'), split='train')
    assert lf[0]['messages'][0] == dict(role='system', content='You are a careful video analyst.')
    assert [m[1]['content'] for m in lf['messages']] == ['<video>' + s['question'] for s in samples]
    assert F.from_sharegpt(lf.to_list()) == [dict(s, video=F._relative_video(s['video'], str(tmp_path))) for s in samples]   # as stored
    lines = (tmp_path / 'l.jsonl'); F.write_dataset(samples, lines, 'jsonl')
    jl = datasets.load_dataset('json', data_files=str(lines), split='train')   # JSONL of mixed tasks: datasets unifies the columns
    assert jl['question'] == [s['question'] for s in samples]

@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(['llava_st', 'qwen25', 'qwen2', 'norm', 'qwen3']), st.sampled_from(F.FORMATS))
def test_round_trip_random_scenes(tmp_path_factory, seed, codec, fmt):
    "Random scenes and codecs: still lossless."
    qa = list(T.generate([make_scene(seed, n_objects=2 + seed % 3, duration=7, occlusion=False)], seed=seed, codec=codec, refer='mixed'))
    d = tmp_path_factory.mktemp('rt')
    assert F.read_dataset(F.write_dataset(qa, d / ('x' if fmt == 'hf' else 'x.jsonl' if fmt == 'jsonl' else 'x.json'), fmt)) == qa

def test_public_readers():
    "The shipped samples of each public format read into scenes with the published numbers."
    hc = F.read_hcstvg(FMT / 'hcstvg_v2_sample.json')
    t = hc[1].track('target')
    assert (hc[1].width, hc[1].height, len(t)) == (640, 360, 10)
    fct.test_close(t.boxes[0], [420, 100, 490, 300]); fct.test_close((hc[1].events[0].t0, hc[1].events[0].t1), (12.0, 14.0))
    vs = F.read_vidstg(FMT / 'vidstg' / 'test_annotations.json', FMT / 'vidstg' / 'vidor')[0]
    assert [e.attrs['qtype'] for e in vs.events] == ['declarative', 'interrogative', 'interrogative']
    sa = F.read_st_align(FMT / 'st_align_sample.json', fps=29.97)
    fct.test_close(sa[0].track('bboxes').boxes[-1], [250, 120, 370, 400])
    sta = F.read_charades_sta(FMT / 'charades_sta_test.txt')
    assert sum(len(s.events) for s in sta) == 5 and all(e.kind == 'tvg' for s in sta for e in s.events)
    nu = F.read_nuscenes(FMT / 'nuscenes_mini')[0]
    car = nu.tracks[0]
    fct.test_close(car.t[-1], (1532402927647951 + 3_500_000 + 7 * 7919 % 2000 - 1532402927647951) / 1e6)
    from st_toolkit import kinematics as kin
    assert 8.0 * 3.4 < kin.traveled_distance(car) < 8.0 * 3.6 * 1.2     # ~8 m/s eastward for 3.5 s, slowly curving north

def test_malformed_named(tmp_path):
    "A malformed file names the file, the item and the field."
    d = json.loads((FMT / 'hcstvg_v1_sample.json').read_text())
    d['15_J2p8sS3rXw4.mp4']['bbox'][2] = [300, 60, -5, 220]
    (tmp_path / 'h.json').write_text(json.dumps(d))
    fct.test_fail(F.read_hcstvg, args=(tmp_path / 'h.json',), contains="h.json: item '15_J2p8sS3rXw4.mp4': bbox[2] must be [x, y, w, h] with w, h >= 0")
    items = json.loads((FMT / 'st_align_sample.json').read_text()); items[0]['meta']['split'] = [0]
    (tmp_path / 's.json').write_text(json.dumps(items))
    fct.test_fail(F.read_st_align, args=(tmp_path / 's.json',), contains="s.json: item 0.meta: field 'split' must be a list of 2 finite numbers")
    (tmp_path / 'c.txt').write_text('X 1 2##ok\nY 3 4 no separator\n')
    fct.test_fail(F.read_charades_sta, args=(tmp_path / 'c.txt',), contains="c.txt: line 2:")
    (tmp_path / 'q.jsonl').write_text(json.dumps(dict(id='a')) + '\n')
    fct.test_fail(F.read_dataset, args=(tmp_path / 'q.jsonl',), contains="q.jsonl: line 1: sample 'a': missing field 'task'")

def _project(root, samples):
    "A project folder: a real video in `videos/`, the samples (pointing at it) written in every format to `data/`."
    (root / 'videos').mkdir(parents=True)
    shutil.copy(ROOT / 'data_samples' / 'scenes' / 'sample_01.mp4', root / 'videos' / 'clip one.mp4')
    mine = [dict(s, video=str(root / 'videos' / 'clip one.mp4')) for s in samples[:20]]
    names = dict(llava='train.json', sharegpt='train_sharegpt.json', jsonl='train.jsonl', hf='train_hf')
    return mine, {fmt: F.write_dataset(mine, root / 'data' / n, fmt).name for fmt, n in names.items()}

def test_moved_dataset_still_finds_its_videos(tmp_path, samples):
    "Written beside its videos, moved elsewhere (data and videos), read back: the paths point at the moved video, which decodes."
    from st_toolkit.video import load_frames
    mine, names = _project(tmp_path / 'a' / 'project', samples)
    assert json.loads((tmp_path / 'a' / 'project' / 'data' / 'train.json').read_text())[0]['video'] == '../videos/clip one.mp4'
    moved = Path(shutil.move(str(tmp_path / 'a' / 'project'), str(tmp_path / 'b' / 'c' / 'renamed')))
    assert not (tmp_path / 'a' / 'project').exists()
    want = [dict(s, video=str(moved / 'videos' / 'clip one.mp4')) for s in mine]
    for fmt, n in names.items():
        back = F.read_dataset(moved / 'data' / n)
        assert back == want, fmt
    frames, ts = load_frames(want[0]['video'], num_frames=3)
    assert frames.shape[0] == 3 and frames.shape[-1] == 3 and frames.std() > 1 and ts[-1] > ts[0]
    cwd = os.getcwd()                                                      # and from another working directory, by a relative path
    try:
        os.chdir(moved.parent)
        assert F.read_dataset(Path('renamed') / 'data' / 'train.jsonl') == want
    finally: os.chdir(cwd)

def test_moved_dataset_trains(tmp_path, samples):
    "The train module reads a moved dataset (through `formats.read_dataset`) with absolute paths to the moved videos."
    train = pytest.importorskip('st_toolkit.train')
    mine, names = _project(tmp_path / 'p', samples)
    moved = Path(shutil.move(str(tmp_path / 'p'), str(tmp_path / 'q')))
    recs = train.read_samples(moved / 'data' / names['llava'])
    assert len(recs) == len(mine) and {r['video'] for r in recs} == {str(moved / 'videos' / 'clip one.mp4')}
    assert all(os.path.exists(r['video']) for r in recs)

def test_video_paths_kept_absolute_elsewhere(tmp_path, samples):
    "A video in another tree (only '/' in common), a URL, or `relative=False`: written as given."
    far = [dict(samples[0], video='/elsewhere_st_toolkit/clip.mp4'), dict(samples[1], video='https://example.org/v.mp4')]
    p = F.write_dataset(far, tmp_path / 'far.jsonl', 'jsonl')
    assert [json.loads(l)['video'] for l in p.read_text().splitlines()] == ['/elsewhere_st_toolkit/clip.mp4', 'https://example.org/v.mp4']
    assert F.read_dataset(p) == far
    near = [dict(samples[0], video=str(tmp_path / 'v' / 'a.mp4'))]
    assert json.loads(F.write_dataset(near, tmp_path / 'd' / 'x.json', relative=False).read_text())[0]['video'] == str(tmp_path / 'v' / 'a.mp4')
    assert json.loads(F.write_dataset(near, tmp_path / 'd' / 'y.json').read_text())[0]['video'] == '../v/a.mp4'
