"""Bad scene files: each case edits a copy of a real shipped scene file (data_samples/scenes/sample_00.json) and checks
that `Scene.from_json` raises `SceneError` naming the file, the record (scene, track id or event index) and
the field."""
import json
from pathlib import Path
import pytest
from st_toolkit.core import Scene, SceneError, Track, TrackError, Event
from ._check import expect_error

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / 'data_samples/scenes/sample_00.json').read_text())
T0 = SAMPLE['tracks'][0]['id']   # 'pedestrian_0'
SC = "scene 'sample_00'"

def _set(*path_value):
    "An edit that sets d[k1][k2]... = value (a missing key list deletes the last key when value is DEL)."
    *path, value = path_value
    def edit(d):
        for k in path[:-1]: d = d[k]
        if value is DEL: del d[path[-1]]
        else: d[path[-1]] = value
    return edit

DEL = object()

# (id, edit of the scene dict, names the message must hold besides the file name)
FIELD_CASES = [
    ('fps_text', _set('fps', 'ten'), [SC, "'fps'", 'ten']),
    ('fps_list', _set('fps', [10]), [SC, "'fps'"]),
    ('fps_bool', _set('fps', True), [SC, "'fps'", 'True']),
    ('fps_missing', _set('fps', DEL), [SC, "missing field 'fps'"]),
    ('fps_zero', _set('fps', 0), [SC, 'fps must be positive']),
    ('width_text', _set('width', '320px'), [SC, "'width'", '320px']),
    ('width_fraction', _set('width', 320.5), [SC, "'width'", '320.5']),
    ('height_missing', _set('height', DEL), [SC, "missing field 'height'"]),
    ('height_negative', _set('height', -240), [SC, 'image size must be positive']),
    ('tracks_number', _set('tracks', 5), [SC, "'tracks'=5"]),
    ('tracks_object', _set('tracks', {'a': 1}), [SC, "'tracks'"]),
    ('tracks_missing', _set('tracks', DEL), [SC, "missing field 'tracks'"]),
    ('events_text', _set('events', 'none'), [SC, "'events'", 'none']),
    ('name_number', _set('name', 7), [SC.replace("'sample_00'", '7'), "'name'=7"]),
    ('duration_text', _set('duration', 'long'), [SC, "'duration'", 'long']),
    ('K_shape', _set('K', [[1, 0], [0, 1]]), [SC, "'K'"]),
    ('K_text_entry', _set('K', [[1, 0, 0], [0, 'f', 0], [0, 0, 1]]), [SC, "'K'[1][1]", "'f'"]),
    ('poses_flat', _set('poses', [1, 2, 3]), [SC, "'poses'"]),
    ('pose_t_text', _set('pose_t', 'abc'), [SC, "'pose_t'"]),
    ('video_number', _set('video', 12), [SC, "'video'=12"]),
    ('depth_list', _set('depth', ['a.npz']), [SC, "'depth'"]),
    ('meta_list', _set('meta', [1, 2]), [SC, "'meta'"]),
    ('track_not_object', _set('tracks', 0, 'car'), ['tracks[0]', 'expected an object']),
    ('track_id_missing', _set('tracks', 0, 'id', DEL), ['tracks[0]', "missing field 'id'"]),
    ('track_id_list', _set('tracks', 0, 'id', [1]), ['tracks[0]', "'id'=[1]"]),
    ('track_t_missing', _set('tracks', 0, 't', DEL), [f"track '{T0}'", "missing field 't'"]),
    ('track_t_text', _set('tracks', 0, 't', 'soon'), [f"track '{T0}'", "'t'", 'soon']),
    ('track_t_entry', _set('tracks', 0, 't', 2, 'x'), [f"track '{T0}'", "'t'[2]", "'x'"]),
    ('track_t_null', _set('tracks', 0, 't', 1, None), [f"track '{T0}'", "'t'[1]", 'None']),
    ('track_xyz_pairs', lambda d: d['tracks'][0].update(xyz=[p[:2] for p in d['tracks'][0]['xyz']]),
     [f"track '{T0}'", "'xyz'", '3 number rows']),
    ('track_xyz_entry', _set('tracks', 0, 'xyz', 3, 1, 'up'), [f"track '{T0}'", "'xyz'[3][1]", "'up'"]),
    ('track_xyz_short', lambda d: d['tracks'][0]['xyz'].pop(), [f"track '{T0}'", 'xyz has']),
    ('track_boxes_three', lambda d: d['tracks'][0].update(boxes=[b[:3] for b in d['tracks'][0]['boxes']]),
     [f"track '{T0}'", "'boxes'", '4 number rows']),
    ('track_boxes_entry', _set('tracks', 0, 'boxes', 0, 2, 'wide'), [f"track '{T0}'", "'boxes'[0][2]", "'wide'"]),
    ('track_category_number', _set('tracks', 0, 'category', 3), [f"track '{T0}'", "'category'=3"]),
    ('track_color_list', _set('tracks', 0, 'color', ['red']), [f"track '{T0}'", "'color'"]),
    ('track_visible_numbers', _set('tracks', 0, 'visible', [1, 0]), [f"track '{T0}'", "'visible'"]),
    ('track_size_text', _set('tracks', 0, 'size', 'big'), [f"track '{T0}'", "'size'", 'big']),
    ('track_size_two', _set('tracks', 0, 'size', [1, 2]), [f"track '{T0}'", 'size must be 3 positive']),
    ('track_attrs_list', _set('tracks', 0, 'attrs', [1]), [f"track '{T0}'", "'attrs'"]),
    ('track_extra_no_dtype', _set('tracks', 0, 'extra', {'v': {'data': [1]}}), [f"track '{T0}'", "'extra'"]),
    ('track_t_backwards', lambda d: d['tracks'][0]['t'].reverse(), [f"track '{T0}'", 'strictly increase']),
    ('track_duplicate_id', lambda d: d['tracks'][1].update(id=T0), [SC, 'duplicate track ids', T0]),
    ('event_not_object', _set('events', 0, 'x'), ['events[0]', 'expected an object']),
    ('event_no_t0', _set('events', 0, 't0', DEL), ['events[0]', "missing field 't0'"]),
    ('event_t1_text', _set('events', 2, 't1', 'end'), ['events[2]', "'t1'", 'end']),
    ('event_text_number', _set('events', 1, 'text', 42), ['events[1]', "'text'=42"]),
    ('event_unknown_field', _set('events', 0, 'start', 1), ['events[0]', "unknown field 'start'"]),
    ('event_ids_number', _set('events', 0, 'track_ids', 3), ['events[0]', "'track_ids'=3"]),
    ('event_ids_nested', _set('events', 0, 'track_ids', [[T0]]), ['events[0]', "'track_ids'"]),
    ('event_reversed', lambda d: d['events'][0].update(t0=5.0, t1=1.0), ['events[0]', 't0 <= t1']),
    ('event_unknown_track', _set('events', 0, 'track_ids', ['ghost']), [SC, 'unknown tracks', 'ghost']),
    ('format_wrong', _set('format', 'other'), ['not a st_toolkit scene']),
    ('version_wrong', _set('version', 9), ['unsupported scene format version 9']),
]

