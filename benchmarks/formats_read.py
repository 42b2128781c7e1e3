"""Reading speed of `st_toolkit.formats`: 10,000 Charades-STA lines and 1,000 VidSTG items, new readers vs the baseline.

    python benchmarks/formats_read.py               # 10,000 lines, 1,000 items, 3 interleaved repeats
    python benchmarks/formats_read.py --repeats 5

Baseline: the readers as they were at the start of issue 16 (commit b1703fb, loaded from git), which re-parse the
VidOR file of a video for every VidSTG item that names it. Inputs are made from the real excerpts in
`data_samples/real/` at the real test split's proportions: Charades lines are the 53 real test lines repeated under
new video ids (with their lengths); VidSTG items are the 31 real items cycled over videos with 6.3 items each (4,610
items over 732 videos in `test_annotations.json`), each video's VidOR file holding 1,090 frames (the median
`frame_count`) with 6 objects boxed on every frame (the mean count of `subject/objects`). Both readers must give the
same boxes. Repeats are interleaved (baseline, new, baseline, new, ...); times are wall seconds, reported as median
[min-max], with the ratio of the medians. Writes benchmarks/results/formats_read.json and .md.
"""
import os
for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'): os.environ.setdefault(_v, '1')
import argparse, json, platform, statistics, subprocess, sys, tempfile, time, types, warnings
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / 'data_samples' / 'real'
BASELINE = 'b1703fb'

def baseline_module():
    "The formats module as it was at `BASELINE`, loaded from git."
    src = subprocess.run(['git', '-C', str(ROOT), 'show', f'{BASELINE}:st_toolkit/formats.py'], capture_output=True, text=True, check=True).stdout
    m = types.ModuleType('formats_baseline'); m.__package__ = 'st_toolkit'
    exec(compile(src, f'{BASELINE}:st_toolkit/formats.py', 'exec'), m.__dict__)
    return m

def charades_input(d, n_lines):
    "n_lines Charades-STA lines (real lines under new video ids) and their lengths csv."
    lines = (REAL / 'charades_sta' / 'charades_sta_test_lines1-53.txt').read_text().splitlines()
    import csv
    L = {r['id']: r['length'] for r in csv.DictReader(open(REAL / 'charades_sta' / 'Charades_v1_test_excerpt.csv'))}
    out, lens = [], {}
    for i in range(n_lines):
        vid, rest = lines[i % len(lines)].split(' ', 1)
        new = f"{vid}{i // len(lines):04d}"
        out.append(f"{new} {rest}"); lens[new] = L[vid]
    (d / 'sta.txt').write_text('\n'.join(out) + '\n')
    (d / 'len.csv').write_text('id,length\n' + ''.join(f"{k},{v}\n" for k, v in lens.items()))
    return d / 'sta.txt', d / 'len.csv'

def vidstg_input(d, n_items, per_video=6.3, frames=1090, objects=6):
    "n_items VidSTG items over n_items / per_video videos, each with a VidOR file of `frames` frames x `objects` boxes."
    real = json.loads((REAL / 'vidstg' / 'test_annotations_excerpt.json').read_text())
    n_vid, items, rng = max(1, round(n_items / per_video)), [], np.random.default_rng(0)
    (d / 'vidor' / '0000').mkdir(parents=True)
    for v in range(n_vid):
        traj = [[dict(tid=t, bbox=dict(zip(('xmin', 'ymin', 'xmax', 'ymax'), map(int, (10 + t + f % 50, 20, 80 + t, 120)))), generated=0, tracker='none')
                 for t in range(objects)] for f in range(frames)]
        vo = dict(video_id=f"{v:010d}", video_path=f"0000/{v:010d}.mp4", frame_count=frames, fps=29.97, width=640, height=480,
                  **{'subject/objects': [dict(tid=t, category='adult') for t in range(objects)]}, trajectories=traj)
        (d / 'vidor' / '0000' / f"{v:010d}.json").write_text(json.dumps(vo))
    for i in range(n_items):
        a = json.loads(json.dumps(real[i % len(real)]))
        a.update(vid=f"{i % n_vid:010d}", frame_count=frames, **{'subject/objects': [dict(tid=t, category='adult') for t in range(objects)]})
        for c in a['captions'] + a['questions']: c['target_id'] %= objects
        items.append(a)
    (d / 'items.json').write_text(json.dumps(items))
    return d / 'items.json', d / 'vidor', n_vid

def timed(fn):
    t = time.perf_counter(); r = fn(); return r, time.perf_counter() - t

