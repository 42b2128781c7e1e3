"""Kinematics batch API vs a per-track Python loop: 100,000 tracks x 40 samples by default.

Both sides compute the same things for every track: velocity, speed, acceleration, heading, stationary flags,
cumulative path length, and the traveled distance / average speed / displacement over a window whose ends
fall between samples. The batch side is `st_toolkit.kinematics.batch_motion`; the loop side calls the
per-track `motion(trk, t0, t1)` once per track (the strongest per-track baseline: one call computes
everything) and, on a smaller subset, the separate public functions one by one (`velocity`, `speed`, ...;
what a user would write without `motion`). The loops are timed on subsets and extrapolated linearly to all
tracks (said so in the results). The rows of the batch result are asserted bit-identical to the per-track
results of the subset.

The data are ST-VLM-like clips: ~0.5 s steps with jitter (40 samples = ~20 s), 1% of steps a gap longer than
1.5 s, smoothly drifting velocities, a third of the objects coming to a stop. Timing runs on one thread (BLAS/OpenMP threads = 1; `--pin` also pins the process to one CPU); CPU time (`time.process_time`) is the headline figure because the machine may be shared, wall
time is recorded too. Timings are interleaved (rotating order), `--repeat` repeats, median [min-max]; ratios are
taken repeat by repeat.
Baseline: the per-track loop calling `motion(trk, t0, t1)` once per track.
Writes benchmarks/results/kinematics_batch.json and .md.
Usage: python benchmarks/kinematics_batch.py [--tracks 100000] [--samples 40] [--loop 3000] [--loop-funcs 1000] [--repeat 3] [--chunk 2048] [--pin]
"""
import os
for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS'): os.environ[_v] = '1'
import argparse, json, platform, sys, time
sys.path.insert(0, str(__import__('pathlib').Path(__file__).resolve().parent))
from _protocol import stats, ratios, fmt, environment, header_md
from pathlib import Path
import numpy as np
from st_toolkit.core import Track
from st_toolkit.kinematics import (batch_motion, pad_tracks, motion, velocity, speed, acceleration, heading, stationary,
                                   traveled_distance, average_speed, displacement)

FIELDS = ('velocity', 'speed', 'acceleration', 'heading', 'stationary', 'dist')
WINDOW = ('traveled_distance', 'average_speed', 'displacement')

