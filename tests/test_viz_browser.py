"""Open the viz module's exported HTML pages in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
each page loads offline with no JavaScript error, its screenshot shows the expected traces, and the slider moves the cursors."""
import io, os
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

# ------------------------------------------------------------------------------------ grounding with a prediction
def test_grounding_prediction_beside_truth(browser, tmp_path):
    "A grounding view given a prediction dict shows a green (truth) and a red (predicted) box inside the event."
    from st_toolkit.core import Scene
    from st_toolkit.templates import grounding_qa
    from st_toolkit import viz, metrics as mt
    from st_toolkit.video import COLORS
    sc = Scene.from_json(ROOT / 'data_samples/scenes/sample_00.json')
    stvg = next(s for s in grounding_qa(sc, seed=0) if s['task'] == 'stvg')
    g0, g1 = stvg['gt']['span']
    late = g0 + 0.2 * (g1 - g0)
    tube = {k: [b[0] + 24, b[1] + 3, b[2] + 24, b[3] + 3] for k, b in stvg['gt']['value'].items() if float(k) >= late}
    pred = dict(span=[late, g1], boxes=tube)
    fig = viz.qa_view(stvg, pred=pred, num_frames=8)
    ts = np.array(fig.layout.meta['times'])
    assert ((ts >= g0) & (ts <= g1)).mean() >= 0.6, (ts, g0, g1)             # frames sampled around the event
    f = int(np.flatnonzero((ts >= late + 0.1) & (ts <= g1 - 0.1))[0])
    pg = Page(browser, viz.to_html(fig, tmp_path / 'grounding_pred.html'))
    try:
        pg.animate(str(f))
        img = pg.page.locator('.js-plotly-plot image').first
        png = img.screenshot()
        shot = np.asarray(Image_open(png)).astype(int)
        k = shot.shape[1] / sc.width                                           # screen pixels per video pixel
        assert abs(shot.shape[0] / shot.shape[1] - sc.height / sc.width) < 0.02   # the frame keeps its aspect ratio
        gt_box = mt.align_tube(stvg['gt']['value'], ts[f:f + 1])[0]
        pred_box = mt.align_tube(tube, ts[f:f + 1])[0]
        assert edge_share(shot, gt_box * k, COLORS['green']) > 0.6, 'no green ground-truth box on the frame'
        assert edge_share(shot, pred_box * k, COLORS['red']) > 0.6, f'no red predicted box at {pred_box * k}'
        title = pg.js("() => document.querySelector('.gtitle').textContent")
        assert f'{g0:.2f}–{g1:.2f} s' in title and f'{late:.2f}–{g1:.2f} s' in title and ' px' in title
        _save_shot(pg.page, 'grounding_prediction.png')
        assert pg.errors == [] and pg.outside == []
    finally: pg.close()

def edge_share(img, box, rgb, band=2):
    "Share of the columns along a box's bottom edge (screen pixels) with a pixel near `rgb` within `band` rows."
    x1, y1, x2, y2 = np.round(box).astype(int)
    rows = img[max(y2 - band, 0):y2 + band + 1, x1 + 3:x2 - 2]
    return float(coloured(rows, rgb, 150).any(0).mean())          # thin lines blend with the ground when scaled

def Image_open(png_bytes):
    from PIL import Image
    return Image.open(io.BytesIO(png_bytes)).convert('RGB')

def _save_shot(page, name):
    "Keep a screenshot for a person to look at when ST_SCREENSHOTS names a folder."
    d = os.environ.get('ST_SCREENSHOTS')
    if d: page.screenshot(path=str(Path(d) / name), full_page=True)

# ------------------------------------------------------------------------------------------------ JupyterLab
def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def _wait_up(url, proc, log, timeout=120):
    "Wait until the server answers `url` (fails early, with its log, when it died)."
    import time, urllib.request
    end = time.time() + timeout
    while time.time() < end:
        assert proc.poll() is None, f'jupyter lab exited with {proc.returncode}:\n{Path(log).read_text()[-3000:]}'
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: return
        except OSError: time.sleep(0.5)
    raise TimeoutError(f'jupyter lab did not answer {url} in {timeout} s')

