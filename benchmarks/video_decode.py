"""Decoding speed of `st_toolkit.video.load_frames`: 16 uniform and 16 random frames from a generated
60 s 640x360 H.264 video (30 fps, x264 defaults: B-frames, a keyframe every 250 frames), decord vs PyAV
vs a cache hit (memory and disk), as frames/s and ratios measured in the same run. Every decoded frame
is checked: its corner encodes its own index.
Writes benchmarks/results/video_decode.json and .md.
Usage: python benchmarks/video_decode.py [--duration 60] [--width 640] [--height 360] [--fps 30] [--reps 5]
"""
import argparse, json, os, platform, statistics, tempfile, time
from pathlib import Path
import numpy as np
from st_toolkit.video import (write_video, index_frames, read_frame_index, load_frames, video_info, clear_cache,
                              available_backends, DECODE_CALLS, _INDEX)

def frames(n, H, W, seed=0):
    "A scrolling smooth colour texture with the frame index drawn as blocks in the top-left 128x96 corner."
    rng = np.random.default_rng(seed)
    lo = rng.integers(0, 256, (H // 16 + 2, W // 16 + 2, 3)).astype(np.float32)
    tex = np.kron(lo, np.ones((32, 32, 1), np.float32))           # 2x the frame, blocky
    tex = ((tex + rng.normal(0, 12, tex.shape)).clip(0, 255)).astype(np.uint8)
    codes = index_frames(n, 96, 128)
    for i in range(n):
        y, x = (2 * i) % (tex.shape[0] - H), (3 * i) % (tex.shape[1] - W)
        f = tex[y:y + H, x:x + W].copy()
        f[:96, :128] = codes[i]
        yield f

def timed(fn, reps):
    "Median seconds of `reps` calls, and the last result."
    ts, out = [], None
    for r in range(reps):
        t0 = time.perf_counter(); out = fn(r); ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out

def check(clip):
    "Every frame's corner encodes the index it is reported as."
    f, t = clip
    assert read_frame_index(f[:, :96, :128]).tolist() == clip.meta.indices, 'wrong frames decoded'

def run(a):
    d = Path(tempfile.mkdtemp()); vid = d / 'bench.mp4'; n = int(a.duration * a.fps)
    t0 = time.perf_counter(); write_video(frames(n, a.height, a.width), vid, fps=a.fps, crf=23, options={'preset': 'fast'})
    gen_s = time.perf_counter() - t0
    _INDEX.clear(); t0 = time.perf_counter(); info = video_info(vid); index_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    rand = [np.sort(rng.choice(info.n_frames, 16, replace=False)) for _ in range(a.reps)]
    modes = {'uniform16': lambda r: dict(num_frames=16), 'random16': lambda r: dict(indices=rand[r])}
    res = {}
    for mode, kw in modes.items():
        row = {}
        for be in [b for b in ('decord', 'torchcodec', 'pyav') if b in available_backends()]:
            s, clip = timed(lambda r: load_frames(vid, backend=be, cache=False, **kw(r)), a.reps)
            check(clip); assert clip.meta.backend == be, clip.meta.note
            row[be] = s
        cdir = d / 'cache'; clear_cache(cdir)
        first = load_frames(vid, cache_dir=cdir, **kw(0)); check(first)
        DECODE_CALLS.clear()
        row['cache_memory'], hit = timed(lambda r: load_frames(vid, cache_dir=cdir, **kw(0)), a.reps)
        row['cache_disk'], hit2 = timed(lambda r: (clear_cache(), load_frames(vid, cache_dir=cdir, **kw(0)))[1], a.reps)
        assert sum(DECODE_CALLS.values()) == 0 and (hit.frames == first.frames).all() and (hit2.frames == first.frames).all()
        res[mode] = {k: dict(seconds=round(v, 5), frames_per_s=round(16 / v, 1)) for k, v in row.items()}
        base = row.get('pyav')
        res[mode]['ratios_vs_pyav'] = {k: round(base / v, 2) for k, v in row.items()}
        if 'decord' in row: res[mode]['ratios_vs_decord'] = {k: round(row['decord'] / v, 2) for k, v in row.items()}
    for p in d.rglob('*'):
        if p.is_file(): p.unlink()
    return dict(benchmark='video_decode', video=dict(duration_s=a.duration, width=a.width, height=a.height, fps=a.fps,
                n_frames=info.n_frames, size_mb=round(vid.stat().st_size / 2**20, 2) if vid.exists() else None, codec=info.codec,
                gop='x264 default (keyint 250), preset fast, crf 23'),
                generate_s=round(gen_s, 1), index_scan_ms=round(index_s * 1e3, 1), reps=a.reps,
                machine=dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(), load_avg=os.getloadavg()),
                results=res)

def markdown(r):
    v = r['video']
    md = [f"# Video decoding: 16 frames from a {v['duration_s']:g} s {v['width']}x{v['height']} {v['fps']:g} fps H.264 video",
          '', f"{v['n_frames']} frames, {v['gop']}; median of {r['reps']} runs; index scan (demux, once per file) "
          f"{r['index_scan_ms']} ms; {r['machine']['cores']} cores, load {r['machine']['load_avg'][0]:.1f}.", '',
          '| sampling | backend | seconds | frames/s | vs PyAV | vs decord |', '|---|---|---|---|---|---|']
    for mode, row in r['results'].items():
        for k, x in row.items():
            if k.startswith('ratios'): continue
            md.append(f"| {mode} | {k} | {x['seconds']:.4f} | {x['frames_per_s']} | {row['ratios_vs_pyav'][k]}x | "
                      f"{row.get('ratios_vs_decord', {}).get(k, '-')}x |")
    return '\n'.join(md) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--duration', type=float, default=60); ap.add_argument('--width', type=int, default=640)
    ap.add_argument('--height', type=int, default=360); ap.add_argument('--fps', type=float, default=30)
    ap.add_argument('--reps', type=int, default=5)
    r = run(ap.parse_args())
    out = Path(__file__).parent / 'results'; out.mkdir(exist_ok=True)
    (out / 'video_decode.json').write_text(json.dumps(r, indent=2))
    (out / 'video_decode.md').write_text(markdown(r))
    print(markdown(r))
