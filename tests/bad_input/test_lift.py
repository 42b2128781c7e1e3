"""Bad inputs to `lift`: depth and mask files that are not what they claim, maps of the wrong size, unknown
settings. Each raises `LiftError` naming the file (or scene) and the bad item."""
from pathlib import Path
import numpy as np
import pytest
from st_toolkit.core import Scene
from st_toolkit.lift import LiftError, load_depth_maps, load_masks, prior, lift_scene, perturb
from ._check import expect_error

ROOT = Path(__file__).resolve().parents[2]
SCENE = Scene.from_json(ROOT / 'data_samples/scenes/sample_00.json')

def _text(t):
    p = t / 'depth_notes.txt'
    p.write_text('the car is 3 m away\n')
    return p

def _npy(t):
    np.save(t / 'bare.npy', np.zeros((2, 240, 320), np.float32))
    return t / 'bare.npy'

def _nokey(t):
    np.savez(t / 'nokey.npz', other=np.zeros(3))
    return t / 'nokey.npz'

def _cut(t):
    (t / 'cut_depth.npz').write_bytes((ROOT / 'data_samples/scenes/sample_00_depth.npz').read_bytes()[:3000])
    return t / 'cut_depth.npz'

def _pickle(t):
    np.savez(t / 'pickled.npz', depth=np.array([{'a': 1}], dtype=object))
    return t / 'pickled.npz'

FILE_CASES = [   # (id, make the file, loader, names)
    ('depth_text_file', _text, load_depth_maps, ['depth_notes.txt', 'not an npz archive']),
    ('depth_bare_npy', _npy, load_depth_maps, ['bare.npy', 'one bare array']),
    ('depth_folder', lambda t: t, load_depth_maps, ['is a folder']),
    ('depth_missing', lambda t: t / 'gone.npz', load_depth_maps, ['gone.npz', 'not found']),
    ('depth_no_key', _nokey, load_depth_maps, ['nokey.npz', "no 'depth' array", 'other']),
    ('depth_truncated', _cut, load_depth_maps, ['cut_depth.npz']),
    ('depth_pickled', _pickle, load_depth_maps, ['pickled.npz', "'depth'"]),
    ('masks_text_file', _text, load_masks, ['depth_notes.txt', 'not an npz archive']),
    ('masks_no_key', _nokey, load_masks, ['nokey.npz', "no 'ids' array"]),
]

@pytest.mark.parametrize('case', FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_bad_depth_or_mask_file(case, tmp_path):
    name, make, loader, names = case
    p = make(tmp_path)
    expect_error(lambda: loader(p, SCENE), LiftError, *names)

D = np.zeros((SCENE.n_frames, 240, 320), np.float32)
CALL_CASES = [   # (id, call, names)
    ('depth_2d', lambda: load_depth_maps(D[0], SCENE), ['depth must have shape (F, H, W)', '(240, 320)']),
    ('depth_half_size', lambda: load_depth_maps(D[:, ::2, ::2], SCENE), ['160x120', "'sample_00'", '320x240']),
    ('masks_wrong_size', lambda: load_masks(np.zeros((2, 10, 10), int), SCENE), ["'sample_00'", '(2, 10, 10)']),
    ('prior_unknown', lambda: prior('car', 'max_jerk'), ["unknown prior 'max_jerk'"]),
    ('lift_unknown_setting', lambda: lift_scene(SCENE, depth=D, smoothing_window=3), ['unknown lift settings',
                                                                                      'smoothing_window']),
    ('lift_poses_text', lambda: lift_scene(SCENE, depth=D, poses='moving'), ["'moving'"]),
    ('perturb_noise_kind', lambda: perturb(SCENE, D, noise='gaussian'),
     ["noise must be 'pixel' or 'frame'", 'gaussian']),
]

@pytest.mark.parametrize('case', CALL_CASES, ids=[c[0] for c in CALL_CASES])
def test_bad_lift_call(case):
    name, fn, names = case
    expect_error(fn, LiftError, *names)
