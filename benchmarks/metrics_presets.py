"""Scoring with each preset: `metrics.score_samples` against a per-sample loop written from the definitions.

Baseline: for each preset, a plain Python loop over the samples that computes each sample's scores from the
published definitions under that preset's settings (frames, `>` or `>=`, unparsed and invalid answers), then the
means and the R@k counts. Workloads: 100,000 TVG answers (3% unparsed, 1% inverted spans) and 10,000 STVG tubes on
a 300-frame clip at 30 fps (100 evaluated frames under LLaVA-ST's preset, the tubes' own frames under the default,
native frame numbers under TubeDETR's and STCAT's rules; lmms-eval's Charades-STA reading for TVG).
Every per-sample score and every aggregate is asserted identical to the loop's. Rounds are interleaved; the report
gives median [min-max] CPU seconds and the per-round speed-up over the loop.
Writes benchmarks/results/metrics_presets.json and .md.
Usage: python benchmarks/metrics_presets.py [--tvg 100000] [--stvg 10000] [--repeat 3]
"""
from _protocol import write
import argparse, json, math, os, platform, subprocess, time
from pathlib import Path
import numpy as np
from st_toolkit.metrics import score_samples, Protocol, LLAVA_ST, TUBEDETR, STCAT, LMMS_CHARADES

BASELINE = ('a per-sample Python loop written from the definitions under the same preset settings, '
            'on the same samples and answers')
FPS, NF = 30, 300                                      # the STVG clip: frames 0..299 at 30 fps

