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


def _launch(tmp_path, launcher, name, **kw):
    "Run `st_toolkit.train` under `launcher` (a command prefix); (the result line of rank 0, all JSON lines, stderr)."
    from st_toolkit.train import TrainConfig
    tiny, data, n = _data(tmp_path)
    cfg = TrainConfig(model=str(tiny), data=str(data), output_dir=str(tmp_path / name), num_frames=4, batch_size=1,
                      save_steps=1000, logging_steps=1, learning_rate=1e-3, quiet=True, **kw)
    cfg.to_json(tmp_path / f'{name}.json')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM='false')
    out = subprocess.run(launcher + ['-m', 'st_toolkit.train', '--config', str(tmp_path / f'{name}.json')],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-4000:]
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.startswith('{')]
    return lines, n


def _tool(name):
    return shutil.which(name) or str(Path(sys.executable).parent / name)


@pytest.mark.skipif(not Path(_tool('accelerate')).exists(), reason='accelerate not installed')
def test_accelerate_two_processes(tmp_path):
    "On a CPU machine `accelerate launch --multi_gpu --num_processes 2` starts 2 processes (gloo); `--cpu` starts one."
    two, n = _launch(tmp_path, [_tool('accelerate'), 'launch', '--multi_gpu', '--num_processes', '2',
                                '--main_process_port', '29518'], 'acc2', epochs=1)
    fct.test_eq(len(two), 1)
    fct.test_eq((two[0]['processes'], two[0]['parallel'], two[0]['global_step']), (2, 'ddp', n // 2))
    one, _ = _launch(tmp_path, [_tool('accelerate'), 'launch', '--cpu', '--num_processes', '2'], 'acc_cpu', max_steps=1)
    fct.test_eq((len(one), one[0]['processes']), (1, 1))          # the caveat the notebook documents


def test_fsdp_refused_on_cpu(tmp_path):
    "On CPU accelerate runs the processes as DDP (MULTI_CPU) and drops an FSDP setting without a word; the toolkit "
    "refuses it instead of training something other than what was asked."
    from st_toolkit.train import TrainConfig, build_trainer, ConfigError
    import torch
    if torch.cuda.is_available(): pytest.skip('this machine has a GPU')
    cfg = TrainConfig(model='m', data='d.json', output_dir=str(tmp_path), fsdp='full_shard')
    with pytest.raises(ConfigError, match=r"fsdp='full_shard' needs GPUs.*MULTI_CPU"): build_trainer(cfg)


@pytest.mark.gpu
@pytest.mark.skipif(not __import__('torch').cuda.is_available(),
                    reason='FSDP needs CUDA; on a GPU machine run: pytest tests/test_train_multiprocess.py '
                           '-k fsdp_on_gpus (torchrun with one process per GPU)')
def test_fsdp_on_gpus(tmp_path):
    "FSDP (the shipped full_shard config), one process per GPU: sharded full fine-tuning saves a whole, changed model."
    from transformers import AutoModelForImageTextToText
    import torch
    n = torch.cuda.device_count()
    res, _ = _launch(tmp_path, [_tool('torchrun'), '--nproc_per_node', str(n), '--master_port', '29519'], 'fsdp',
                     fsdp='full_shard', full_finetune=True, max_steps=2)
    fct.test_eq((res[0]['processes'], res[0]['parallel'], res[0]['global_step']), (n, 'fsdp', 2))
    new = dict(AutoModelForImageTextToText.from_pretrained(tmp_path / 'fsdp' / 'final').named_parameters())
    old = dict(AutoModelForImageTextToText.from_pretrained(tmp_path / 'tiny').named_parameters())
    assert any(not torch.equal(p.cpu(), old[k].cpu()) for k, p in new.items() if 'language_model.layers' in k)
