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
    fct.test_fail(F.read_hcstvg, args=(tmp_path / 'h.json',), kwargs=dict(on_error='raise'),
                  contains="h.json: item '15_J2p8sS3rXw4.mp4': bbox[2] must be [x, y, w, h] with w, h >= 0")
    items = json.loads((FMT / 'st_align_sample.json').read_text()); items[0]['meta']['split'] = [0]
    (tmp_path / 's.json').write_text(json.dumps(items))
    fct.test_fail(F.read_st_align, args=(tmp_path / 's.json',), kwargs=dict(on_error='raise'),
                  contains="s.json: item 0.meta: field 'split' must be a list of 2 finite numbers")
    (tmp_path / 'c.txt').write_text('X 1 2##ok\nY 3 4 no separator\n')
    fct.test_fail(F.read_charades_sta, args=(tmp_path / 'c.txt',), kwargs=dict(on_error='raise'),
                  contains="c.txt: line 2:")
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

# --- the field's real files (excerpts in data_samples/real/, each with a README naming its source) ---
import subprocess, sys, warnings
REAL = ROOT / 'data_samples' / 'real'
CH = REAL / 'charades_sta'

def quiet(f, *a, **kw):
    "Call a reader with its `FormatWarning` silenced (the counts are asserted instead)."
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', F.FormatWarning)
        return f(*a, **kw)

def test_vidstg_keeps_the_segments_last_box():
    "Defect 1: `used_segment.end_fid` is the inclusive last frame (= frame_count - 1 in every item here): box kept."
    items = json.loads((REAL / 'vidstg' / 'test_annotations_excerpt.json').read_text())
    scenes = F.read_vidstg(REAL / 'vidstg' / 'test_annotations_excerpt.json', REAL / 'vidstg' / 'vidor')
    assert len(scenes) == len(items) == 31
    for s, a in zip(scenes, items):
        seg, tid = a['used_segment'], str((a['captions'] + a['questions'])[0]['target_id'])
        assert seg['end_fid'] == a['frame_count'] - 1
        f = np.rint(s.track(tid).t * a['fps']).astype(int)
        assert f[0] == seg['begin_fid'] and f[-1] == seg['end_fid'] and len(f) == seg['end_fid'] - seg['begin_fid'] + 1
        fct.test_close(s.events[0].t1, a['temporal_gt']['end_fid'] / a['fps'])     # temporal_gt.end_fid: exclusive
    assert not scenes.skipped

def test_charades_train_reads_with_reversed_lines_counted():
    "Defect 2: the real train file's 4 lines with start > end are skipped and counted (or raise, named, on request)."
    sta = quiet(F.read_charades_sta, CH / 'charades_sta_train.excerpt.txt',
                durations=CH / 'Charades_v1_train_excerpt.csv')
    assert sta.skipped == {'start > end': 4} and sum(len(s.events) for s in sta) == 35
    assert [n[1] for n in sta.notes if n[0] == 'skipped'] == ['line 12', 'line 25', 'line 34', 'line 35']
    with pytest.warns(F.FormatWarning, match='skipped 4'):
        F.read_charades_sta(CH / 'charades_sta_train.excerpt.txt', durations=CH / 'Charades_v1_train_excerpt.csv')
    fct.test_fail(F.read_charades_sta, args=(CH / 'charades_sta_train.excerpt.txt',), kwargs=dict(on_error='raise'),
                  contains='line 12: span must satisfy 0 <= start <= end, got [8.0, 7.0]')

def test_charades_lengths_from_metadata_and_overrun_clipped():
    "Defect 3: lengths from Charades_v1_test.csv (BL7OF is 36 s, not 5 s); overrunning queries clipped, counted."
    sta = quiet(F.read_charades_sta, CH / 'charades_sta_test_lines1-53.txt',
                durations=CH / 'Charades_v1_test_excerpt.csv')
    by = {s.name: s for s in sta}
    assert by['BL7OF'].duration == 36.0 and by['BL7OF'].meta['duration_known']
    assert sta.changed == {'span clipped to the video end': 7}
    assert all(e.t1 <= s.duration for s in sta for e in s.events)
    with pytest.warns(F.FormatWarning, match='assumed 17'):
        guess = F.read_charades_sta(CH / 'charades_sta_test_lines1-53.txt')
    assert not any(s.meta['duration_known'] for s in guess)

