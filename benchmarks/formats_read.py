"""Reading speed of `st_toolkit.formats`: 10,000 Charades-STA lines and 1,000 VidSTG items, new readers vs the baseline.

    python benchmarks/formats_read.py --annotations test_annotations.json   # the real VidSTG test split's items
    python benchmarks/formats_read.py --repeats 7                            # the 31 real excerpt items, cycled

Baseline: the readers as they were at the start of issue 16 (commit b1703fb, loaded from git), which parse the VidOR
file of a video again for every VidSTG item that names it.

Charades: the 53 real test lines of `data_samples/real/charades_sta/` repeated under new video ids (with their lengths).
VidSTG, with `--annotations` (`annotations/test_annotations.json` of github.com/Guaranteer/VidSTG-Dataset):
every item of videos drawn at random (seeded) until 1,000 items, so items per video, frame counts, fps, used
segments and sentences are the real split's (its 4,610 items: 6.3 items per video over 732 videos, 1,040 frames per
video on average, used segments of 788 frames on average). Without it: the 31 real excerpt items cycled over videos
with 6.3 items each, every video 1,090 frames. VidOR's box files are not public, so each video's file is made field for
field as VidOR writes it (TubeDETR `preproc/preproc_vidstg.py` reads the same fields), with one box on every frame for
every object its items name (`subject/objects` and the relation's two tids: 5.5 objects per video in the real split).
Both readers must give the same boxes. Repeats are interleaved (baseline, new, new, baseline, ...); CPU seconds of this
process (`time.process_time`, the fair measure on a shared machine) and wall seconds are reported as median [min-max],
with the ratio of the medians and the range of per-repeat ratios. As `timeit` does, the garbage collector runs before
and is paused during each timed call: otherwise a full collection of the heap the earlier results fill is charged to
whichever reader happens to trigger it (it added 0.1 s to single 0.05 s Charades reads).
Writes benchmarks/results/formats_read.{json,md}.
"""
import os
for _v in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS'):
    os.environ.setdefault(_v, '1')
import argparse, csv, gc, json, platform, statistics, subprocess, tempfile, time, types, warnings
from collections import Counter, defaultdict
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / 'data_samples' / 'real'
BASELINE = 'b1703fb'

def baseline_module():
    "The formats module as it was at `BASELINE`, loaded from git."
    cmd = ['git', '-C', str(ROOT), 'show', f'{BASELINE}:st_toolkit/formats.py']
    src = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = types.ModuleType('formats_baseline')
    m.__package__ = 'st_toolkit'
    exec(compile(src, f'{BASELINE}:st_toolkit/formats.py', 'exec'), m.__dict__)
    return m

def charades_input(d, n_lines):
    "n_lines Charades-STA lines (real lines under new video ids) and their lengths csv."
    lines = (REAL / 'charades_sta' / 'charades_sta_test_lines1-53.txt').read_text().splitlines()
    with open(REAL / 'charades_sta' / 'Charades_v1_test_excerpt.csv', newline='') as f:
        L = {r['id']: r['length'] for r in csv.DictReader(f)}
    out, lens = [], {}
    for i in range(n_lines):
        vid, rest = lines[i % len(lines)].split(' ', 1)
        new = f"{vid}{i // len(lines):04d}"
        out.append(f"{new} {rest}")
        lens[new] = L[vid]
    (d / 'sta.txt').write_text('\n'.join(out) + '\n')
    (d / 'len.csv').write_text('id,length\n' + ''.join(f"{k},{v}\n" for k, v in lens.items()))
    return d / 'sta.txt', d / 'len.csv'

def real_items(path, n_items, seed=0):
    "The items (in file order) of videos drawn at random (seeded) until they hold n_items, cut at n_items."
    items = json.loads(Path(path).read_text())
    count = Counter(a['vid'] for a in items)
    vids, pick, n = list(count), set(), 0
    for k in np.random.default_rng(seed).permutation(len(vids)):
        if n >= n_items: break
        pick.add(vids[k])
        n += count[vids[k]]
    return [a for a in items if a['vid'] in pick][:n_items]

