"""Build time and standalone-HTML size of the 3D trajectory view and the bird's-eye view at scale.

A scene of 100 tracks x 1,000 samples (10 fps, 100 s, an ego camera with 1,000 poses), made with the synthetic
motion programs. Goal: under 2 s to build and under 10 MB of HTML. Compared in the same run with naive baselines:
  - no decimation: every sample drawn (cursor-only frames still);
  - merge off: one line trace per track and labelled cursors (a 3D slider step redraws every trace);
  - naive: no decimation, one trace per track and full-figure animation frames (every frame re-sends every trace, as a figure built with
    one frame per time step does). It is too large to build at 100 steps on a small machine, so it is measured at
    `--naive-steps` steps and its size and time are scaled linearly to the slider's steps (marked 'extrapolated').
With Debian's chromium present, the pages are also opened in headless Chromium (Playwright): load time and time per slider step.
Build times: the variants are built interleaved (rotating order), `--repeat` times each, median [min-max]; ratios
repeat by repeat. Baseline: the same view without decimation (every sample drawn), built in the same run.
Writes benchmarks/results/viz_scale.json and viz_scale.md.  Usage: python benchmarks/viz_scale.py [--tracks 100 --samples 1000]
"""
import argparse, json, math, os, platform, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import interleave, stats, ratios, fmt, environment, header_md
import numpy as np
import plotly, plotly.graph_objects as go
from st_toolkit.core import Track, Scene, intrinsics
from st_toolkit.synthetic import KINDS, random_program, run_program, camera_poses
from st_toolkit import viz

def big_scene(n_tracks=100, n_samples=1000, fps=10.0, seed=0):
    "Tracks driven by the synthetic motion programs around an ego camera's road, all sampled at the frame times."
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / fps
    poses, _ = camera_poses(rng, 'ego', t)
    kinds, tracks = list(KINDS), []
    for i in range(n_tracks):
        kind = kinds[rng.integers(len(kinds))]
        v0, segs = random_program(rng, kind, t[-1] + 1)
        m = run_program(rng.uniform([-40, 0], [40, 150]), rng.uniform(0, 2 * math.pi), v0, segs, t)
        z = np.full(len(t), KINDS[kind]['size'][2] / 2)
        tracks.append(Track(f'{kind}_{i}', t, np.c_[m['xy'], z], category=kind))
    return Scene(tracks, fps, 320, 240, K=intrinsics(320, 240, 60), poses=poses, pose_t=t, name=f'bench_{n_tracks}x{n_samples}')

FIRST = {}

def timed(fn, repeat=3, key=None):
    "(best seconds, last result) of `repeat` calls; the first call's time is kept in FIRST[key]."
    best, out = np.inf, None
    for i in range(repeat):
        t0 = time.perf_counter(); out = fn(); dt = time.perf_counter() - t0; best = min(best, dt)
        if i == 0 and key: FIRST[key] = dt
    return best, out

def html_of(fig, d, name):
    "(seconds to write, MB) of the standalone HTML."
    t0 = time.perf_counter(); p = viz.to_html(fig, Path(d) / f'{name}.html'); dt = time.perf_counter() - t0
    return dt, p.stat().st_size / 1e6

def full_frames(fig):
    "The same figure with naive animation frames: every frame carries every trace (no `traces=` subset)."
    cur, base = fig.layout.meta['traces']['cursors'], [d.to_plotly_json() for d in fig.data]
    frames = []
    for f in fig.frames:
        data = list(base)
        for k, d in zip(cur, f.data): data[k] = base[k] | d.to_plotly_json()
        frames.append(dict(name=f.name, data=data))
    return go.Figure(data=base, layout=fig.layout, frames=frames)

CHROMIUM = '/usr/bin/chromium'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--enable-unsafe-swiftshader']

