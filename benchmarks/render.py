"""Render speed of the synthetic world: frames/s at 320x240 and 640x480, static and ego cameras.

Variants, interleaved, on the same scene:
- render: `render_frame` as shipped (objects ray-tested only inside their projected boxes; ground and sky computed
  once per camera pose, i.e. once per scene for a static camera);
- bg_every_frame: the same, with the background cache emptied before every frame (the renderer before the cache);
- full_frame: every pixel tested against every object, background every frame (no box culling, no cache).
Baseline: bg_every_frame, the renderer as it was before the background was cached.
Also: H.264 encoding of the rendered frames. Writes benchmarks/results/render.json and .md.
Usage: python benchmarks/render.py [--frames 20] [--reps 5]
"""
import argparse, os, tempfile, time
from pathlib import Path
import numpy as np
from _protocol import interleave, stats, ratios, fmt, environment, header_md, write
from st_toolkit.synthetic import make_scene, render_frame, _BACKDROPS
from st_toolkit.video import write_video


def frames_fn(scene, n, roi=True, clear=False):
    "A function rendering all n frames once."
    def run(r):
        for i in range(n):
            if clear: _BACKDROPS.clear()
            render_frame(scene, i, roi=roi)
    return run


def bench(W, H, n, camera, reps, n_objects=5):
    scene = make_scene(seed=1, n_objects=n_objects, duration=n / 10, fps=10, width=W, height=H, camera=camera,
                       occlusion=False)
    v = dict(render=frames_fn(scene, n), bg_every_frame=frames_fn(scene, n, clear=True),
             full_frame=frames_fn(scene, n, roi=False, clear=True))
    t = interleave(v, reps)
    frames = np.stack([render_frame(scene, i)[0] for i in range(n)])
    with tempfile.TemporaryDirectory() as d:
        enc = interleave(dict(encode=lambda r: write_video(frames, Path(d) / f'v{r}.mp4', 10)), reps)['encode']
    fps = {k: stats([n / x for x in xs]) for k, xs in t.items()}
    return dict(size=f'{W}x{H}', camera=camera, objects=n_objects, frames=n, fps=fps,
                encode_fps=stats([n / x for x in enc]),
                speedup_vs_baseline={k: ratios(t['bg_every_frame'], xs) for k, xs in t.items()})


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--frames', type=int, default=20)
    ap.add_argument('--reps', type=int, default=5)
    a = ap.parse_args()
    load0 = os.getloadavg()
    rows = [bench(W, H, a.frames, cam, a.reps) for W, H in ((320, 240), (640, 480)) for cam in ('static', 'ego')]
    res = dict(benchmark='render', reps=a.reps, results=rows,
               baseline='the same renderer with the background (ground, sky) recomputed every frame, '
                        'as before the cache')
    res['env'] = environment(load0)
    md = ['# Synthetic render speed', '', header_md(res),
          '| size | camera | render fps | background every frame fps (baseline) | full frame fps | '
          'speed-up vs baseline | '
          'full frame vs baseline | encode fps |', '|---|---|---|---|---|---|---|---|']
    for r in rows:
        f, s = r['fps'], r['speedup_vs_baseline']
        md.append(f"| {r['size']} | {r['camera']} | {fmt(f['render'], 1)} | {fmt(f['bg_every_frame'], 1)} | "
                  f"{fmt(f['full_frame'], 1)} | {fmt(s['render'])}x | {fmt(s['full_frame'])}x | "
                  f"{fmt(r['encode_fps'], 0)} |")
    md += ['', 'An ego camera moves, so its background is computed for every pose in every variant: its speed-up '
           'shows only the cost of the cache itself.']
    write('render', res, '\n'.join(md) + '\n')
