"""QA samples generated per second by `st_toolkit.templates` over synthetic scenes, on one core.

    python benchmarks/templates_qa.py                  # 2,000 scenes, 5 repeats: a few minutes
    python benchmarks/templates_qa.py --scenes 10000   # the size of the first goal (scene making alone ~2 min)

Scenes are made first (not timed: `make_scene` costs far more than templating); then all fourteen tasks
(seven kinematic, seven grounding) are generated for every scene, pinned to one CPU core, by two paths:
the vectorised path (kinematics, camera yaw, direction cuts and box/time texts of a chunk of 1,000 scenes
batched) and the baseline (one kinematics call per sample). Both must give identical samples. The two are
run `--repeats` times, interleaved, so both see the same phases of a shared machine (its speed swings by
±30 % within seconds); each path's best and median runs are reported, and the speed-up as the ratio of the
medians. A per-task breakdown on a subset, and a cProfile of the vectorised path on the first 1,000 scenes
(CPU time per module), show where the time goes. Times are process CPU time and wall time. The figures of
the previous results file, if any, are kept under `previous` for a before/after.
Writes benchmarks/results/templates_qa.json and .md.
"""
import os
for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ.setdefault(_v, '1')
import argparse, cProfile, gc, json, platform, pstats, statistics, time
from multiprocessing import Pool
from pathlib import Path
import numpy as np
import sys
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import stats, ratios, fmt, environment, header_md

GOAL = 10_000   # samples/s on one core

def _scene(i):
    from st_toolkit.synthetic import make_scene
    return make_scene(i, n_objects=2 + i % 3, duration=8 + i % 5, camera=('static', 'ego')[i % 2], occlusion=False)

def make_scenes(n, workers):
    "The synthetic scenes (seeds 0..n-1), made in parallel; returns (scenes, seconds)."
    t = time.perf_counter()
    with Pool(workers) as p: scenes = p.map(_scene, range(n), chunksize=64)
    return scenes, time.perf_counter() - t

def timed(fn):
    "(result, cpu seconds, wall seconds)."
    c, w = time.process_time(), time.perf_counter()
    r = fn()
    return r, time.process_time() - c, time.perf_counter() - w

MODULES = {'st_toolkit/templates': 'templates (planning, wording, samples)', 'st_toolkit/coords': 'coords (box and time text)',
           'st_toolkit/kinematics': 'kinematics', 'st_toolkit/core': 'core (pose_at)', 'random.py': 'random (seeded draws)',
           'numpy': 'numpy', "<built-in method builtins": 'builtins', "<method '": 'builtins'}

def where_time_goes(scenes, seed=0):
    "CPU time (s, under cProfile) of one vectorised `generate` by module, and the ten costliest functions."
    from st_toolkit import templates as T
    pr = cProfile.Profile(); pr.enable(); T.generate(scenes, seed=seed); pr.disable()
    st, by, top = pstats.Stats(pr), {}, []
    for (file, line, fn), (_, _, tt, _, _) in st.stats.items():
        name = f'{file}:{line}({fn})'
        mod = next((v for k, v in MODULES.items() if k in name), 'other')
        by[mod] = by.get(mod, 0.0) + tt
        top.append((tt, f"{file.split('site-packages/')[-1].split('/work/main/')[-1]}:{line}({fn})"))
    tot = sum(by.values())
    return dict(total_s=round(tot, 3), share={k: round(v / tot, 3) for k, v in sorted(by.items(), key=lambda x: -x[1])},
                top=[dict(fn=f, tottime_s=round(t, 3)) for t, f in sorted(top, reverse=True)[:10]])