def excerpt_items(n_items, per_video=6.3, frames=1090):
    "The 31 real excerpt items cycled over n_items / per_video videos of `frames` frames."
    real = json.loads((REAL / 'vidstg' / 'test_annotations_excerpt.json').read_text())
    n_vid, out = max(1, round(n_items / per_video)), []
    for i in range(n_items):
        a = json.loads(json.dumps(real[i % len(real)]))
        a.update(vid=f"{i % n_vid:010d}", frame_count=frames)
        out.append(a)
    return out

def vidor_file(vid, items):
    "A VidOR annotation for `vid`: a box on every frame for every object its items name."
    a = items[0]
    tids = sorted({o['tid'] for b in items for o in b['subject/objects']} |
                  {b['used_relation'][k] for b in items for k in ('subject_tid', 'object_tid')})
    cats = {o['tid']: o['category'] for b in items for o in b['subject/objects']}
    def box(t, f): return dict(xmin=10 + t + f % 50, ymin=20, xmax=80 + t + f % 7, ymax=120)
    traj = [[dict(tid=t, bbox=box(t, f), generated=0, tracker='none') for t in tids] for f in range(a['frame_count'])]
    objs = [dict(tid=t, category=cats.get(t, 'adult')) for t in tids]
    return dict(version='VERSION 1.0', video_id=vid, video_hash='0', video_path=f"{vid[:4]}/{vid}.mp4",
                frame_count=a['frame_count'], fps=a['fps'], width=a['width'], height=a['height'],
                **{'subject/objects': objs}, trajectories=traj, relation_instances=[])

def vidstg_input(d, items):
    "The items file and a folder of VidOR files, one per video."
    by = defaultdict(list)
    for a in items: by[a['vid']].append(a)
    for vid, its in by.items():
        (d / 'vidor' / vid[:4]).mkdir(parents=True, exist_ok=True)
        (d / 'vidor' / vid[:4] / f"{vid}.json").write_text(json.dumps(vidor_file(vid, its)))
    (d / 'items.json').write_text(json.dumps(items))
    n_frames = sum(its[0]['frame_count'] for its in by.values())
    n_boxes = sum(len(vidor_file(v, its)['subject/objects']) * its[0]['frame_count'] for v, its in by.items())
    return d / 'items.json', d / 'vidor', dict(videos=len(by), frames_per_video=round(n_frames / len(by), 1),
                                               boxes_per_video=round(n_boxes / len(by), 1))

def timed(fn):
    "Result, CPU and wall seconds of fn(), with the garbage collector run before and paused during the call."
    gc.collect()
    gc.disable()
    try:
        c, w = time.process_time(), time.perf_counter()
        r = fn()
        return r, time.process_time() - c, time.perf_counter() - w
    finally: gc.enable()

def stats(ts):
    return dict(median_s=round(statistics.median(ts), 4), min_s=round(min(ts), 4), max_s=round(max(ts), 4),
                runs=[round(t, 4) for t in ts])

def same_vidstg(a, b):
    "Same scenes, tracks and boxes, except the segment's last frame that only the new reader keeps."
    if len(a) != len(b): return False
    for sa, sb in zip(a, b):
        if [e.text for e in sa.events] != [e.text for e in sb.events]: return False
        if {t.id for t in sa.tracks} - {t.id for t in sb.tracks}: return False
        for t in sa.tracks:
            u = sb.track(t.id)
            if not (np.array_equal(t.boxes, u.boxes[:len(t.boxes)]) and np.allclose(t.t, u.t[:len(t.t)])): return False
    return True

def same_charades(a, b):
    "Same scenes, events and spans."
    def key(s): return s.name, s.duration, [e.to_dict() for e in s.events]
    return len(a) == len(b) and all(key(sa) == key(sb) for sa, sb in zip(a, b))

