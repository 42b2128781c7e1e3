"""Shared test policy: browser tests need Debian's headless Chromium. Without it they skip and say why, unless
`ST_REQUIRE_BROWSER=1` is set (as `.ci/run` does), when they fail instead."""
import os
from pathlib import Path
import pytest

CHROMIUM = Path(os.environ.get('ST_CHROMIUM', '/usr/bin/chromium'))

def browser_missing():
    "Why the browser tests cannot run here, or None when they can."
    if not CHROMIUM.exists(): return f'headless browser tests need Debian chromium at {CHROMIUM} (apt-get install chromium)'
    try: import playwright.sync_api  # noqa: F401
    except ImportError: return 'headless browser tests need playwright (pip install -e ".[dev]")'

def pytest_runtest_setup(item):
    "Skip (or, with ST_REQUIRE_BROWSER=1, fail) a `browser` test when no headless browser is available."
    if item.get_closest_marker('browser') is None or (why := browser_missing()) is None: return
    if os.environ.get('ST_REQUIRE_BROWSER') == '1': pytest.fail(f'ST_REQUIRE_BROWSER=1 but {why}', pytrace=False)
    pytest.skip(why)