def stats(ts): return dict(median_s=round(statistics.median(ts), 4), min_s=round(min(ts), 4), max_s=round(max(ts), 4), runs=[round(t, 4) for t in ts])

def run(n_lines=10_000, n_items=1_000, repeats=3):
    from st_toolkit import formats as F
    import st_toolkit
    old = baseline_module()
    warnings.simplefilter('ignore')
    d = Path(tempfile.mkdtemp())
    sta, lens = charades_input(d, n_lines)
    items, vidor, n_vid = vidstg_input(d, n_items)
    dur = F.charades_lengths(lens)
    jobs = dict(charades=(lambda: old.read_charades_sta(sta, durations=dur), lambda: F.read_charades_sta(sta, durations=dur)),
                vidstg=(lambda: old.read_vidstg(items, vidor), lambda: F.read_vidstg(items, vidor)))
    res, times = {}, {k: ([], []) for k in jobs}
    load = os.getloadavg()
    for _ in range(repeats):
        for k, (fo, fn) in jobs.items():
            a, ta = timed(fo); b, tb = timed(fn)
            times[k][0].append(ta); times[k][1].append(tb)
            res[k] = (a, b)
    a, b = res['vidstg']
    same = all(np.array_equal(sa.track(t.id).boxes, t.boxes[:len(sa.track(t.id).boxes)]) for sa, sb in zip(a, b) for t in sb.tracks)
    out = dict(baseline=f"readers at commit {BASELINE} (start of issue 16): VidOR file parsed once per item",
               inputs=dict(charades_lines=n_lines, vidstg_items=n_items, vidstg_videos=n_vid, vidor_frames=1090, vidor_objects=6),
               same_boxes_except_last_frame=bool(same), load_average_before=[round(x, 2) for x in load], load_average_after=[round(x, 2) for x in os.getloadavg()],
               threads=dict(OMP_NUM_THREADS=os.environ['OMP_NUM_THREADS']), cpus=os.cpu_count(),
               versions=dict(python=platform.python_version(), numpy=np.__version__, st_toolkit=getattr(st_toolkit, '__version__', '?')),
               repeats=repeats)
    for k, (to, tn) in times.items():
        out[k] = dict(baseline=stats(to), new=stats(tn), speedup_median=round(statistics.median(to) / statistics.median(tn), 2),
                      speedup_min_max=[round(min(to) / max(tn), 2), round(max(to) / min(tn), 2)],
                      per_s_new=round((n_lines if k == 'charades' else n_items) / statistics.median(tn)))
    return out

def markdown(r):
    rows = [f"| {k} | {r[k]['baseline']['median_s']} [{r[k]['baseline']['min_s']}-{r[k]['baseline']['max_s']}] | "
            f"{r[k]['new']['median_s']} [{r[k]['new']['min_s']}-{r[k]['new']['max_s']}] | {r[k]['speedup_median']}x "
            f"[{r[k]['speedup_min_max'][0]}-{r[k]['speedup_min_max'][1]}] | {r[k]['per_s_new']:,}/s |" for k in ('charades', 'vidstg')]
    return '\n'.join([f"# formats_read: {r['inputs']['charades_lines']:,} Charades-STA lines, {r['inputs']['vidstg_items']:,} VidSTG items",
                      '', f"Baseline: {r['baseline']}.", '',
                      '| reader | baseline s, median [min-max] | new s, median [min-max] | speed-up (median [range]) | new rate |',
                      '|---|---|---|---|---|'] + rows + ['',
                      f"{r['repeats']} interleaved repeats; load average {r['load_average_before']} before, {r['load_average_after']} after; "
                      f"{r['cpus']} CPUs, OMP threads {r['threads']['OMP_NUM_THREADS']}; {r['versions']}. VidSTG boxes identical to "
                      f"the baseline's except the segment's last frame, which only the new reader keeps: {r['same_boxes_except_last_frame']}.", ''])

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--lines', type=int, default=10_000); ap.add_argument('--items', type=int, default=1_000); ap.add_argument('--repeats', type=int, default=3)
    a = ap.parse_args()
    r = run(a.lines, a.items, a.repeats)
    (ROOT / 'benchmarks' / 'results').mkdir(exist_ok=True)
    (ROOT / 'benchmarks' / 'results' / 'formats_read.json').write_text(json.dumps(r, indent=1))
    (ROOT / 'benchmarks' / 'results' / 'formats_read.md').write_text(markdown(r))
    print(markdown(r))
