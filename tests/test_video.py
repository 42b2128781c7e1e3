"""Tests for `st_toolkit.video` that notebooks do badly: several processes sharing the disk cache, a torch
DataLoader with workers, and property tests against naive reference implementations."""
import hashlib, json, subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
import fastcore.test as fct
from st_toolkit.video import (write_video, index_frames, read_frame_index, load_frames, sample_indices, draw_boxes,
                              clear_cache, DECODE_CALLS, COLORS)

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='module')
def vid(tmp_path_factory):
    "A 90-frame video at 29.97 fps whose frames encode their index."
    return write_video(index_frames(90), tmp_path_factory.mktemp('v') / 'idx.mp4', fps=30000 / 1001, options={'g': 10})

WORKER = textwrap.dedent('''
    import hashlib, json, sys
    from st_toolkit.video import load_frames, read_frame_index, DECODE_CALLS
    f, t = c = load_frames(sys.argv[1], num_frames=12, cache_dir=sys.argv[2], backend=sys.argv[3])
    print(json.dumps(dict(decodes=sum(DECODE_CALLS.values()), sha=hashlib.sha1(f.tobytes() + t.tobytes()).hexdigest(),
                          codes=read_frame_index(f).tolist(), idx=c.meta.indices)))
''')

def _run_workers(vid, cache, backend, n):
    "Start `n` processes at once, each loading the same frames through the same disk cache."
    ps = [subprocess.Popen([sys.executable, '-c', WORKER, str(vid), str(cache), backend], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, cwd=ROOT) for _ in range(n)]
    outs = [p.communicate(timeout=120) for p in ps]
    assert all(p.returncode == 0 for p in ps), [o[1][-500:] for o in outs]
    return [json.loads(o[0].strip().splitlines()[-1]) for o in outs]

@pytest.mark.parametrize('backend', ['decord', 'pyav'])
def test_disk_cache_shared_by_processes(vid, tmp_path, backend):
    "Concurrent workers all get identical, correct frames; a later process decodes nothing; no partial files remain."
    cache = tmp_path / 'cache'
    first = _run_workers(vid, cache, backend, 3)
    assert len({r['sha'] for r in first}) == 1
    assert all(r['codes'] == r['idx'] for r in first) and first[0]['idx'][-1] == 89
    later = _run_workers(vid, cache, backend, 1)[0]
    assert later['decodes'] == 0 and later['sha'] == first[0]['sha']
    assert len(list(cache.glob('*/*.npz'))) == 1 and not list(cache.glob('*/.*'))

class FrameClips:
    "Six 0.4-s clips of a video, decoded through a disk cache (a module-level class: spawned workers import it)."
    def __init__(self, vid, cache): self.vid, self.cache = vid, cache
    def __len__(self): return 6
    def __getitem__(self, i):
        import torch
        f, t = load_frames(self.vid, span=(i * 0.5, i * 0.5 + 0.4), num_frames=4, cache_dir=self.cache)
        return torch.from_numpy(f), torch.from_numpy(t)

@pytest.mark.parametrize('start', ['spawn', 'forkserver'])
def test_dataloader_workers(vid, tmp_path, start):
    "A torch DataLoader with 2 workers (started without fork) decodes through the shared cache and matches the main process."
    torch = pytest.importorskip('torch')
    dl = torch.utils.data.DataLoader(FrameClips(vid, tmp_path / 'c'), batch_size=None, num_workers=2,
                                     multiprocessing_context=start)
    got = list(dl)
    clear_cache(); DECODE_CALLS.clear()
    for i, (f, t) in enumerate(got):
        ref, ts = load_frames(vid, span=(i * 0.5, i * 0.5 + 0.4), num_frames=4, cache_dir=tmp_path / 'c')
        np.testing.assert_array_equal(f.numpy(), ref)
        np.testing.assert_array_equal(t.numpy(), ts)
        assert read_frame_index(ref).tolist() == np.round(ts * 30000 / 1001).astype(int).tolist()
    assert sum(DECODE_CALLS.values()) == 0                       # every item came from the workers' disk entries