def _copy():
    return json.loads(json.dumps(SAMPLE))

@pytest.mark.parametrize('case', FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_scene_file_field(case, tmp_path):
    name, edit, names = case
    d = _copy()
    edit(d)
    f = tmp_path / f'{name}.json'
    f.write_text(json.dumps(d))
    expect_error(lambda: Scene.from_json(f), SceneError, f'{name}.json', *names)

# (id, how to make the bad file in tmp_path, names)
FILE_CASES = [
    ('deep_nesting', lambda p: p.write_text('[' * 100_000 + ']' * 100_000), ['nested too deeply']),
    ('binary', lambda p: p.write_bytes(bytes(range(256)) * 4), ['not a UTF-8 text file']),
    ('directory', lambda p: p.mkdir(), ['is a folder']),
    ('missing', lambda p: None, ['scene file not found']),
    ('truncated_json', lambda p: p.write_text(json.dumps(SAMPLE)[:500]), ['malformed JSON at line 1']),
    ('empty', lambda p: p.write_text(''), ['malformed JSON']),
    ('json_list', lambda p: p.write_text('[1, 2]'), ['not a st_toolkit scene']),
]

@pytest.mark.parametrize('case', FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_scene_file_kind(case, tmp_path):
    name, make, names = case
    f = tmp_path / f'{name}.json'
    make(f)
    expect_error(lambda: Scene.from_json(f), SceneError, f'{name}.json', *names)

# objects built in code: TrackError / SceneError naming the track or event
OBJ_CASES = [
    ('track_nan_xyz', lambda: Track('c1', [0, 1], [[0, 0, 0], [float('nan'), 0, 0]]), TrackError, ["'c1'", 'xyz[1]']),
    ('track_empty', lambda: Track('c2', [], []), TrackError, ["'c2'", 'empty track']),
    ('event_inf', lambda: Event('go', 0, float('inf')), SceneError, ["'go'", 'finite']),
]

@pytest.mark.parametrize('case', OBJ_CASES, ids=[c[0] for c in OBJ_CASES])
def test_objects(case):
    name, fn, exc, names = case
    expect_error(fn, exc, *names)
