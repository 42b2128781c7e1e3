"Templates over many seeds and settings: every number in the text re-derived from the kinematics, paths agree, nothing crashes."
import json, math, re
from collections import Counter
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
import fastcore.test as fct
from st_toolkit.core import Scene, Track
from st_toolkit import kinematics as kin
from st_toolkit.synthetic import make_scene
from st_toolkit.coords import get_codec
from st_toolkit import templates as T

SETTINGS = [dict(), dict(units='imperial', refer='mixed'), dict(speed_unit='m/s', refer='coords', codec='qwen25'),
            dict(refer='description', codec='qwen2', reference='initial'), dict(time_codec='llava_st', overlay='all')]

@pytest.fixture(scope='module')
def scenes():
    "40 synthetic scenes: static and moving cameras, 2-5 objects, 6-12 s."
    return [make_scene(i, n_objects=2 + i % 4, duration=6 + i % 7, camera=('static', 'ego')[i % 2], occlusion=False) for i in range(40)]

def rederive(s, scene):
    "The ground truth of a kinematic sample, computed again with the public kinematics API."
    ids, (t0, t1), ref = s['meta']['tracks'], (s['clip']['t0'], s['clip']['t1']), s['meta']['reference']
    a = scene.track(ids[0])
    if s['task'] == 'distance': return kin.traveled_distance(a, t0, t1)
    if s['task'] == 'speed': return kin.average_speed(a, t0, t1)
    if s['task'] == 'direction': return kin.clock_direction(a, (t0, t1), reference=ref, scene=scene)
    if s['task'] == 'direction_time':
        spans = [[x, y] for h, x, y in kin.direction_segments(a, ref, scene, t0, t1) if h == s['meta']['hour']]
        assert len(spans) == 1, 'a "when" question must have one answer'
        return spans[0]
    b = scene.track(ids[1])
    if s['task'] == 'cmp_direction': return kin.compare_direction(a, b, t0, t1, max_angle=T.DEFAULTS['max_angle']).label
    c = (kin.compare_distance if s['task'] == 'cmp_distance' else kin.compare_speed)(a, b, t0, t1, rel_tol=T.DEFAULTS['margin'])
    return s['gt']['options'][ids.index(c.winner)]

NUM = re.compile(r'(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])')

@pytest.mark.parametrize('kw', SETTINGS, ids=[json.dumps(k) for k in SETTINGS])
def test_every_answer_rederived(scenes, kw):
    "Every kinematic ground truth equals the kinematics' value; the number in the text is it, rounded as written."
    by = {s.name: s for s in scenes}
    qa = T.generate(scenes, kind='kinematic', seed=7, per_task=2, **kw)
    assert set(qa.counts()) == set(T.KINEMATIC_TASKS) and len(qa) > 350
    for s in qa:
        T.check_sample(s)
        g, sc = rederive(s, by[s['scene']]), by[s['scene']]
        if s['gt']['type'] == 'quantity':
            fct.test_close(s['gt']['value'], g, eps=1e-9)
            u = s['meta']['answer_unit']
            shown, text = T.human_number(kin.from_si(g, u))
            assert NUM.findall(s['answer']) == [text], (s['answer'], text)
            assert s['meta']['answer_value'] == shown and u == T.unit_for(s['gt']['unit'] == 'm' and 'length' or 'speed', kw.get('units', 'metric'), kw.get('speed_unit'))
        elif s['gt']['type'] == 'span':
            fct.test_close(s['gt']['value'], g, eps=1e-9)
            c = get_codec(s['meta']['codec'])
            fct.test_close(c.parse_span(s['answer'], sc.duration), g, eps=max(0.051, sc.duration * 0.0051))
        elif s['gt']['type'] == 'clock':
            assert s['gt']['value'] == g and f"{g} o'clock" in s['answer']
        else:
            assert s['gt']['value'] == g and s['gt']['value'] in s['answer'].lower()