def make_tracks(B, N, seed=0):
    "B tracks of N samples: jittered 0.5 s steps, 1% gaps of 2-4 s, smooth ground motion (random acceleration), stops."
    g = np.random.default_rng(seed)
    dt = 0.5 + g.uniform(-0.1, 0.1, (B, N - 1))
    gap = g.random((B, N - 1)) < 0.01
    dt[gap] = g.uniform(2, 4, gap.sum())
    t = g.uniform(0, 3, (B, 1)) + np.c_[np.zeros(B), np.cumsum(dt, 1)]
    v = g.normal(0, 3, (B, 1, 3)) + np.cumsum(g.normal(0, 0.4, (B, N, 3)), 1)          # velocity drifts smoothly
    v *= [1, 1, 0.05]
    v *= np.where(np.arange(N) < g.integers(N // 2, 2 * N, (B, 1)), 1.0, 0.0)[..., None]    # a third of the objects stop for good
    xyz = g.normal(0, 20, (B, 1, 3)) + np.cumsum(v * np.c_[np.zeros(B), dt][..., None], 1)
    tracks = [Track(f'obj_{i}', t[i], xyz[i]) for i in range(B)]
    t0 = t[:, 0] + g.uniform(0, 0.3, B) * (t[:, -1] - t[:, 0])                        # window ends between samples
    t1 = t[:, -1] - g.uniform(0, 0.3, B) * (t[:, -1] - t[:, 0])
    return tracks, t0, t1

def loop_motion(tracks, t0, t1): return [motion(k, a, b) for k, a, b in zip(tracks, t0, t1)]

def loop_funcs(tracks, t0, t1):
    "The separate public functions, one call each per track."
    return [(velocity(k), speed(k), acceleration(k), heading(k), stationary(k), traveled_distance(k, a, b),
             average_speed(k, a, b), displacement(k, a, b)) for k, a, b in zip(tracks, t0, t1)]

def timed(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c, time.perf_counter() - w, out

def identical(bm, per, rows):
    "Every field of the batch rows equals the per-track `Motion`s bit for bit (NaN where NaN)."
    for i, m in zip(rows, per):
        k = int(bm.n[i])
        for f in FIELDS:
            if not np.array_equal(getattr(bm, f)[i, :k], getattr(m, f), equal_nan=True): return False
        for f in WINDOW:
            if not np.array_equal(getattr(bm, f)[i], getattr(m, f), equal_nan=True): return False
    return True

def main(B, N, n_loop, n_funcs, repeat, seed=0, chunk=2048, pin=False):
    pinned = False
    if pin:
        try: os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]}); pinned = True
        except (AttributeError, OSError): pass
    load0 = os.getloadavg()
    tracks, t0, t1 = make_tracks(B, N, seed)
    arrays = pad_tracks(tracks)
    n_loop, n_funcs = min(n_loop, B), min(n_funcs, B)
    scale = dict(batch_tracks=1, batch_arrays=1, loop_motion=B / n_loop, loop_funcs=B / n_funcs)
    fns = dict(batch_tracks=lambda: batch_motion(tracks, t0, t1, chunk=chunk), batch_arrays=lambda: batch_motion(arrays, t0, t1, chunk=chunk),
               loop_motion=lambda: loop_motion(tracks[:n_loop], t0[:n_loop], t1[:n_loop]),
               loop_funcs=lambda: loop_funcs(tracks[:n_funcs], t0[:n_funcs], t1[:n_funcs]))
    names, cpu, wall = list(fns), {k: [] for k in fns}, {k: [] for k in fns}
    for r in range(repeat):                                   # interleaved, rotating order: fair on a busy machine
        for name in names[r % 4:] + names[:r % 4]:
            c, w, out = timed(fns[name])
            cpu[name].append(c * scale[name]); wall[name].append(w * scale[name])   # seconds for all B tracks
            if name == 'batch_tracks': bm = out
            if name == 'loop_motion': per = out
    same = identical(bm, per, range(n_loop))
    assert same, 'batch and per-track results differ'
    med = {k: stats(v)['median'] for k, v in cpu.items()}
    rate = {k: B * N / v for k, v in med.items()}
    res = dict(benchmark='kinematics_batch', baseline='the per-track loop calling motion(trk, t0, t1) once per track',
               reps=repeat, chunk=chunk, tracks=B, samples_per_track=N, track_samples=B * N, seed=seed, repeat=repeat,
               loop_subset=dict(loop_motion=n_loop, loop_funcs=n_funcs, extrapolated_linearly_to=B),
               threads=1, pinned_to_one_cpu=pinned,
               seconds_cpu={k: stats(v) for k, v in cpu.items()}, seconds_wall={k: stats(v) for k, v in wall.items()},
               track_samples_per_s_cpu=rate,
               speedup_vs_loop_motion={k: ratios(cpu['loop_motion'], cpu[k]) for k in ('batch_tracks', 'batch_arrays')},
               speedup_vs_loop_funcs={k: ratios(cpu['loop_funcs'], cpu[k]) for k in ('batch_tracks', 'batch_arrays', 'loop_motion')},
               bit_identical_rows=n_loop if same else 0, nan_velocity_share=float(np.isnan(bm.speed).mean()),
               stationary_share=float(bm.stationary.mean()))
    res['env'] = environment(load0)
    res['env']['threads'].update(torch_threads=None, numpy_blas_threads=1)
    res['goals'] = dict(speedup_at_least_20x=res['speedup_vs_loop_motion']['batch_tracks']['median'] >= 20,
                        at_least_5M_track_samples_per_s_from_arrays=rate['batch_arrays'] >= 5e6,
                        at_least_5M_track_samples_per_s_from_tracks=rate['batch_tracks'] >= 5e6)
    return res

