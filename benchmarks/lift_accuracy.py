"""Accuracy of pseudo-labels from `st_toolkit.lift` on freshly rendered synthetic scenes (not the shipped samples).

For each noise level (depth noise %, box jitter px, missed boxes %), each depth-noise model ('pixel': i.i.d. per
pixel; 'frame': one scale error per frame, as monocular depth drifts) and a static or moving (ego) camera, the
scenes' ground-truth boxes and depth are perturbed and lifted, and the lifted traveled distance and speed are
compared with the exact ones over the same frames. The baselines, measured in the same run, are a naive lift (plain
median depth over the whole box, box centre back-projected, no surface-to-centre offset, no filters, no smoothing) and
the same naive lift with the default smoothing (which isolates what the robust depth, offset and filters add).
Also re-measures the surface-to-centre offsets on these scenes (out of sample for `CATEGORY_PRIORS`).

Every error ratio is taken noise seed by noise seed and reported as median [min-max] over the seeds (an accuracy
benchmark: no timing; the seeds are its repeats).
Baseline: the naive lift described above, on the tracks the lift kept.
Writes benchmarks/results/lift_accuracy.json and lift_accuracy.md.
Usage: python benchmarks/lift_accuracy.py [--scenes 12] [--seeds 2] [--duration 8]
"""
import argparse, json, os, platform, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import stats, fmt, environment, header_md
import numpy as np
from st_toolkit.synthetic import make_scene, render_frame
from st_toolkit.lift import lift_scene, perturb, lift_errors, calibrate_offsets, CATEGORY_PRIORS

LEVELS = [(0.0, 0.0, 0.0), (0.025, 1.0, 0.05), (0.05, 2.0, 0.1), (0.1, 4.0, 0.2)]
INF = float('inf')
NAIVE = dict(shrink=1.0, reject=False, depth_offset=None, smooth=None, use_occlusion=False, border_px=-1.0, min_box_px=0.0,
             max_overlap=INF, min_len=2, min_visible=0.0, max_outlier_frac=INF, max_reproj=INF,
             priors={None: dict(max_speed=INF, max_accel=INF)})
METHODS = {'lift': {}, 'lift+ground': dict(align='ground'), 'naive': NAIVE, 'naive+smooth': dict(NAIVE, smooth=dict(window_s=1.5, order=2))}

def render_scenes(n, duration, fps=10.0):
    "n fresh scenes (seeds 1000+), alternating static and ego cameras, with their float32 depth maps."
    out = []
    for i in range(n):
        scn = make_scene(seed=1000 + i, n_objects=4, duration=duration, fps=fps, camera='static' if i % 2 == 0 else 'ego')
        out.append((scn, np.stack([render_frame(scn, f)[1] for f in range(scn.n_frames)])))
    return out

def summary(rows, n_in):
    "Aggregate error statistics of lift_errors rows."
    e = np.array([r['dist_rel_err'] for r in rows]); e = e[np.isfinite(e)]
    if not len(e): return dict(kept=f'0/{n_in}')
    return dict(kept=f'{len(rows)}/{n_in}', kept_share=len(rows) / n_in, n_rel=int(len(e)), median_dist_err=float(np.median(e)),
                mean_dist_err=float(e.mean()), p90_dist_err=float(np.percentile(e, 90)),
                median_speed_mae=float(np.median([r['inst_speed_mae'] for r in rows])),
                median_pos_err=float(np.median([r['pos_err_m'] for r in rows])))

def matched(rows, ref):
    "Median relative distance error of `rows` restricted to the (seed, scene, track)s that `ref` kept: a like-for-like comparison."
    keep = {(r['seed'], r['scene'], r['track']) for r in ref}
    e = np.array([r['dist_rel_err'] for r in rows if (r['seed'], r['scene'], r['track']) in keep])
    e = e[np.isfinite(e)]
    return float(np.median(e)) if len(e) else float('nan')

def run(pairs, seeds):
    results = []
    for noise in ('pixel', 'frame'):
        for dn, jit, drop in LEVELS:
            rows = {(m, c): [] for m in METHODS for c in ('static', 'ego')}
            n_in = {c: 0 for c in ('static', 'ego')}
            for seed in range(seeds):
                for scn, dep in pairs:
                    cam = scn.meta['camera']; n_in[cam] += len(scn.tracks)
                    ns, nd = perturb(scn, dep, dn, noise, jit, drop, seed=seed)
                    for m, kw in METHODS.items(): rows[m, cam] += [dict(r, seed=seed) for r in lift_errors(lift_scene(ns, nd, **kw), scn)]
            for m in METHODS:
                for cam in ('static', 'ego', 'all'):
                    r = rows[m, 'static'] + rows[m, 'ego'] if cam == 'all' else rows[m, cam]
                    n = sum(n_in.values()) if cam == 'all' else n_in[cam]
                    lifted = rows['lift', 'static'] + rows['lift', 'ego'] if cam == 'all' else rows['lift', cam]
                    results.append(dict(method=m, noise=noise, camera=cam, depth_pct=100 * dn, jitter_px=jit, drop_pct=100 * drop, **summary(r, n),
                                        median_dist_err_on_lift_tracks=matched(r, lifted)))
            lift_all = rows['lift', 'static'] + rows['lift', 'ego']
            by_seed = lambda rs, k: [r for r in rs if r['seed'] == k]
            for x in results[-len(METHODS) * 3:]:
                if x['camera'] != 'all' or x['method'] == 'lift': continue
                rr = rows[x['method'], 'static'] + rows[x['method'], 'ego']
                x['ratio_to_lift_by_seed'] = stats([matched(by_seed(rr, k), by_seed(lift_all, k)) /
                                                    max(matched(by_seed(lift_all, k), by_seed(lift_all, k)), 1e-9) for k in range(seeds)])
            print(noise, dn, jit, drop, [f"{x['method']}: {x.get('median_dist_err', np.nan):.3f}" for x in results[-12:] if x['camera'] == 'all'], flush=True)
    return results