def test_answers_parse_back(scenes):
    "The evaluation side (st_toolkit.parse) reads every generated answer back to its ground truth."
    parse = pytest.importorskip('st_toolkit.parse')
    for kw in SETTINGS[:3]:
        for s in T.generate(scenes[:20], seed=3, **kw):
            v, g = parse.parse_answer(s['answer'], s), s['gt']
            if g['type'] == 'quantity': fct.test_close(kin.from_si(v, s['meta']['answer_unit']), s['meta']['answer_value'], eps=1e-9)
            elif g['type'] in ('clock', 'choice'): assert v == g['value'], (s['answer'], v, g)
            elif g['type'] == 'span': fct.test_close(v, g['value'], eps=s['meta']['duration'] * 0.006 + 0.05)
            elif g['type'] == 'boxes':                                    # a tube parses to {'span', 'boxes'}, one box to a list
                got = v['boxes'] if isinstance(v, dict) else v
                assert len(got) == len(g['value']), (s['answer'], v, g)
                if isinstance(v, dict) and 'span' in g and v['span'] is not None: fct.test_close(v['span'], g['span'], eps=s['meta']['duration'] * 0.006 + 0.05)
            else: assert v

def test_vectorised_equals_per_call_and_chunks(scenes):
    "Batched kinematics, per-sample calls and any chunking give exactly the same samples."
    a = T.generate(scenes, seed=11)
    assert a == T.generate(scenes, seed=11, vectorised=False) == T.generate(scenes, seed=11, chunk=7)
    assert a != T.generate(scenes, seed=12)
    assert T.generate(scenes[5:9], seed=11) == [s for s in a if s['scene'] in {x.name for x in scenes[5:9]}]

def test_pools_and_variety(scenes):
    "At least 8 question and 4 answer phrasings per kinematic type, and all of them get used."
    qa = T.generate(scenes, kind='kinematic', seed=0, per_task=6, refer='description')
    for t in T.KINEMATIC_TASKS:
        f = T.TEMPLATES[t]
        answers = [a for v in f.answers.values() for a in v] if isinstance(f.answers, dict) else f.answers
        assert len(f.questions) >= 8 and len(answers) >= 4, t
        used = {s['question'] for s in qa if s['task'] == t}
        assert len(used) >= min(8, sum(1 for s in qa if s['task'] == t) // 4), (t, len(used))
    for t in T.GROUNDING_TASKS: assert len(T.TEMPLATES[t].questions) >= 8
    assert len({s['answer'].split(' ')[0] for s in qa if s['task'] == 'distance'}) >= 4

def test_balanced_and_summary(scenes):
    ds = T.qa_dataset(scenes, seed=1, per_task=2)
    n = ds.counts()
    assert set(n) == set(T.KINEMATIC_TASKS + T.GROUNDING_TASKS) and len(set(n.values())) == 1
    assert all(t in ds.summary() for t in n)

def test_degenerate_scenes_never_crash():
    "Scenes without what a task needs are skipped with counted reasons."
    one = Track('p', [0.0], [[0, 0, 0]])
    still = Track('rock', np.arange(0, 8, 0.5), np.zeros((16, 3)), boxes=np.tile([10, 10, 20, 20.], (16, 1)), category='rock')
    hidden = Track('ghost', np.arange(0, 8, 0.5), np.cumsum(np.ones((16, 3)), 0), boxes=np.full((16, 4), np.nan))
    bad = [Scene([], 10, 64, 48, name='empty', duration=5), Scene([one], 10, 64, 48, name='one'),
           Scene([still, hidden], 10, 64, 48, name='still_hidden'), Scene([still], 10, 64, 48, name='still', meta=dict(pseudo_label=True))]
    qa = T.generate(bad, seed=0)
    assert sum(qa.skipped.values()) > 0 and all(s['scene'] == 'still_hidden' or s['scene'] == 'still' for s in qa)
    assert qa.skipped[('distance', 'needs 1 object(s) with 3D positions')] == 2      # 'empty' and 'one' (a single sample)
    assert all(s['meta']['pseudo_label'] for s in qa if s['scene'] == 'still')
    assert all(s['task'] in ('rec', 'reg') for s in qa)           # nothing moves: no kinematic question
    fct.test_fail(T.generate, args=(bad,), kwargs=dict(units='furlongs'), contains="units must be one of")

@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-3, max_value=1e5, allow_nan=False))
def test_human_number(x):
    "At most 3 significant digits and 2 decimals, no trailing zeros, close to the value."
    v, s = T.human_number(x)
    assert float(s) == v and not (('.' in s) and s.endswith('0')) and len(s.split('.')[-1]) <= 2 if '.' in s else True
    digits = s.replace('.', '').lstrip('0')
    assert len(digits) <= max(3, len(s.split('.')[0]))
    assert abs(v - x) <= max(0.005, 0.005 * abs(x)) + 1e-12

