"""Open the viz module's exported HTML pages in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
each page loads offline with no JavaScript error, its screenshot shows the expected traces, and the slider moves the cursors."""
import io
from pathlib import Path
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
from conftest import CHROMIUM
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--enable-unsafe-swiftshader']   # the last: software WebGL for the 3D views

pytestmark = pytest.mark.browser    # skipped without chromium, failed with ST_REQUIRE_BROWSER=1 (tests/conftest.py)

GD = "document.querySelector('.js-plotly-plot')"
DECODE = """(v => { if (v === undefined || v === null) return null;
  if (v.bdata !== undefined) { const s = atob(v.bdata), b = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
    const T = {f4: Float32Array, f8: Float64Array, i1: Int8Array, u1: Uint8Array, i2: Int16Array, u2: Uint16Array, i4: Int32Array, u4: Uint32Array}[v.dtype];
    return Array.from(new T(b.buffer)); }
  return Array.from(v, x => (x === null ? NaN : x)); })"""

# ------------------------------------------------------------------------------------------------ the pages
def qa_answer(sample):
    "A model answer close to a distance sample's truth."
    return f"It travels about {sample['gt']['value']:.1f} meters."

@pytest.fixture(scope='module')
def pages(tmp_path_factory):
    "Every interactive view, built from the shipped samples and exported to HTML, with the figure it came from."
    from st_toolkit.core import Scene
    from st_toolkit.lift import lift_scene
    from st_toolkit.templates import grounding_qa, kinematic_qa
    from st_toolkit import viz
    d = tmp_path_factory.mktemp('viz_html')
    ego = Scene.from_json(ROOT / 'data_samples/scenes/sample_02.json')        # a moving (ego) camera
    static = Scene.from_json(ROOT / 'data_samples/scenes/sample_00.json')
    pred = lift_scene(ego)                                                     # pseudo-labels: shorter tracks where frames were dropped
    stvg = next(s for s in grounding_qa(static, seed=0) if s['task'] == 'stvg')
    dist = next(s for s in kinematic_qa(static, seed=0) if s['task'] == 'distance')
    pred_tube = {k: [b[0] + 5, b[1], b[2] + 5, b[3]] for k, b in stvg['gt']['value'].items()}
    figs = dict(traj3d=viz.plot_trajectories_3d(ego, pred=pred, max_frames=30),
                merged3d=viz.plot_trajectories_3d(ego, pred=pred, max_frames=30, merge_above=1),
                bev=viz.plot_trajectories_bev(ego, pred=pred, max_frames=30),
                grounding=viz.grounding_view(static.video_path, stvg['gt']['value'], pred_tube, gt_span=stvg['gt']['span'], clip=tuple(stvg['gt']['span']), num_frames=12),
                qa=viz.qa_view(dist, qa_answer(dist), num_frames=6),
                linked=viz.LinkedView(static, max_frames=20).figure())
    return {k: (viz.to_html(f, d / f'{k}.html'), f) for k, f in figs.items()}

@pytest.fixture(scope='module')
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()

class Page:
    "A page opened from a local file, recording JavaScript errors and any attempt to reach the network."
    def __init__(self, browser, path):
        self.errors, self.outside = [], []
        self.page = pg = browser.new_page(viewport=dict(width=1280, height=900))
        pg.on('pageerror', lambda e: self.errors.append(f'pageerror: {e}'))
        pg.on('console', lambda m: self.errors.append(f'console.error: {m.text}') if m.type == 'error' else None)
        pg.route('**/*', self._route)
        pg.goto(Path(path).as_uri())
        pg.wait_for_function(f"() => {{ const g = {GD}; return g && g._fullLayout && g.data && g.data.length > 0; }}", timeout=60_000)
        pg.wait_for_timeout(700)                                   # let WebGL paint
    def _route(self, route):
        url = route.request.url
        if url.startswith(('file:', 'data:', 'blob:')): return route.continue_()
        self.outside.append(url); route.abort()
    def js(self, expr, arg=None): return self.page.evaluate(expr, arg)
    def trace(self, k):
        "x, y (and z) of trace `k` as the page holds them now in `gd.data` (typed arrays sent as base64 are decoded)."
        return self.js(f"""(k) => {{ const d = {GD}.data[k]; return {{x: {DECODE}(d.x), y: {DECODE}(d.y), z: {DECODE}(d.z)}}; }}""", k)
    def animate(self, name):
        self.js(f"""(n) => Plotly.animate({GD}, [n], {{mode: 'immediate', frame: {{duration: 0, redraw: true}}, transition: {{duration: 0}}}})""", name)
        self.page.wait_for_timeout(300)
    def pixels(self):
        from PIL import Image
        return np.asarray(Image.open(io.BytesIO(self.page.screenshot())).convert('RGB')).astype(int)
    def active_step(self): return self.js(f"() => {GD}._fullLayout.sliders[0].active")
    def close(self): self.page.close()