def write(res, out):
    out.mkdir(parents=True, exist_ok=True)
    (out / 'kinematics_batch.json').write_text(json.dumps(res, indent=1))
    r, sp, c, w = res['track_samples_per_s_cpu'], res['speedup_vs_loop_motion'], res['seconds_cpu'], res['seconds_wall']
    f = res['speedup_vs_loop_funcs']
    md = f"""# Kinematics: batch API vs per-track Python loop

{header_md(res)}
{res['tracks']:,} tracks x {res['samples_per_track']} samples ({res['track_samples']:,} track-samples), one thread
(pinned to one CPU: {res['pinned_to_one_cpu']}; chunk {res['chunk']} rows). CPU seconds. The loops ran on {res['loop_subset']['loop_motion']:,}
(`motion`) and {res['loop_subset']['loop_funcs']:,} (separate functions) tracks and are extrapolated linearly to all
tracks. The batch rows of the `motion` subset are asserted bit-identical to the per-track results.

| implementation | CPU s (all tracks) | wall s | track-samples/s (median) | speed-up vs the `motion` loop |
|---|---:|---:|---:|---:|
| loop: separate public functions per track | {fmt(c['loop_funcs'], 1)} | {fmt(w['loop_funcs'], 1)} | {r['loop_funcs']/1e6:.3f} M | the `motion` loop is {fmt(f['loop_motion'])}x faster |
| loop: `motion(trk, t0, t1)` per track (baseline) | {fmt(c['loop_motion'], 1)} | {fmt(w['loop_motion'], 1)} | {r['loop_motion']/1e6:.3f} M | 1x |
| `batch_motion(padded arrays)` | {fmt(c['batch_arrays'], 3)} | {fmt(w['batch_arrays'], 3)} | {r['batch_arrays']/1e6:.2f} M | **{fmt(sp['batch_arrays'], 1)}x** |
| `batch_motion(list of Tracks)` (incl. padding) | {fmt(c['batch_tracks'], 3)} | {fmt(w['batch_tracks'], 3)} | {r['batch_tracks']/1e6:.2f} M | **{fmt(sp['batch_tracks'], 1)}x** ({fmt(f['batch_tracks'], 1)}x vs separate functions) |

Goals: >= 20x vs the loop: {res['goals']['speedup_at_least_20x']}; >= 5 M track-samples/s on one core: from padded arrays
{res['goals']['at_least_5M_track_samples_per_s_from_arrays']}, from a list of `Track`s (padding included) {res['goals']['at_least_5M_track_samples_per_s_from_tracks']}.
CPU time is measured on a shared machine: when other processes load it (see the load average), a core does less work per
CPU-second, so these rates are lower bounds for an idle core.
Data: {res['nan_velocity_share']:.2%} of samples have NaN velocity (isolated by gaps), {res['stationary_share']:.1%} stationary.
"""
    (out / 'kinematics_batch.md').write_text(md)
    return md

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tracks', type=int, default=100_000); ap.add_argument('--samples', type=int, default=40)
    ap.add_argument('--loop', type=int, default=3000); ap.add_argument('--loop-funcs', type=int, default=1000)
    ap.add_argument('--repeat', type=int, default=5); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--chunk', type=int, default=2048)
    ap.add_argument('--pin', action='store_true', help='pin the process to one CPU (worse on a shared machine)')
    ap.add_argument('--out', default=str(Path(__file__).parent / 'results'))
    a = ap.parse_args()
    print(write(main(a.tracks, a.samples, a.loop, a.loop_funcs, a.repeat, a.seed, a.chunk, a.pin), Path(a.out)))
