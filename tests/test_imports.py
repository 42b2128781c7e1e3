"""decord is loaded only when the decord backend is asked for, and never before torch through the toolkit's imports.

Each check runs in a fresh Python process: `sys.modules` of the test process has seen everything already."""
import importlib.util, json, subprocess, sys, textwrap
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / 'data_samples' / 'scenes' / 'sample_00.mp4'
SCENE = ROOT / 'data_samples' / 'scenes' / 'sample_00.json'
MODULES = ['core', 'video', 'synthetic', 'kinematics', 'lift', 'coords', 'templates', 'formats', 'parse', 'metrics',
           'models', 'train', 'evaluate', 'viz', 'heads', 'quickstart', 'cli']
needs_decord = pytest.mark.skipif(importlib.util.find_spec('decord') is None,
                                  reason='decord (decord2) is not installed')


def _py(code, timeout=300):
    "Run `code` in a fresh interpreter at the repository root; (returncode, stdout, stderr)."
    p = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def test_no_public_default_is_decord():
    "Every public function, class and config of the toolkit whose signature has a `backend` defaults to something else."
    rc, out, err = _py(f"""
        import dataclasses, importlib, inspect, json
        found = []
        for m in {MODULES!r}:
            mod = importlib.import_module('st_toolkit.' + m)
            for name in getattr(mod, '__all__', []):
                obj = getattr(mod, name)
                if not callable(obj): continue
                try: sig = inspect.signature(obj)
                except (TypeError, ValueError): continue
                if 'backend' in sig.parameters: found.append([m + '.' + name, sig.parameters['backend'].default])
        print(json.dumps(found))
    """)
    assert rc == 0, err[-3000:]
    found = json.loads(out.strip().splitlines()[-1])
    names = {n for n, _ in found}
    assert {'video.load_frames', 'train.sample_frames', 'train.VideoQADataset', 'train.TrainConfig'} <= names, names
    assert [f for f in found if f[1] == 'decord'] == [], found


def test_toolkit_and_its_public_functions_never_load_decord():
    "import st_toolkit, every module, and the public functions that read video: decord stays unloaded."
    rc, out, err = _py(f"""
        import importlib, json, sys
        import st_toolkit
        mods = [importlib.import_module('st_toolkit.' + m) for m in {MODULES!r}]
        from st_toolkit.video import load_frames, video_info, available_backends
        from st_toolkit.core import Scene
        from st_toolkit.train import sample_frames
        from st_toolkit.templates import kinematic_qa
        c = load_frames({str(VIDEO)!r}, num_frames=8, cache=False)
        info = video_info({str(VIDEO)!r})
        q = kinematic_qa(Scene.from_json({str(SCENE)!r}), seed=0)[0]
        f, t = sample_frames(q, num_frames=4)
        print(json.dumps(dict(decord='decord' in sys.modules, backend=c.meta.backend, backends=available_backends(),
                              frames=len(f))))
    """)
    assert rc == 0, err[-3000:]
    r = json.loads(out.strip().splitlines()[-1])
    assert r['backend'] == 'pyav' and r['frames'] == 4, r
    assert r['decord'] is False, r


@needs_decord
def test_decord_backend_loads_decord_after_torch():
    "Asking for decord loads it, torch first: torch's CPU matmul works afterwards (the other order crashes here)."
    rc, out, err = _py(f"""
        import sys
        from st_toolkit.video import load_frames
        assert 'torch' not in sys.modules and 'decord' not in sys.modules
        c = load_frames({str(VIDEO)!r}, num_frames=8, backend='decord', cache=False)
        assert c.meta.backend == 'decord', c.meta.note
        order = [m for m in sys.modules if m in ('torch', 'decord')]
        import torch
        a = torch.randn(256, 256)
        print(order, float((a @ a).sum()) == float((a @ a).sum()))
    """)
    assert rc == 0, f'the process died (code {rc}): {err[-3000:]}'
    assert out.split() == ["['torch',", "'decord']", 'True'], out


@needs_decord
def test_decord_imported_first_by_the_user_is_reported():
    "If user code imported decord before torch, asking the toolkit for decord says so (not a silent crash later)."
    rc, out, err = _py(f"""
        import decord, warnings
        from st_toolkit.video import load_frames
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            load_frames({str(VIDEO)!r}, num_frames=2, backend='decord', cache=False)
        print([str(x.message)[:40] for x in w if issubclass(x.category, RuntimeWarning)])
    """)
    assert rc == 0, err[-3000:]
    assert 'decord was imported before torch' in out, out