def run(n_scenes=10_000, sub=500, workers=2, seed=0, repeats=3):
    from st_toolkit import templates as T
    scenes, make_s = make_scenes(n_scenes, workers)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})            # templating on one core
    T.generate(scenes[:20], seed=seed)                                    # warm-up (imports, caches)
    res, runs, first = {}, {'vectorised': [], 'baseline_per_call': []}, {}
    load0 = os.getloadavg()
    paths = [('vectorised', True), ('baseline_per_call', False)]
    for r in range(repeats):                                              # interleaved, rotating: both see the same machine phases
        for name, vec in paths[r % 2:] + paths[:r % 2]:
            qa = None; gc.collect()
            qa, cpu, wall = timed(lambda: T.generate(scenes, seed=seed, vectorised=vec))
            runs[name].append((cpu, wall))
            if r == 0: first[name] = qa
    for name, rr in runs.items():
        qa, ps = first[name], sorted(first[name].__len__() / c for c, _ in rr)
        res[name] = dict(samples=len(qa), cpu_s=[round(c, 3) for c, _ in rr], wall_s=[round(w, 3) for _, w in rr],
                         samples_per_s_cpu=round(statistics.median(ps), 1), samples_per_s_cpu_best=round(ps[-1], 1),
                         samples_per_s_cpu_stats=stats([len(qa) / c for c, _ in rr]),
                         samples_per_s_wall=round(statistics.median(len(qa) / w for _, w in rr), 1), skipped=sum(qa.skipped.values()), counts=dict(qa.counts()))
    res['identical_samples'] = first['vectorised'] == first['baseline_per_call']
    res['speedup_per_repeat_cpu'] = ratios([c for c, _ in runs['baseline_per_call']], [c for c, _ in runs['vectorised']])
    del first
    per_task = {}
    for t in T.TEMPLATES:                                                 # best of `repeats`, modes interleaved (the machine is shared)
        best = {}
        for _ in range(repeats):
            for name, vec in (('vectorised', True), ('baseline_per_call', False)):
                qa, cpu, _ = timed(lambda: T.generate(scenes[:sub], tasks=[t], seed=seed, vectorised=vec))
                best[name] = min(best.get(name, cpu), cpu)
        per_task[t] = {k: dict(samples=len(qa), us_per_sample_cpu=round(c / max(len(qa), 1) * 1e6, 1)) for k, c in best.items()}
    prof = where_time_goes(scenes[:1000], seed)
    no_dt = [t for t in T.TEMPLATES if t != 'direction_time']
    qa, cpu, wall = timed(lambda: T.generate(scenes, tasks=no_dt, seed=seed))
    res['vectorised_without_direction_time'] = dict(samples=len(qa), cpu_s=round(cpu, 3), samples_per_s_cpu=round(len(qa) / cpu, 1),
                                                    samples_per_s_wall=round(len(qa) / wall, 1))
    qa = None; gc.collect()
    qa, cpu, wall = timed(lambda: T.generate(scenes, seed=seed, per_task=3))                     # three samples per task and scene
    res['vectorised_per_task_3'] = dict(samples=len(qa), cpu_s=round(cpu, 3), samples_per_s_cpu=round(len(qa) / cpu, 1), samples_per_s_wall=round(len(qa) / wall, 1))
    v, b = res['vectorised'], res['baseline_per_call']
    return dict(benchmark='templates_qa', reps=repeats, env=environment(load0),
                baseline='the same generator with one kinematics call per sample (vectorised=False); identical samples',
                n_scenes=n_scenes, repeats=repeats, scene_seconds_to_make=round(make_s, 1), tasks=list(T.TEMPLATES), **res,
                speedup_vs_baseline_cpu=round(b['samples_per_s_cpu'] and v['samples_per_s_cpu'] / b['samples_per_s_cpu'], 2), goal_samples_per_s=GOAL,
                goal_met_cpu=v['samples_per_s_cpu'] >= GOAL, goal_met_cpu_best_run=v['samples_per_s_cpu_best'] >= GOAL,
                per_task_on_first_scenes=dict(n_scenes=sub, repeats=repeats, **per_task),
                profile_first_1000_scenes=prof,
                machine=dict(python=platform.python_version(), numpy=np.__version__, cpus=os.cpu_count(), load_avg=os.getloadavg(),
                             note='one core pinned; the machine is shared with other jobs, so CPU time is the fairer figure'))

def previous(out):
    "The headline figures of the results file about to be replaced (None if there is none)."
    try: old = json.loads((out / 'templates_qa.json').read_text())
    except (OSError, ValueError): return None
    if 'vectorised' not in old: return None
    return dict(n_scenes=old['n_scenes'], vectorised=old['vectorised']['samples_per_s_cpu'], baseline_per_call=old['baseline_per_call']['samples_per_s_cpu'],
                vectorised_without_direction_time=old['vectorised_without_direction_time']['samples_per_s_cpu'],
                per_task_us={t: d['vectorised']['us_per_sample_cpu'] for t, d in old['per_task_on_first_scenes'].items() if isinstance(d, dict)},
                previous=old.get('previous'))

