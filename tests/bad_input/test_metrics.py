"""Bad inputs to the metrics: spans, boxes, hours and numbers that cannot be scored, lists that do not pair up, and
unknown settings. Each raises `MetricError` naming the argument and the bad value (or both lengths)."""
import numpy as np
import pytest
from st_toolkit.metrics import (MetricError, temporal_iou, box_iou, within, mra, clock_error, clock_metrics,
                                quantity_metrics, choice_accuracy, score_samples, tvg_metrics, rec_metrics, align_tube,
                                stvg_ious, sample_frames)
from ._check import expect_error

def _q(i, v=1.0): return dict(id=f's{i}', task='distance', gt=dict(type='quantity', value=v, unit='m'))

CASES = [   # (id, call, names)
    ('span_nan', lambda: temporal_iou([float('nan'), 1], [0, 1]), ['a=[nan, 1]', 'not finite']),
    ('span_reversed', lambda: temporal_iou([3, 1], [0, 1]), ['a=[3, 1]', 'ends before it starts']),
    ('span_three', lambda: temporal_iou([1, 2, 3], [0, 1]), ['a: spans must have shape', '(3,)']),
    ('box_inf', lambda: box_iou([0, 0, np.inf, 1], [0, 0, 1, 1]), ['a=[0, 0, inf, 1]', 'not finite']),
    ('box_inverted', lambda: box_iou([5, 0, 1, 1], [0, 0, 1, 1]), ['a=[5, 0, 1, 1]', 'x2 < x1']),
    ('box_three', lambda: box_iou([0, 0, 1], [0, 0, 1, 1]), ['a: boxes must have shape', '(3,)']),
    ('gt_nan', lambda: within([1.0], [float('nan')]), ['gt[0]=nan', 'not finite']),
    ('gt_text', lambda: within([1.0], ['x']), ['gt', "['x']"]),
    ('pred_text', lambda: quantity_metrics(['ten'], [1.0]), ['pred', "['ten']"]),
    ('rel_negative', lambda: within(1.0, 1.0, rel=-1), ['rel=-1']),
    ('mra_arith', lambda: mra(1.0, 1.0, arith='binary'), ["arith='binary'"]),
    ('clock_13', lambda: clock_error(13, 3), ['pred_h=13', 'clock hour']),
    ('clock_fraction', lambda: clock_error(2.5, 3), ['pred_h=2.5']),
    ('quantity_lengths', lambda: quantity_metrics([1, 2], [1]), ['quantity_metrics', 'pred has 2', 'gt has 1']),
    ('quantity_lengths_long', lambda: quantity_metrics([1.0] * 5, [1.0] * 7), ['pred has 5', 'gt has 7']),
    ('clock_lengths', lambda: clock_metrics([1], [1, 2]), ['clock_metrics', 'pred has 1', 'gt has 2']),
    ('unparsed_policy', lambda: quantity_metrics([1], [1], unparsed='skip'), ["unparsed='skip'"]),
    ('choice_lengths', lambda: choice_accuracy(['a'], ['a', 'b']), ['1 predictions for 2 answers']),
    ('gt_type_unknown', lambda: score_samples([dict(id='s1', task='x', gt=dict(type='vector', value=1))], [1]),
     ["sample 's1'", "gt type 'vector'"]),
    ('answers_count', lambda: score_samples([_q(1)], [1, 2]), ['2 answers for 1 samples']),
    ('tvg_lengths', lambda: tvg_metrics([[0, 1]], [[0, 1], [1, 2]]), ['1 predictions for 2 ground-truth spans']),
    ('rec_lengths', lambda: rec_metrics([[0, 0, 1, 1]], [[0, 0, 1, 1]] * 2),
     ['1 predictions for 2 ground-truth boxes']),
    ('tube_key_text', lambda: align_tube({'a': [0, 0, 1, 1]}, [0, 1]), ["frame key 'a'"]),
    ('stvg_shapes', lambda: stvg_ious(np.zeros((3, 4)), np.zeros((2, 4))), ['(3, 4)', '(2, 4)']),
    ('clip_reversed', lambda: sample_frames(3, 1, 5), ['clip [3, 1]', 'ends before it starts']),
]

@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_bad_metric_input(case):
    name, fn, names = case
    expect_error(fn, MetricError, *names)

def test_inf_prediction_is_scored_not_unparsed():
    "Not a bad input but a bad value: an infinite prediction counts as a (wrong) answer."
    card = score_samples([_q(1, 4.0), _q(2, 4.0)], [float('inf'), None])
    t = card.tasks['distance']
    assert (t['unparsed'], t['invalid'], t['acc']) == (1, 0, 0.0)
    assert quantity_metrics([np.inf], [4.0])['unparsed'] == 0
