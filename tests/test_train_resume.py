"A training process killed with SIGKILL mid-run resumes from its last complete checkpoint and ends as if never stopped."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest
import fastcore.test as fct

ROOT = Path(__file__).resolve().parents[1]
STEPS, SAVE = 60, 5


def _data(tmp):
    "The tiny model and one distance question per shipped scene, as a LLaVA JSON file."
    from st_toolkit.core import Scene
    from st_toolkit.templates import kinematic_qa
    from st_toolkit.formats import write_dataset
    from st_toolkit.models import build_tiny_model
    scenes = [Scene.from_json(p) for p in sorted((ROOT / 'data_samples/scenes').glob('sample_0*.json'))[:4]]
    four = [kinematic_qa(s, tasks=['distance'], seed=0)[0] for s in scenes]
    return build_tiny_model(path=tmp / 'tiny'), write_dataset(four, tmp / 'four.json')


def _env():
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM='false')


def _losses(ck):
    "step -> loss from a checkpoint's trainer_state.json."
    return {h['step']: h['loss'] for h in json.loads((Path(ck) / 'trainer_state.json').read_text())['log_history'] if 'loss' in h}


def test_killed_run_resumes(tmp_path):
    import torch
    from st_toolkit.train import TrainConfig, finetune, last_checkpoint
    tiny, data = _data(tmp_path)
    common = dict(model=str(tiny), data=str(data), lora_dropout=0.05, learning_rate=1e-3, max_steps=STEPS,
                  save_steps=SAVE, save_total_limit=3, logging_steps=1, quiet=True)
    cfg = TrainConfig(output_dir=str(tmp_path / 'cut'), **common).to_json(tmp_path / 'cut.json')
    cmd = [sys.executable, '-m', 'st_toolkit.train', '--config', str(cfg)]
    p = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t0 = time.time()
    while last_checkpoint(tmp_path / 'cut') is None or int(Path(last_checkpoint(tmp_path / 'cut')).name[11:]) < 10:
        assert p.poll() is None, p.stdout.read().decode()[-3000:]
        assert time.time() - t0 < 300, 'no checkpoint after 300 s'
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL); p.wait()
    assert p.returncode == -signal.SIGKILL
    killed_at = int(Path(last_checkpoint(tmp_path / 'cut')).name[11:])
    assert killed_at < STEPS, 'the run finished before it could be killed'
    assert not (tmp_path / 'cut' / 'final').exists()

    out = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    fct.test_eq(result['global_step'], STEPS)
    assert result['resumed_from'] is not None and int(result['resumed_from'][11:]) >= killed_at

    torch.set_num_threads(1)
    ref = finetune(TrainConfig(output_dir=str(tmp_path / 'ref'), **common))
    ref_l = {h['step']: h['loss'] for h in ref['log']}
    got = _losses(tmp_path / 'cut' / f'checkpoint-{STEPS}')
    fct.test_eq(sorted(got), list(range(1, STEPS + 1)))           # no step lost, none repeated
    for s in range(1, STEPS + 1): fct.test_close(got[s], ref_l[s], eps=2e-3)   # the curve continues where it stopped
    card = json.loads((tmp_path / 'cut' / 'final' / 'training_card.json').read_text())
    fct.test_eq(card['result']['global_step'], STEPS)


def test_cli_overrides(tmp_path):
    "train_main reads a config file and field=value overrides; unknown fields are refused."
    from st_toolkit.train import TrainConfig, train_main
    tiny, data = _data(tmp_path)
    cfg = TrainConfig(model=str(tiny), data=str(data), output_dir=str(tmp_path / 'o'), max_steps=50, quiet=True).to_json(tmp_path / 'c.json')
    r = train_main(['--config', str(cfg), 'max_steps=3', 'save_steps=3', 'lora_r=4', 'num_frames=4'])
    fct.test_eq(r['card']['result']['global_step'], 3)
    fct.test_eq(r['card']['config']['lora_r'], 4); fct.test_eq(r['dataset'].n_frames[0], 4)
    with pytest.raises(SystemExit, match="unknown TrainConfig field 'lora_rank'"): train_main(['--config', str(cfg), 'lora_rank=4'])
