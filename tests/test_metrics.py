"Property tests of the metrics (hypothesis), exactness against rational arithmetic, a per-frame reference for the tube metrics, and pycocoevalcap (skipped when the extra is missing)."
import math, shutil
from fractions import Fraction
import numpy as np
import pytest
from hypothesis import given, settings, assume, strategies as st
from st_toolkit.metrics import (temporal_iou, box_iou, viou, siou, stvg_ious, mra, within, rel_error, clock_error,
                                MRA_THRESHOLDS, tube_arrays, score_samples, caption_scores, ReportCard, MetricError,
                                rec_metrics, tvg_metrics, stack_tubes, stvg_metrics, Protocol, LLAVA_ST)

SET = settings(max_examples=100, deadline=None)
num = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
pos = st.floats(1e-3, 1e4, allow_nan=False, allow_infinity=False)

@st.composite
def spans(draw):
    a, b = draw(num), draw(num)
    return [min(a, b), max(a, b)]

@st.composite
def boxes(draw, grid=False):
    x = st.integers(0, 50) if grid else st.floats(0, 100, allow_nan=False)
    x1, x2, y1, y2 = (draw(x) for _ in range(4))
    return [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]

@st.composite
def tubes(draw, n_frames=12):
    frames = draw(st.sets(st.integers(0, n_frames - 1), max_size=n_frames))
    return {f: draw(boxes(grid=draw(st.booleans()))) for f in sorted(frames)}

# --- temporal and box IoU ---------------------------------------------------------------------------------------
@SET
@given(spans(), spans())
def test_tiou_symmetric_and_bounded(a, b):
    u, v = temporal_iou(a, b), temporal_iou(b, a)
    assert u == v and 0.0 <= u <= 1.0

@SET
@given(spans())
def test_tiou_self_is_one(a):
    assert temporal_iou(a, a) == 1.0          # including zero-length spans (no 0/0)

@SET
@given(spans(), spans())
def test_tiou_vectorised_matches_scalar(a, b):
    v = temporal_iou(np.array([a, b, a]), np.array([b, a, a]))
    assert v.tolist() == [temporal_iou(a, b), temporal_iou(b, a), temporal_iou(a, a)]

@SET
@given(boxes(), boxes())
def test_box_iou_symmetric_and_bounded(a, b):
    u = box_iou(a, b)
    assert u == box_iou(b, a) and 0.0 <= u <= 1.0

def test_box_iou_hand_values():
    assert box_iou([0, 0, 2, 2], [1, 1, 3, 3]) == 1 / 7            # 1 / (4 + 4 - 1)
    assert box_iou([0, 0, 4, 4], [0, 0, 4, 2]) == 0.5
    assert box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0              # zero union
    with pytest.raises(MetricError, match=r"b\[0, 1\]"): box_iou(np.zeros((1, 4)), [[[0, 0, 1, 1], [2, 0, 1, 1]]])

# --- vIoU / sIoU --------------------------------------------------------------------------------------------------
@SET
@given(tubes(), tubes())
def test_viou_le_siou(p, g):
    v, s = viou(p, g), siou(p, g)
    assert 0.0 <= v <= s <= 1.0

def _ref_tube(p, g):
    "A straightforward per-frame implementation (same float operations, frames in order)."
    def iou(a, b):
        iw = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0); ih = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
        inter = iw * ih; union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0
    both = sorted(set(p) & set(g)); either = set(p) | set(g)
    s = 0.0
    for f in both: s += iou([float(x) for x in p[f]], [float(x) for x in g[f]])
    return (len(both) / len(either) if either else 0.0, s / len(either) if either else 0.0, s / len(both) if both else 0.0)

@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(tubes(), tubes()), min_size=1, max_size=6))
def test_stvg_ious_bit_identical_to_per_frame_reference(pairs):
    arrs = [tube_arrays(p, g, frames=range(12)) for p, g in pairs]
    r = stvg_ious(np.stack([a[1] for a in arrs]), np.stack([a[2] for a in arrs]))
    for i, (p, g) in enumerate(pairs):
        assert (r['tiou'][i], r['viou'][i], r['siou'][i]) == _ref_tube(p, g)