def test_templates_refuse_normalised_times_from_a_guessed_length():
    "Defect 3: a scene whose length was guessed gets no TVG sample with normalised times; the skip is counted."
    guess = quiet(F.read_charades_sta, CH / 'charades_sta_test_lines1-53.txt')
    qa = T.generate(guess[:3], tasks=['tvg'], codec='llava_st')
    assert len(qa) == 0 and sum(n for (t, why), n in qa.skipped.items() if 'length' in why) == 3
    assert len(T.generate(guess[:3], tasks=['tvg'], codec='seconds')) == 3                      # seconds need no length

def test_templates_no_silent_drop_of_overrunning_events():
    "Defect 3: an event past the video's end (kept by overrun='keep') is not dropped without a word."
    keep = quiet(F.read_charades_sta, CH / 'charades_sta_test_lines1-53.txt',
                 durations=CH / 'Charades_v1_test_excerpt.csv', overrun='keep')
    ako = [s for s in keep if s.name == 'AKO6M']
    with pytest.warns(UserWarning, match='past the video'):
        T.generate(ako, tasks=['tvg'], codec='llava_st', per_task=5)

def test_vidstg_questions_become_questions():
    "Defect 4: interrogative VidSTG sentences are asked as questions, never captioned as events."
    scenes = F.read_vidstg(REAL / 'vidstg' / 'test_annotations_excerpt.json', REAL / 'vidstg' / 'vidor')
    qa = T.generate(scenes, kind='grounding', codec='llava_st', per_task=4)
    asked = {e.text for s in scenes for e in s.events if e.attrs['qtype'] == 'interrogative'}
    for q in qa:
        ev = q['meta'].get('event')
        if ev in asked:
            assert q['task'] not in ('tr', 'reg'), q
            assert _has_question(q['question'], ev) and 'The video shows this: ' + ev.rstrip('?') not in q['answer']
    assert any(q['meta'].get('event') in asked for q in qa)

def _has_question(text, ev):
    "The question sentence appears as a question (ending with '?') in `text`."
    s = ev.strip().rstrip('?')
    return (s[:1].upper() + s[1:] + '?') in text or (s + '?') in text

def test_st_align_event_text_and_fps_per_video():
    "Defects 5, 6: ST-Align sentences without LLaVA-ST's instruction; each video's own fps; the training layout."
    rates = F.vidstg_fps(REAL / 'vidstg' / 'test_annotations_excerpt.json')
    sa = F.read_st_align(REAL / 'st_align' / 'st_align_fields.json', fps=rates)
    assert sa[0].events[0].text == 'an adult with an orange hat holds a toy' and sa[0].fps == 10.0
    assert sa[1].video == '6047/6047705716.mp4' and sa[2].fps == 25.0
    qa = T.generate(sa[:1], tasks=['stvg'], codec='llava_st')
    assert 'Please describe' not in qa[0]['question'] and 'At which time interval' not in qa[0]['question']

def test_nuscenes_category_words_and_empty_scene():
    "Defect 7: category words ('bus', 'traffic cone'), and a scene without keyframes counted, not a bare min() error."
    nu = quiet(F.read_nuscenes, REAL / 'nuscenes_tables')
    assert [t.category for t in nu[0].tracks][2:] == ['bus', 'articulated bus', 'police officer', 'traffic cone']
    assert nu.skipped == {'scene without samples': 1}
    fct.test_fail(F.read_nuscenes, args=(REAL / 'nuscenes_tables',), kwargs=dict(on_error='raise'),
                  contains="scene 'scene-0103': has no samples")

def test_llava_next_writer_uses_image_placeholder(tmp_path, samples):
    "Defect 8: the LLaVA-NeXT/OneVision/Video variant puts '<image>' before the question; LLaVA-ST's keeps '<video>'."
    nxt = json.loads(F.write_dataset(samples[:3], tmp_path / 'n.json', 'llava_next').read_text())
    st_ = json.loads(F.write_dataset(samples[:3], tmp_path / 's.json', 'llava').read_text())
    asked = [r['conversations'][0]['value'] for r in nxt]
    assert all(q.startswith('<image>\n') and '<video>' not in q for q in asked)
    assert all(r['conversations'][0]['value'].startswith('<video>\n') for r in st_)
    assert F.read_dataset(tmp_path / 'n.json') == absolute(samples[:3])

