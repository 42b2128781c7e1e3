"Property tests of the coordinate codecs, with more and randomised examples than the notebook runs."
import re
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from st_toolkit.coords import CODECS, get_codec, box_precision, time_precision, sniff_format, CodecError

BOX_FMTS = [n for n, c in CODECS.items() if c.has_boxes]
SLACK = 1 + 1e-9

@st.composite
def image_box(draw):
    "An image size and a box inside it (possibly degenerate, possibly touching the edges)."
    W, H = draw(st.integers(1, 8192)), draw(st.integers(1, 8192))
    xs = sorted(draw(st.floats(0, W)) for _ in range(2)); ys = sorted(draw(st.floats(0, H)) for _ in range(2))
    return W, H, np.array([xs[0], ys[0], xs[1], ys[1]])

def spaced(text, rng):
    "`text` with whitespace added around separators, as a model might write it."
    return re.sub(r'([,\[\](){}:])', lambda m: ' ' * rng.integers(0, 3) + m.group(1) + '\n' * rng.integers(0, 2), text)

@settings(max_examples=1000, deadline=None)
@given(image_box(), st.sampled_from(BOX_FMTS), st.integers(0, 2**32 - 1))
def test_box_round_trip(wb, fmt, seed):
    W, H, b = wb; c = get_codec(fmt); ex, ey = box_precision(fmt, W, H)
    txt = c.format_box(b, W, H)
    (got,) = c.parse_boxes(txt, W, H)
    assert np.all(np.abs(got - b) <= np.array([ex, ey, ex, ey]) * SLACK + 1e-9), (txt, got, b)
    assert c.format_box(got, W, H) == txt   # writing what was read gives the same text
    np.testing.assert_allclose(c.parse_box(spaced(txt, np.random.default_rng(seed)), W, H), got)

@settings(max_examples=300, deadline=None)
@given(st.lists(image_box(), min_size=1, max_size=6), st.sampled_from(BOX_FMTS),
       st.lists(st.text(st.characters(categories=['L', 'N', 'Zs']), min_size=1, max_size=12), min_size=6, max_size=6))
def test_many_boxes_with_labels(wbs, fmt, labels):
    W, H = wbs[0][:2]
    boxes = [np.minimum(b, [W, H, W, H]) for *_, b in wbs]
    c = get_codec(fmt); labels = [l.strip() or 'x' for l in labels[:len(boxes)]]
    got = c.parse_labeled(c.format_boxes(boxes, W, H, labels=labels), W, H)
    assert len(got) == len(boxes)
    ex, ey = box_precision(fmt, W, H)
    for (l, g), b, l0 in zip(got, boxes, labels):
        assert np.all(np.abs(g - b) <= np.array([ex, ey, ex, ey]) * SLACK + 1e-9)
        if fmt in ('qwen25', 'qwen3', 'qwen2'): assert l == l0

@settings(max_examples=1000, deadline=None)
@given(st.floats(0.1, 100_000), st.floats(0, 1), st.floats(0, 1), st.sampled_from(list(CODECS)))
def test_span_and_time_round_trip(dur, a, b, fmt):
    c = get_codec(fmt); t0, t1 = sorted((a * dur, b * dur)); e = time_precision(fmt, dur)
    pd = dur if c.time_range else None
    txt = c.format_span(t0, t1, dur)
    ((s0, s1),) = c.parse_spans(txt, pd)
    assert abs(s0 - t0) <= e * SLACK + 1e-9 and abs(s1 - t1) <= e * SLACK + 1e-9, (txt, s0, s1, t0, t1)
    assert c.format_span(s0, s1, dur) == txt
    (u,) = c.parse_times(c.format_time(t0, dur), pd)
    assert abs(u - t0) <= e * SLACK + 1e-9

@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200), st.sampled_from(list(CODECS)))
def test_reading_never_raises(text, fmt):
    c = get_codec(fmt)
    assert isinstance(c.parse_spans(text, 10), list) and isinstance(c.parse_times(text, 10), list)
    if c.has_boxes:
        for b in c.parse_boxes(text, 640, 480): assert b.shape == (4,) and b[0] <= b[2] and b[1] <= b[3]
    sniff_format(text)

@pytest.mark.parametrize('fmt', BOX_FMTS)
def test_sniff_finds_own_format(fmt):
    c = get_codec(fmt)
    txt = c.format_box([10, 20, 300, 200], 640, 480, label='car')
    assert get_codec(sniff_format(txt)).parse_boxes(txt, 640, 480)   # the sniffed codec reads the answer

@pytest.mark.parametrize('bad', [[1, 2, 3], [0, 0, np.inf, 1], [5, 0, 1, 1], 'abcd', None])
def test_bad_boxes_raise(bad):
    with pytest.raises(CodecError): get_codec('llava_st').format_box(bad, 640, 480)
