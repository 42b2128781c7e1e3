"The parse test set case by case, every unit word, and readers that never raise on any text."
import json
from pathlib import Path
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from st_toolkit.kinematics import UNITS, SI_UNIT
from st_toolkit.parse import (parse_quantity, parse_clock, parse_yes_no, parse_same_different, parse_choice, parse_span,
                              parse_time, parse_boxes, parse_answer, parse_tube, words_to_digits, _UNIT_WORDS, _UNITS)

CASES = json.loads((Path(__file__).resolve().parents[1] / 'data_samples' / 'parse_cases.json').read_text())['cases']
READ = dict(quantity=lambda c: parse_quantity(c['text'], **c.get('kwargs', {})), clock=lambda c: parse_clock(c['text']),
            yes_no=lambda c: parse_yes_no(c['text']), same_different=lambda c: parse_same_different(c['text']),
            choice=lambda c: parse_choice(c['text'], c['options']), span=lambda c: parse_span(c['text'], **c.get('kwargs', {})),
            boxes=lambda c: parse_boxes(c['text'], **c.get('kwargs', {})))

def test_case_set_size():
    assert len(CASES) >= 100 and {c['kind'] for c in CASES} == set(READ)

@pytest.mark.parametrize('case', CASES, ids=[f"{i}-{c['kind']}" for i, c in enumerate(CASES)])
def test_case(case):
    got, exp = READ[case['kind']](case), case['expected']
    if exp is None: assert got is None; return
    assert got is not None, case['text']
    if case['kind'] == 'quantity':
        assert got[1] == exp[1] and got[0] == pytest.approx(exp[0], rel=1e-9, abs=1e-12)
    elif case['kind'] in ('span', 'boxes'): np.testing.assert_allclose(np.asarray(got, float), np.asarray(exp, float), atol=1e-6)
    else: assert got == exp

WORDS = [(w, u) for u, ws in _UNIT_WORDS.items() for w in ws.split() if _UNITS[u][1] != 'time']

@settings(max_examples=400, deadline=None)
@given(st.sampled_from(WORDS), st.floats(0, 99_999, allow_nan=False).map(lambda x: round(x, 2)),
       st.sampled_from(['{} {}', '{}{}', 'about {} {}.', 'The object moved {} {} between 2 s and 5 s.', 'At 3.5 seconds: {} {}']))
def test_every_unit_word(wu, v, tmpl):
    "Each unit word, after any number, reads back as that number in SI; timestamps around it are ignored."
    w, u = wu
    got = parse_quantity(tmpl.format(v, w))
    assert got is not None and got[1] == SI_UNIT[_UNITS[u][1]]
    assert got[0] == pytest.approx(v * _UNITS[u][0], rel=1e-9, abs=1e-12)

@pytest.mark.parametrize('n,text', [(0, 'zero'), (7, 'seven'), (13, 'thirteen'), (40, 'forty'), (99, 'ninety-nine'),
                                    (105, 'one hundred and five'), (2500, 'two thousand five hundred'), (21.5, 'twenty-one point five'),
                                    (3.25, 'three point two five'), (2.5, 'two and a half'), (0.5, 'half')])
def test_number_words(n, text):
    assert float(words_to_digits(text + ' metres').split()[0]) == n

@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120))
def test_never_raises(text):
    "Any text gives a value or None, never an exception."
    parse_quantity(text); parse_quantity(text, want='m/s', default_unit='km/h'); parse_clock(text)
    parse_yes_no(text); parse_same_different(text); parse_choice(text, ['the red box', 'object B'])
    for fmt in ('auto', 'seconds', 'llava_st', 'qwen3'): parse_span(text, fmt, 10); parse_time(text, fmt, 10)
    for fmt in ('auto', 'qwen25', 'qwen2', 'llava_st', 'norm'): parse_boxes(text, fmt, 640, 480)
    parse_answer(text, dict(gt=dict(type='quantity', unit='m'), meta={}))

@pytest.mark.parametrize('bad', [None, 3, b'12 m', ['12 m'], '', ' '])
def test_non_text_is_none(bad):
    assert parse_quantity(bad) is None and parse_clock(bad) is None and parse_yes_no(bad) is None
    assert parse_choice(bad, ['a', 'b']) is None and parse_span(bad, 'seconds') is None and parse_boxes(bad, 'qwen25') is None


# --- issue 17: parser defects, each with the real-looking answer (each fails on the code before the fix) ----------
def test_defect4_span_without_boxes_is_kept():
    assert parse_tube('The man runs in {<t0.10>,<t0.35>} but I cannot see him.', 'llava_st', duration=20) == \
        dict(span=(2.0, 7.0), boxes={})

def test_defect6_inches_span_wording_plain_box():
    assert parse_quantity('Region [0] is 35.9 inches wide.')[0] == pytest.approx(35.9 * 0.0254, rel=1e-12)
    assert parse_quantity('It is 10 inches tall.') == (10 * 0.0254, 'm')
    assert sorted(w for u in ('mm', 'cm', 'm', 'km', 'in', 'ft', 'yd', 'mi') for w in [u] if u in _UNITS) == \
        sorted(['mm', 'cm', 'm', 'km', 'in', 'ft', 'yd', 'mi'])                       # every benchmark length unit
    assert parse_span('Starting time: 0.8 seconds\nEnding time: 1.1 seconds') == (0.8, 1.1)   # lmms-eval reads it
    assert parse_boxes('43,378,996,957 cakes')[0].tolist() == [43, 378, 996, 957]          # Qwen2.5-VL cookbook

def test_defect7_normalised_times_count_from_the_clip():
    s = dict(gt=dict(type='span', value=[8, 9.5]), meta=dict(codec='llava_st_bins', duration=299 / 30, time_offset=4.0))
    t0, _ = parse_answer('{<TEMP-050>,<TEMP-060>}', s)
    assert t0 == pytest.approx((120 + 50 / 99 * 299) / 30, abs=1e-9)                        # 9.03 s, not 7.07 s
    assert parse_span('{<TEMP-050>,<TEMP-060>}', 'llava_st_bins', duration=299 / 30, offset=4.0)[0] == pytest.approx(t0)


def test_scientific_notation_is_one_number():
    "'2.5e-1 km' is 0.25 km (it was read as a range 2.5 to 1 km); '1e3 m' is 1000 m (it was 1 with no unit)."
    from st_toolkit.parse import parse_quantity
    assert parse_quantity('1e3 m') == (1000.0, 'm')
    assert parse_quantity('2.5e-1 km') == (250.0, 'm')
    assert parse_quantity('about 1.2E2 meters') == (120.0, 'm')
    assert parse_quantity('3 e-scooters moved 4 m') == (4.0, 'm')