def test_tube_frame_keys_ints_or_time_strings():
    g = {'0.5': [0, 0, 2, 2], '1.0': [0, 0, 2, 2]}
    assert viou({0.5: [0, 0, 2, 2], '1': [0, 0, 2, 1]}, g) == 0.75 and siou({'0.50': [0, 0, 2, 2]}, g) == 1.0

# --- quantities ---------------------------------------------------------------------------------------------------
def _dec(x): return Fraction(repr(float(x)))   # values compare as the decimals they are written as

def _mra_exact(p, g, strict=True):
    P, G = _dec(p), _dec(g)
    if G == 0: return 1.0 if P == 0 else 0.0
    r = abs(P - G) / abs(G)
    return sum((r < 1 - th) if strict else (r <= 1 - th) for th in MRA_THRESHOLDS) / 10

@SET
@given(pos, st.floats(0, 2, allow_nan=False), st.floats(0, 2, allow_nan=False))
def test_mra_monotone_in_error(g, e1, e2):
    lo, hi = sorted((e1, e2))
    for sign in (1, -1):
        p_lo, p_hi = g + sign * lo * g, g + sign * hi * g
        assume(abs(p_lo - g) <= abs(p_hi - g))
        assert mra(p_hi, g) <= mra(p_lo, g) and mra(p_hi, g, strict=False) <= mra(p_lo, g, strict=False)

@SET
@given(pos, st.integers(0, 40), st.integers(-3, 3))
def test_mra_exact_at_and_near_every_threshold(g, k, ulps):
    p = g * (1 + k / 40)                      # relative errors on and around the k/20 grid, nudged by a few ulps
    for _ in range(abs(ulps)): p = np.nextafter(p, np.inf if ulps > 0 else -np.inf)
    assert mra(p, g) == _mra_exact(p, g) and mra(p, g, strict=False) == _mra_exact(p, g, strict=False)

@SET
@given(st.lists(st.tuples(num, num), min_size=1, max_size=20))
def test_mra_vectorised_equals_exact(pairs):
    p, g = np.array(pairs).T
    assert mra(p, g).tolist() == [_mra_exact(a, b) for a, b in zip(p, g)]

@SET
@given(pos, st.integers(-30, 30), st.integers(-2, 2))
def test_within_exact_at_the_edges(g, k, ulps):
    p = g * (1 + k / 100)
    for _ in range(abs(ulps)): p = np.nextafter(p, np.inf if ulps > 0 else -np.inf)
    P, G = _dec(p), _dec(g)
    assert within(p, g) == (Fraction(3, 4) * G <= P <= Fraction(5, 4) * G)
    assert within(p, g, rel=0.2) == (abs(P - G) <= Fraction(1, 5) * G)

def test_rel_error_and_within_hand_values():
    assert rel_error(7.5, 10) == 0.25 and within(7.5, 10) and not within(7.49, 10) and within(12.5, 10)
    assert within([0.4, 0.6], 0.0, abs_tol=0.5).tolist() == [True, False]

# --- clocks -------------------------------------------------------------------------------------------------------
@given(st.integers(1, 12), st.integers(1, 12))
def test_clock_error_wraps(p, g):
    e = clock_error(p, g)
    assert e == clock_error(g, p) and 0 <= e <= 6 and e == min(abs(p - g), 12 - abs(p - g))

# --- report card --------------------------------------------------------------------------------------------------
def test_report_card_json_round_trip_and_markdown(tmp_path):
    samples = [dict(id='a', task='tvg', gt=dict(type='span', value=[0, 2])), dict(id='b', task='tvg', gt=dict(type='span', value=[0, 4])),
               dict(id='c', task='distance', gt=dict(type='quantity', value=4.0, unit='m'))]
    card = score_samples(samples, {'a': (1, 2), 'c': (5.0, 'm')}, strict=True)
    assert card['tvg']['unparsed'] == 1 and card['tvg']['R@0.5'] == 0.0 and card['tvg']['mIoU'] == 0.25
    assert card['distance']['acc'] == 1.0 and card.overall['score'] == 0.625
    p = tmp_path / 'card.json'; card.to_json(p)
    back = ReportCard.from_json(p)
    assert back.to_dict() == card.to_dict() and back.protocol['strict'] is True
    md = card.markdown()
    assert '| tvg | 2 | 1 |' in md and 'metric@R: >' in md and "frames: the tubes' own frames" in md