def coloured(img, rgb=None, tol=60):
    "Pixels that are saturated (any colour), or near `rgb`."
    if rgb is None: return (img.max(-1) - img.min(-1)) > 60
    return np.abs(img - np.asarray(rgb)).sum(-1) < tol

def xyz_of(trace):
    return np.array([trace[a] for a in ('x', 'y', 'z') if trace[a] is not None], float).T

def frame_xyz(fig, f, i=0):
    d = fig.frames[f].data[i].to_plotly_json()
    return np.array([np.asarray(d[a], float) for a in ('x', 'y', 'z') if d.get(a) is not None], float).T

def click_slider(pg, frac):
    "Click the slider rail at `frac` of its length, as a user would."
    box = pg.page.locator('.slider-rail-touch-rect').first.bounding_box()
    pg.page.mouse.click(box['x'] + frac * box['width'], box['y'] + box['height'] / 2)
    pg.page.wait_for_timeout(500)

# ------------------------------------------------------------------------------------------------ the tests
def test_pages_are_offline_and_self_contained(pages):
    for name, (path, _) in pages.items():
        text = path.read_text()
        assert 'Plotly.newPlot' in text and '<script src="http' not in text, name
        assert path.stat().st_size < 10e6, (name, path.stat().st_size)

def test_trajectories_3d(pages, browser):
    path, fig = pages['traj3d']
    pg = Page(browser, path)
    try:
        tr = fig.layout.meta['traces']
        assert pg.js(f"() => {GD}.data.length") == len(fig.data)
        assert pg.js(f"() => {GD}.data.map(d => d.name)") == [d.name for d in fig.data]
        assert pg.js(f"() => document.querySelectorAll('.gl-container canvas').length") >= 1
        # the screenshot is not blank, and the coloured track lines are a good part of it
        img = pg.pixels()
        assert img.std() > 20 and coloured(img).sum() > 2000
        pg.js(f"(ks) => Plotly.restyle({GD}, {{visible: false}}, ks)", tr['tracks'] + tr['pred']); pg.page.wait_for_timeout(500)
        assert coloured(pg.pixels()).sum() < 0.7 * coloured(img).sum()      # hiding the tracks removes their colour
        pg.js(f"(ks) => Plotly.restyle({GD}, {{visible: true}}, ks)", tr['tracks'] + tr['pred'])
        # the cursor moves with the slider, to the positions of the Python figure's frames
        k = tr['cursors'][0]
        before = xyz_of(pg.trace(k))
        np.testing.assert_allclose(before, frame_xyz(fig, 0), rtol=1e-6, atol=1e-6)
        click_slider(pg, 0.6)
        f = pg.active_step()
        assert f > 5
        after = xyz_of(pg.trace(k))
        np.testing.assert_allclose(after, frame_xyz(fig, f), rtol=1e-6, atol=1e-6)
        assert np.nanmax(np.abs(after - before)) > 0.5
        pg.animate('25')
        np.testing.assert_allclose(xyz_of(pg.trace(k)), frame_xyz(fig, 25), rtol=1e-6, atol=1e-6)
        # the camera frustum is a cursor too: it moves with the ego camera
        cam = tr['cursors'][-1]
        np.testing.assert_allclose(xyz_of(pg.trace(cam)), frame_xyz(fig, 25, len(tr['cursors']) - 1), rtol=1e-6, atol=1e-6)
        assert pg.errors == [] and pg.outside == []
    finally: pg.close()

