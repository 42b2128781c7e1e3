"""Render speed of the synthetic world: frames/s at 320x240 and 640x480.

Compares the renderer (each object ray-tested only inside its projected box) with the same renderer
testing every pixel against every object (the baseline), in the same run, plus H.264 encoding.
Writes benchmarks/results/render.json and render.md.  Usage: python benchmarks/render.py [--frames 40]
"""
import argparse, json, platform, tempfile, time
from pathlib import Path
import numpy as np
from st_toolkit.synthetic import make_scene, render_frame
from st_toolkit.video import write_video

def fps_of(fn, n):
    "Frames per second of calling fn(i) for i < n (best of 2 runs)."
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        for i in range(n): fn(i)
        best = min(best, time.perf_counter() - t0)
    return n / best

def bench(W, H, n, n_objects=5):
    scene = make_scene(seed=1, n_objects=n_objects, duration=n / 10, fps=10, width=W, height=H, occlusion=False)
    roi = fps_of(lambda i: render_frame(scene, i, roi=True), n)
    full = fps_of(lambda i: render_frame(scene, i, roi=False), n)
    frames = np.stack([render_frame(scene, i)[0] for i in range(n)])
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter(); write_video(frames, Path(d) / 'v.mp4', 10); enc = n / (time.perf_counter() - t0)
    return dict(size=f'{W}x{H}', objects=n_objects, frames=n, render_fps=round(roi, 1), baseline_full_frame_fps=round(full, 1),
                speedup_vs_baseline=round(roi / full, 2), encode_fps=round(enc, 1), render_plus_encode_fps=round(1 / (1 / roi + 1 / enc), 1))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--frames', type=int, default=40); a = ap.parse_args()
    rows = [bench(320, 240, a.frames), bench(640, 480, a.frames)]
    res = dict(benchmark='render', machine=platform.processor() or platform.machine(), numpy=np.__version__, results=rows)
    out = Path(__file__).parent / 'results'; out.mkdir(exist_ok=True)
    (out / 'render.json').write_text(json.dumps(res, indent=2))
    md = ['| size | objects | render fps | baseline (all pixels x all objects) fps | speed-up | encode fps | render+encode fps |', '|---|---|---|---|---|---|---|']
    md += [f"| {r['size']} | {r['objects']} | {r['render_fps']} | {r['baseline_full_frame_fps']} | {r['speedup_vs_baseline']}x | {r['encode_fps']} | {r['render_plus_encode_fps']} |" for r in rows]
    (out / 'render.md').write_text('# Synthetic render speed\n\n' + '\n'.join(md) + '\n')
    print('\n'.join(md))