# --- caption metrics (optional extra) -----------------------------------------------------------------------------
CAPS = ['a red car drives to the left', 'a person walks to the camera', 'two dogs run on the grass']
REFS = [['the red car drives to the left', 'a red car turns left'], 'the person walks toward the camera', 'dogs run across a field']

def test_caption_scores_match_pycocoevalcap():
    pytest.importorskip('pycocoevalcap.bleu.bleu')
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.cider.cider import Cider
    s = caption_scores(CAPS, REFS, metrics=('BLEU', 'ROUGE_L', 'CIDEr'), tokenize=False)
    gts = {str(i): r if isinstance(r, list) else [r] for i, r in enumerate(REFS)}; res = {str(i): [c] for i, c in enumerate(CAPS)}
    assert [s[f'BLEU-{i}'] for i in range(1, 5)] == pytest.approx(Bleu(4).compute_score(gts, res)[0], rel=1e-12)
    assert s['ROUGE-L'] == pytest.approx(Rouge().compute_score(gts, res)[0]) and s['CIDEr'] == pytest.approx(Cider().compute_score(gts, res)[0])
    assert caption_scores(CAPS, [c for c in CAPS], metrics=('BLEU',), tokenize=False)['BLEU-4'] == pytest.approx(1.0, abs=1e-6)

@pytest.mark.slow   # starts java twice (METEOR loads its paraphrase tables): 15-60 s
@pytest.mark.skipif(shutil.which('java') is None, reason='METEOR and the PTB tokenizer need java')
def test_caption_scores_meteor_and_tokenizer():
    pytest.importorskip('pycocoevalcap.meteor.meteor')
    s = caption_scores(CAPS, REFS)
    assert set(s) == {'BLEU-1', 'BLEU-2', 'BLEU-3', 'BLEU-4', 'METEOR', 'ROUGE-L', 'CIDEr'}
    assert 0 < s['METEOR'] < 1 and 0 < s['BLEU-1'] <= 1
    assert caption_scores(['A red car, drives to the left.'], ['a red car drives to the left'], metrics=('BLEU',))['BLEU-1'] == pytest.approx(1.0, abs=1e-6)


# --- issue 17: one test per defect (each fails on the code before the fix) -----------------------------------------
def _edge_sample(**kw):
    "A 5-s clip at 30 fps, the object on frames 47..60: LLaVA-ST's frames round(i * 150/99) include 47 at i = 31."
    B = [0, 0, 10, 10]
    s = dict(id='edge', task='stvg', question='where?', meta=dict(fps=30), clip=dict(t0=0, t1=5),
             gt=dict(type='boxes', value={f / 30: B for f in range(47, 61)}, span=[47 / 30, 60 / 30]))
    return s | kw, dict(span=None, boxes={f / 30: B for f in range(47, 61)})

def test_defect1_llava_st_snaps_to_video_frames():
    s, p = _edge_sample()
    assert score_samples([s], [p], LLAVA_ST)['stvg']['m_vIoU'] == 1.0            # 9 of 9 evaluated frames match
    assert score_samples([s], [p], Protocol(num_frames=100))['stvg']['m_vIoU'] == 0.8

def test_defect3_decimal_boundaries():
    assert within(3.0, 2.4) and within(1.8, 2.4)                                  # |3.0 - 2.4| = 0.6 = 0.25 * 2.4
    assert mra(109.76, 156.8, strict=False) == 0.5 and mra(0.125, 0.1) == 0.5 and mra(0.125, 0.1, strict=False) == 0.6

