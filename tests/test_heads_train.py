"""Training and evaluation with the heads (issue 21, section 5): `TrainConfig` switches, `finetune` with each part,
the heads saved beside the adapter (safetensors only) and reloaded by `evaluate` with the same outputs, the CLI."""
import json, os, re, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch
from transformers import TrainerCallback
from st_toolkit.cli import main
from st_toolkit.evaluate import evaluate, evaluate_files, head_answer, scored_sample
from st_toolkit.heads import FRAME_QUERY, HEADS_CONFIG, HEADS_FILE, HeadsConfig, attach_heads
from st_toolkit.models import build_tiny_model, load_model
from st_toolkit.train import (ConfigError, HeadsCollator, HeadsData, TrainConfig, VideoQADataset, VideoCollator,
                              coord_sample, finetune, read_samples)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "Tiny Qwen2.5-VL and LLaVA-OneVision checkpoints and an STVG + REC dataset written with value tokens."
    d = tmp_path_factory.mktemp('heads_train')
    assert main(['template', str(ROOT / 'data_samples/scenes/sample_00.json'), '--out', str(d / 'qa.json'),
                 '--tasks', 'stvg,rec', '--quiet']) == 0
    return dict(qwen=build_tiny_model(path=d / 'qwen'), llava=build_tiny_model('llava_onevision', path=d / 'llava'),
                data=d / 'qa.json')


def _cfg(tiny, out, model='qwen', max_steps=4, **kw):
    return TrainConfig(model=str(tiny[model]), data=str(tiny['data']), output_dir=str(out), max_steps=max_steps,
                       num_frames=4, logging_steps=1, save_steps=2, learning_rate=1e-3, quiet=True, **kw)


def test_config_switches_are_checked():
    base = dict(model='m', data='d.json', output_dir='o')
    with pytest.raises(ConfigError, match=r'TrainConfig\.lape=True'): TrainConfig(**base, lape=True)
    with pytest.raises(ConfigError, match=r'TrainConfig\.heads_lr=0'): TrainConfig(**base, heads_lr=0)
    with pytest.raises(ConfigError, match=r'TrainConfig\.box_head=1'): TrainConfig(**base, box_head=1)
    with pytest.raises(ConfigError, match=r'TrainConfig\.deepspeed'):
        TrainConfig(**base, coord_tokens=True, deepspeed='zero2')
    assert TrainConfig(**base, coord_tokens=True, lape=True).heads_lr == 2e-5


def test_items_carry_every_value_query_and_box(tiny):
    "Every value token of the chat reaches `coord_values` exactly; one query per temporal step; boxes at the frames."
    model, proc = load_model(tiny['qwen'])
    hm = attach_heads(model, HeadsConfig(coord_tokens=True, lape=True, box_head=True), proc.tokenizer, proc)
    raw = read_samples(tiny['data'])
    ds = VideoQADataset([coord_sample(s) for s in raw], proc, 4)
    hd = HeadsData(ds, hm)
    b = HeadsCollator(VideoCollator(proc), hm)([hd[0], hd[1]])
    for row, ids, s in zip(b['coord_values'], b['input_ids'], raw):
        want = [float(v) for m in s['messages'] for v in re.findall(r'<[twh](\d*\.?\d+)>', m['content'])]
        assert want and row[row.isfinite()].tolist() == pytest.approx(want)        # none lost, none rounded
        grid_t = 2 if s['task'] == 'stvg' else 1                                     # 4 frames / 2 per step; 1 frame
        assert int((ids == proc.tokenizer.convert_tokens_to_ids(FRAME_QUERY)).sum()) == grid_t
    stvg = b['box_targets'][0]
    ts = hd.times(0)
    assert torch.isnan(stvg[0]).all() and torch.isfinite(stvg[1]).all()            # the event is in the last 2 frames
    assert ts[-1] > raw[0]['meta']['duration'] * 0.8 and len(b['video_times'][0]) == 4
    assert (b['labels'][b['input_ids'] == hm.queries.id] == -100).all()