def measure(jobs, repeats):
    "Interleaved repeats: baseline, new in odd repeats, new, baseline in even ones; CPU and wall seconds each."
    t = {k: dict(base_cpu=[], new_cpu=[], base_wall=[], new_wall=[]) for k in jobs}
    res, loads = {}, []
    for r in range(repeats):
        loads.append(round(os.getloadavg()[0], 2))
        for k, (fo, fn) in jobs.items():
            order = (('base', fo), ('new', fn)) if r % 2 == 0 else (('new', fn), ('base', fo))
            for name, f in order:
                out, c, w = timed(f)
                t[k][f'{name}_cpu'].append(c)
                t[k][f'{name}_wall'].append(w)
                res[k, name] = out
    return t, res, loads

def summary(t, n):
    "Stats and ratios (median of baseline / median of new, and the range of per-repeat ratios)."
    out = {}
    for clock in ('cpu', 'wall'):
        b, nw = t[f'base_{clock}'], t[f'new_{clock}']
        per = [x / y for x, y in zip(b, nw)]
        out[clock] = dict(baseline=stats(b), new=stats(nw),
                          speedup_median=round(statistics.median(b) / statistics.median(nw), 2),
                          speedup_per_repeat_min_max=[round(min(per), 2), round(max(per), 2)])
    out['per_s_new_cpu'] = round(n / statistics.median(t['new_cpu']))
    return out

