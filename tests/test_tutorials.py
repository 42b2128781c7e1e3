"""Every tutorial runs top to bottom the way a user runs it, on a CPU, with no network: a fresh Jupyter kernel
executes it through nbclient (the engine of `jupyter nbconvert --execute`), in the tutorial's own folder, with
HF_HUB_OFFLINE=1. The facts a tutorial shows are checked here, not in the tutorial (which reads as a walk-through):
each check below runs in the tutorial's kernel right after the cell it names, on the variables the reader sees."""

import inspect, re, textwrap, time
from pathlib import Path
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
TUT = ROOT / 'nbs' / 'tutorials'
TUTORIALS = sorted(p.name for p in TUT.glob('[0-9]*.ipynb'))
CHECKS = {}  # tutorial number -> [(prefix of the code cell it follows, check function)]


def after(num, prefix):
    "Register a check that runs in tutorial `num`'s kernel right after the code cell starting with `prefix`."

    def reg(fn):
        CHECKS.setdefault(num, []).append((prefix, fn))
        return fn

    return reg


def _body(fn):
    "The source of a check's body, dedented: it runs at the kernel's top level, like a notebook cell."
    src = inspect.getsource(fn).split('\n')
    start = next(i for i, line in enumerate(src) if line.startswith('def ')) + 1
    return textwrap.dedent('\n'.join(src[start:]))


def _with_checks(nb, num):
    "The notebook with its checks inserted after their anchor cells (each anchor must name exactly one cell)."
    cells = nb.cells
    for prefix, fn in reversed(CHECKS.get(num, [])):
        hits = [
            i
            for i, c in enumerate(cells)
            if c.cell_type == 'code' and c.source.replace('#| gpu\n', '').startswith(prefix)
        ]
        assert (
            len(hits) == 1
        ), f'tutorial {num}: check {fn.__name__} follows a cell starting {prefix!r}; found {len(hits)}'
        cells.insert(hits[0] + 1, nbformat.v4.new_code_cell(f'# check {fn.__name__}\n' + _body(fn)))
    cells.insert(0, nbformat.v4.new_code_cell('from fastcore.test import *'))
    return nb


