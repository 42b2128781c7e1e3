"""Objects built from crafted files display as text, never as markup that runs. A small notebook displays each object
of `DISPLAYED` (a Scene read from a scene file whose ids, categories, colours and name are script payloads; a report
card whose task names are), is executed and exported to HTML by nbconvert, and the page is opened in headless
Chromium (Debian's, driven by Playwright): no dialog may fire, and no element the payloads would create may exist.
A control page that displays the raw payloads unescaped must trip both checks, so the checks can fail.

To check another displayed object, add an entry to `DISPLAYED`: a name and the Python source of an expression that
builds it; `{folder}` in the source is the folder holding `crafted_scene.json` (see `crafted_files`)."""
import json
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
from conftest import CHROMIUM

pytestmark = pytest.mark.browser    # skipped without chromium, failed with ST_REQUIRE_BROWSER=1 (tests/conftest.py)

PAYLOADS = ['<img src=x onerror=alert(1)>', '<script>alert(2)</script>', '<svg onload=alert(3)>',
            '"><img src=y onerror=alert(4)>', '[click](javascript:alert(5))', '<iframe src="javascript:alert(6)">']
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking']

# name -> Python source of an expression that builds the object to display
DISPLAYED = {
    'scene': "Scene.from_json(r'{folder}/crafted_scene.json')",
    'report_card': "score_samples([dict(id=f's{{i}}', task=p, gt=dict(type='quantity', value=2.0, unit=p)) "
                   "for i, p in enumerate(PAYLOADS)], [1.9] * len(PAYLOADS), name=PAYLOADS[1])",
}
SETUP = ("import sys\nsys.path.insert(0, {root!r})\nfrom st_toolkit.core import Scene\n"
         "from st_toolkit.metrics import score_samples\nPAYLOADS = {payloads!r}")

def crafted_scene(folder):
    "A scene file whose every user-text field holds a payload."
    from st_toolkit.core import Scene, Track, Event
    tracks = [Track(p, [0, 0.5, 1], [[i, 0, 0]] * 3, category=PAYLOADS[(i + 1) % len(PAYLOADS)],
                    color=PAYLOADS[(i + 2) % len(PAYLOADS)]) for i, p in enumerate(PAYLOADS)]
    events = [Event(PAYLOADS[0], 0, 1, [PAYLOADS[0]])]
    scene = Scene(tracks, fps=10, width=64, height=48, name=PAYLOADS[1], events=events)
    return scene.to_json(folder / 'crafted_scene.json')

def notebook_html(folder, exprs, name):
    "Execute a notebook that displays each expression in `exprs`; its nbconvert HTML export, as a file."
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    setup = SETUP.format(root=str(ROOT), payloads=PAYLOADS)
    cells = [nbformat.v4.new_code_cell(setup)] + [nbformat.v4.new_code_cell(e.format(folder=folder)) for e in exprs]
    nb = nbformat.v4.new_notebook(cells=cells, metadata=dict(kernelspec=dict(name='python3', display_name='python3',
                                                                              language='python')))
    NotebookClient(nb, timeout=300, kernel_name='python3', resources=dict(metadata=dict(path=str(folder)))).execute()
    html, _ = HTMLExporter().from_notebook_node(nb)
    out = folder / f'{name}.html'
    out.write_text(html, encoding='utf-8')
    return out, nb

INJECTED = """() => {
  const bad = [...document.querySelectorAll('img[src="x"], img[src="y"], img[onerror], svg[onload], iframe')];
  const scripts = [...document.querySelectorAll('script')].filter(s => s.textContent.includes('alert('));
  const links = [...document.querySelectorAll('a[href^="javascript:"]')];
  return [...bad, ...scripts, ...links].map(e => e.outerHTML.slice(0, 120));
}"""

def open_page(browser, path):
    "Load `path` offline; returns (dialogs fired, injected elements found, page text)."
    dialogs = []
    page = browser.new_page()
    page.on('dialog', lambda d: (dialogs.append(d.message), d.dismiss()))
    page.route('**/*', lambda r: r.continue_() if r.request.url.startswith(('file:', 'data:', 'about:')) else r.abort())
    try:
        page.goto(Path(path).as_uri(), wait_until='load')
        page.wait_for_timeout(1500)                              # let onerror/onload handlers run
        return dialogs, page.evaluate(INJECTED), page.inner_text('body')
    finally: page.close()

@pytest.fixture(scope='module')
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()

@pytest.fixture(scope='module')
def crafted_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('crafted')
    crafted_scene(folder)
    return folder

def test_crafted_displays_run_no_script(crafted_files, browser):
    path, nb = notebook_html(crafted_files, list(DISPLAYED.values()), 'displays')
    shown = [o for c in nb.cells[1:] for o in c.outputs if o.get('output_type') == 'execute_result']
    assert len(shown) == len(DISPLAYED), [c.outputs for c in nb.cells[1:]]
    dialogs, injected, text = open_page(browser, path)
    assert dialogs == [] and injected == [], (dialogs, injected)
    assert '<img src=x onerror=alert(1)>' in text and '<script>alert(2)</script>' in text   # shown as text

def test_control_page_trips_the_checks(crafted_files, browser):
    "The same payloads displayed raw (unescaped markdown) fire a dialog and leave elements: the checks can fail."
    raw = ["__import__('IPython').display.Markdown(' | '.join(PAYLOADS))"]
    path, _ = notebook_html(crafted_files, raw, 'control')
    dialogs, injected, _ = open_page(browser, path)
    assert dialogs and injected, (dialogs, injected)