def browser_times(paths, steps=10):
    "{name: (seconds to load and draw, mean ms per slider step)} in headless Chromium (software WebGL), or {} without it."
    if not Path(CHROMIUM).exists(): return {}
    from playwright.sync_api import sync_playwright
    out = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, path in paths.items():
            pg = b.new_page(viewport=dict(width=1280, height=900))
            t0 = time.perf_counter(); pg.goto(Path(path).as_uri())
            pg.wait_for_function("() => { const g = document.querySelector('.js-plotly-plot'); return g && g._fullLayout && g.data; }", timeout=300_000)
            load = time.perf_counter() - t0
            ms = pg.evaluate("""async (n) => { const g = document.querySelector('.js-plotly-plot'), st = g.layout.sliders[0].steps;
                const t0 = performance.now();   // each step exactly as the slider does it (its own animate arguments)
                for (let i = 1; i <= n; i++) { const a = st[(7 * i) % st.length].args; await Plotly.animate(g, a[0], a[1]); }
                return (performance.now() - t0) / n; }""", steps)
            out[name] = (round(load, 2), round(ms, 1)); pg.close()
        b.close()
    return out

def row(name, build_s, html_s, mb, steps, note=''):
    return dict(variant=name, build_s=round(build_s, 3), html_write_s=round(html_s, 3), total_s=round(build_s + html_s, 3), html_mb=round(mb, 2),
                slider_steps=steps, note=note)