def tvg_data(n, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 30, n).round(1); g = np.stack([a, a + rng.uniform(1, 10, n).round(1)], 1)
    p = (g + rng.normal(0, 2, (n, 2))).round(1); p.sort(1); p = np.maximum(p, 0)
    preds = [list(map(float, r)) for r in p]
    for i in rng.choice(n, n // 33, replace=False): preds[i] = None          # unparsed
    for i in rng.choice(n, n // 100, replace=False):
        if preds[i] is not None: preds[i] = preds[i][::-1] if preds[i][0] < preds[i][1] else preds[i]   # inverted
    samples = [dict(id=f't{i}', task='tvg', gt=dict(type='span', value=list(map(float, r)))) for i, r in enumerate(g)]
    return samples, preds

def stvg_data(n, seed=0):
    rng = np.random.default_rng(seed)
    samples, preds = [], []
    for i in range(n):
        k = int(rng.integers(40, 200)); a = int(rng.integers(0, NF - k))
        xy = rng.uniform(0, 400, 2) + np.cumsum(rng.normal(0, 2, (NF, 2)), 0); wh = rng.uniform(20, 120, 2)
        box = np.concatenate([xy, xy + wh], 1).round(1)
        gt = {f / FPS: box[f].tolist() for f in range(a, a + k)}
        pa = int(np.clip(a + rng.integers(-k // 2, k // 2), 0, NF - 1))
        pk = int(np.clip(k + rng.integers(-k // 3, k // 3), 1, NF - pa))
        pb = (box + rng.normal(0, 6, (NF, 4))).round(1)
        pb = np.concatenate([np.minimum(pb[:, :2], pb[:, 2:]), np.maximum(pb[:, :2], pb[:, 2:])], 1)
        boxes = {f / FPS: pb[f].tolist() for f in range(pa, pa + pk)}
        pred = None if rng.random() < 0.03 else dict(span=None, boxes=boxes)
        samples.append(dict(id=f's{i}', task='stvg', meta=dict(fps=FPS), clip=dict(t0=0.0, t1=(NF - 1) / FPS),
                            gt=dict(type='boxes', value=gt, span=[a / FPS, (a + k - 1) / FPS])))
        preds.append(pred)
    return samples, preds

# --- the loops, from the definitions ------------------------------------------------------------------------------
def span_iou(a, b, same=1.0):
    inter = max(min(a[1], b[1]) - max(a[0], b[0]), 0.0); hull = max(a[1], b[1]) - min(a[0], b[0])
    return inter / hull if hull > 0 else same

def box_iou(p, g):
    iw = max(min(p[2], g[2]) - max(p[0], g[0]), 0.0); ih = max(min(p[3], g[3]) - max(p[1], g[1]), 0.0)
    inter = iw * ih; union = ((p[2] - p[0]) * (p[3] - p[1]) + (g[2] - g[0]) * (g[3] - g[1])) - inter
    return inter / union if union > 0 else 0.0

def mean(x): return math.fsum(x) / len(x)

def tvg_loop(samples, preds, strict, lmms=False):
    "lmms: lmms-eval's Charades-STA reading (an inverted span reversed, two equal zero-length spans 0)."
    ious = []
    for s, p in zip(samples, preds):
        if lmms and p is not None: p = sorted(p)
        ok = p is not None and p[0] <= p[1]                # unparsed or inverted: a wrong answer, IoU 0
        ious.append(span_iou(p, s['gt']['value'], 0.0 if lmms else 1.0) if ok else 0.0)
    hit = (lambda v, r: v > r) if strict else (lambda v, r: v >= r)
    return ious, dict(mIoU=mean(ious), **{f'R@{r:g}': mean([float(hit(v, r)) for v in ious]) for r in (0.3, 0.5, 0.7)})

def stvg_loop(samples, preds, frames):
    "`frames`: the evaluated frame numbers (None: the union of both tubes' frames); tIoU from the spans when given."
    T, V, S = [], [], []
    for s, p in zip(samples, preds):
        g = {round(t * FPS): b for t, b in s['gt']['value'].items()}
        q = {} if p is None else {round(t * FPS): b for t, b in p['boxes'].items()}
        ev = sorted(set(g) | set(q)) if frames is None else frames
        gf, pf = [f for f in ev if f in g], [f for f in ev if f in q]
        both, either = [f for f in ev if f in g and f in q], len(set(gf) | set(pf))
        tot = 0.0
        for f in both: tot += box_iou(q[f], g[f])
        V.append(tot / either if either else 0.0); S.append(tot / len(both) if both else 0.0)
        if frames is None: T.append(len(both) / either if either else 0.0)
        else: T.append(span_iou([pf[0] / FPS, pf[-1] / FPS], s['gt']['span']) if pf else 0.0)   # predicted boxes' hull
    at = {f'vIoU@{r:g}': mean([float(v >= r) for v in V]) for r in (0.3, 0.5)}
    return (T, V, S), dict(m_tIoU=mean(T), m_vIoU=mean(V), m_sIoU=mean(S), **at)

def native_loop(samples, preds, rule):
    """TubeDETR's (1/5-s blocks from frame 0, [start, end) spans, union cut at the earlier end) or STCAT's (every
    frame, [start, end] spans read half-open, the last gt frame out of tIoU and vIoU) scores, on frame numbers."""
    T, V, G = [], [], []
    for s, p in zip(samples, preds):
        g = {round(t * FPS): b for t, b in s['gt']['value'].items()}
        q = {} if p is None else {round(t * FPS): b for t, b in p['boxes'].items()}
        gs, ge = round(s['gt']['span'][0] * FPS), round(s['gt']['span'][1] * FPS)
        ps, pe = (min(q), max(q) + (rule == 'tubedetr')) if q else (0, 0)
        rate = 5 / FPS                                     # TubeDETR: int(frame * fps / video_fps), in floats
        ev = list(range(NF)) if rule == 'stcat' else \
            [f for f in range(NF) if f == 0 or int(f * rate) > int((f - 1) * rate)]
        lo, hi, first, last = max(gs, ps), min(ge, pe), min(gs, ps), max(ge, pe)
        T.append((hi - lo) / ((ge - gs) + (pe - ps) - (hi - lo)) if hi > lo else 0.0)
        gf = [f for f in ev if gs <= f and (f <= ge if rule == 'stcat' else f < ge)]
        ious = {f: box_iou(q[f], g[f]) if f in q else 0.0 for f in gf}
        tot = 0.0
        for f in gf:
            if lo <= f < hi: tot += ious[f]
        union = max(last - first, 1) if rule == 'stcat' else max(len([f for f in ev if first <= f < hi]), 1)
        gtot = 0.0
        for f in gf: gtot += ious[f]
        V.append(tot / union); G.append(gtot / max(len(gf), 1))
    at = {f'vIoU@{r:g}': mean([float(v > r) for v in V]) for r in (0.3, 0.5)}
    return (T, V, G), dict(m_tIoU=mean(T), m_vIoU=mean(V), m_gt_vIoU=mean(G), **at)

LLAVA_FRAMES = sorted({round(i * (NF - 1) / 99) for i in range(100)})

# --- the run --------------------------------------------------------------------------------------------------------
def records_floor(samples):
    "Not a scorer: only the per-sample records a card holds (id, task, kind, status, score), which the loops skip."
    return [{'id': s.get('id'), 'task': s['task'], 'kind': 'span', 'status': 'ok', 'tiou': 0.0} for s in samples]

def stats(xs):
    xs = sorted(xs); return dict(median=float(np.median(xs)), min=float(xs[0]), max=float(xs[-1]))

def check(card, per, ref_per, ref_agg, task, keys):
    cs = [r for r in card.samples]
    for k, ref in zip(keys, ref_per):
        got = np.array([np.nan if r.get(k) is None else r[k] for r in cs], float)
        ok = np.array([r['status'] == 'ok' for r in cs])
        assert np.array_equal(got[ok], np.array(ref)[ok]), (task, k)
    for k, v in ref_agg.items(): assert card[task][k] == v, (task, k, card[task][k], v)
    return True

def main(n_tvg, n_stvg, repeat):
    tvg, tvg_p = tvg_data(n_tvg); stvg, stvg_p = stvg_data(n_stvg)
    cases = {'tvg · default (>=)': (tvg, tvg_p, Protocol(), lambda: tvg_loop(tvg, tvg_p, False), 'tvg', ['tiou']),
             'tvg · llava-st (>)': (tvg, tvg_p, LLAVA_ST, lambda: tvg_loop(tvg, tvg_p, True), 'tvg', ['tiou']),
             'tvg · lmms-eval Charades-STA (>=, reversed spans, 0/0 = 0)':
                 (tvg, tvg_p, LMMS_CHARADES, lambda: tvg_loop(tvg, tvg_p, False, True), 'tvg', ['tiou']),
             'stvg · default (own frames)': (stvg, stvg_p, Protocol(), lambda: stvg_loop(stvg, stvg_p, None), 'stvg',
                                             ['tiou', 'viou', 'siou']),
             'stvg · llava-st (100 snapped frames)': (stvg, stvg_p, LLAVA_ST,
                                                      lambda: stvg_loop(stvg, stvg_p, LLAVA_FRAMES), 'stvg',
                                                      ['tiou', 'viou', 'siou']),
             'stvg · tubedetr (native frames, 1/5-s blocks)': (stvg, stvg_p, TUBEDETR,
                                                               lambda: native_loop(stvg, stvg_p, 'tubedetr'), 'stvg',
                                                               ['tiou', 'viou', 'gt_viou']),
             'stvg · stcat (every native frame)': (stvg, stvg_p, STCAT, lambda: native_loop(stvg, stvg_p, 'stcat'),
                                                   'stvg', ['tiou', 'viou', 'gt_viou'])}
    res = {}
    load0 = os.getloadavg()
    for name, (ss, pp, pr, loop, task, keys) in cases.items():
        tl, tv, out = [], [], {}
        for r in range(repeat):                         # interleaved: loop and library alternate, order flipped
            for k in (('loop', 'lib') if r % 2 == 0 else ('lib', 'loop')):
                c0 = time.process_time(); out[k] = loop() if k == 'loop' else score_samples(ss, pp, pr)
                (tl if k == 'loop' else tv).append(time.process_time() - c0)
        ref_per, ref_agg = out['loop']
        ref_per = ref_per if task == 'stvg' else [ref_per]
        identical = check(out['lib'], None, ref_per, ref_agg, task, keys)
        res[name] = dict(samples=len(ss), loop_cpu_s=stats(tl), library_cpu_s=stats(tv),
                         speedup=stats((np.array(tl) / np.array(tv)).tolist()), identical=identical,
                         metrics={k: round(v, 6) for k, v in ref_agg.items()})
    fl, ll = [], []                                     # the floor, interleaved with the default TVG loop
    for r in range(repeat):
        for k in (('loop', 'floor') if r % 2 == 0 else ('floor', 'loop')):
            c0 = time.process_time(); records_floor(tvg) if k == 'floor' else tvg_loop(tvg, tvg_p, False)
            (fl if k == 'floor' else ll).append(time.process_time() - c0)
    res['tvg · floor: building the per-sample records only'] = dict(
        samples=len(tvg), loop_cpu_s=stats(ll), library_cpu_s=stats(fl),
        speedup=stats((np.array(ll) / np.array(fl)).tolist()), identical=None, metrics={})
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    return dict(benchmark='metrics_presets', baseline=BASELINE, rounds=repeat,
                timing='CPU seconds of this process (time.process_time); interleaved rounds; median [min-max]',
                load_avg=dict(start=[round(x, 2) for x in load0], end=[round(x, 2) for x in os.getloadavg()]),
                versions=dict(python=platform.python_version(), numpy=np.__version__, commit=commit),
                threads=dict(cpus_allowed=len(os.sched_getaffinity(0)),
                             OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS')),
                cases=res)

def fmt(s, d=3): return f"{s['median']:.{d}f} [{s['min']:.{d}f}–{s['max']:.{d}f}]"

def markdown(r):
    lines = ['# Scoring with each preset vs a per-sample loop', '', f"Baseline: {r['baseline']}.", '',
             f"{r['rounds']} interleaved rounds; load average {r['load_avg']['start']} → {r['load_avg']['end']}; "
             f"{r['threads']['cpus_allowed']} CPUs allowed; python {r['versions']['python']}, "
             f"numpy {r['versions']['numpy']}, commit {r['versions']['commit']}. "
             "Per-sample scores and aggregates asserted identical to the loop's. The floor row is not a scorer: it "
             "only builds the per-sample records a card holds (id, task, kind, status, score), which the loops do "
             "not make; with reading and grouping the answers, that bounds how close `score_samples` can come to a "
             "bare loop on TVG.", '',
             '| workload · preset | samples | loop CPU s | `score_samples` CPU s | speed-up |',
             '|---|---:|---:|---:|---:|']
    for k, v in r['cases'].items():
        lines.append(f"| {k} | {v['samples']:,} | {fmt(v['loop_cpu_s'])} | {fmt(v['library_cpu_s'])} "
                     f"| {fmt(v['speedup'], 2)}× |")
    return '\n'.join(lines) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--tvg', type=int, default=100_000)
    ap.add_argument('--stvg', type=int, default=10_000)
    ap.add_argument('--repeat', type=int, default=3)
    a = ap.parse_args()
    r = main(a.tvg, a.stvg, a.repeat)
    write('metrics_presets', r, markdown(r))