_LOAD = '''import json, sys, datasets
out = {f: datasets.load_dataset('json', data_files=f, split='train').to_list() for f in sys.argv[2:]}
json.dump(dict(version=datasets.__version__, rows=out), open(sys.argv[1], 'w'))'''

def _load_elsewhere(python, files, tmp_path):
    "Rows of each file as `datasets.load_dataset('json')` of the interpreter `python` loads them."
    res = tmp_path / f'rows_{abs(hash(python))}.json'
    subprocess.run([python, '-c', _LOAD, str(res)] + [str(f) for f in files], check=True, capture_output=True,
                   timeout=600)
    return json.loads(res.read_text())

def test_json_outputs_load_in_datasets_unchanged(tmp_path, samples):
    """Defect 9: every JSON output loads with datasets.load_dataset('json') and decodes to exactly the samples written.

    Runs with the installed `datasets`; set ST_TOOLKIT_DATASETS_PYTHON to another interpreter (e.g. a venv with
    datasets 4.0) to check that version too."""
    files = {fmt: F.write_dataset(samples, tmp_path / f'd_{fmt}.{"jsonl" if fmt == "jsonl" else "json"}', fmt)
             for fmt in ('llava', 'llava_next', 'sharegpt', 'jsonl')}
    stored = [dict(s, video=F._relative_video(s['video'], str(tmp_path))) for s in samples]
    pythons = [sys.executable] + [p for p in [os.environ.get('ST_TOOLKIT_DATASETS_PYTHON')] if p]
    for py in pythons:
        got = _load_elsewhere(py, files.values(), tmp_path)
        for fmt, p in files.items():
            rows = got['rows'][str(p)]
            back = (F.from_sharegpt(rows) if fmt == 'sharegpt' else F.from_llava(rows) if fmt.startswith('llava')
                    else [dict(r, **F._unflat(p, '', r)) for r in rows])
            assert back == stored, (got['version'], fmt)

def test_sharegpt_paths_relative_to_dataset_dir(tmp_path, samples):
    "Defect 10: a ShareGPT file in a subfolder of LLaMA-Factory's dataset_dir stores paths that dataset_dir joins to."
    ddir = tmp_path / 'data'; (ddir / 'videos').mkdir(parents=True)
    shutil.copy(ROOT / 'data_samples' / 'scenes' / 'sample_01.mp4', ddir / 'videos' / 'a.mp4')
    p = F.write_dataset([dict(samples[0], video=str(ddir / 'videos' / 'a.mp4'))], ddir / 'st' / 'x.json', 'sharegpt',
                        dataset_dir=ddir)
    v = json.loads(p.read_text())[0]['videos'][0]
    assert v == 'videos/a.mp4' and os.path.isfile(os.path.join(ddir, v))
    assert F.read_dataset(p, dataset_dir=ddir)[0]['video'] == str(ddir / 'videos' / 'a.mp4')

def test_bom_img_size_chinese_and_vidor_read_once(tmp_path, monkeypatch):
    "Defect 11: a UTF-8 BOM is no part of the first id; img_size [h, w, 3]; Chinese kept; each VidOR file parsed once."
    raw = (CH / 'charades_sta_test_lines1-53.txt').read_bytes()
    (tmp_path / 'bom.txt').write_bytes(b'\xef\xbb\xbf' + raw)
    assert quiet(F.read_charades_sta, tmp_path / 'bom.txt')[0].name == '3MSZA'
    (tmp_path / 'bom.json').write_bytes(b'\xef\xbb\xbf' + (REAL / 'hcstvg' / 'hcstvg_v2_fields.json').read_bytes())
    hc = F.read_hcstvg(tmp_path / 'bom.json')
    assert (hc[0].width, hc[0].height) == (1280, 720) and hc[0].events[0].attrs['Chinese'].startswith('穿灰色')
    n = []
    orig = F._vidor_index
    monkeypatch.setattr(F, '_vidor_index', lambda p: n.append(p) or orig(p))
    F.read_vidstg(REAL / 'vidstg' / 'test_annotations_excerpt.json', REAL / 'vidstg' / 'vidor')
    assert len(n) == len(set(n)) == 19

