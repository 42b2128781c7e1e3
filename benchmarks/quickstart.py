"""The whole quickstart (`st-toolkit quickstart`: scenes, data, pseudo-labels, tiny model, evaluation, 300 LoRA steps,
evaluation, views, report) of this tree against the quickstart of an earlier commit, interleaved.

Each run is a fresh process with its own output folder, at the toolkit's automatic thread count (what a user gets).
The baseline runs the package exported from `--baseline` (default: main as of issue 22's second quickstart pass,
1e4ec93: LoRA on the kinematic questions only, 48 new tokens per answer); this tree trains every task (kinematic and
grounding) with the tiny model's output head in full, and gives each task a budget that holds its longest answer
(about 400 new tokens for spatio-temporal grounding). Reported: wall time of the whole command and
of training (from the adapter's training card), median [min-max], per-repeat ratios, and the scores each run reported.
Writes benchmarks/results/quickstart.json and .md.
Usage: python benchmarks/quickstart.py [--reps 3] [--steps 300] [--baseline 1e4ec93]
"""
import argparse, json, os, subprocess, sys, tarfile, tempfile, time, io
from pathlib import Path
from _protocol import stats, ratios, fmt, environment, header_md, write

ROOT = Path(__file__).resolve().parents[1]
CODE = "import sys\nfrom st_toolkit.cli import main\nsys.exit(main(sys.argv[1:]))"


def export(rev, dest):
    "The `st_toolkit` package as it was at commit `rev`, unpacked into `dest`; returns `dest`."
    tar = subprocess.run(['git', 'archive', rev, 'st_toolkit'], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t: t.extractall(dest, filter='data')
    return dest


def _scores(out):
    "Overall scores a run reported: held-out and training (this tree) or training clips only (the baseline)."
    rep = json.loads((out / 'report.json').read_text())
    if 'scores' in rep:   # this tree
        return {f'{k} {w}': c['overall']['score'] for k, v in rep['scores'].items() for w, c in v.items()}
    return {f'training-clips {w}': rep[w]['overall']['score'] for w in ('before', 'after')}


def once(src, steps, out):
    "Seconds of one quickstart run of the package in `src` in a fresh process, its training seconds and scores."
    env = {k: v for k, v in os.environ.items() if k not in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'ST_NUM_THREADS')}
    env.update(PYTHONPATH=str(src))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, '-c', CODE, 'quickstart', '--out', str(out), '--steps', str(steps), '--quiet'],
                       capture_output=True, text=True, env=env, cwd=src)   # cwd: `-c` puts it first on sys.path
    wall = time.perf_counter() - t0
    if p.returncode: raise SystemExit(f'quickstart from {src} failed:\n{p.stderr[-4000:]}')
    card = json.loads((out / 'train' / 'final' / 'training_card.json').read_text())
    return dict(wall_s=wall, train_s=card['result']['seconds'], threads=card['result'].get('torch_threads'),
                scores=_scores(out), load_1min=os.getloadavg()[0])


def _col(rs, k): return [x[k] for x in rs]


def measure(srcs, reps, steps, tmp):
    "{variant: [run dicts]}, the variants interleaved in a rotating order."
    names, runs = list(srcs), {n: [] for n in srcs}
    for r in range(reps):
        for n in names[r % len(names):] + names[:r % len(names)]:
            runs[n].append(once(srcs[n], steps, Path(tmp) / f'{n}_{r}'.replace(' ', '_')))
            print(n, runs[n][-1], flush=True)
    return runs


def report(a, runs, load0):
    "The results dict and its markdown."
    base = f'baseline {a.baseline}'
    d = dict(benchmark='quickstart', steps=a.steps, reps=a.reps, runs=runs,
             baseline=f"the quickstart of commit {a.baseline} (kinematic training, 48-token answers), "
                      "same machine, runs interleaved",
             wall_s={c: stats(_col(v, 'wall_s')) for c, v in runs.items()},
             train_s={c: stats(_col(v, 'train_s')) for c, v in runs.items()},
             wall_ratio_vs_baseline={c: ratios(_col(v, 'wall_s'), _col(runs[base], 'wall_s')) for c, v in runs.items()},
             train_ratio_vs_baseline={c: ratios(_col(v, 'train_s'), _col(runs[base], 'train_s'))
                                      for c, v in runs.items()})
    d['env'] = environment(load0)
    d['env']['threads']['torch_threads'] = 'per run: see the table'
    md = ['# The quickstart: this tree against its earlier version', '', header_md(d),
          f"`st-toolkit quickstart --steps {a.steps}`, fresh process per run, automatic thread count. Ratios are "
          "time / baseline time (above 1: slower than the baseline).", '',
          '| variant | threads | whole quickstart (s) | time vs baseline | training (s) | time vs baseline |',
          '|---|---|---|---|---|---|']
    for c, v in runs.items():
        used = ', '.join(map(str, sorted({x.get('threads') or '?' for x in v}, key=str)))
        md.append(f"| {c} | {used} | {fmt(d['wall_s'][c], 1)} | {fmt(d['wall_ratio_vs_baseline'][c])}x | "
                  f"{fmt(d['train_s'][c], 1)} | {fmt(d['train_ratio_vs_baseline'][c])}x |")
    md += ['', 'Overall scores each run reported (macro mean of the task headlines, per repeat):', '']
    md += [f"- {c}: " + '; '.join(', '.join(f'{k} {s:.3f}' for k, s in x['scores'].items()) for x in v)
           for c, v in runs.items()]
    return d, '\n'.join(md) + '\n'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--baseline', default='1e4ec93', help='the commit whose quickstart is the baseline')
    a = ap.parse_args()
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        srcs = {f'baseline {a.baseline}': export(a.baseline, Path(tmp) / 'baseline'), 'this tree': ROOT}
        runs = measure(srcs, a.reps, a.steps, tmp)
    write('quickstart', *report(a, runs, load0))


if __name__ == '__main__':
    main()
