"""Bad inputs to `parse`. A reader never raises on the answer text (hostile text is covered, for time, by
tests/test_parse_fuzz.py), but a format name that is no codec is a bug in the caller: it raises `CodecError`
naming it."""
import pytest
from st_toolkit.coords import CodecError
from st_toolkit.parse import parse_span, parse_time, parse_boxes, parse_tube, parse_quantity
from ._check import expect_error

CASES = [   # (id, call, the bad name)
    ('span_codec', lambda: parse_span('from 1s to 2s', 'qwen9'), 'qwen9'),
    ('time_codec', lambda: parse_time('at 1s', 'frames'), 'frames'),
    ('boxes_codec', lambda: parse_boxes('[1, 2, 3, 4]', 'yolo'), 'yolo'),
    ('tube_codec', lambda: parse_tube('1s: [1, 2, 3, 4]', 'hours'), 'hours'),
    ('span_codec_case', lambda: parse_span('{<t0.1>,<t0.2>}', 'LLaVA-ST'), 'LLaVA-ST'),
]

@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_unknown_codec_is_named(case):
    name, fn, bad = case
    expect_error(fn, CodecError, f'unknown codec {bad!r}', 'known codecs')

UNITS = [   # (id, call, the bad name): a unit the reader does not know would read every answer as None
    ('want_unit', lambda: parse_quantity('3 m', want='parsecs'), 'parsecs'),
    ('want_quantity', lambda: parse_quantity('3 m', want='volume'), 'volume'),
    ('default_unit', lambda: parse_quantity('3', default_unit='metres'), 'metres'),
]

@pytest.mark.parametrize('case', UNITS, ids=[c[0] for c in UNITS])
def test_unknown_unit_is_named(case):
    name, fn, bad = case
    expect_error(fn, ValueError, repr(bad), 'expected')
