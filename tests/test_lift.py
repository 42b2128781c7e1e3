"Tests of the lift module that the notebook does badly: properties over random inputs, and hand-offs to other modules."
from pathlib import Path
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
import fastcore.test as fct
from st_toolkit.core import Scene, look_at
from st_toolkit.synthetic import load_depth
from st_toolkit.kinematics import traveled_distance
from st_toolkit.lift import (lift_scene, speed_outliers, accel_outliers, ground_scale, perturb, lift_errors, LiftError,
                             object_depth, near_cluster)

SCENES = Path(__file__).resolve().parents[1] / 'data_samples' / 'scenes'

@pytest.fixture(scope='module')
def ego():
    scn = Scene.from_json(SCENES / 'sample_02.json')
    return scn, *load_depth(scn)

@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 4))
def test_speed_outliers_find_isolated_spikes(seed, n_spikes):
    "Spikes far beyond the speed limit, at isolated samples of a plausible walk, are exactly what is flagged."
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.uniform(0.05, 0.15, 60)); t -= t[0]
    xyz = np.cumsum(rng.normal(0, 0.05, (60, 3)), 0) + np.c_[1.2 * t, 0 * t, 0 * t]
    idx = np.sort(rng.choice(np.arange(2, 58, 3), n_spikes, replace=False))     # never adjacent
    bad = xyz.copy(); bad[idx] += rng.choice([-1, 1], (n_spikes, 1)) * rng.uniform(5, 20, (n_spikes, 3))
    fct.test_eq(speed_outliers(t, xyz, 8.0).any(), False)
    fct.test_eq(np.flatnonzero(speed_outliers(t, bad, 8.0)), idx)

@settings(max_examples=100, deadline=None)
@given(st.floats(0.5, 3.0), st.floats(0.0, 1.0))
def test_accel_outliers_pass_constant_acceleration(a, v0):
    "Motion at a constant acceleration below the limit is never flagged, whatever the sampling."
    t = np.sort(np.r_[0, np.random.default_rng(int(a * 1e6)).uniform(0, 6, 50)])
    x = v0 * t + a * t ** 2 / 2
    fct.test_eq(accel_outliers(t, np.c_[x, 0.5 * x, 0 * x], 1.2 * a * np.sqrt(1.25)).any(), False)

def test_ground_scale_recovers_every_frame_scale(ego):
    "On a moving camera, the per-frame scale of deliberately scaled depth maps is recovered frame by frame."
    scn, dep, _ = ego
    s = np.random.default_rng(0).uniform(0.8, 1.25, len(dep))
    got = np.array([ground_scale(dep[i] * s[i], scn.K, scn.poses[i], [t.boxes[i] for t in scn.tracks]) for i in range(0, len(dep), 7)])
    fct.test_close(got, s[::7], eps=5e-3)

def test_lift_is_equivariant_to_the_world_frame(ego):
    "Moving the whole world (every pose) by a rigid transform moves the lifted tracks by it; distances stay."
    scn, dep, _ = ego
    T = look_at([3, -2, 1], [4, 5, 0.5]) @ np.linalg.inv(look_at([0, 0, 0], [0, 1, 0]))
    a = lift_scene(scn, dep)
    b = lift_scene(scn, dep, poses=np.einsum('ij,fjk->fik', T, scn.poses))
    fct.test_eq(a.ids, b.ids)
    for ta, tb in zip(a.tracks, b.tracks):
        fct.test_close(ta.xyz @ T[:3, :3].T + T[:3, 3], tb.xyz, eps=1e-6)
        fct.test_close(traveled_distance(ta), traveled_distance(tb), eps=1e-6)

def test_masks_from_file_equal_masks_from_array(ego):
    "Masks read from the depth npz give the same lift as the same masks passed as an array."
    scn, dep, ids = ego
    a, b = lift_scene(scn, dep, masks=scn.depth_path), lift_scene(scn, dep, masks=ids)
    fct.test_eq(a.tracks, b.tracks)
    fct.test_fail(lift_scene, args=(scn, dep), kwargs=dict(masks=ids[:, :, :5]), contains="masks must have shape (F, 240, 320)")

def test_templates_carry_the_pseudo_label_mark(ego):
    "QA samples generated from a lifted scene say pseudo_label=True; from the ground-truth scene, False."
    from st_toolkit.templates import kinematic_qa
    scn, dep, _ = ego
    lifted = lift_scene(scn, dep)
    qa, qa_gt = kinematic_qa(lifted, seed=0), kinematic_qa(scn, seed=0)
    assert qa and qa_gt
    assert all(q['meta']['pseudo_label'] is True for q in qa)
    assert all(q['meta']['pseudo_label'] is False for q in qa_gt)

def test_lifted_distances_under_noise_and_confidence(ego):
    "At 5% per-pixel depth noise and 2 px jitter the ego sample's distances stay within 10% (median); confidence drops with noise."
    scn, dep, _ = ego
    clean = lift_scene(scn, dep)
    ns, nd = perturb(scn, dep, 0.05, 'pixel', 2.0, 0.1, seed=3)
    noisy = lift_scene(ns, nd)
    err = [r['dist_rel_err'] for r in lift_errors(noisy, scn) if np.isfinite(r['dist_rel_err'])]
    assert np.median(err) < 0.10, err
    for t in noisy.tracks: assert t.attrs['lift']['confidence'] < clean.track(t.id).attrs['lift']['confidence']

def test_object_depth_ignores_bad_values():
    "NaN, inf, negative and out-of-range depths never reach the median."
    d = np.full((10, 10), 8.0); d[0, :5] = np.nan; d[1, :5] = np.inf; d[2, :5] = -3; d[3, :5] = 1e6
    z, spread, n = object_depth(d, [0, 0, 10, 10], shrink=1.0)
    fct.test_eq((z, spread, n), (8.0, 0.0, 80))
    fct.test_eq(len(near_cluster(np.r_[np.full(10, 5.0), np.full(90, 50.0)])), 100)   # a 10% near sliver is not the object
