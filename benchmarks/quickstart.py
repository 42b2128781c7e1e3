"""The whole quickstart (`st-toolkit quickstart`: scenes, data, pseudo-labels, tiny model, evaluation, 300 LoRA steps,
evaluation, views) at torch thread counts 1, 2 and the toolkit's automatic choice, interleaved.

Each run is a fresh process with its own output folder; ST_NUM_THREADS pins 1 or 2, 'auto' leaves the count to
`st_toolkit.models.set_threads()`. Reported: wall time of the whole command and the training part (from the adapter's
training card), median [min-max], and per-repeat ratios.
Baseline: 2 threads, torch's own default on this 2-core machine (nothing set).
Writes benchmarks/results/quickstart.json and .md.  Usage: python benchmarks/quickstart.py [--reps 3] [--steps 300]
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
from _protocol import stats, ratios, fmt, environment, header_md, write

ROOT = Path(__file__).resolve().parents[1]
CODE = "import sys\nfrom st_toolkit.cli import main\nsys.exit(main(sys.argv[1:]))"


def once(threads, steps, out):
    "Seconds of one quickstart run in a fresh process, its training seconds and the thread count it used."
    env = {k: v for k, v in os.environ.items() if k not in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'ST_NUM_THREADS')}
    env.update(PYTHONPATH=str(ROOT), **({} if threads == 'auto' else dict(ST_NUM_THREADS=threads)))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, '-c', CODE, 'quickstart', '--out', str(out), '--steps', str(steps), '--quiet'],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if p.returncode: raise SystemExit(f'quickstart at threads={threads} failed:\n{p.stderr[-4000:]}')
    card = json.loads((out / 'train' / 'final' / 'training_card.json').read_text())
    return dict(wall_s=wall, train_s=card['result']['seconds'], threads=card['result'].get('torch_threads'),
                load_1min=os.getloadavg()[0])


def _col(rs, k): return [x[k] for x in rs]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=3); ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--threads', default='2,1,auto')
    a = ap.parse_args()
    load0, cells = os.getloadavg(), a.threads.split(',')
    runs = {c: [] for c in cells}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.reps):
            for c in cells[r % len(cells):] + cells[:r % len(cells)]:
                runs[c].append(once(c, a.steps, Path(tmp) / f'{c}_{r}'))
                print(c, runs[c][-1], flush=True)
    base = '2' if '2' in runs else cells[0]
    d = dict(benchmark='quickstart', steps=a.steps, reps=a.reps,
             baseline="2 threads (torch's default here; ST_NUM_THREADS=2)", runs=runs,
             wall_s={c: stats([x['wall_s'] for x in v]) for c, v in runs.items()},
             train_s={c: stats([x['train_s'] for x in v]) for c, v in runs.items()},
             wall_speedup_vs_2={c: ratios(_col(runs[base], 'wall_s'), _col(v, 'wall_s')) for c, v in runs.items()},
             train_speedup_vs_2={c: ratios(_col(runs[base], 'train_s'), _col(v, 'train_s')) for c, v in runs.items()})
    d['env'] = environment(load0)
    d['env']['threads']['torch_threads'] = 'per run: see the table'
    md = ['# Quickstart at 1, 2 and the automatic thread count', '', header_md(d),
          f"`st-toolkit quickstart --steps {a.steps}`, fresh process per run.", '',
          '| threads | used | whole quickstart (s) | speed-up vs 2 | training (s) | speed-up vs 2 |',
          '|---|---|---|---|---|---|']
    for c in runs:
        used = sorted({x.get('threads') or '?' for x in runs[c]}, key=str)
        md.append(f"| {c} | {', '.join(map(str, used))} | {fmt(d['wall_s'][c], 1)} | "
                  f"{fmt(d['wall_speedup_vs_2'][c])}x | {fmt(d['train_s'][c], 1)} | "
                  f"{fmt(d['train_speedup_vs_2'][c])}x |")
    write('quickstart', d, '\n'.join(md) + '\n')


if __name__ == '__main__':
    main()
