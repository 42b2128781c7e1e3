"""Bad video inputs: files that are not videos, and sampling or writing arguments that cannot be used. Each raises
`VideoError` naming the file (or array) and the bad value."""
from pathlib import Path
import numpy as np
import pytest
from st_toolkit.video import VideoError, load_frames, write_video, draw_boxes, sample_indices, index_frames
from ._check import expect_error

ROOT = Path(__file__).resolve().parents[2]
VID = ROOT / 'data_samples/scenes/sample_00.mp4'

def _file(tmp, name, data):
    p = tmp / name
    if isinstance(data, bytes): p.write_bytes(data)
    else: p.write_text(data)
    return p

FILE_CASES = [   # (id, make the file, names)
    ('missing', lambda t: t / 'gone.mp4', ['gone.mp4', 'video file not found']),
    ('folder', lambda t: t, ['not a file']),
    ('empty', lambda t: _file(t, 'empty.mp4', b''), ['empty.mp4', 'empty file (0 bytes)']),
    ('text', lambda t: _file(t, 'notes.mp4', 'just some text\n' * 50), ['notes.mp4', 'cannot open as a video']),
    ('noise', lambda t: _file(t, 'noise.mp4', np.random.default_rng(0).bytes(5000)), ['noise.mp4', 'cannot open']),
    ('head_only', lambda t: _file(t, 'head.mp4', VID.read_bytes()[:200]), ['head.mp4']),
]

@pytest.mark.parametrize('case', FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_video_file(case, tmp_path):
    name, make, names = case
    p = make(tmp_path)
    expect_error(lambda: load_frames(p, num_frames=2, cache=False), VideoError, *names)

SAMPLING_CASES = [   # (id, load_frames keyword arguments, names)
    ('indices_empty', dict(indices=[]), ['sample_00.mp4', 'indices is empty']),
    ('indices_fraction', dict(indices=[2.5]), ['sample_00.mp4', 'whole frame numbers', '2.5']),
    ('indices_text', dict(indices=['a']), ['sample_00.mp4', 'whole frame numbers', "'a'"]),
    ('indices_bool', dict(indices=[True]), ['sample_00.mp4', 'whole frame numbers', 'True']),
    ('indices_nan', dict(indices=[float('nan')]), ['sample_00.mp4', 'whole frame numbers', 'nan']),
    ('indices_and_count', dict(indices=[1], num_frames=2), ['sample_00.mp4', 'either indices or num_frames']),
    ('num_frames_zero', dict(num_frames=0), ['sample_00.mp4', 'num_frames must be >= 1, got 0']),
    ('fps_negative', dict(fps=-1), ['sample_00.mp4', 'fps must be > 0, got -1']),
    ('span_reversed', dict(span=(5, 1)), ['sample_00.mp4', 'has its end before its start']),
    ('span_outside', dict(span=(100, 200)), ['sample_00.mp4', 'outside the video']),
    ('backend_unknown', dict(num_frames=2, backend='opencv'), ["unknown backend 'opencv'"]),
]

@pytest.mark.parametrize('case', SAMPLING_CASES, ids=[c[0] for c in SAMPLING_CASES])
def test_bad_sampling(case):
    name, kw, names = case
    expect_error(lambda: load_frames(VID, cache=False, **kw), VideoError, *names)

FR = index_frames(3, 16, 16)
WRITE_CASES = [   # (id, call, names)
    ('no_frames', lambda t: write_video([], t / 'a.mp4', 10), ['a.mp4', 'no frames to write']),
    ('odd_size', lambda t: write_video(index_frames(2, 15, 16), t / 'b.mp4', 10),
     ['b.mp4', 'even width and height', '16x15']),
    ('float_frames', lambda t: write_video(FR.astype(float), t / 'c.mp4', 10), ['frames[0]', 'uint8', 'float64']),
    ('gray_frames', lambda t: write_video(FR[..., 0], t / 'd.mp4', 10), ['frames[0]', '(H, W, 3)']),
    ('fps_zero', lambda t: write_video(FR, t / 'e.mp4', 0), ['fps must be positive, got 0']),
    ('times_backwards', lambda t: write_video(FR, t / 'f.mp4', 10, times=[0, 2, 1]), ['f.mp4', 'strictly increasing']),
    ('times_short', lambda t: write_video(FR, t / 'g.mp4', 10, times=[0, 1]), ['g.mp4', 'frame 2', 'times has 2']),
    ('boxes_shape', lambda t: draw_boxes(FR, np.zeros((2, 3)), 'red'), ['draw_boxes', 'boxes must be', '(2, 3)']),
    ('colour_unknown', lambda t: draw_boxes(FR, np.zeros((1, 4)), ['mauve']), ["unknown colour 'mauve'"]),
    ('colour_range', lambda t: draw_boxes(FR, np.zeros((1, 4)), [(300, 0, 0)]), ['colors[0]', '(300, 0, 0)']),
    ('labels_count', lambda t: draw_boxes(FR, np.zeros((2, 4)), 'red', labels=['a']), ['2 boxes but 1 labels']),
    ('sample_indices_empty', lambda t: sample_indices(np.arange(5) / 10, indices=[], name='clip.mp4'),
     ['clip.mp4', 'indices is empty']),
]

@pytest.mark.parametrize('case', WRITE_CASES, ids=[c[0] for c in WRITE_CASES])
def test_bad_write_or_draw(case, tmp_path):
    name, fn, names = case
    expect_error(lambda: fn(tmp_path), VideoError, *names)