def markdown(res):
    "The summary tables (all cameras), with the naive/lift error ratio."
    get = lambda m, noise, dn, cam='all': next(x for x in res['results'] if x['method'] == m and x['noise'] == noise and x['depth_pct'] == 100 * dn and x['camera'] == cam)
    md = [f"# Lift accuracy on {res['scenes']} fresh synthetic scenes ({res['scenes'] // 2} static, {res['scenes'] - res['scenes'] // 2} ego camera), "
          f"{res['seeds']} noise seeds\n", header_md(res),
          'Median relative traveled-distance error over tracks that truly move >= 1 m (kept tracks / all tracks in brackets). The ratios compare '
          'each baseline with the lift on the same tracks (those the lift kept), so dropping hard tracks does not count as accuracy; '
          'baselines = naive lift (whole-box median depth, no offset, no filters, no smoothing), and the same with the default smoothing, measured in the same run.\n',
          '| depth noise | depth % | jitter px | missed % | lift | lift + ground align | naive baseline | naive / lift (same tracks) | naive + smoothing | (naive + smoothing) / lift (same tracks) | lift speed MAE (m/s) | lift static / ego |',
          '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for noise in ('pixel', 'frame'):
        for dn, jit, drop in LEVELS:
            a, g, b, bs = get('lift', noise, dn), get('lift+ground', noise, dn), get('naive', noise, dn), get('naive+smooth', noise, dn)
            s, e = get('lift', noise, dn, 'static'), get('lift', noise, dn, 'ego')
            md.append(f"| {noise} | {100 * dn:g} | {jit:g} | {100 * drop:g} | {a['median_dist_err']:.3f} ({a['kept']}) | {g['median_dist_err']:.3f} ({g['kept']}) | "
                      f"{b['median_dist_err']:.3f} ({b['kept']}) | {fmt(b['ratio_to_lift_by_seed'], 1)}x | "
                      f"{bs['median_dist_err']:.3f} ({bs['kept']}) | {fmt(bs['ratio_to_lift_by_seed'], 1)}x | {a['median_speed_mae']:.3f} | "
                      f"{s['median_dist_err']:.3f} / {e['median_dist_err']:.3f} |")
    md += ['', 'Surface-to-centre offsets (m) re-measured on these scenes vs `CATEGORY_PRIORS`: ' +
           ', '.join(f"{c} {v:.2f} (prior {CATEGORY_PRIORS[c]['offset']:.2f})" for c, v in res['offsets'].items()), '',
           f"Time: render {res['render_s']:.0f} s, lift sweep {res['sweep_s']:.0f} s on {res['machine']}."]
    return '\n'.join(md) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--scenes', type=int, default=12); ap.add_argument('--seeds', type=int, default=3); ap.add_argument('--duration', type=float, default=8.0)
    a = ap.parse_args()
    load0 = os.getloadavg()
    t0 = time.perf_counter(); pairs = render_scenes(a.scenes, a.duration); t1 = time.perf_counter()
    results = run(pairs, a.seeds); t2 = time.perf_counter()
    res = dict(benchmark='lift_accuracy', machine=platform.processor() or platform.machine(), numpy=np.__version__, scenes=a.scenes, seeds=a.seeds,
               duration_s=a.duration, tracks=sum(len(s.tracks) for s, _ in pairs), levels=LEVELS, offsets=calibrate_offsets(pairs),
               render_s=t1 - t0, sweep_s=t2 - t1, results=results, reps=a.seeds,
               protocol='accuracy, not timing: every method on the same perturbed scenes; the noise seeds are the '
                        'repeats, each error ratio is taken seed by seed, median [min-max]',
               baseline='the naive lift (whole-box median depth, box centre, no offset, no filters, no smoothing), on the '
                        'tracks the lift kept; ratios = naive error / lift error, seed by seed', env=environment(load0))
    out = Path(__file__).parent / 'results'; out.mkdir(exist_ok=True)
    (out / 'lift_accuracy.json').write_text(json.dumps(res, indent=1))
    (out / 'lift_accuracy.md').write_text(markdown(res))
    print(markdown(res))