def test_defect5_rec_invalid_box_is_a_miss_and_tvg_same():
    g = [[0, 0, 10, 10]] * 3
    assert rec_metrics([[0, 0, 10, 10], [10, 0, 0, 10], None], g)['acc@0.5'] == 1 / 3
    assert rec_metrics([[0, 0, 10, 10], [10, 0, 0, 10], None], g, unparsed='drop')['acc@0.5'] == 0.5
    with pytest.raises(MetricError, match=r"pred\[1\]=\[10, 0, 0, 10\] has x2 < x1"):
        rec_metrics([[0, 0, 10, 10], [10, 0, 0, 10], None], g, invalid='raise')
    assert tvg_metrics([[1, 1]], [[1, 1]], same=0.0)['mIoU'] == 0.0 and tvg_metrics([[1, 1]], [[1, 1]])['mIoU'] == 1.0

def test_stack_tubes_fast_path_equals_general_path():
    "Float-list boxes (read in one marshal pass) and the same boxes as tuples/ints/None (the general path) stack alike."
    rng = np.random.default_rng(0)
    fl = [{int(f): [float(v) for v in np.sort(rng.uniform(0, 50, 4).reshape(2, 2), 0).T.ravel()[[0, 2, 1, 3]]]
           for f in rng.choice(30, rng.integers(0, 10), replace=False)} for _ in range(50)]
    other = [{str(k): (None if i % 7 == 0 else tuple(v)) for i, (k, v) in enumerate(d.items())} for d in fl]
    fl2 = [{k: (None if i % 7 == 0 else v) for i, (k, v) in enumerate(d.items())} for d in fl]
    for frames in (None, range(30)):
        a, b = stack_tubes(fl2, fl[::-1], frames), stack_tubes(other, fl[::-1], frames)
        for x, y in zip(a, b): np.testing.assert_array_equal(x, y)
    with pytest.raises(MetricError, match="are the same frame"):
        stack_tubes([{1: [0., 0., 1., 1.], 1.0000001: [0., 0., 1., 1.]}], [{}])
    with pytest.raises(MetricError, match=r"pred\[0\]\[1\]: expected a box"): stack_tubes([{1: [0., 0., 1.]}], [{}])

def test_defect2_tubedetr_frames_and_scores():
    "TubeDETR's frames are 1/5-s blocks counted from frame 0 (not steps from the clip start); tIoU on native frames."
    from st_toolkit.metrics import tubedetr_frames, tubedetr_scores
    assert tubedetr_frames(4, 30, 30).tolist() == [4, 6, 12, 18, 24]
    B = [0, 0, 10, 10]
    s = tubedetr_scores(tubedetr_frames(0, 30, 30), (6, 20), (10, 30), {k: B for k in range(6, 20)},
                        {6: [50, 50, 60, 60], 12: B, 18: [0, 0, 10, 5]})
    assert s == dict(tiou=10 / 24, viou=1.5 / 3, gt_viou=1.5 / 3)

def _stvg_sample(fps, t0, t1, frames, span, box, qtype=None, **kw):
    meta = dict(fps=fps) | (dict(qtype=qtype) if qtype else {})
    return dict(id=kw.get('id', 's'), task='stvg', question='where?', meta=meta, clip=dict(t0=t0, t1=t1),
                gt=dict(type='boxes', value={f / fps: box(f) for f in frames}, span=span))

def test_defect2_tubedetr_preset_routes_through_tubedetr_rule():
    "The TUBEDETR preset in score_samples gives tubedetr_scores' numbers on a clip whose blocks count from frame 0."
    from st_toolkit.metrics import TUBEDETR, tubedetr_frames, tubedetr_scores
    B, H = [0, 0, 10, 10], [0, 0, 10, 5]
    s = _stvg_sample(30, 4 / 30, 29 / 30, range(6, 20), [6 / 30, 20 / 30], lambda f: B)
    p = dict(span=[10 / 30, 1.0], boxes={k / 30: (B if k < 18 else H) for k in range(10, 30)})
    got = score_samples([s], [p], TUBEDETR)
    # by hand: frames 4, 6, 12, 18, 24; tIoU 10/24 on native frames; truth frames 6, 12, 18, inside the prediction
    # 12 (IoU 1) and 18 (IoU 1/2); union cut at the earlier end [6, 20): 3 frames
    assert [got.samples[0][k] for k in ('tiou', 'viou', 'gt_viou')] == [10 / 24, 1.5 / 3, 1.5 / 3]
    want = tubedetr_scores(tubedetr_frames(4, 30, 30), (6, 20), (10, 30), {k: B for k in range(6, 20)},
                           {k: (B if k < 18 else H) for k in range(10, 30)})
    assert got.samples[0]['viou'] == want['viou'] and got.samples[0]['tiou'] == want['tiou']
    assert got['stvg']['vIoU@0.5'] == 0.0                                           # 0.5 is not > 0.5
    # the old preset (5 fps stepped from the clip start, 5 fps tIoU) gives other numbers on the same sample
    old = score_samples([s], [p], Protocol(fps=5, max_frames=200, strict=True)).samples[0]
    assert old['tiou'] != 10 / 24