def _stop(proc):
    "Stop the server and the kernels it started (its own process group), by its id."
    import signal, subprocess
    if proc.poll() is None: os.killpg(proc.pid, signal.SIGTERM)
    try: proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

def _lab_settings(d):
    "Every cell in the page (no windowing), no news fetched, the default kernel started without asking."
    import json
    for ext, name, val in (('notebook-extension', 'tracker', dict(windowingMode='none')),
                           ('apputils-extension', 'notification', dict(fetchNews='false', checkForUpdates=False)),
                           ('notebook-extension', 'panel', dict(autoStartDefaultKernel=True))):
        f = Path(d) / '@jupyterlab' / ext / f'{name}.jupyterlab-settings'
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(val))

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "A JupyterLab server of this test's own: a free port, no token, a temporary root with nbs/ and the samples."
    import shutil, subprocess, sys
    root, home = tmp_path_factory.mktemp('lab_root'), tmp_path_factory.mktemp('lab_home')
    shutil.copytree(ROOT / 'nbs', root / 'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints'))
    (root / 'data_samples').symlink_to(ROOT / 'data_samples')
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(home), JUPYTER_CONFIG_DIR=str(home / 'config'),
               JUPYTER_RUNTIME_DIR=str(home / 'runtime'), HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1')
    _lab_settings(home / 'settings')
    port = _free_port()
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', f'--port={port}', '--ip=127.0.0.1',
           f'--ServerApp.root_dir={root}', '--IdentityProvider.token=', '--ServerApp.password=',
           '--ServerApp.disable_check_xsrf=True',
           '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate', f'--LabApp.workspaces_dir={home / "ws"}',
           f'--LabApp.user_settings_dir={home / "settings"}', '--LabApp.extension_manager=readonly']
    if os.geteuid() == 0: cmd.append('--allow-root')                        # CI containers run as root
    proc = subprocess.Popen(cmd, env=env, cwd=root, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=open(home / 'lab.log', 'w'))
    try:
        _wait_up(f'http://127.0.0.1:{port}/api/status', proc, home / 'lab.log')
        yield f'http://127.0.0.1:{port}', root
    finally: _stop(proc)

class LabPage:
    "A notebook opened in JupyterLab in the browser; nothing outside the server is reached."
    def __init__(self, browser, base, path):
        self.errors, self.outside, self.base = [], [], base
        self.page = pg = browser.new_page(viewport=dict(width=1600, height=1000))
        pg.on('pageerror', lambda e: self.errors.append(f'pageerror: {e}'))
        pg.route('**/*', self._route)
        pg.goto(f'{base}/lab/tree/{path}')
        pg.wait_for_selector('.jp-Notebook .jp-Cell', timeout=120_000)
        select = pg.get_by_role('button', name='Select', exact=True)   # a notebook saved without a kernel name asks
        try: select.click(timeout=15_000)
        except Exception: pass                                               # (no dialog: the kernel starts by itself)
        pg.wait_for_selector('text=Python 3 (ipykernel) | Idle', timeout=120_000)
    def _route(self, route):
        url = route.request.url
        if url.startswith((self.base, 'data:', 'blob:', 'ws://127.0.0.1')): return route.continue_()
        self.outside.append(url)
        route.abort()
    def run_all(self, timeout_s=300):
        "Run every cell from the Run menu, then wait until no cell is queued or running."
        self.page.get_by_role('menuitem', name='Run', exact=True).click()
        self.page.get_by_role('menuitem', name='Run All Cells', exact=True).click()
        self.page.wait_for_timeout(2000)
        done = """() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt'))
                            .every(p => /\\[\\d+\\]/.test(p.textContent))"""
        self.page.wait_for_function(done, timeout=timeout_s * 1000, polling=1000)
    def js(self, expr, arg=None): return self.page.evaluate(expr, arg)

WIDGET = ("Array.from(document.querySelectorAll('.widget-vbox'))"
          ".find(b => b.querySelector('.widget-hslider') && b.querySelector('.widget-image'))")

