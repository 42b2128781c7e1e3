"""Every public reader of `st_toolkit.parse` runs in linear time on hostile text: model answers are untrusted, and a
degenerate generation (a megabyte of spaces, a word repeated thousands of times, nested brackets, digits of another
script) must not stall an evaluation. Each reader gets 1 MB adversarial strings and must finish each within a generous
CPU-time bound (`time.process_time`, not wall clock: the machine is shared); the CPU time at 1 MB must also stay
within a loose multiple of the time at 256 KB (linear: 4x; the quadratic patterns this replaced: 16x or more)."""
import time
import pytest
from st_toolkit import parse as P
from st_toolkit.coords import CODECS

MB = 2**20
CPU_LIMIT = 10.0      # seconds of CPU per call at 1 MB (the readers take under 2 s; a quadratic one takes hours)
SCALE_LIMIT = 8.0     # CPU(1 MB) / CPU(256 KB) summed over all inputs; linear is 4, quadratic 16
OPTS = ['the red box', 'the blue box']

def _fill(unit, n):
    "`unit` repeated to `n` characters."
    return (unit * (n // len(unit) + 1))[:n]

def adversarial(n):
    "Hostile strings of about `n` characters, by name: runs, repeats, nesting and foreign digits."
    return {
        'spaces': 'about' + ' ' * n + 'meters',                    # the `_PLUSMINUS` hang
        'newlines': 'one' + '\n' * n + 'x',                        # the `_LONE_OK` hang
        'at_hour': 'at 5' + ' ' * n + 'x',                         # the `_AT_HOUR` lookahead
        'mentions': _fill('red ', n),                              # `parse_choice` re-searching the prefix
        'negated': _fill('not red ', n),
        'one_runs': _fill('one' + ' ' * 61, n),
        'numbers': _fill('5 ' + ' ' * 30, n),
        'ranges': _fill('3 m to ', n),
        'plusminus': _fill('8 ± ', n),
        'brackets': '[' * (n // 2) + ']' * (n // 2),
        'parens': '(' * (n // 2) + '1, 2' + ')' * (n // 2),
        'lists': _fill('[1, 2, 3, 4', n),
        'tags': _fill('<t0.', n),
        'arabic': _fill('٣٫٥ ', n),
        'fullwidth': _fill('１２ ', n),
        'letters': _fill('A ', n),
        'digits': '1' * n,
        'dots': _fill('1.', n),
        'colons': _fill('1:', n),
        'tabs_mixed': _fill('\t \r\n', n) + 'km',
        'json': '{"bbox_2d": [' * (n // 14),
        'box_tokens': _fill('<|box_start|>(', n),
        'between': 'between 1' + ' ' * n + 'and',
    }

SAMPLES = dict(quantity=dict(gt=dict(type='quantity', value=1.0, unit='m'), meta={}),
               clock=dict(gt=dict(type='clock', value=3)),
               choice=dict(gt=dict(type='choice', value='the red box', options=OPTS)),
               span=dict(gt=dict(type='span', value=[1, 2]), meta=dict(duration=10)),
               tube=dict(task='stvg', gt=dict(type='boxes', value={'0': [0, 0, 1, 1], '1': [0, 0, 1, 1]}),
                         meta=dict(width=100, height=100, duration=10)),
               text=dict(gt=dict(type='text', value='x')))

READERS = {
    'words_to_digits': P.words_to_digits,
    'parse_quantity': P.parse_quantity,
    'parse_quantity_want': lambda s: P.parse_quantity(s, want='m/s', default_unit='km/h'),
    'parse_clock': P.parse_clock,
    'parse_yes_no': P.parse_yes_no,
    'parse_same_different': P.parse_same_different,
    'parse_choice': lambda s: P.parse_choice(s, OPTS),
    'parse_choice_letters': lambda s: P.parse_choice(s, ['object A', 'object B']),
    'parse_span': lambda s: P.parse_span(s, 'auto', 10),
    'parse_time': lambda s: P.parse_time(s, 'auto', 10),
    'parse_boxes': lambda s: P.parse_boxes(s, 'auto', 100, 100),
    'parse_tube': lambda s: [P.parse_tube(s, f, 10, 100, 100) for f in ('auto', *CODECS)],   # every codec's reader
    'parse_answer': lambda s: [P.parse_answer(s, smp) for smp in SAMPLES.values()],
}

def test_every_public_reader_is_covered():
    "A new public parse function must join the fuzz table."
    assert set(P.__all__) - {'unit_of'} <= {k.split('_want')[0].split('_letters')[0] for k in READERS}

def cpu(fn, s):
    "CPU seconds `fn(s)` takes."
    t0 = time.process_time()
    fn(s)
    return time.process_time() - t0

@pytest.mark.parametrize('name', list(READERS))
def test_reader_is_linear_on_hostile_text(name):
    fn = READERS[name]
    small = {k: cpu(fn, s) for k, s in adversarial(MB // 4).items()}
    big = {k: cpu(fn, s) for k, s in adversarial(MB).items()}
    slow = {k: round(v, 2) for k, v in big.items() if v > CPU_LIMIT}
    assert not slow, f'{name}: CPU seconds over {CPU_LIMIT} on 1 MB inputs: {slow}'
    ratio = sum(big.values()) / max(sum(small.values()), 0.05)
    assert ratio < SCALE_LIMIT, f'{name}: CPU(1 MB) / CPU(256 KB) = {ratio:.1f}; per input: ' + \
        ', '.join(f'{k} {small[k]:.3f}->{big[k]:.3f}' for k in big)

def test_hostile_text_still_reads_right():
    "The rewritten patterns read what the old ones read around long runs."
    assert P.parse_quantity('about' + ' ' * 5000 + '12 meters') == (12.0, 'm')
    assert P.parse_quantity('8' + ' ' * 5000 + '± 1 m') == (8.0, 'm')
    assert P.parse_clock('at 5' + ' ' * 3000 + 'x') == 5
    assert P.parse_clock('at 5' + ' ' * 3000 + '- meters') is None
    assert P.parse_choice('not red,' + '\n' * 5000 + 'blue', OPTS) == 'the blue box'
    assert P.parse_choice('red ' * 3000, OPTS) == 'the red box'
    assert P.words_to_digits('one' + '\n' * 1000 + 'metre') == '1' + '\n' * 1000 + 'metre'
