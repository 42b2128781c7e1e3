"Run every notebook in `nbs/` as one pytest item, skipping cells flagged in `tst_flags` (slow, gpu)."
import os, warnings
from pathlib import Path
import pytest
from nbdev.config import get_config
import nbdev.test as nbt   # a module import: pytest would collect a bare `test_nb` as a test

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT / 'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts and not p.name.startswith('_'))

@pytest.mark.parametrize('nb', NBS, ids=[p.relative_to(ROOT / 'nbs').as_posix() for p in NBS])
def test_notebook(nb):
    "The notebook runs top to bottom and every test cell passes."
    force = os.environ.get('ST_TEST_FLAGS', '').split()   # e.g. ST_TEST_FLAGS="slow gpu" on a GPU machine
    skip = str(get_config(ROOT).tst_flags).split()
    with warnings.catch_warnings(record=True):   # a warning class defined in a notebook lives in its `__main__`,
        warnings.simplefilter('always')          # which pytest-xdist's controller cannot unpickle: keep them here
        ok, secs = nbt.test_nb(nb, skip_flags=skip, force_flags=force, basepath=ROOT)
    assert ok, f'{nb.name} failed (traceback above)'