def main(n_tracks, n_samples, max_frames, naive_steps, repeat):
    load0 = os.getloadavg()
    scene = big_scene(n_tracks, n_samples)
    builds = {'3d': lambda r: viz.plot_trajectories_3d(scene, max_frames=max_frames),
              '3d_merge_off': lambda r: viz.plot_trajectories_3d(scene, max_frames=max_frames, merge_above=10**9),
              '3d_no_decimation': lambda r: viz.plot_trajectories_3d(scene, max_frames=max_frames, max_points=None),
              'bev': lambda r: viz.plot_trajectories_bev(scene, max_frames=max_frames),
              'bev_no_decimation': lambda r: viz.plot_trajectories_bev(scene, max_frames=max_frames, max_points=None)}
    bt = interleave(builds, repeat)
    build_stats = {k: stats(v) for k, v in bt.items()}
    build_ratios = {k: ratios(bt[f"{k.split('_')[0]}_no_decimation"], v) for k, v in bt.items()}
    med = lambda k: build_stats[k]['median']
    rows, pages = [], {}
    with tempfile.TemporaryDirectory() as d:
        for kind, fn in (('3d', viz.plot_trajectories_3d), ('bev', viz.plot_trajectories_bev)):
            _, fig = timed(lambda: fn(scene, max_frames=max_frames), 1, kind)
            b = med(kind)
            h, mb = html_of(fig, d, kind); pages[len(rows)] = Path(d) / f'{kind}.html'
            rows.append(row(f'{kind}: decimated, cursor-only frames (this module)', b, h, mb, len(fig.frames),
                            f"{sum(fig.layout.meta['decimation'])} vertices drawn of {n_tracks * n_samples}; first build in the process {FIRST[kind]:.2f} s"))
            if kind == 'bev': continue
            t_read, _ = timed(lambda: viz.readings(scene), repeat)
            rows[-1]['note'] += f"; of the build, kinematics readings {t_read:.2f} s"
            fig_sep, b = builds['3d_merge_off'](0), med('3d_merge_off')
            h, mb = html_of(fig_sep, d, f'{kind}_sep'); pages[len(rows)] = Path(d) / f'{kind}_sep.html'
            rows.append(row(f'{kind}: decimated, one trace per track, labelled cursors (merge off)', b, h, mb, len(fig_sep.frames)))
            fig_all, b = builds['3d_no_decimation'](0), med('3d_no_decimation')
            h, mb = html_of(fig_all, d, f'{kind}_all'); pages[len(rows)] = Path(d) / f'{kind}_all.html'
            rows.append(row(f'{kind}: no decimation (baseline)', b, h, mb, len(fig_all.frames)))
            few = fn(scene, max_frames=naive_steps, max_points=None, merge_above=10**9)
            t0 = time.perf_counter(); naive = full_frames(few); extra = time.perf_counter() - t0
            b_few, _ = timed(lambda: fn(scene, max_frames=naive_steps, max_points=None, merge_above=10**9), 1)
            h, mb = html_of(naive, d, f'{kind}_naive'); pages[len(rows)] = Path(d) / f'{kind}_naive.html'
            k = len(fig.frames) / len(naive.frames)
            rows.append(row(f'{kind}: naive, no decimation + full-figure frames (baseline, {len(naive.frames)} steps measured)', b_few + extra, h, mb,
                            len(naive.frames)))
            rows.append(row(f'{kind}: naive, extrapolated to {len(fig.frames)} steps', (b_few + extra) * k, h * k, mb * k, len(fig.frames), 'extrapolated linearly'))
        for i, (load, ms) in browser_times(pages).items(): rows[i].update(browser_load_s=load, browser_step_ms=ms)
    ours = rows[0]
    for r in rows: r['vs_this_module'] = dict(time=round(r['total_s'] / ours['total_s'], 2), size=round(r['html_mb'] / ours['html_mb'], 2))
    goal = dict(build_under_2s=ours['build_s'] < 2.0, html_under_10mb=ours['html_mb'] < 10.0)
    return dict(benchmark='viz_scale', reps=repeat, env=environment(load0), build_s=build_stats,
                build_speedup_vs_no_decimation=build_ratios,
                baseline='the same view without decimation (every sample drawn), built in the same run', scene=dict(tracks=n_tracks, samples_per_track=n_samples, camera='ego', poses=n_samples),
                settings=dict(max_frames=max_frames, max_points=300, repeat=repeat), goal=goal,
                machine=platform.processor() or platform.machine(), plotly=plotly.__version__, numpy=np.__version__, results=rows)

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--tracks', type=int, default=100); ap.add_argument('--samples', type=int, default=1000)
    ap.add_argument('--max-frames', type=int, default=100); ap.add_argument('--naive-steps', type=int, default=10)
    ap.add_argument('--repeat', type=int, default=5)
    a = ap.parse_args()
    res = main(a.tracks, a.samples, a.max_frames, a.naive_steps, a.repeat)
    out = Path(__file__).parent / 'results'; out.mkdir(exist_ok=True)
    (out / 'viz_scale.json').write_text(json.dumps(res, indent=2))
    md = [f"# viz at scale: {a.tracks} tracks x {a.samples} samples, {a.max_frames} slider steps", '',
          f"Goal: build < 2 s ({'met' if res['goal']['build_under_2s'] else 'NOT met'}), HTML < 10 MB ({'met' if res['goal']['html_under_10mb'] else 'NOT met'}). "
          f"plotly {res['plotly']}; HTML includes plotly.js (~4.7 MB).", '', header_md(res),
          '| view | build (s) | build speed-up vs no decimation |', '|---|---|---|',
          *[f"| {k} | {fmt(v, 3)} | {fmt(res['build_speedup_vs_no_decimation'][k])}x |" for k, v in res['build_s'].items()], '',
          'The table below uses the median builds above; HTML sizes and write times are single measurements.', '',
          'Browser columns: headless Chromium with software WebGL (SwiftShader), time to load and draw the page, and mean time of one slider step.', '',
          '| variant | build (s) | HTML write (s) | HTML (MB) | steps | time vs this module | size vs this module | browser load (s) | browser step (ms) | note |',
          '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|']
    md += [f"| {r['variant']} | {r['build_s']} | {r['html_write_s']} | {r['html_mb']} | {r['slider_steps']} | {r['vs_this_module']['time']}x | "
           f"{r['vs_this_module']['size']}x | {r.get('browser_load_s', '—')} | {r.get('browser_step_ms', '—')} | {r['note']} |" for r in res['results']]
    (out / 'viz_scale.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))
