"""Video decoding with `st_toolkit.video.load_frames`: decord vs PyAV (vs torchcodec when installed) vs a cache hit.

Speed: 16 uniform and 16 random frames from a generated 60 s 640x360 H.264 video (30 fps, x264 defaults: B-frames,
a keyframe every 250 frames); every decoded frame is checked (its corner encodes its own index).
Cost of choosing a backend: a fresh process that imports the toolkit and takes 64 frames of a 10 s 1280x720 video,
measured for start-up (import + first call) wall time and peak resident memory.
Baseline: PyAV (`backend='pyav'`), the same call on the same file in the same run.
Writes benchmarks/results/video_decode.json and .md.
Usage: python benchmarks/video_decode.py [--duration 60] [--reps 5] [--proc-reps 3]
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from _protocol import interleave, stats, ratios, fmt, environment, header_md, write
from st_toolkit.video import (write_video, index_frames, read_frame_index, load_frames, video_info, clear_cache,
                              available_backends, DECODE_CALLS, _INDEX)

ROOT = Path(__file__).resolve().parents[1]


def frames(n, H, W, seed=0):
    "A scrolling smooth colour texture with the frame index drawn as blocks in the top-left 128x96 corner."
    rng = np.random.default_rng(seed)
    lo = rng.integers(0, 256, (H // 16 + 2, W // 16 + 2, 3)).astype(np.float32)
    tex = np.kron(lo, np.ones((32, 32, 1), np.float32))
    tex = ((tex + rng.normal(0, 12, tex.shape)).clip(0, 255)).astype(np.uint8)
    codes = index_frames(n, 96, 128)
    for i in range(n):
        y, x = (2 * i) % (tex.shape[0] - H), (3 * i) % (tex.shape[1] - W)
        f = tex[y:y + H, x:x + W].copy()
        f[:96, :128] = codes[i]
        yield f


def check(clip, be=None):
    "Every frame's corner encodes the index it is reported as (and the backend asked for did the work)."
    assert read_frame_index(clip[0][:, :96, :128]).tolist() == clip.meta.indices, 'wrong frames decoded'
    if be: assert clip.meta.backend == be, clip.meta.note


def speed(vid, a, d):
    "Interleaved timings of every backend and of cache hits, per sampling mode."
    info, rng = video_info(vid), np.random.default_rng(0)
    rand = [np.sort(rng.choice(info.n_frames, 16, replace=False)) for _ in range(a.reps + 1)]
    modes = {'uniform16': lambda r: dict(num_frames=16), 'random16': lambda r: dict(indices=rand[r])}
    bes = [b for b in ('pyav', 'decord', 'torchcodec') if b in available_backends()]
    out = {}
    for mode, kw in modes.items():
        cdir = d / f'cache_{mode}'
        clear_cache(cdir); check(load_frames(vid, cache_dir=cdir, backend='pyav', **kw(0)))
        v = {be: (lambda be: lambda r: check(load_frames(vid, backend=be, cache=False, **kw(r)), be))(be) for be in bes}
        v['cache_memory'] = lambda r: load_frames(vid, cache_dir=cdir, backend='pyav', **kw(0))
        v['cache_disk'] = lambda r: (clear_cache(), load_frames(vid, cache_dir=cdir, backend='pyav', **kw(0)))
        DECODE_CALLS.clear()
        t = interleave(v, a.reps)
        out[mode] = dict(seconds={k: stats(x) for k, x in t.items()}, vs_pyav={k: ratios(t['pyav'], x) for k,
                                                                               x in t.items()})
        if 'decord' in t: out[mode]['vs_decord'] = {k: ratios(t['decord'], x) for k, x in t.items()}
    return out


CHILD = """
import resource, sys, time
t0 = time.perf_counter()
from st_toolkit.video import load_frames
c = load_frames(sys.argv[1], num_frames=64, backend=sys.argv[2], cache=False)
assert c.meta.backend == sys.argv[2], c.meta.note
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'decord' in sys.modules)
"""


def process_cost(vid, a):
    "Fresh-process start-up (import + first 64-frame call) seconds and peak RSS MB per backend, interleaved."
    bes = [b for b in ('pyav', 'decord') if b in available_backends()]
    res = {b: dict(seconds=[], rss_mb=[], decord_loaded=set()) for b in bes}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for r in range(a.proc_reps):
        for b in bes[r % len(bes):] + bes[:r % len(bes)]:
            p = subprocess.run([sys.executable, '-c', CHILD, str(vid), b], capture_output=True, text=True, env=env)
            if p.returncode: raise SystemExit(f'{b} child failed:\n{p.stderr[-3000:]}')
            s, rss, dl = p.stdout.split()
            res[b]['seconds'].append(float(s)); res[b]['rss_mb'].append(float(rss)); res[b]['decord_loaded'].add(dl)
    out = {b: dict(seconds=stats(x['seconds']), rss_mb=stats(x['rss_mb']), decord_loaded=sorted(x['decord_loaded']))
           for b, x in res.items()}
    if 'decord' in res:
        out['decord_vs_pyav'] = dict(startup_ratio=ratios(res['decord']['seconds'], res['pyav']['seconds']),
                                     rss_ratio=ratios(res['decord']['rss_mb'], res['pyav']['rss_mb']))
    return out


def run(a):
    load0 = os.getloadavg()
    d = Path(tempfile.mkdtemp()); vid, big = d / 'bench.mp4', d / 'big720p.mp4'
    write_video(frames(int(a.duration * 30), 360, 640), vid, fps=30, crf=23, options={'preset': 'fast'})
    write_video(frames(300, 720, 1280), big, fps=30, crf=23, options={'preset': 'fast'})
    _INDEX.clear(); t0 = time.perf_counter(); info = video_info(vid); index_s = time.perf_counter() - t0
    res = dict(benchmark='video_decode', baseline="PyAV (backend='pyav'): the same load_frames call on the same file",
               reps=a.reps, proc_reps=a.proc_reps,
               video=dict(duration_s=a.duration, width=640, height=360, fps=30, n_frames=info.n_frames,
                          codec=info.codec,
                          gop='x264 default (keyint 250), preset fast, crf 23'),
               index_scan_ms=round(index_s * 1e3, 1), speed=speed(vid, a, d), process=process_cost(big, a))
    res['env'] = environment(load0)
    for p in sorted(d.rglob('*'), reverse=True): p.unlink() if p.is_file() else p.rmdir()
    return res


def markdown(r):
    v = r['video']
    md = [f"# Video decoding: 16 frames from a {v['duration_s']:g} s {v['width']}x{v['height']} {v['fps']} fps "
          "H.264 video", '', header_md(r),
          f"{v['n_frames']} frames, {v['gop']}; index scan (demux, once per file) {r['index_scan_ms']} ms.", '',
          '| sampling | backend | seconds | frames/s (median) | speed vs PyAV | speed vs decord |', '|---|---|---|---|---|---|']
    for mode, row in r['speed'].items():
        for k, s in row['seconds'].items():
            vd = fmt(row['vs_decord'][k]) + 'x' if 'vs_decord' in row else '-'
            md.append(f"| {mode} | {k} | {fmt(s, 4)} | {16 / s['median']:,.1f} | {fmt(row['vs_pyav'][k])}x | {vd} |")
    p = r['process']
    md += ['',
           f"## Fresh process: import + 64 frames of a 10 s 1280x720 video ({r['proc_reps']} interleaved repeats)", '',
           '| backend | start-up + first call (s) | peak RSS (MB) | decord in sys.modules |', '|---|---|---|---|']
    for b in ('pyav', 'decord'):
        if b in p:
            md.append(f"| {b} | {fmt(p[b]['seconds'])} | {fmt(p[b]['rss_mb'], 0)} | {', '.join(p[b]['decord_loaded'])} |")
    if 'decord_vs_pyav' in p:
        q = p['decord_vs_pyav']
        md += ['', f"decord / PyAV: start-up {fmt(q['startup_ratio'])}x, peak memory {fmt(q['rss_ratio'])}x."]
    return '\n'.join(md) + '\n'


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--duration', type=float, default=60); ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--proc-reps', type=int, default=3)
    r = run(ap.parse_args())
    write('video_decode', r, markdown(r))