def test_hcstvg_first_frame(tmp_path):
    "st_frame is 1-based by default (HC-STVG README, STCAT, CG-STVG); first_frame=0 reads it as TubeDETR does."
    src = REAL / 'hcstvg' / 'hcstvg_v2_fields.json'
    one, zero = F.read_hcstvg(src), F.read_hcstvg(src, first_frame=0)
    a, b = one[0].track('target'), zero[0].track('target')
    fct.test_close(a.t[0], 8.0)  # st_frame 241 of 600 frames in 20 s: frame 241 starts at 8.0 s, its st_time
    fct.test_close(b.t - a.t, 1 / 30)
    fct.test_close(one[1].events[0].t0, 0.0)  # st_frame 1 is the video's first frame
    assert one[0].meta['first_frame'] == 1 and zero[0].meta['first_frame'] == 0
    d = json.loads(src.read_text())
    v = next(iter(d))
    d[v]['st_frame'] = 0
    (tmp_path / 'h0.json').write_text(json.dumps(d))
    fct.test_fail(F.read_hcstvg, args=(tmp_path / 'h0.json',), kwargs=dict(on_error='raise'),
                  contains="tube frames 0..5 leave the video's frames 1..600 (first_frame=1)")
    fct.test_close(F.read_hcstvg(tmp_path / 'h0.json', first_frame=0)[0].track('target').t[0], 0.0)
    assert len(d[v]['bbox']) == 6
    d[v]['st_frame'] = 595
    (tmp_path / 'h1.json').write_text(json.dumps(d))
    fct.test_close(F.read_hcstvg(tmp_path / 'h1.json')[0].events[0].t1, 20.0)  # frames 595..600 end the video
    fct.test_fail(F.read_hcstvg, args=(tmp_path / 'h1.json',), kwargs=dict(on_error='raise', first_frame=0),
                  contains="tube frames 595..600 leave the video's frames 0..599 (first_frame=0)")
    fct.test_fail(F.read_hcstvg, args=(src,), kwargs=dict(first_frame=2), contains='first_frame must be 0 or 1')

def _same_index(a, b):
    "Same (tid -> (frames, boxes), video_path), bit for bit."
    assert a[1] == b[1] and list(a[0]) == list(b[0])
    for k in a[0]:
        assert np.array_equal(a[0][k][0], b[0][k][0]) and np.array_equal(a[0][k][1], b[0][k][1]), k

def test_vidor_scan_same_as_json(tmp_path):
    "Defect 11 (speed): scanning a VidOR file's bytes gives json's boxes; other layouts fall back to json (its errors)."
    src = REAL / 'vidstg' / 'vidor' / '7996' / '7996612680.json'
    vo = json.loads(src.read_text())
    vo['trajectories'][1] = []
    vo['trajectories'][2][0]['bbox'] = dict(xmin=0.1, ymin=-2.5, xmax=12.345678901234567, ymax=30)
    vo['trajectories'][3][0].update(generated=1, tracker='linear')
    def json_index(p):
        d = json.loads(p.read_text())
        return F._vidor_boxes(p, d), d['video_path']
    for name, text in (('real', src.read_text()), ('default', json.dumps(vo)),
                       ('compact', json.dumps(vo, separators=(',', ':')))):
        p = tmp_path / f'{name}.json'
        p.write_text(text)
        fast = F._vidor_scan(p.read_bytes())
        assert fast is not None, name
        _same_index(fast, json_index(p))
    others = dict(indent=json.dumps(vo, indent=1),
                  exponent=json.dumps(vo).replace('12.345678901234567', '1.2345678901234567e1'),
                  digits_in_text=json.dumps(vo).replace('"linear"', '"kcf2"'),
                  minus_in_text=json.dumps(vo).replace('"linear"', '"semi-auto"'))
    for name, text in others.items():
        p = tmp_path / f'{name}.json'
        p.write_text(text)
        assert F._vidor_scan(p.read_bytes()) is None, name
        _same_index(F._vidor_index(p), json_index(p))
    vo['trajectories'][5][1]['bbox']['xmax'] = 'wide'
    (tmp_path / 'bad.json').write_text(json.dumps(vo))
    assert F._vidor_scan((tmp_path / 'bad.json').read_bytes()) is None
    fct.test_fail(F._vidor_index, args=(tmp_path / 'bad.json',), contains="trajectories[5][1]: expected {tid, bbox")

