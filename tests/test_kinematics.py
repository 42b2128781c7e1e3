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

# --- camera poses at many times, and direction segments cut all at once ----------------------------------------------

def _turning_scene(seed, n=9):
    "A camera that climbs and turns arbitrarily between `n` recorded poses at uneven times."
    g = np.random.default_rng(seed)
    tp = np.r_[0, np.cumsum(g.uniform(0.05, 1.0, n - 1))]
    eyes = np.c_[g.normal(0, 3, (n, 2)), 1 + tp]
    poses = np.stack([look_at(e, e + g.normal(0, 1, 3)) for e in eyes])
    return Scene([], fps=10, width=64, height=48, K=intrinsics(64, 48), poses=poses, pose_t=tp)

@SET
@given(st.integers(0, 2**31 - 1), st.lists(st.floats(-2, 12), min_size=1, max_size=40))
def test_pose_at_vectorised(seed, q):
    "`pose_at` of an array = `pose_at` of each time = scipy's Slerp between recorded poses, held outside; recorded poses exactly."
    from scipy.spatial.transform import Rotation, Slerp
    sc = _turning_scene(seed)
    q = np.r_[q, sc.pose_t]
    P = sc.pose_at(q)
    assert P.shape == (len(q), 4, 4)
    for x, T in zip(q, P): np.testing.assert_array_equal(sc.pose_at(float(x)), T)
    qc = np.clip(q, sc.pose_t[0], sc.pose_t[-1])
    ref = Slerp(sc.pose_t, Rotation.from_matrix(sc.poses[:, :3, :3]))(qc).as_matrix()
    fct.test_close(P[:, :3, :3], ref, eps=1e-9)
    fct.test_close(P[:, :3, 3], np.stack([np.interp(qc, sc.pose_t, sc.poses[:, k, 3]) for k in range(3)], 1), eps=1e-9)
    np.testing.assert_array_equal(P[-len(sc.pose_t):], sc.poses)
    np.testing.assert_array_equal(P[:, 3], np.tile([0, 0, 0, 1.], (len(q), 1)))

def _segments_ref(trk, reference, scene, t0=None, t1=None):
    "The former step-by-step implementation of `direction_segments` (a Python loop over the steps), kept as a reference."
    t = trk.t
    a, b = K._window(trk, t, t0, t1)
    theta, ok = K.relative_angles(trk, reference, scene), K._ok_steps(t)
    pieces = []
    for i in np.flatnonzero(ok):
        ta, tb, x, y = float(t[i]), float(t[i + 1]), theta[i], theta[i + 1]
        if np.isnan(x) and np.isnan(y): continue
        if np.isnan(y): pieces.append((K.clock_hour(x), ta, (ta + tb) / 2)); continue
        if np.isnan(x): pieces.append((K.clock_hour(y), (ta + tb) / 2, tb)); continue
        y = x + K._wrap180(y - x)
        lo, hi = min(x, y), max(x, y)
        bounds = [15 + 30 * k for k in range(math.ceil((lo - 15) / 30), math.floor((hi - 15) / 30) + 1) if lo < 15 + 30 * k < hi]
        cuts = [0.0] + sorted((z - x) / (y - x) for z in bounds) + [1.0]
        pieces += [(K.clock_hour(x + (u + v) / 2 * (y - x)), ta + u * (tb - ta), ta + v * (tb - ta)) for u, v in zip(cuts, cuts[1:]) if v > u]
    out = []
    for h, s, e in pieces:
        s, e = max(s, a), min(e, b)
        if e <= s: continue
        if out and out[-1][0] == h and abs(out[-1][2] - s) < 1e-9: out[-1] = (h, out[-1][1], e)
        else: out.append((h, s, e))
    return [(h, float(s), float(e)) for h, s, e in out]

class _OneTimeScene:
    "A stand-in for a scene whose `pose_at` takes one time only (as some callers pass)."
    def __init__(self, sc): self.sc, self.poses, self.pose_t, self.name = sc, sc.poses, sc.pose_t, sc.name
    def pose_at(self, t): return self.sc.pose_at(float(t))

@SET
@given(st.lists(tracks(min_n=2, max_n=40), min_size=1, max_size=6), st.integers(0, 2**31 - 1), st.sampled_from(K.REFERENCES), st.floats(0, 1), st.floats(0, 1))
def test_direction_segments_vectorised(trks, seed, ref, u, v):
    "Vectorised segments = the former loop, bit for bit, with and without a window; many tracks at once = one by one."
    sc = _turning_scene(seed)
    for k in trks:
        a, b = sorted(k.t[0] + np.array([u, v]) * k.duration)
        for w in ((None, None), (a, b)):
            new = K.direction_segments(k, ref, sc, *w)
            assert new == _segments_ref(k, ref, sc, *w)
            assert all(type(h) is int and type(s) is float and type(e) is float for h, s, e in new)
        if ref == 'camera': assert K.direction_segments(k, ref, _OneTimeScene(sc), a, b) == K.direction_segments(k, ref, sc, a, b)
    rows = [(k.t, K.relative_angles(k, ref, sc), K._ok_steps(k.t), k.t[0], k.t[-1]) for k in trks]
    assert K._segments_many(rows) == [K.direction_segments(k, ref, sc) for k in trks]

def test_batch_window_equals_batch_motion():
    "Windows over precomputed per-sample kinematics (rows repeated) = `batch_motion` with those windows, bit for bit."
    g = np.random.default_rng(3)
    trks = [Track(f'k{i}', np.cumsum(g.uniform(0.05, 0.5, 30)), np.cumsum(g.normal(0, 1, (30, 3)), 0)) for i in range(20)]
    rows = g.integers(0, 20, 200)
    t0 = np.array([trks[r].t[0] + g.uniform(0, 0.5) * trks[r].duration for r in rows]); t1 = np.array([trks[r].t[-1] for r in rows]) - 0.1
    w, full = K.batch_window(K.batch_motion(trks), rows, t0, t1), K.batch_motion([trks[r] for r in rows], t0, t1)
    for f in ('traveled_distance', 'average_speed', 'displacement', 't0', 't1'): np.testing.assert_array_equal(w[f], getattr(full, f))
    with pytest.raises(K.KinematicsError, match=r"batch row 1 \(track 'k4'\): window"):
        K.batch_window(K.batch_motion(trks), [3, 4], [trks[3].t[0], -1.0], None)