class _Start(TrainerCallback):
    "Snapshot of the heads' weights when training begins."
    def on_train_begin(self, args, state, control, model=None, **kw):
        self.state = {k: v.detach().clone() for k, v in model.st_heads.state_dict().items()}


@pytest.mark.parametrize('model,parts', [('qwen', dict(coord_tokens=True, lape=True, box_head=True)),
                                         ('llava', dict(coord_tokens=True, lape=True, box_head=True)),
                                         ('llava', dict(packer=True, box_head=True))],
                         ids=['qwen-coord-lape-box', 'llava-coord-lape-box', 'llava-packer-box'])
def test_finetune_saves_and_evaluate_reloads(tiny, tmp_path, model, parts):
    "Each part trains at its own rate; the heads are saved as safetensors with the adapter; reloaded, same outputs."
    start = _Start()
    r = finetune(_cfg(tiny, tmp_path / 'run', model, heads_lr=3e-3, **parts), callbacks=[start])
    tr, final = r['trainer'], Path(r['final'])
    lrs = sorted(g['lr'] for g in tr.optimizer.param_groups)
    assert lrs == [1e-3, 3e-3]
    after = tr.model.st_heads.state_dict()
    moved = {k.split('.')[0] for k, v in start.state.items() if not torch.equal(v, after[k].cpu())}
    assert moved == {k for k in ('coords', 'queries', 'box', 'packer') if k in {n.split('.')[0] for n in after}}
    assert all(np.isfinite(h['loss']) for h in r['log'])
    names = {p.name for p in final.iterdir()}
    assert {HEADS_FILE, HEADS_CONFIG, 'adapter_model.safetensors'} <= names
    assert not [n for n in names if n.endswith(('.bin', '.pt', '.pth', '.pkl'))]
    assert json.loads((final / HEADS_CONFIG).read_text())['box_head'] is True
    assert (tmp_path / 'run' / 'checkpoint-2' / HEADS_FILE).exists()
    mem = evaluate(tr.st_heads, tiny['data'], r['dataset'].processor, num_frames=4, max_new_tokens=12)
    back = evaluate_files(tiny[model], tiny['data'], adapter=final, num_frames=4, max_new_tokens=12)
    assert back.answers == mem.answers
    assert back.card.protocol['extra']['heads']['box_head'] is True
    for a, b in zip(mem.parsed, back.parsed):                                     # boxes from the head, same values
        assert (a is None) == (b is None)
        if a is None: continue
        a, b = (x['boxes'] if isinstance(x, dict) else {'0': x[0]} for x in (a, b))
        assert a.keys() == b.keys() and all(np.allclose(a[k], b[k], atol=1e-4) for k in a)
    plain = evaluate_files(tiny[model], tiny['data'], adapter=final, num_frames=4, max_new_tokens=12, heads=False)
    assert 'heads' not in plain.card.protocol['extra']


def test_head_answer_takes_boxes_from_the_head(tiny):
    "A tube keeps the text's span and takes the head's present boxes (pixels); a single box is the most present one."
    s = {x['task']: scored_sample(x) for x in read_samples(tiny['data'])}
    hb = dict(times=np.array([1.0, 7.0]), boxes=np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 1.0, 1.0]]),
              presence=np.array([0.2, 0.9]))
    got = head_answer(dict(span=(6.0, 8.0), boxes={'6.5': [1, 2, 3, 4]}), s['stvg'], hb)
    assert got == dict(span=(6.0, 8.0), boxes={'7': [160.0, 120.0, 320.0, 240.0]})
    assert np.allclose(head_answer(None, s['rec'], hb)[0], [160, 120, 320, 240])
    assert head_answer(None, s['stvg'], hb) is None                               # no span read: a parse failure