def test_generate_restores_gc_and_copies_tubes(scenes):
    "The collector is paused while generating and left as it was; samples never share their box lists."
    import gc
    qa = T.generate(scenes[:10], tasks=['stvg', 'svg', 'elc'], seed=0, per_task=3)
    assert gc.isenabled()
    gc.disable()
    try: assert T.generate(scenes[:10], tasks=['stvg', 'svg', 'elc'], seed=0, per_task=3) == qa and not gc.isenabled()
    finally: gc.enable()
    lists = [b for s in qa for b in (s['gt']['value'] if s['task'] != 'elc' else s['gt']['boxes']).values()]
    assert len(lists) > 50 and len({id(b) for b in lists}) == len(lists)          # tubes are cached per event, their boxes copied
    assert len({(s['scene'], s['meta']['event']) for s in qa}) < len(qa)                 # (and the cache is used: events repeat)

def _shifted(s, dt=0.013, drop=3):
    "Scene `s` with every track's times moved off the recorded pose times by `dt` and every `drop`-th box missing."
    trks = []
    for k in s.tracks:
        b = None if k.boxes is None else k.boxes.copy()
        if b is not None: b[::drop] = np.nan
        trks.append(Track(k.id + '_x', k.t + dt, k.xyz, boxes=b, category=k.category, color=k.color, attrs=dict(k.attrs)))
    return Scene(trks, s.fps, s.width, s.height, K=s.K, poses=s.poses, pose_t=s.pose_t, name=s.name + '_x', duration=s.duration + dt)

def test_vectorised_fallbacks_agree(scenes):
    "Track times between pose times (camera yaw through `pose_at`) and tracks with missing boxes: the vectorised path still equals the per-call path."
    mixed = [x for s in scenes[:12] for x in (s, _shifted(s))]
    for kw in (dict(), dict(overlay='all', refer='mixed'), dict(reference='initial', codec='qwen25')):
        a = T.generate(mixed, seed=3, **kw)
        assert a == T.generate(mixed, seed=3, vectorised=False, **kw), kw
        assert sum(s['task'] == 'direction_time' and s['scene'].endswith('_x') for s in a) >= 3
        assert sum(s['task'] in ('stvg', 'rec') and s['scene'].endswith('_x') for s in a) >= 6

def test_tasks_draw_independently(scenes):
    "Each (scene, task) has its own generator: asking fewer tasks, or other scenes beside, leaves a task's samples unchanged."
    full = T.generate(scenes[:15], seed=5)
    for t in ('distance', 'cmp_speed', 'rec', 'stvg'):
        assert T.generate(scenes[:15], tasks=[t], seed=5) == [s for s in full if s['task'] == t]
    back = T.generate(scenes[5:15][::-1], seed=5, tasks=['direction'])                 # other scenes, in another order
    assert len(back) >= 5 and back == [s for s in full if s['task'] == 'direction' and s['scene'] in {x.name for x in scenes[5:15]}][::-1]

def test_no_reference_cycles(scenes):
    "A chunk's contexts and jobs are freed by reference counting as it ends: nothing is left for the cyclic collector (which would cost ~15 % at the end of a big run)."
    import gc
    gc.collect(); gc.disable()
    try:
        qa = T.generate(scenes[:12], seed=0, chunk=5)
        assert len(qa) > 50 and gc.collect() == 0
    finally: gc.enable()

def test_collector_left_as_found(scenes):
    "`generate` switches the cyclic collector back on (only if it was on), and leaves objects a program froze itself frozen."
    import gc
    gc.collect()
    try:
        gc.disable(); T.generate(scenes[:3], seed=0); assert not gc.isenabled()          # off stays off
        gc.enable(); a = T.generate(scenes[:3], seed=0); assert gc.isenabled() and gc.get_freeze_count() == 0
        gc.freeze(); n = gc.get_freeze_count(); b = T.generate(scenes[:3], seed=0)
        assert 0 < gc.get_freeze_count() <= n and gc.isenabled() and a == b              # still frozen (some may have died), none added
    finally: gc.unfreeze(); gc.enable()
