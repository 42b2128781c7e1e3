"The same training run under torchrun with 2 CPU processes (DDP over gloo): the data is split, gradients averaged."
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
import fastcore.test as fct

ROOT = Path(__file__).resolve().parents[1]


def _data(tmp):
    "The tiny model and 8 questions (distance and speed, 4 scenes) as a LLaVA JSON file."
    from st_toolkit.core import Scene
    from st_toolkit.templates import kinematic_qa
    from st_toolkit.formats import write_dataset
    from st_toolkit.models import build_tiny_model
    scenes = [Scene.from_json(p) for p in sorted((ROOT / 'data_samples/scenes').glob('sample_0*.json'))[:4]]
    qa = [q for s in scenes for q in kinematic_qa(s, tasks=['distance', 'speed'], seed=0)[:2]]
    return build_tiny_model(path=tmp / 'tiny'), write_dataset(qa, tmp / 'eight.json'), len(qa)


@pytest.mark.skipif(shutil.which('torchrun') is None and not (Path(sys.executable).parent / 'torchrun').exists(), reason='torchrun not installed')
def test_two_processes(tmp_path):
    from st_toolkit.train import TrainConfig
    tiny, data, n = _data(tmp_path)
    cfg = TrainConfig(model=str(tiny), data=str(data), output_dir=str(tmp_path / 'ddp'), epochs=2, batch_size=1,
                      save_steps=1000, logging_steps=1, learning_rate=1e-3, quiet=True, cache_dir=str(tmp_path / 'frames'))
    cfg.to_json(tmp_path / 'ddp.json')
    torchrun = shutil.which('torchrun') or str(Path(sys.executable).parent / 'torchrun')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM='false')
    out = subprocess.run([torchrun, '--nproc_per_node', '2', '--master_port', '29517', '-m', 'st_toolkit.train',
                          '--config', str(tmp_path / 'ddp.json')], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-4000:]
    lines = [l for l in out.stdout.splitlines() if l.startswith('{')]
    fct.test_eq(len(lines), 1)                                    # only rank 0 reports (and saves)
    res = json.loads(lines[0])
    fct.test_eq(res['processes'], 2)
    fct.test_eq(res['global_step'], 2 * n // 2)                   # 2 epochs of n samples split over 2 processes
    card = json.loads((tmp_path / 'ddp' / 'final' / 'training_card.json').read_text())
    fct.test_eq(card['result']['processes'], 2)
    assert (tmp_path / 'ddp' / 'final' / 'adapter_model.safetensors').exists()
    assert any((tmp_path / 'frames').rglob('*.npz'))              # the processes shared one on-disk frame cache
