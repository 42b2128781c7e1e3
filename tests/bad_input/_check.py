"""The bad-input suite's one assertion: a bad input raises the named error class, and its message names the bad item
(the file, the record, the field or the value). Each `test_*.py` here holds a table of cases, one per distinct bad
input, for one module; `tests/test_bad_input_count.py` checks that the tables together hold at least 150."""
import pytest

def expect_error(fn, # a callable that must fail
                 exc, # the error class (or tuple of classes) it must raise
                 *names): # strings the message must contain: the file, record, field or value
    "Call `fn()`; assert it raises `exc` and that every one of `names` is in the message."
    with pytest.raises(exc) as e: fn()
    msg = str(e.value)
    missing = [n for n in names if str(n) not in msg]
    assert not missing, f'{type(e.value).__name__} message {msg!r} does not name {missing}'
    return msg