def test_cache_hit_skips_decoder(vid):
    "Counting decoder calls: one decode for repeated identical calls, one more per new argument set."
    clear_cache(); DECODE_CALLS.clear()
    a = [load_frames(vid, indices=[3, 80, 89], backend='pyav') for _ in range(4)]
    assert DECODE_CALLS == {'pyav': 1}
    for x in a[1:]: np.testing.assert_array_equal(x.frames, a[0].frames)
    load_frames(vid, indices=[3, 80], backend='pyav'); load_frames(vid, indices=[3, 80, 89], backend='decord')
    assert DECODE_CALLS == {'pyav': 2, 'decord': 1}
    load_frames(vid, indices=[3, 80, 89], backend='pyav', cache=False)
    assert DECODE_CALLS == {'pyav': 3, 'decord': 1}

@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.001, 0.5), min_size=1, max_size=60), st.integers(1, 20) | st.none(),
       st.floats(0.2, 40) | st.none(), st.tuples(st.floats(-1, 10), st.floats(0, 12)) | st.none())
def test_sample_indices_properties(gaps, num, fps, span):
    "Sorted, unique, in range, inside the span, at most num_frames; uniform sampling keeps both ends."
    ts = np.concatenate([[0], np.cumsum(gaps)])[:-1] if len(gaps) > 1 else np.array([0.0])
    dur = ts[-1] + 0.1
    if span is not None and (span[1] < span[0] or span[1] < 0 or span[0] >= dur):
        with pytest.raises(ValueError): sample_indices(ts, num_frames=num, fps=fps, span=span, duration=dur)
        return
    idx = sample_indices(ts, num_frames=num, fps=fps, span=span, duration=dur)
    assert len(idx) >= 1 and (np.diff(idx) > 0).all() and idx[0] >= 0 and idx[-1] < len(ts)
    if num is not None: assert len(idx) <= num
    if span is not None:
        inside = np.flatnonzero((ts >= span[0] - 1e-6) & (ts <= span[1] + 1e-6))
        if len(inside): assert set(idx) <= set(inside)
    if fps is None and num is not None and num >= 2 and span is None: assert idx[0] == 0 and idx[-1] == len(ts) - 1

def _naive_boxes(frame, boxes, color, th):
    "Reference: loop over every pixel, on the outline if inside the box and within `th` of an edge."
    out = frame.copy(); H, W = frame.shape[:2]
    for b in boxes:
        if np.isnan(b).any(): continue
        x1, y1, x2, y2 = (int(round(v)) for v in b)
        for y in range(H):
            for x in range(W):
                if x1 <= x < x2 and y1 <= y < y2 and (x < x1 + th or x >= x2 - th or y < y1 + th or y >= y2 - th):
                    out[y, x] = color
    return out

@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-10, 50), st.floats(-10, 40), st.floats(0, 30), st.floats(0, 30)), min_size=1, max_size=4),
       st.integers(1, 4))
def test_draw_boxes_matches_naive(raw, th):
    "The vectorised outline equals a per-pixel reference, for boxes inside, across and outside the image."
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in raw])
    fr = np.full((30, 40, 3), 7, np.uint8)
    got = draw_boxes(fr, boxes, 'yellow', thickness=th)
    np.testing.assert_array_equal(got, _naive_boxes(fr, boxes, COLORS['yellow'], th))

def test_draw_boxes_per_frame_and_labels():
    "Per-frame boxes move with the frames; labels are drawn in readable ink on a colored tab."
    T = 5; fr = np.zeros((T, 64, 96, 3), np.uint8)
    bx = np.stack([[[10 + 5 * t, 30, 40 + 5 * t, 60]] for t in range(T)]).astype(float)
    out = draw_boxes(fr, bx, [(255, 255, 0)], labels=['OK'])
    for t in range(T):
        col = (out[t] == (255, 255, 0)).all(-1)
        assert col[30:60, 10 + 5 * t].all() and not col[30:60, 9 + 5 * t].any()
        assert (out[t, 21:30, 10 + 5 * t:] == 0).all(-1).any()       # dark ink on yellow inside the tab