def test_vidstg_tracks_checked_once_per_video(tmp_path):
    "Each object's track is checked once per video; a bad box fails only the items whose segment holds it, by name."
    items = json.loads((REAL / 'vidstg' / 'test_annotations_excerpt.json').read_text())
    a = next(x for x in items if x['vid'] == '7996612680')
    vo = json.loads((REAL / 'vidstg' / 'vidor' / '7996' / '7996612680.json').read_text())
    tid = a['captions'][0]['target_id']
    f, j = next((f, j) for f, objs in enumerate(vo['trajectories']) for j, o in enumerate(objs)
                if o['tid'] == tid and f > a['used_segment']['begin_fid'] + 20)
    (tmp_path / 'v' / '7996').mkdir(parents=True)
    (tmp_path / 'v' / '7996' / '7996612680.json').write_text(json.dumps(vo))
    early = dict(a, used_segment=dict(begin_fid=a['used_segment']['begin_fid'], end_fid=f - 1))
    (tmp_path / 'items.json').write_text(json.dumps([early, a]))
    ok = F.read_vidstg(tmp_path / 'items.json', tmp_path / 'v')
    assert len(ok) == 2 and not ok.skipped
    assert ok[0].track(str(tid)).boxes.base is None and ok[0].track(str(tid)).boxes is not ok[1].track(str(tid)).boxes
    fct.test_eq(ok[1].track(str(tid)).boxes[:len(ok[0].track(str(tid)).boxes)], ok[0].track(str(tid)).boxes)
    b = vo['trajectories'][f][j]['bbox']
    b['xmin'], b['xmax'] = b['xmax'] + 5, b['xmin']
    (tmp_path / 'v' / '7996' / '7996612680.json').write_text(json.dumps(vo))
    res = quiet(F.read_vidstg, tmp_path / 'items.json', tmp_path / 'v')
    assert [s.name for s in res] == ['7996612680_0'] and res.skipped == {'bad VidOR box': 1}
    fct.test_fail(F.read_vidstg, args=(tmp_path / 'items.json', tmp_path / 'v'), kwargs=dict(on_error='raise'),
                  contains="items.json: item 1 (VidOR ")

def test_other_tools_files_read():
    "Defect 12: LLaMA-Factory's real mllm_video_demo.json and LLaVA-NeXT video records read as chat samples."
    demo = F.read_dataset(REAL / 'llamafactory' / 'mllm_video_demo.json')
    assert [s['answer'] for s in demo][1] == 'She is cooking.' and demo[0]['video'].endswith('mllm_demo_data/1.mp4')
    nxt = F.read_dataset(REAL / 'llava_next' / 'video_records.json')
    assert nxt[0]['question'].startswith('What is the man') and nxt[0]['task'] == 'chat'

@pytest.mark.parametrize('fmt', ['llava', 'jsonl', 'sharegpt', 'hf'])
def test_failed_write_keeps_the_old_output(tmp_path, samples, fmt, monkeypatch):
    "A write that fails at the last moment (disk full at the rename) leaves the old output whole and no temporary file."
    path = tmp_path / ('ds' if fmt == 'hf' else f'ds.{fmt}.json')
    F.write_dataset(samples, path, fmt)
    before = F.read_dataset(path, fmt)
    def full(*a, **kw): raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'replace', full)
    with pytest.raises(OSError, match='No space'): F.write_dataset(samples[:2], path, fmt)
    monkeypatch.undo()
    fct.test_eq(len(F.read_dataset(path, fmt)), len(before))
    fct.test_eq(sorted(p.name for p in tmp_path.iterdir()), [path.name])