def run(n_lines=10_000, n_items=1_000, repeats=5, annotations=None):
    from st_toolkit import formats as F
    import st_toolkit
    old = baseline_module()
    warnings.simplefilter('ignore')
    d = Path(tempfile.mkdtemp())
    sta, lens = charades_input(d, n_lines)
    items = real_items(annotations, n_items) if annotations else excerpt_items(n_items)
    ipath, vidor, layout = vidstg_input(d, items)
    dur = F.charades_lengths(lens)
    def base_ch(): return old.read_charades_sta(sta, durations=dur)
    jobs = dict(charades=(base_ch, lambda: F.read_charades_sta(sta, durations=dur, overrun='keep')),
                charades_clip=(base_ch, lambda: F.read_charades_sta(sta, durations=dur)),
                vidstg=(lambda: old.read_vidstg(ipath, vidor), lambda: F.read_vidstg(ipath, vidor)))
    load0 = [round(x, 2) for x in os.getloadavg()]
    t, res, loads = measure(jobs, repeats)
    seg = statistics.mean(a['used_segment']['end_fid'] - a['used_segment']['begin_fid'] + 1 for a in items)
    out = dict(baseline=f"the readers at commit {BASELINE} (start of issue 16), which parse a VidOR file once per item",
               inputs=dict(charades_lines=n_lines, vidstg_items=len(items),
                           vidstg_source=str(annotations.name) if annotations else 'excerpt cycled',
                           items_per_video=round(len(items) / layout['videos'], 2),
                           used_segment_frames_mean=round(seg, 1), **{f"vidstg_{k}": v for k, v in layout.items()}),
               same_result=dict(charades=same_charades(res['charades', 'base'], res['charades', 'new']),
                                vidstg_except_last_frame=same_vidstg(res['vidstg', 'base'], res['vidstg', 'new'])),
               load_average_before=load0, load_1min_per_repeat=loads,
               load_average_after=[round(x, 2) for x in os.getloadavg()],
               threads={k: os.environ[k] for k in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS')},
               cpus=os.cpu_count(), repeats=repeats,
               versions=dict(python=platform.python_version(), numpy=np.__version__,
                             st_toolkit=getattr(st_toolkit, '__version__', '?'), machine=platform.machine()))
    out['charades'] = summary(t['charades'], n_lines)
    out['charades_clip'] = summary(t['charades_clip'], n_lines)
    out['vidstg'] = summary(t['vidstg'], len(items))
    out['floors'] = floors(vidor, repeats, statistics.median(t['vidstg']['base_cpu']))
    return out

def floors(vidor, repeats, base_cpu):
    "CPU seconds of the least any VidSTG reader must do once per VidOR file, and the speed-up each would give."
    files = sorted(Path(vidor).rglob('*.json'))
    jobs = dict(read_bytes=lambda: [p.read_bytes() for p in files],
                json_loads_once=lambda: [json.loads(p.read_bytes()) for p in files])
    out = {}
    for k, f in jobs.items():
        ts = [timed(f)[1] for _ in range(repeats)]
        out[k] = dict(cpu=stats(ts), speedup_if_alone=round(base_cpu / statistics.median(ts), 2))
    return out

def _cell(s): return f"{s['median_s']} [{s['min_s']}-{s['max_s']}]"

def markdown(r):
    rows = []
    for k in ('charades', 'charades_clip', 'vidstg'):
        c, w = r[k]['cpu'], r[k]['wall']
        (c0, c1), (w0, w1) = c['speedup_per_repeat_min_max'], w['speedup_per_repeat_min_max']
        rows.append(f"| {k} | {_cell(c['baseline'])} | {_cell(c['new'])} | **{c['speedup_median']}x** [{c0}-{c1}] | "
                    f"{w['speedup_median']}x [{w0}-{w1}] | {r[k]['per_s_new_cpu']:,}/s |")
    i = r['inputs']
    return '\n'.join([
        f"# formats_read: {i['charades_lines']:,} Charades-STA lines, {i['vidstg_items']:,} VidSTG items", '',
        f"Baseline: {r['baseline']}.", '',
        f"VidSTG input: {i['vidstg_source']}; {i['vidstg_videos']} videos, {i['items_per_video']} items per video, "
        f"{i['vidstg_frames_per_video']} frames and {i['vidstg_boxes_per_video']} boxes per VidOR file, "
        f"used segments of {i['used_segment_frames_mean']} frames on average.", '',
        '| reader | baseline CPU s, median [min-max] | new CPU s, median [min-max] | '
        'speed-up CPU (median [per-repeat range]) | speed-up wall | new rate (CPU) |',
        '|---|---|---|---|---|---|'] + rows + ['',
        f"{r['repeats']} interleaved repeats (baseline first in odd repeats, new first in even ones); load average "
        f"{r['load_average_before']} before, 1-min load per repeat {r['load_1min_per_repeat']}, "
        f"{r['load_average_after']} after; {r['cpus']} CPUs, threads {r['threads']}; {r['versions']}.",
        "charades: the new reader with `overrun='keep'` (the baseline's behaviour); charades_clip: with its default "
        "`overrun='clip'` (15 % of these test queries end past the video and are clipped, so results differ).",
        f"Same results as the baseline: Charades (keep) {r['same_result']['charades']}; "
        "VidSTG (boxes, times, sentences; the segment's last frame is kept only by the new reader) "
        f"{r['same_result']['vidstg_except_last_frame']}.", ''] + floor_lines(r))

def floor_lines(r):
    "The floor rows: what reading each VidOR file once costs before any checking or scene building."
    f = r.get('floors')
    if not f: return []
    rows = [f"| {k} | {_cell(v['cpu'])} | {v['speedup_if_alone']}x |" for k, v in f.items()]
    return ['## Floors: the least a VidSTG reader must do, once per VidOR file', '',
            '| work | CPU s, median [min-max] | speed-up over the baseline if it were all a reader did |',
            '|---|---|---|'] + rows + ['',
            "`json_loads_once` is CPython's C JSON parser run once on each VidOR file, with no checks and no scenes: "
            "a reader that parses every file once with it cannot pass that speed-up. The new reader "
            f"({r['vidstg']['cpu']['speedup_median']}x) scans the bytes instead (numbers read with numpy, the layout "
            "checked on the skeleton), then checks every box and builds the scenes.", '']

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--lines', type=int, default=10_000)
    ap.add_argument('--items', type=int, default=1_000)
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--annotations', type=Path, help="VidSTG-Dataset's annotations/test_annotations.json")
    a = ap.parse_args()
    r = run(a.lines, a.items, a.repeats, a.annotations)
    (ROOT / 'benchmarks' / 'results').mkdir(exist_ok=True)
    (ROOT / 'benchmarks' / 'results' / 'formats_read.json').write_text(json.dumps(r, indent=1))
    (ROOT / 'benchmarks' / 'results' / 'formats_read.md').write_text(markdown(r))
    print(markdown(r))
