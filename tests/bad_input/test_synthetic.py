"""Bad arguments to the synthetic scene generator (what `synth --fps -5`, `--duration 0`, `--objects -2` pass on):
each raises `SceneError` naming the argument and its value instead of an IndexError deep inside."""
import pytest
from st_toolkit.core import SceneError
from st_toolkit.synthetic import make_scene
from ._check import expect_error

CASES = [   # (id, make_scene keyword arguments, names)
    ('fps_negative', dict(fps=-5), ['fps=-5']),
    ('fps_zero', dict(fps=0), ['fps=0']),
    ('fps_nan', dict(fps=float('nan')), ['fps=nan']),
    ('fps_text', dict(fps='10'), ["fps='10'"]),
    ('duration_zero', dict(duration=0), ['duration=0']),
    ('duration_negative', dict(duration=-3.5), ['duration=-3.5']),
    ('duration_inf', dict(duration=float('inf')), ['duration=inf']),
    ('duration_under_a_frame', dict(duration=0.01, fps=10), ['duration=0.01', 'gives no frame']),
    ('objects_negative', dict(n_objects=-2), ['n_objects=-2']),
    ('objects_zero', dict(n_objects=0), ['n_objects=0']),
    ('objects_fraction', dict(n_objects=2.5), ['n_objects=2.5']),
    ('width_zero', dict(width=0), ['width=0']),
    ('height_float', dict(height=240.5), ['height=240.5']),
    ('hfov_too_wide', dict(hfov_deg=200), ['hfov_deg=200']),
    ('moving_frac_above_one', dict(moving_frac=1.5), ['moving_frac=1.5']),
    ('kind_unknown', dict(kinds=['car', 'dragon']), ["'dragon'"]),
]

@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_bad_make_scene_argument(case):
    name, kw, names = case
    expect_error(lambda: make_scene(**kw), SceneError, 'make_scene', *names)

def test_bad_camera_is_named():
    expect_error(lambda: make_scene(camera='drone'), ValueError, 'drone')