def _preset_cases():
    "Spans that tell the presets apart: a zero-length span, an inverted span, a tie at 0.5, an unparsed answer."
    tv = [dict(id=f't{i}', task='tvg', question='when?', gt=dict(type='span', value=g))
          for i, g in enumerate([[2, 2], [0, 2], [0, 2], [0, 2]])]
    return tv, [[2, 2], [2, 0], [1, 2], None]

@pytest.mark.parametrize('name, tious, r05', [
    ('default', [1.0, None, 0.5, None], 0.5),
    ('llava-st', [1.0, None, 0.5, None], 0.25),                 # `>`: the tie at 0.5 misses
    ('lmms-eval-charades', [0.0, 1.0, 0.5, None], 0.5),         # 0/0 scores 0; the inverted span is read reversed
    ('tubedetr', [1.0, None, 0.5, None], 0.25),
    ('stcat', [1.0, None, 0.5, None], 0.25)])
def test_presets_on_spans(name, tious, r05):
    from st_toolkit.evaluate import PRESETS
    tv, ans = _preset_cases()
    c = score_samples(tv, ans, PRESETS[name])
    assert [s.get('tiou') for s in c.samples] == tious and c['tvg']['R@0.5'] == r05
    assert c['tvg']['unparsed'] == 1 and c['tvg']['n_scored'] == 4

def test_presets_on_a_boundary_frame_tube():
    "One tube, every preset: each gives its own hand-computed vIoU."
    from st_toolkit.evaluate import PRESETS
    B = [0, 0, 10, 10]
    s = _stvg_sample(10, 0, 3, range(10, 21), [1.0, 2.0], lambda f: B, qtype='interrogative')
    p = dict(span=[1.5, 2.5], boxes={f / 10: B for f in range(15, 26)})
    v = {n: score_samples([s], [p], PRESETS[n]).samples[0]['viou'] for n in ('default', 'tubedetr', 'stcat')}
    # own frames: 6 in both (15..20) of 16 (10..25); TubeDETR: frames 16, 18 of 10..18 (cut at 20); STCAT: 15..19
    # (its last gt frame 20 is out) over 25 - 10
    assert v == dict(default=6 / 16, tubedetr=2 / 5, stcat=5 / 15)
    g = {n: score_samples([s], [p], PRESETS[n])['stvg']['interrogative:m_gt_vIoU']
         for n in ('default', 'tubedetr', 'stcat')}
    assert g == dict(default=6 / 11, tubedetr=2 / 5, stcat=6 / 11)

def test_spatialrgpt_preset_epsilon():
    from st_toolkit.metrics import SPATIALRGPT
    q = [dict(id=f'q{i}', task='width', question='how wide?', gt=dict(type='quantity', value=g, unit='m'))
         for i, g in enumerate([0.0004, 0.0, 2.0])]
    ans = [0.00052, 0.00002, None]
    assert [s.get('within') for s in score_samples(q, ans, SPATIALRGPT).samples] == [True, True, False]
    assert [s.get('within') for s in score_samples(q, ans).samples] == [False, False, False]
    assert score_samples(q, ans, SPATIALRGPT)['width']['acc'] == 2 / 3              # unparsed stays a failure