def execute(name, checks=True):
    "Run tutorial `name` in a fresh kernel in its folder, offline; returns (executed notebook, seconds)."
    from nbclient import NotebookClient

    nb = nbformat.read(TUT / name, as_version=4)
    if checks:
        nb = _with_checks(nb, name[:2])
    client = NotebookClient(nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': str(TUT)}})
    t0 = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - t0


def text_of(nb):
    "Everything the executed notebook printed or displayed as text."
    outs = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', [])]
    return '\n'.join(o.get('text', '') or o.get('data', {}).get('text/plain', '') for o in outs)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    "The kernel inherits this environment: no hub downloads."
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    monkeypatch.setenv('TRANSFORMERS_OFFLINE', '1')


@pytest.mark.parametrize('name', TUTORIALS)
def test_tutorial(name):
    "The tutorial runs top to bottom in a fresh kernel and every fact it shows holds."
    nb, secs = execute(name)
    print(f'{name}: {secs:.0f} s')
    if name.startswith('02'):
        check_02_output(text_of(nb))
    if name.startswith('01'):
        assert re.search(r'direction +0 +1 +needs 1 moving object', text_of(nb)), 'tutorial 01 shows no real skip'


def check_02_output(text):
    "Without a GPU and a local checkpoint, tutorial 02 says it uses the tiny model; its GPU-only cells say they skip."
    import torch

    if torch.cuda.is_available():
        return
    assert 'this run uses the tiny offline model' in text, text[:2000]
    assert text.count('GPU only, skipped: no GPU') == 7, text.count('GPU only, skipped')


# ------------------------------------------------------------------------------------------------ the checks
@after('01', "K = np.array([[cal['fx'], 0, cal['cx']], [0, cal['fy'], cal[")
def t01_1():
    test_close(pose, src.poses[0], eps=1e-9)
    test_close(K, intrinsics(320, 240, 60), eps=1e-9)
    assert scene.video_path.exists()
    test_eq(
        (info.n_frames, info.fps, info.width, info.height), (scene.n_frames, cal['fps'], cal['width'], cal['height'])
    )


@after('01', "a = ann['car_1']")
def t01_2():
    test_fail(
        lambda: Track('car_1', dup / 10, np.r_[a['xyz'][:31], a['xyz'][30:]]),
        contains="track 'car_1': timestamps must strictly increase; t[31]=3 <= t[30]=3",
    )
    test_fail(lambda: Track('car_1', a['frame'] / 10, a['xyz'][:-1]), contains="t has 100 samples, xyz has 99 rows")
    test_fail(
        lambda: Scene(tracks, fps=10, width=320, height=240, poses=(pose * 1.01)[None]),
        contains="pose 0 is not a rigid transform",
    )


@after('01', 'from st_toolkit import kinematics as kin')
def t01_3():
    for k, r in zip((ped, car), rows):
        exact = np.interp(t1, k.t, truth[k.id]) - np.interp(t0, k.t, truth[k.id])
        test_close(r['dist_m'], exact, eps=2e-3 * exact)
        test_close(r['speed_kmh'], 3.6 * r['dist_m'] / (t1 - t0), eps=1e-9)
        d = kin.position_at(k, t1) - kin.position_at(k, t0)
        ang = math.degrees(math.atan2(d[0], d[1])) % 360  # clockwise from the camera's forward (+y) axis
        test_eq(r['clock'], int((ang + 15) // 30) % 12 or 12)


@after('01', '[(h, round(a, 2), round(b, 2)) for h, a, b in kin.direction_')
def t01_4():
    test_eq(kin.compare_speed(ped, car, t0, t1).winner, 'car_1')
    test_eq(
        kin.clock_direction(car, (t0, t1), reference='north'), kin.clock_direction(car, (t0, t1), scene=scene)
    )  # this camera faces north


@after('01', 'from st_toolkit.templates import kinematic_qa, check_sample')
def t01_5():
    from st_toolkit.parse import parse_quantity, parse_clock

    for q in qa:
        check_sample(q)
        trk, (a, b) = scene.track(q['meta']['tracks'][0]), (q['clip']['t0'], q['clip']['t1'])
        if q['task'] == 'distance':
            test_close(q['gt']['value'], kin.traveled_distance(trk, a, b), eps=1e-12)
        if q['task'] == 'speed':
            test_close(q['gt']['value'], kin.average_speed(trk, a, b), eps=1e-12)
        if q['task'] == 'direction':
            test_eq(q['gt']['value'], kin.clock_direction(trk, (a, b), scene=scene))
            test_eq(parse_clock(q['answer']), q['gt']['value'])
        if q['gt']['type'] == 'quantity':
            v, unit = parse_quantity(q['answer'], want=q['gt']['unit'])
            test_eq(unit, q['gt']['unit'])
            test_close(v, q['gt']['value'], eps=0.01 * q['gt']['value'])
    assert {'distance', 'speed', 'direction', 'cmp_speed'} <= set(qa.counts())


@after('01', "imp = kinematic_qa(scene, tasks=['distance', 'speed'], units")
def t01_6():
    for q in imp + mps:
        v, _ = parse_quantity(q['answer'], want=q['gt']['unit'])
        test_close(v, q['gt']['value'], eps=0.01 * q['gt']['value'])  # feet and mph read back to SI
    test_eq([q['meta']['answer_unit'] for q in imp + mps], ['ft', 'mph', 'm/s'])
    assert desc[0]['overlays'] == [] and f"the {desc[0]['gt']['value']}" in desc[0]['question']
    assert '"bbox_2d"' in crd[0]['question'] and crd[0]['overlays'] == []


@after('01', 'from st_toolkit.video import load_frames, draw_boxes, COLORS')
def t01_7():
    test_close(ts, frame_t, eps=1e-3)  # the decoded frame is the one at the box's time
    for b, o in zip(boxes, q['overlays']):  # each box alone (the two may overlap): its top edge is in its colour
        x1, y1, x2, y2 = np.round(b).astype(int)
        one = draw_boxes(frame, [b], [o['color']], thickness=2)
        test_eq((one[y1, x1:x2] == COLORS[o['color']]).all(-1).mean() > 0.9, True)


@after('01', 'from st_toolkit.formats import write_dataset, read_dataset, ')
def t01_8():
    for p in files.values():
        test_eq(read_dataset(p), qa)  # nothing lost, both layouts
    test_eq(json.loads(files['sharegpt'].read_text())[0]['messages'][0]['content'], '<video>' + qa[0]['question'])
    assert (out / rec['video']).resolve() == scene.video_path.resolve()


@after('01', 'from st_toolkit.formats import write_dataset, read_dataset, ')
def t01_9():
    from st_toolkit.train import read_samples

    rs = read_samples(files['llava'])
    test_eq(Path(rs[0]['video']), scene.video_path.resolve())
    test_eq(len(rs), len(qa))


@after('02', 'def target_report(m):')
def t02_1():
    rep = target_report(tiny_model)
    test_eq(rep['language_model'], 2 * 7)  # 2 layers x q, k, v, o, gate, up, down
    assert rep['plain_name_list'] > rep['language_model'] and all('visual' in n for n in rep['plain_list_extras'])
    peft_tiny = add_lora(load_model(TINY, dtype=torch.float32)[0], r=16, alpha=32)
    s = trainable_summary(peft_tiny)
    assert all('language_model' in n for n, p in peft_tiny.named_parameters() if p.requires_grad)
    s


@after('02', 'ds16 = VideoQADataset(train_file, tiny_proc, num_frames=16)')
def t02_2():
    test_eq(VideoQADataset(train_file, tiny_proc, num_frames=16).count_tokens(0)['visual'], 120)
    test_eq(pf.count('resampled'), len(train))
    test_eq(pf.count('dropped'), 0)
    full = VideoQADataset(train_file, tiny_proc, num_frames=16).budget(0)
    assert all(r['total'] <= 160 and r['frames'] == 16 and r['pixels'] < full for r in pf.rows)
    test_fail(
        preflight,
        args=(VideoQADataset(train_file, tiny_proc, num_frames=16), 160, 'error'),
        contains=f"{len(train)} of {len(train)} samples exceed max_tokens=160",
    )


@after('02', 'ds = VideoQADataset(train_file, tiny_proc, num_frames=4)')
def t02_3():
    x = ds[0]
    test_eq(tiny_proc.tokenizer.decode(x['input_ids'][x['labels'] != -100]), train[0]['answer'] + '<|im_end|>')


@after('02', "gpu_cfg = TrainConfig(model=MODEL, data=str(work / 'gpu_data")
def t02_4():
    test_eq(TrainConfig.from_json(cfg_file), gpu_cfg)


@after('02', 'cfg = TrainConfig(model=str(TINY), data=str(train_file), out')
def t02_5():
    assert log[-1]['loss'] < 0.9 * log[0]['loss']
    sorted(p.name for p in run['final'].iterdir()), run['card']['model']['lora_targets']


@after('02', 'rcfg = dict(model=str(TINY), data=str(train_file), num_frame')
def t02_6():
    test_eq(resumed['card']['result']['resumed_from'], 'checkpoint-10')
    test_eq(resumed['card']['result']['global_step'], 20)
    test_eq(last_checkpoint(work / 'cut'), str(work / 'cut' / 'checkpoint-20'))


@after('02', 'base, bproc = load_model(TINY, dtype=torch.float32)')
def t02_7():
    test_eq(after.answers[: len(train)], [q['answer'] for q in train])
    rows = {r['task']: r for r in cmp.rows}
    for t in ('distance', 'direction'):
        test_eq((rows[t]['before'], rows[t]['after']), (0.0, 1.0))
    assert (
        rows['overall']['after'] > rows['overall']['before']
        and rows['overall']['fails_after'] < rows['overall']['fails_before']
    )
    after.card.protocol['extra']['kind'], after.failures[:2]


@after('03', 'card = mt.score_samples(tvg, tvg_pred)')
def t03_1():
    ious = [5.5 / 5.8, 0.5, 4.2 / 7, 4.9 / 6.1, 0.0]
    by_event = {q['meta']['event']: r for q, r in zip(tvg, card.samples)}
    test_close([by_event[e]['tiou'] if by_event[e]['status'] == 'ok' else 0.0 for e in tvg_answers], ious, eps=1e-12)
    T = card['tvg']
    test_close(T['mIoU'], sum(ious) / 5, eps=1e-12)
    test_eq((T['R@0.3'], T['R@0.5'], T['R@0.7']), (0.8, 0.8, 0.4))
    test_eq((T['n'], T['unparsed'], T['invalid']), (5, 1, 0))


@after('03', 'strict = mt.score_samples(tvg, tvg_pred, strict=True)')
def t03_2():
    test_eq(strict['tvg']['R@0.5'], 0.6)  # the 0.5 tie no longer counts
    test_close(dropped['tvg']['mIoU'], sum(ious) / 4, eps=1e-12)
    test_eq(dropped['tvg']['n_scored'], 4)
    test_eq(mt.LLAVA_ST.strict_for('tvg'), True)
    test_eq(
        mt.score_samples(tvg, tvg_pred, protocol=mt.LLAVA_ST)['tvg']['R@0.5'], 0.6
    )  # the LLaVA-ST preset counts Charades with `>`


@after('03', 'per = {}')
def t03_3():
    ids = {q['meta']['event']: q['id'] for q in stvg}
    for c in cards.values():
        r = {s['id']: s for s in c.samples}
        test_close(r[ids['The bald man sits down on the sofa.']]['viou'], 72 / 88, eps=1e-9)
        test_close(r[ids['The bald man sits down on the sofa.']]['siou'], 72 / 88, eps=1e-9)
        test_eq(
            (
                r[ids['an adult in a white shirt holds a red toy.']]['status'],
                r[ids['what does the adult in a white shirt hold?']]['status'],
            ),
            ('invalid', 'unparsed'),
        )
        test_eq((c['stvg']['unparsed'], c['stvg']['invalid'], c['stvg']['n']), (1, 1, 6))
    toy = {s['id']: s for s in cards['LLaVA-ST (100 frames)'].samples}[ids['who holds a red toy?']]
    test_eq(toy['viou'], 0.0)
    assert toy['tiou'] > 0.99  # the span [1.0, 2.5] against [1.001, 2.5025]
    assert {s['id']: s for s in cards['own frames'].samples}[ids['who holds a red toy?']][
        'tiou'
    ] > 0  # 1.0 s meets the frame at 1.001 s
    man = {s['id']: s for s in cards['own frames'].samples}[
        ids['The man in the black coat walks to the window and turns around.']
    ]
    g, p = stvg[0]['gt']['value'], stvg_pred[0]['boxes']
    common, union = [k for k in g if f'{float(k):g}' in p], set(map(float, g)) | set(map(float, p))
    test_close(man['viou'], sum(mt.box_iou(p[f'{float(k):g}'], g[k]) for k in common) / len(union), eps=1e-12)


@after('03', 'full.plot();')
def t03_4():
    full.to_json(work / 'report_card.json')
    back = mt.ReportCard.from_json(work / 'report_card.json')
    test_eq(back.to_dict(), full.to_dict())
    five = mt.score_samples(stvg, stvg_pred, protocol=mt.Protocol(fps=5, max_frames=200, strict=True))
    test_eq(full['tvg']['R@0.5'], strict['tvg']['R@0.5'])
    test_eq(full['stvg']['m_vIoU'], five['stvg']['m_vIoU'])
    test_eq(full.overall['n'], 11)
    test_eq(full.overall['unparsed'] + full.overall['invalid'], 3)
    from st_toolkit.core import md_escape   # the card's markdown escapes the user's settings (decoding, extra)
    assert "metric@R: >= (> for tvg, > for stvg)" in full.markdown()
    assert md_escape('max_new_tokens') + '=256' in full.markdown()


@after('03', 'from st_toolkit.viz import metric_bars')
def t03_5():
    lift = {
        t: variants['same, unparsed dropped'][t][h] - variants['TubeDETR frames'][t][h]
        for t, h in (('tvg', 'mIoU'), ('stvg', 'm_vIoU'))
    }
    assert all(v > 0.1 for v in lift.values()), lift
    lift


@after('03', 'import json, tempfile')
def t03_6():
    ext = score(work / 'answers.jsonl', data, 'llava-st')
    test_eq(ext.card['tvg'], mt.score_samples(tvg, tvg_pred, protocol=mt.LLAVA_ST)['tvg'])  # same answers, same card
    test_eq(json.loads((work / 'card' / 'report_card.json').read_text())['tasks'], ext.card.to_dict()['tasks'])
    test_eq(ext.card.protocol['extra']['missing_answers'], 0)


@after('04', 'tracker = {t.id: t.boxes for t in truth.tracks}             ')
def t04_1():
    test_eq([t.attrs['has_3d'] for t in plain.tracks], [False] * 3)
    test_eq(len(kinematic_qa(plain)), 0)
    assert all((t.xyz == 0).all() for t in plain.tracks)


@after('04', 'lifted = lift_scene(plain)')
def t04_2():
    test_eq(lifted.meta['pseudo_label'], True)
    test_eq(lifted.ids, truth.ids)
    for t in lifted.tracks:
        test_eq(t.attrs['has_3d'], True)
        assert np.isin(
            np.round(t.t * 10).astype(int), np.flatnonzero(np.isfinite(tracker[t.id][:, 0]))
        ).all()  # only frames with a box


@after('04', 'raw_rows = lift_errors(raw, truth)')
def t04_3():
    assert (
        len(raw.tracks) < 3 or summary['5% scale noise']['median_dist_err'] > summary['clean depth']['median_dist_err']
    )
    test_eq(len(aligned.tracks), 3)
    assert summary['5% noise, ground-aligned']['median_dist_err'] < 0.05 and all(
        r['dist_rel_err'] < 0.1 for r in aligned_rows
    )
    assert summary['5% noise, ground-aligned']['median_pos_err_m'] < summary['5% scale noise']['median_pos_err_m']


@after('04', "TASKS = ['distance', 'speed', 'direction', 'cmp_distance', '")
def t04_4():
    assert len(pseudo) >= 10 and all(q['meta']['pseudo_label'] for q in pseudo)


@after('04', 'from st_toolkit.metrics import score_samples')
def t04_5():
    for t in ('distance', 'speed'):
        test_eq(quality[t]['acc'], 1.0)
        assert quality[t]['rel_err'] < 0.1
    test_eq(quality['direction']['acc_pm1'], 1.0)
    test_eq(quality.overall['unparsed'] + quality.overall['invalid'], 0)


@after('04', 'pseudo_raw = kinematic_qa(raw, tasks=TASKS, seed=0, per_task')
def t04_6():
    test_eq({i for q in pseudo_raw for i in q['meta']['tracks']}, {'car_0', 'cyclist_1'})
    for t in ('distance', 'speed'):
        assert q_raw[t]['rel_err'] > 2 * quality[t]['rel_err']


@after('04', 'from st_toolkit.formats import write_dataset, read_dataset')
def t04_7():
    test_eq(back.meta['lift'], aligned.meta['lift'])
    test_eq(back.tracks, aligned.tracks)
    test_eq(read_dataset(data), list(pseudo))


@after('05', 'fig3d = viz.plot_trajectories_3d(truth, pred=lifted, max_fra')
def t05_1():
    meta = fig3d.layout.meta
    times, cursors = np.array(meta['times']), meta['traces']['cursors']
    test_eq(len(fig3d.frames), len(times))
    assert len(times) <= 25
    for f in (0, 12, len(times) - 1):
        c = fig3d.frames[f].data[0]
        expect = [kin.position_at(t, times[f]) for t in truth.tracks]
        test_close(np.stack([c.x, c.y, c.z], -1), np.array(expect, np.float32), eps=1e-4)
    errs = viz.track_errors(truth, lifted, times)
    mean_err = np.concatenate([e[3] for e in errs.values()]).mean()
    err_trace = fig3d.data[meta['traces']['errors'][0]]
    test_eq(err_trace.name, f"error (mean {mean_err:.2f} m)")
    err_trace.name


@after('05', 'bev = viz.plot_trajectories_bev(truth, pred=lifted, max_fram')
def t05_2():
    t5 = bev.layout.meta['times'][5]
    test_close(
        np.stack([bev.frames[5].data[0].x, bev.frames[5].data[0].y], -1),
        [kin.position_at(t, t5)[:2] for t in truth.tracks],
        eps=1e-4,
    )


@after('05', 'from st_toolkit.templates import grounding_qa, kinematic_qa')
def t05_3():
    m = gv.layout.meta['metrics']
    test_close(m['viou'], mt.viou(pred_tube, gt_tube), eps=1e-12)
    test_close(m['siou'], mt.siou(pred_tube, gt_tube), eps=1e-12)
    assert 0 < m['viou'] < m['siou'] < 1 and len(gv.frames) == 8
    m


@after('05', "q = next(s for s in kinematic_qa(lifted, tasks=['distance'],")
def t05_4():
    test_eq(qv.layout.meta['verdict'][0], True)
    test_eq(viz.qa_view(q, wrong, num_frames=2).layout.meta['verdict'][0], False)
    test_eq(q['meta']['pseudo_label'], True)
    assert 'red box' in q['question'] and '✔ correct' in qv.layout.title.text


@after('05', "shift = lambda mm: '[{}, {}, {}, {}]'.format(int(mm[1]) + 2,")
def t05_5():
    from st_toolkit.parse import parse_span

    test_eq(qs.layout.meta['verdict'][0], True)
    assert qs.layout.meta['metrics']['viou'] >= 0.5
    span = parse_span(answer, 'qwen25', truth.duration)  # the reference span, as written (0.1 s steps)
    test_close(qs.layout.meta['metrics']['tiou'], mt.temporal_iou(span, stvg['gt']['span']), eps=1e-12)


@after('05', 'lv = viz.LinkedView(truth, pred=lifted, max_frames=25)')
def t05_6():
    for r, trk in zip(rows, truth.tracks):
        test_close(r['speed_kmh'], kin.mps_to_kmh(kin.speed_at(trk, t10)), eps=1e-9)
        test_close(r['dist_m'], kin.traveled_distance(trk, trk.t[0], t10), eps=1e-9)
        test_eq(r['clock'], kin.clock_direction(trk, t10, scene=truth))
    c = lv.fig.data[lv.cursors[0]]
    test_close(
        np.stack([c.x, c.y, c.z], -1), np.array([kin.position_at(t, t10) for t in truth.tracks], np.float32), eps=1e-4
    )
    test_eq(lv.frame(10).shape, (truth.height, truth.width, 3))


@after('05', "out = work / 'views'")
def t05_7():
    from PIL import Image

    test_eq([p.read_bytes()[:4] for p in files[:2]], [b'\x89PNG'] * 2)
    assert Image.open(files[0]).size[0] > 500
    for p in files[2:]:
        text = p.read_text()
        assert 'Plotly.newPlot' in text, p
        assert not re.findall(
            r'<script[^>]+src="(?!data:)', text
        ), f'{p.name} loads a script from outside'  # offline: nothing fetched
    frames_inside = {
        p.name: p.read_text().count('"source":"data:image') for p in files[4:]
    }  # JPEG frames embedded as data: URIs
    test_eq(frames_inside, {'grounding.html': 8 + 1, 'qa.html': 4 + 1, 'linked.html': len(lv.times) + 1})
    assert '<title>drive: truth vs pseudo-labels</title>' in files[2].read_text()
    test_fail(viz.save_figure, args=(bs, out / 'bev.html'), contains='expected .png, .pdf or .svg')


def test_index_images_resolve():
    "Hero images: index.ipynb links them relative to nbs/ (as JupyterLab resolves them), README from the root."
    import json

    md = lambda text: re.findall(r'!\[[^\]]*\]\(([^)]+)\)', text)
    cells = json.loads((ROOT / 'nbs' / 'index.ipynb').read_text())['cells']
    nb_links = [l for c in cells if c['cell_type'] == 'markdown' for l in md(''.join(c['source']))]
    readme_links = md((ROOT / 'README.md').read_text())
    assert len(nb_links) >= 2 and len(readme_links) == len(nb_links)
    for l in nb_links:
        assert (ROOT / 'nbs' / l).is_file(), f'index.ipynb: {l} does not resolve from nbs/'
    for l in readme_links:
        assert (ROOT / l).is_file(), f'README.md: {l} does not resolve from the repository root'