def test_play_button_animates(pages, browser):
    path, fig = pages['bev']
    pg = Page(browser, path)
    try:
        cur = fig.layout.meta['traces']['cursors']
        k, last = cur[0], len(fig.frames) - 1
        before = xyz_of(pg.trace(k))
        pg.page.get_by_text('▶ play').click()                     # plays every frame once (never interrupted: an interrupted
        pg.page.wait_for_timeout(600)                             # plotly animation rejects its promise, a page error)
        mid = pg.active_step()
        pg.page.wait_for_function(f"() => {GD}._fullLayout.sliders[0].active === {last}", timeout=30_000)
        pg.page.wait_for_timeout(300)
        assert 0 < mid < last
        np.testing.assert_allclose(xyz_of(pg.trace(k)), frame_xyz(fig, last), rtol=1e-6, atol=1e-6)
        assert not np.allclose(xyz_of(pg.trace(k)), before, equal_nan=True)
        np.testing.assert_allclose(xyz_of(pg.trace(cur[-1])), frame_xyz(fig, last, len(cur) - 1), rtol=1e-6, atol=1e-6)   # the camera wedge
        img = pg.pixels()
        assert img.std() > 20 and coloured(img).sum() > 1000
        assert pg.errors == [] and pg.outside == []
    finally: pg.close()

def test_many_tracks_merged(pages, browser):
    "Above `merge_above` tracks the lines are one trace per layer; the page still draws them and the slider moves the cursors."
    path, fig = pages['merged3d']
    pg = Page(browser, path)
    try:
        tr = fig.layout.meta['traces']
        assert len(tr['tracks']) == 1 and pg.js(f"() => {GD}.data.length") == len(fig.data)
        img = pg.pixels()
        assert img.std() > 20 and coloured(img).sum() > 2000
        k = tr['cursors'][0]
        pg.animate('17')
        np.testing.assert_allclose(xyz_of(pg.trace(k)), frame_xyz(fig, 17), rtol=1e-6, atol=1e-6)
        assert pg.errors == [] and pg.outside == []
    finally: pg.close()

def test_grounding_view(pages, browser):
    path, fig = pages['grounding']
    pg = Page(browser, path)
    try:
        href = "() => document.querySelector('.js-plotly-plot image').getAttribute('href')"
        assert pg.js(href) == fig.frames[0].data[0].source
        m = fig.layout.meta['metrics']
        assert f"tIoU {m['tiou']:.2f}" in pg.js(f"() => {GD}.innerText") or f"tIoU {m['tiou']:.2f}" in pg.js("() => document.body.textContent")
        img = pg.pixels()
        assert coloured(img, (30, 200, 50)).sum() > 300 and coloured(img, (230, 25, 25)).sum() > 300   # the green and red span bars
        click_slider(pg, 0.5)
        f = pg.active_step()
        assert f > 0 and pg.js(href) == fig.frames[f].data[0].source                                    # the frame changed
        cur = fig.layout.meta['traces']['cursors'][1]
        assert pg.trace(cur)['x'] == pytest.approx(list(fig.frames[f].data[1].x))                     # and the timeline cursor
        assert pg.errors == [] and pg.outside == []
    finally: pg.close()

def test_qa_view(pages, browser):
    path, fig = pages['qa']
    pg = Page(browser, path)
    try:
        title = pg.js("() => document.querySelector('.gtitle').textContent")
        assert 'red box' in title and '✔ correct' in title and fig.layout.meta['answer'].startswith('It travels about') and fig.layout.meta['answer'] in title
        img = pg.pixels()
        assert img.std() > 20
        click_slider(pg, 0.9)
        assert pg.active_step() > 0
        assert pg.errors == [] and pg.outside == []
    finally: pg.close()

def test_linked_view(pages, browser):
    path, fig = pages['linked']
    pg = Page(browser, path)
    try:
        cur = fig.layout.meta['traces']['cursors']
        href = "() => document.querySelector('.js-plotly-plot image').getAttribute('href')"
        ann = "() => Array.from(document.querySelectorAll('.annotation-text')).map(e => e.textContent).join('|')"
        a0 = pg.js(ann)
        pg.animate('12')
        assert pg.js(href) == fig.frames[12].data[0].source
        np.testing.assert_allclose(xyz_of(pg.trace(cur[1])), frame_xyz(fig, 12, 1), rtol=1e-6, atol=1e-6)
        a12 = pg.js(ann)
        assert a12 != a0 and 't = ' in a12 and 'km/h' in a12
        img = pg.pixels()
        assert img.std() > 20 and coloured(img).sum() > 1000
        assert pg.errors == [] and pg.outside == []
    finally: pg.close()