def _lab_state(lp, name='objects'):
    "What the linked widget shows now: slider value, readout text, image bytes (base64), size, and the 3D cursors."
    return lp.js(f"""async (name) => {{ const w = {WIDGET}; const img = w.querySelector('.widget-image');
        const buf = await (await fetch(img.src)).arrayBuffer();
        let s = '';
        new Uint8Array(buf).forEach(b => s += String.fromCharCode(b));
        const gd = w.querySelector('.js-plotly-plot'), r = img.getBoundingClientRect();
        const d = gd.data.find(t => t.name === name);
        return {{value: w.querySelector('.widget-readout').textContent.trim(),
                 readout: w.querySelector('.widget-html').textContent,
                 jpeg: btoa(s), w: r.width, h: r.height, nw: img.naturalWidth, nh: img.naturalHeight,
                 sliders: w.querySelectorAll('.widget-hslider').length,
                 plotly_sliders: gd.querySelectorAll('.slider-container').length,
                 x: {DECODE}(d.x), y: {DECODE}(d.y), z: {DECODE}(d.z)}}; }}""", name)

def test_tutorial_05_linked_widget_in_jupyterlab(lab, browser):
    "In JupyterLab tutorial 05 runs; the linked widget's one slider moves frame, 3D cursors and readout together."
    import base64
    from st_toolkit.core import Scene
    from st_toolkit import viz
    base, root = lab
    lp = LabPage(browser, base, 'nbs/tutorials/05_interactive_views.ipynb')
    try:
        lp.run_all()
        errors = lp.js("""() => Array.from(document.querySelectorAll(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
            .map(e => e.textContent).filter(t => t.includes('Error'))""")
        assert errors == [], errors[:2]
        lp.page.locator(f'css=.widget-hslider').first.scroll_into_view_if_needed()
        truth = Scene.from_json(ROOT / 'data_samples/scenes/sample_02.json')
        lv = viz.LinkedView(truth, max_frames=25)                       # the times and frames the tutorial's view has
        before = _lab_state(lp)
        box = lp.page.locator('.widget-hslider .slider-container').first.bounding_box()
        lp.page.mouse.click(box['x'] + 0.8 * box['width'], box['y'] + box['height'] / 2)
        moved = f"(v) => {WIDGET}.querySelector('.widget-readout').textContent.trim() !== v"
        lp.page.wait_for_function(moved, arg=before['value'], timeout=20_000)
        lp.page.wait_for_timeout(2500)                   # the kernel redraws the frame, the 3D view and the readout
        after = _lab_state(lp)
        i = int(after['value'])
        assert i != int(before['value'])
        assert f't = {lv.times[i]:.2f} s' in after['readout'] and f't = {lv.times[i]:.2f} s' not in before['readout']
        assert after['jpeg'] != before['jpeg']
        shown = np.asarray(Image_open(base64.b64decode(after['jpeg']))).astype(float)
        diff = [np.abs(shown - lv.frame(j)).mean() for j in (i, int(before['value']))]
        assert diff[0] < 6 and diff[0] < 0.5 * diff[1], diff        # the frame at the slider's time, not the old one
        cur = np.array([after[a] for a in 'xyz'], float).T
        np.testing.assert_allclose(cur, frame_xyz(lv.fig, i), rtol=1e-5, atol=1e-5)
        assert (after['sliders'], after['plotly_sliders']) == (1, 0)   # one time control: no slider in the 3D view
        assert abs(after['w'] / after['h'] - truth.width / truth.height) < 0.01           # the frame keeps its aspect
        assert (after['nw'], after['nh']) == (truth.width, truth.height)
        _save_shot(lp.page, 'lab_tutorial_05_linked.png')
        assert lp.outside == []
    finally:
        _save_shot(lp.page, 'lab_last.png')
        lp.page.close()

def test_index_hero_images_load_in_jupyterlab(lab, browser):
    "The hero images of index.ipynb load in JupyterLab (their paths resolve from nbs/)."
    base, root = lab
    lp = LabPage(browser, base, 'nbs/index.ipynb')
    try:
        sel = '.jp-RenderedMarkdown img'
        lp.page.wait_for_function(f"() => document.querySelectorAll('{sel}').length >= 2", timeout=60_000)
        lp.page.wait_for_timeout(1500)
        sizes = lp.js(f"() => Array.from(document.querySelectorAll('{sel}')).map(i => [i.src, i.naturalWidth])")
        assert all(w > 100 for _, w in sizes), sizes
        assert lp.outside == []
    finally: lp.page.close()
