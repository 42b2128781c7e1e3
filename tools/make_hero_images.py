"""Redraw the hero images of nbs/index.ipynb from the current views (headless Chromium, as the browser tests use).

    python tools/make_hero_images.py     # writes nbs/images/trajectories_3d.png and nbs/images/qa_view.png
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / 'tests')]

def figures():
    "The two views the README shows: an ego drive in 3D with its pseudo-labels, and a scored QA sample."
    from st_toolkit.core import Scene
    from st_toolkit.lift import lift_scene
    from st_toolkit.templates import kinematic_qa
    from st_toolkit import viz
    ego = Scene.from_json(ROOT / 'data_samples/scenes/sample_02.json')
    q = next(s for s in kinematic_qa(Scene.from_json(ROOT / 'data_samples/scenes/sample_01.json'), tasks=['speed']))
    answer = f"It moves at about {q['gt']['value'] * 3.6 * 0.97:.0f}."
    return dict(trajectories_3d=(viz.plot_trajectories_3d(ego, pred=lift_scene(ego), max_frames=40), '25'),
                qa_view=(viz.qa_view(q, answer, num_frames=8), None))

def main(out=ROOT / 'nbs' / 'images'):
    from playwright.sync_api import sync_playwright
    from test_viz_browser import ARGS, CHROMIUM
    from st_toolkit import viz
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        for name, (fig, step) in figures().items():
            pg = b.new_page(viewport=dict(width=1200, height=800))
            pg.goto(viz.to_html(fig, out / f'.{name}.html').as_uri())
            pg.wait_for_timeout(1500)
            if step: pg.evaluate(f"() => Plotly.animate(document.querySelector('.js-plotly-plot'), ['{step}'], "
                                 "{mode: 'immediate', frame: {duration: 0, redraw: true}, transition: {duration: 0}})")
            pg.wait_for_timeout(1000)
            pg.screenshot(path=str(out / f'{name}.png'))
            (out / f'.{name}.html').unlink()
            pg.close()
        b.close()

if __name__ == '__main__': main()
