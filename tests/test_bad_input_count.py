"""The bad-input suite (tests/bad_input) holds at least 150 distinct bad inputs: every case id is counted once."""
import subprocess, sys
from pathlib import Path

def test_suite_size():
    here = Path(__file__).parent
    r = subprocess.run([sys.executable, '-m', 'pytest', '--collect-only', '-q', '-n', '0', '-p', 'no:cacheprovider',
                        str(here / 'bad_input')], capture_output=True, text=True, cwd=here.parent, timeout=300)
    ids = {l.strip() for l in r.stdout.splitlines() if '::' in l}
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert len(ids) >= 150, f'the bad-input suite holds {len(ids)} cases, fewer than 150'