def write(r, out):
    out.mkdir(parents=True, exist_ok=True)
    r['previous'] = r.get('previous') or previous(out)
    (out / 'templates_qa.json').write_text(json.dumps(r, indent=1) + '\n')
    v, b, x, p3 = r['vectorised'], r['baseline_per_call'], r['vectorised_without_direction_time'], r['vectorised_per_task_3']
    cpu = lambda d: ', '.join(map(str, d['cpu_s'])) if isinstance(d['cpu_s'], list) else d['cpu_s']
    slow = sorted(((t, d['vectorised']['us_per_sample_cpu']) for t, d in r['per_task_on_first_scenes'].items() if isinstance(d, dict)), key=lambda z: -z[1])
    md = [f"# templates_qa: QA samples per second, {r['n_scenes']:,} synthetic scenes, one core", '',
          header_md(r),
          f"All {len(r['tasks'])} tasks per scene (7 kinematic, 7 grounding). Scenes made first in {r['scene_seconds_to_make']} s (not timed).", '',
          f"Each of the two main paths ran {r['repeats']} times, interleaved; samples/s are the median run (best run in brackets).", '',
          '| path | samples | CPU s per run | samples/s (CPU) | samples/s (wall) |', '|---|---|---|---|---|',
          f"| vectorised (batched kinematics, camera yaw, direction cuts, box texts) | {v['samples']:,} | {cpu(v)} | {v['samples_per_s_cpu']:,} (best {v['samples_per_s_cpu_best']:,}) | {v['samples_per_s_wall']:,} |",
          f"| baseline (one kinematics call per sample) | {b['samples']:,} | {cpu(b)} | {b['samples_per_s_cpu']:,} (best {b['samples_per_s_cpu_best']:,}) | {b['samples_per_s_wall']:,} |",
          f"| vectorised, without direction_time | {x['samples']:,} | {x['cpu_s']} | {x['samples_per_s_cpu']:,} | {x['samples_per_s_wall']:,} |",
          f"| vectorised, per_task=3 | {p3['samples']:,} | {p3['cpu_s']} | {p3['samples_per_s_cpu']:,} | {p3['samples_per_s_wall']:,} |", '',
          f"Vectorised samples/s (CPU) over the repeats: {fmt(v['samples_per_s_cpu_stats'], 0)}; baseline "
          f"{fmt(b['samples_per_s_cpu_stats'], 0)}. **Speed-up over the baseline, repeat by repeat: "
          f"{fmt(r['speedup_per_repeat_cpu'])}x** (ratio of the medians {r['speedup_vs_baseline_cpu']}x); identical samples: {r['identical_samples']}. "
          f"Goal {r['goal_samples_per_s']:,}/s on one core met (CPU time): median run {r['goal_met_cpu']}, best run {r['goal_met_cpu_best_run']}.", '',
          f"Per task (µs of CPU per sample, vectorised, best of {r['per_task_on_first_scenes']['repeats']} on {r['per_task_on_first_scenes']['n_scenes']} scenes): "
          + ', '.join(f'{t} {u:g}' for t, u in slow) + '.', '',
          f"Where the time goes (cProfile of the vectorised path on the first 1,000 scenes, {r['profile_first_1000_scenes']['total_s']} s under the profiler): "
          + ', '.join(f'{k} {v:.0%}' for k, v in r['profile_first_1000_scenes']['share'].items()) + '.', '',
          *([] if not r.get('previous') else [
              f"Before (previous results file, {r['previous']['n_scenes']:,} scenes): vectorised {r['previous']['vectorised']:,} samples/s, "
              f"baseline {r['previous']['baseline_per_call']:,}/s, without direction_time {r['previous']['vectorised_without_direction_time']:,}/s; "
              f"now {v['samples_per_s_cpu']:,}/s median ({v['samples_per_s_cpu'] / r['previous']['vectorised']:.1f}x). "
              "Those were measured in another run, on the same shared machine; the ratio to the baseline above is the one measured in this run.", '']),
          f"Machine: {r['machine']['cpus']} CPUs shared with other jobs, load average {', '.join(f'{l:.1f}' for l in r['machine']['load_avg'])}."]
    (out / 'templates_qa.md').write_text('\n'.join(md) + '\n')

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--scenes', type=int, default=2_000); ap.add_argument('--sub', type=int, default=500)
    ap.add_argument('--workers', type=int, default=2); ap.add_argument('--seed', type=int, default=0); ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--out', type=Path, default=Path(__file__).resolve().parent / 'results')
    a = ap.parse_args()
    r = run(a.scenes, min(a.sub, a.scenes), a.workers, a.seed, a.repeats)
    write(r, a.out)
    print((a.out / 'templates_qa.md').read_text())
