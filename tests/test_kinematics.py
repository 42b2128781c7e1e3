"Property tests for `st_toolkit.kinematics` (hypothesis): invariances, additivity, batch == per-track on random ragged tracks."
import math
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
import fastcore.test as fct
from st_toolkit.core import Track, Scene, look_at, intrinsics
from st_toolkit import kinematics as K

SET = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

@st.composite
def tracks(draw, min_n=2, max_n=25, gaps=True):
    "A random track: uneven steps (some longer than 1.5 s when `gaps`), stops, 3D positions."
    n = draw(st.integers(min_n, max_n))
    seed = draw(st.integers(0, 2**31 - 1))
    g = np.random.default_rng(seed)
    dt = g.uniform(0.05, 0.8, n - 1) * (np.where(g.random(n - 1) < 0.1, 6, 1) if gaps else 1)
    v = g.normal(0, 3, (n, 3)) * (g.random((n, 1)) > 0.2)
    t = g.uniform(-5, 5) + np.r_[0, np.cumsum(dt)]
    return Track(f'trk{seed % 1000}', t, g.normal(0, 30, 3) + np.cumsum(v * np.r_[0, dt][:, None], 0))

def rot_z(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.]])

@SET
@given(st.lists(tracks(min_n=1), min_size=1, max_size=12), st.sampled_from([1, 3, 64]))
def test_batch_equals_per_track(trks, chunk):
    "Every row of `batch_motion` is bit-identical to the per-track functions, whatever the chunking; one-sample rows are NaN."
    bm = K.batch_motion(trks, chunk=chunk)
    for i, k in enumerate(trks):
        if len(k) == 1:
            assert np.isnan(bm.traveled_distance[i]) and np.isnan(bm.velocity[i, :1]).all(); continue
        m = K.motion(k)
        for f in ('velocity', 'speed', 'acceleration', 'heading', 'stationary', 'dist'):
            np.testing.assert_array_equal(getattr(bm, f)[i, :len(k)], getattr(m, f))
        np.testing.assert_array_equal(bm.traveled_distance[i], K.traveled_distance(k))
        np.testing.assert_array_equal(bm.velocity[i, :len(k)], K.velocity(k))
        assert np.isnan(bm.speed[i, len(k):]).all()

@SET
@given(tracks(), st.floats(-100, 100), st.floats(-math.pi, math.pi), st.lists(st.floats(-50, 50), min_size=3, max_size=3))
def test_invariances(trk, dt, ang, shift):
    "Speed, distance and stationarity do not depend on the clock's origin, a rotation about z, or a translation."
    R = rot_z(ang)
    moved = Track('m', trk.t + dt, trk.xyz @ R.T + shift)
    fct.test_close(K.speed(moved)[~np.isnan(K.speed(trk))], K.speed(trk)[~np.isnan(K.speed(trk))], eps=1e-6)
    fct.test_close(K.traveled_distance(moved), K.traveled_distance(trk), eps=1e-6)
    fct.test_close(K.velocity(moved)[~np.isnan(K.speed(trk))], (K.velocity(trk) @ R.T)[~np.isnan(K.speed(trk))], eps=1e-6)
    h0, h1 = K.heading(trk), K.heading(moved)
    ok = ~np.isnan(h0) & ~np.isnan(h1)
    fct.test_close(np.angle(np.exp(1j * (h1[ok] - h0[ok] - ang))), 0, eps=1e-6)          # heading turns by the rotation

@SET
@given(tracks(), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
def test_distance_additive(trk, u, v, w):
    "d(a, b) + d(b, c) = d(a, c) for window ends anywhere between samples; d >= |displacement|; avg speed x time = d."
    a, b, c = sorted(trk.t[0] + np.array([u, v, w]) * trk.duration)
    fct.test_close(K.traveled_distance(trk, a, b) + K.traveled_distance(trk, b, c), K.traveled_distance(trk, a, c), eps=1e-7)
    assert K.traveled_distance(trk, a, c) >= np.linalg.norm(K.displacement(trk, a, c)) - 1e-9
    if c > a: fct.test_close(K.average_speed(trk, a, c) * (c - a), K.traveled_distance(trk, a, c), eps=1e-7)

@SET
@given(tracks(min_n=4, gaps=False), st.floats(-math.pi, math.pi), st.floats(0, 1))
def test_clock_equivariant(trk, ang, u):
    "Rotating the world and the camera together about z changes no clock direction (camera reference)."
    t = trk.t[0] + u * trk.duration
    tp = np.linspace(trk.t[0], trk.t[-1], 7)
    yaw = lambda x: 0.3 * x                                                     # a panning camera
    poses = np.stack([look_at([0, 0, 2], [math.cos(yaw(x)), math.sin(yaw(x)), 1.5]) for x in tp])
    R = np.eye(4); R[:3, :3] = rot_z(ang)
    s0 = Scene([trk], fps=10, width=64, height=48, K=intrinsics(64, 48), poses=poses, pose_t=tp)
    trk2 = Track(trk.id, trk.t, trk.xyz @ rot_z(ang).T)
    s1 = Scene([trk2], fps=10, width=64, height=48, K=intrinsics(64, 48), poses=R @ poses, pose_t=tp)
    a0, a1 = K.relative_angles(trk, scene=s0), K.relative_angles(trk2, scene=s1)
    ok = ~np.isnan(a0)
    fct.test_close(np.angle(np.exp(1j * np.radians(a1[ok] - a0[ok]))), 0, eps=1e-6)
    safe = ok & (np.abs((a0 - 15) % 30 - 15) > 1e-3)                          # not on a bin edge
    fct.test_eq(K.clock_directions(trk, scene=s0)[safe], K.clock_directions(trk2, scene=s1)[safe])
    d0, d1 = K.clock_direction(trk, t, scene=s0), K.clock_direction(trk2, t, scene=s1)
    assert (d0 is None) == (d1 is None)

@SET
@given(tracks(min_n=3), st.sampled_from(['north', 'initial']))
def test_segments_agree_with_clock_direction(trk, ref):
    "Each `direction_segments` piece has that hour at its middle by `clock_direction`; pieces are ordered and disjoint."
    segs = K.direction_segments(trk, reference=ref)
    for h, s, e in segs:
        assert trk.t[0] - 1e-9 <= s < e <= trk.t[-1] + 1e-9
        assert K.clock_direction(trk, (s + e) / 2, reference=ref) == h
    ends = [x for _, s, e in segs for x in (s, e)]
    assert ends == sorted(ends)

@given(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from(sorted(K.UNITS)))
def test_units_round_trip(x, unit):
    fct.test_close(K.from_si(K.to_si(x, unit), unit), x, eps=1e-9 * max(1, abs(x)))

@given(st.floats(-720, 720), st.integers(-3, 3))
def test_clock_hour_periodic(a, k):
    assert K.clock_hour(a) == K.clock_hour(a + 360 * k) in range(1, 13)
    assert abs(((a - K.hour_angle(K.clock_hour(a))) + 180) % 360 - 180) <= 15 + 1e-9

def test_batch_rejects_bad_rows():
    t = np.array([[0, 1, 2.], [0, 1, 1.]]); xyz = np.zeros((2, 3, 3))
    with pytest.raises(K.KinematicsError, match="batch row 1: timestamps must strictly increase at sample 2"):
        K.batch_motion((t, xyz, np.array([3, 3])))
    with pytest.raises(K.KinematicsError, match="n=0 must be in 1..3"):
        K.batch_motion((t, xyz, np.array([3, 0])))