def test_cli_train_with_heads_then_eval(tiny, tmp_path):
    argv = ['train', tiny['data'], '--model', tiny['qwen'], '--out', tmp_path / 'run', '--steps', 2, '--frames', 4,
            '--coord-tokens', '--box-head', '--heads-lr', '1e-4', '--quiet']
    assert main([str(x) for x in argv]) == 0
    card = json.loads((tmp_path / 'run' / 'final' / 'training_card.json').read_text())['config']
    assert (card['coord_tokens'], card['box_head'], card['lape'], card['heads_lr']) == (True, True, False, 1e-4)
    argv = ['eval', tiny['data'], '--model', tiny['qwen'], '--adapter', tmp_path / 'run' / 'final', '--out',
            tmp_path / 'ev', '--frames', 4, '--max-new-tokens', 8, '--heads', '--quiet']
    assert main([str(x) for x in argv]) == 0
    rc = json.loads((tmp_path / 'ev' / 'report_card.json').read_text())
    assert rc['protocol']['extra']['heads'] == dict(coord_tokens=True, lape=False, packer=False, box_head=True)
    assert rc['overall']['n'] == 2


@pytest.mark.skipif(shutil.which('torchrun') is None and not (Path(sys.executable).parent / 'torchrun').exists(),
                    reason='torchrun not installed')
def test_two_processes_with_the_box_head(tiny, tmp_path):
    "DDP over gloo with the box head: samples without boxes (kinematic questions) still touch every head, no hang."
    from st_toolkit.core import Scene
    from st_toolkit.templates import kinematic_qa
    from st_toolkit.formats import write_dataset
    qa = json.loads(Path(tiny['data']).read_text())
    kin = kinematic_qa(Scene.from_json(ROOT / 'data_samples/scenes/sample_01.json'), tasks=['distance'], seed=0)[:2]
    data = write_dataset(kin, tmp_path / 'kin.json')
    mixed = json.loads(Path(data).read_text()) + qa
    (tmp_path / 'mixed.json').write_text(json.dumps(mixed))
    cfg = TrainConfig(model=str(tiny['qwen']), data=str(tmp_path / 'mixed.json'), output_dir=str(tmp_path / 'ddp'),
                      epochs=1, num_frames=4, save_steps=1000, logging_steps=1, quiet=True, coord_tokens=True,
                      box_head=True)
    cfg.to_json(tmp_path / 'ddp.json')
    torchrun = shutil.which('torchrun') or str(Path(sys.executable).parent / 'torchrun')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM='false')
    out = subprocess.run([torchrun, '--nproc_per_node', '2', '--master_port', '29531', '-m', 'st_toolkit.train',
                          '--config', str(tmp_path / 'ddp.json')], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-4000:]
    card = json.loads((tmp_path / 'ddp' / 'final' / 'training_card.json').read_text())
    assert (card['result']['processes'], card['result']['global_step']) == (2, 2)
    assert (tmp_path / 'ddp' / 'final' / HEADS_FILE).exists()


def test_resume_continues_with_the_checkpoint_heads(tiny, tmp_path):
    "A resumed run starts from the heads saved in its checkpoint; a checkpoint without them is named in the error."
    from safetensors.torch import load_file
    cfg = dict(coord_tokens=True, box_head=True)
    finetune(_cfg(tiny, tmp_path / 'run', max_steps=2, **cfg))
    saved = load_file(tmp_path / 'run' / 'checkpoint-2' / HEADS_FILE)
    start = _Start()
    r = finetune(_cfg(tiny, tmp_path / 'run', **cfg), callbacks=[start], resume=True)
    assert r['card']['result']['resumed_from'] == 'checkpoint-2' and r['card']['result']['global_step'] == 4
    assert all(torch.equal(saved[k], start.state[k].cpu()) for k in saved)
    (tmp_path / 'run' / 'checkpoint-4' / HEADS_FILE).unlink()
    with pytest.raises(ConfigError, match=r'checkpoint-4/heads\.safetensors: missing'):
        finetune(_cfg(tiny, tmp_path / 'run', max_steps=6, **cfg), resume=True)