def test_gt_viou_and_question_types_in_general_scoring():
    "gt_vIoU (vIoU with perfect timing) and per-question-type means come out of the default STVG scoring."
    B = [0, 0, 10, 10]
    s1 = _stvg_sample(10, 0, 3, range(10, 21), [1.0, 2.0], lambda f: B, qtype='declarative', id='a')
    s2 = _stvg_sample(10, 0, 3, range(10, 21), [1.0, 2.0], lambda f: B, qtype='interrogative', id='b')
    p = dict(span=[1.5, 2.5], boxes={f / 10: B for f in range(15, 26)})
    c = score_samples([s1, s2], [p, None])
    assert c.samples[0]['gt_viou'] == 6 / 11 and c['stvg']['m_gt_vIoU'] == 3 / 11
    assert c['stvg']['declarative:m_gt_vIoU'] == 6 / 11 and c['stvg']['interrogative:m_vIoU'] == 0.0
    assert c['stvg']['declarative:n'] == 1 and c['stvg']['gt_vIoU@0.5'] == 0.5
    r = stvg_metrics(np.array([[B, B]], float), np.array([[B, [np.nan] * 4]], float))
    assert r['m_gt_vIoU'] == 1.0 and r['m_vIoU'] == 0.5

def test_batched_paths_equal_per_sample_paths(monkeypatch):
    """The column paths (spans in one pass, own-frame tubes as flat rows) give the per-sample paths' cards exactly,
    on answers with rounded times, None boxes, duplicate frames, inverted boxes, bad spans and unparsed answers."""
    import st_toolkit.metrics as M
    rng = np.random.default_rng(3)
    B = lambda: [float(v) for v in np.r_[rng.uniform(0, 50, 2), rng.uniform(50, 99, 2)].round(1)]
    ss, ps = [], []
    for i in range(60):
        gt = {round(f / 7, 6): B() for f in range(int(rng.integers(0, 5)), int(rng.integers(5, 15)))}
        kind = i % 6
        p = {round(t + rng.choice([0, 0.01, -0.02, 0.2]), 2): (None if rng.random() < 0.1 else B()) for t in gt}
        if kind == 1: p = None
        elif kind == 2: p = dict(span=[2.0, 1.0], boxes=p)                         # a bad span: invalid
        elif kind == 3: p = {**p, 0.0: [5.0, 5.0, 1.0, 9.0]}                        # an inverted box: invalid
        elif kind == 4: p = dict(span=[0.0, 1.0], boxes={str(k): v for k, v in p.items()})
        ss.append(dict(id=f's{i}', task='stvg', meta=dict(qtype=['declarative', 'interrogative'][i % 2]),
                       gt=dict(type='boxes', value=gt, span=[0.0, 2.0])))
        ps.append(p)
    tv = [dict(id=f't{i}', task='tvg', gt=dict(type='span', value=[float(i % 5), float(i % 5 + 2)])) for i in range(40)]
    tp = [None if i % 7 == 0 else [float(i % 3), float(i % 4)] for i in range(40)]
    for pr in (Protocol(), Protocol(unparsed='drop', invalid='drop'), Protocol(strict=True, stvg_thresholds=(0.2,))):
        fast = score_samples(ss + tv, ps + tp, pr).to_dict()
        with monkeypatch.context() as m:
            m.setattr(M, '_tubes_fast', lambda *a: None); m.setattr(M, '_read_spans_fast', lambda *a: None)
            slow = score_samples(ss + tv, ps + tp, pr).to_dict()
        assert fast == slow
    assert fast['tasks']['stvg']['invalid'] == 20 and fast['tasks']['stvg']['unparsed'] == 10

def test_native_presets_keep_the_predicted_tube_edges_at_30fps():
    "Times k/30 are stored rounded to 1e-6; the predicted tube's first and last frames still count (STCAT, TubeDETR)."
    from st_toolkit.metrics import STCAT
    B = [0, 0, 10, 10]
    s = _stvg_sample(30, 0, 1, range(10, 21), None, lambda f: B)
    p = {k / 30: B for k in range(15, 26)}
    r = score_samples([s], [p], STCAT).samples[0]
    assert (r['viou'], r['gt_viou']) == (5 / 15, 6 / 11)     # frames 15..19 of [10, 25); gt frames 15..20 of 10..20
