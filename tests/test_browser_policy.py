"""Without a headless browser the browser tests skip and pytest's summary says why; with ST_REQUIRE_BROWSER=1 they
fail instead (what `.ci/run` sets). Checked by running pytest itself with the browser pointed at a missing file."""
import os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pytest(**env):
    "Run the 3D-view browser test in a child pytest with a missing chromium; return its exit code and output."
    e = dict(os.environ, ST_CHROMIUM='/nonexistent/chromium', **env)
    if 'ST_REQUIRE_BROWSER' not in env: e.pop('ST_REQUIRE_BROWSER', None)
    p = subprocess.run([sys.executable, '-m', 'pytest', '-n', '0', '-rs', '-p', 'no:cacheprovider',
                        'tests/test_viz_browser.py::test_trajectories_3d'], cwd=ROOT, env=e, capture_output=True,
                       text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def test_skips_with_the_reason():
    "The test passes as skipped and the summary names what is missing."
    rc, out = _pytest()
    assert rc == 0, out[-2000:]
    assert '1 skipped' in out and 'headless browser tests need Debian chromium at /nonexistent/chromium' in out


def test_required_browser_fails():
    "It fails (a setup error) instead of skipping."
    rc, out = _pytest(ST_REQUIRE_BROWSER='1')
    assert rc == 1, out[-2000:]
    assert '1 error' in out and 'ST_REQUIRE_BROWSER=1 but headless browser tests need' in out
