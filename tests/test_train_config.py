"""TrainConfig's settings, each doing what it says on the tiny model: a held-out file's loss during training, which
parts train (LoRA or in full), report_to, DeepSpeed / FSDP config resolution, what the pre-flight shrinks first,
evenly spaced fps sampling, a dataset's own system prompt, multi-turn labels, and load_adapter's pixel budget."""
import json
from pathlib import Path
import numpy as np
import pytest
import torch
import fastcore.test as fct
from test_train_resume import _data

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def tiny_data(tmp_path_factory):
    return _data(tmp_path_factory.mktemp('cfg'))


def _cfg(tiny_data, out, **kw):
    from st_toolkit.train import TrainConfig
    tiny, data = tiny_data
    base = dict(model=str(tiny), data=str(data), output_dir=str(out), num_frames=4, max_steps=2, save_steps=100,
                logging_steps=1, quiet=True)
    return TrainConfig(**{**base, **kw})


def test_val_data_eval_loss(tiny_data, tmp_path):
    "With val_data the held-out loss is evaluated every eval_steps; the last one is the final model's loss on it."
    from st_toolkit.train import finetune, dataset_loss, read_samples
    from st_toolkit.formats import write_dataset
    val = tmp_path / 'val.json'
    val.write_text(json.dumps(json.loads(Path(tiny_data[1]).read_text())[:1]))
    res = finetune(_cfg(tiny_data, tmp_path / 'o', val_data=str(val), eval_steps=2, max_steps=4, learning_rate=1e-3))
    evals = [(h['step'], h['eval_loss']) for h in res['trainer'].state.log_history if 'eval_loss' in h]
    fct.test_eq([s for s, _ in evals], [2, 4])
    vds = res['trainer'].eval_dataset
    fct.test_eq(len(vds), 1)
    fct.test_close(evals[-1][1], dataset_loss(res['trainer'].model.eval(), vds), eps=1e-4)
    fct.test_close(res['card']['result']['eval_loss'], evals[-1][1], eps=1e-9)


def _trainable(model):
    "Which parts hold trainable parameters, and of what kind."
    from st_toolkit.train import _part
    out = set()
    for n, p in model.named_parameters():
        if p.requires_grad: out.add((_part(n), 'lora' if 'lora_' in n else 'full'))
    return out


@pytest.mark.parametrize('switches,want', [
    (dict(), {('llm', 'lora')}),
    (dict(freeze_vision=False), {('llm', 'lora'), ('vision', 'lora')}),
    (dict(lora_vision=True), {('llm', 'lora'), ('vision', 'lora')}),
    (dict(freeze_projector=False), {('llm', 'lora'), ('projector', 'full')}),
    (dict(freeze_llm=True, freeze_vision=False), {('vision', 'lora')}),
    (dict(full_finetune=True), {('llm', 'full')}),
    (dict(full_finetune=True, freeze_vision=False, freeze_projector=False),
     {('llm', 'full'), ('vision', 'full'), ('projector', 'full')}),
], ids=['default', 'vision', 'lora_vision_alias', 'projector', 'vision_only', 'full', 'full_all'])
def test_freeze_switches(switches, want, tiny_data, tmp_path):
    from st_toolkit.train import build_trainer
    tr, _, _ = build_trainer(_cfg(tiny_data, tmp_path / 'o', **switches))
    fct.test_eq(_trainable(tr.model), want)


def test_nothing_to_train(tiny_data, tmp_path):
    from st_toolkit.train import build_trainer, ConfigError
    with pytest.raises(ConfigError, match='freeze_llm=True and freeze_vision=True'):
        build_trainer(_cfg(tiny_data, tmp_path / 'o', freeze_llm=True))
    with pytest.raises(ConfigError, match='every part is frozen'):
        build_trainer(_cfg(tiny_data, tmp_path / 'o', full_finetune=True, freeze_llm=True))


def test_full_finetune_saves_the_model(tiny_data, tmp_path):
    "Full fine-tuning changes the language model's own weights and saves a whole model, not an adapter."
    from st_toolkit.train import finetune
    from transformers import AutoModelForImageTextToText
    res = finetune(_cfg(tiny_data, tmp_path / 'o', full_finetune=True, learning_rate=1e-3))
    final = res['final']
    assert (final / 'model.safetensors').exists() and not (final / 'adapter_config.json').exists()
    fct.test_eq(res['card']['model']['mode'], 'full')
    new = AutoModelForImageTextToText.from_pretrained(final)
    old = AutoModelForImageTextToText.from_pretrained(tiny_data[0])
    diff = {n: not torch.equal(p, dict(old.named_parameters())[n]) for n, p in new.named_parameters()}
    assert any(v for n, v in diff.items() if 'language_model.layers' in n)
    assert not any(v for n, v in diff.items() if '.visual.' in n)             # the vision tower stayed frozen


def test_report_to(tiny_data, tmp_path, monkeypatch):
    "report_to reaches the Trainer; a missing package is named; wandb is forced offline."
    import importlib.util
    from st_toolkit.train import _training_args, ConfigError
    real = importlib.util.find_spec
    for name, pkg in (('tensorboard', 'tensorboard'), ('wandb', 'wandb')):
        cfg = _cfg(tiny_data, tmp_path / 'o', report_to=name)
        if real(pkg) is None:
            with pytest.raises(ConfigError, match=f'pip install {pkg}'): _training_args(cfg, False, 0)
        monkeypatch.setattr(importlib.util, 'find_spec', lambda n, *a: object() if n == pkg else real(n, *a))
        monkeypatch.delenv('WANDB_MODE', raising=False)
        fct.test_eq(_training_args(cfg, False, 0).report_to, [name])
        if name == 'wandb': fct.test_eq(__import__('os').environ['WANDB_MODE'], 'offline')
        monkeypatch.setattr(importlib.util, 'find_spec', real)
    fct.test_eq(_training_args(_cfg(tiny_data, tmp_path / 'o'), False, 0).report_to, [])


@pytest.mark.skipif(__import__('importlib').util.find_spec('tensorboard') is None, reason='tensorboard not installed')
def test_tensorboard_writes_events(tiny_data, tmp_path):
    from st_toolkit.train import finetune
    finetune(_cfg(tiny_data, tmp_path / 'o', report_to='tensorboard'))
    assert any((tmp_path / 'o').rglob('events.out.tfevents*'))


def test_deepspeed_and_fsdp_configs(tiny_data, tmp_path, monkeypatch):
    "Shipped names resolve to the shipped files (ZeRO stage 2 / 3, FSDP full / grad-op sharding); paths pass through."
    import importlib.util
    from st_toolkit.train import _scale_args, ConfigError
    real = importlib.util.find_spec                                          # deepspeed itself need not be installed
    monkeypatch.setattr(importlib.util, 'find_spec', lambda n, *a: object() if n == 'deepspeed' else real(n, *a))
    for name, stage in (('zero2', 2), ('zero3', 3)):
        p = _scale_args(_cfg(tiny_data, tmp_path, deepspeed=name))['deepspeed']
        fct.test_eq(json.loads(Path(p).read_text())['zero_optimization']['stage'], stage)
    for name, reshard in (('full_shard', True), ('shard_grad_op', False)):
        a = _scale_args(_cfg(tiny_data, tmp_path, fsdp=name))
        fct.test_eq(a['fsdp'], True)
        fct.test_eq(json.loads(Path(a['fsdp_config']).read_text())['reshard_after_forward'], reshard)
    own = tmp_path / 'ds.json'
    own.write_text('{}')
    fct.test_eq(_scale_args(_cfg(tiny_data, tmp_path, deepspeed=str(own))), dict(deepspeed=str(own)))


def test_deepspeed_needs_its_package(tiny_data, tmp_path):
    from st_toolkit.train import _training_args, ConfigError
    if __import__('importlib').util.find_spec('deepspeed'): pytest.skip('deepspeed is installed')
    with pytest.raises(ConfigError, match='pip install deepspeed'):
        _training_args(_cfg(tiny_data, tmp_path, deepspeed='zero2'), False, 0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available() or __import__('importlib').util.find_spec('deepspeed') is None,
                    reason='DeepSpeed needs CUDA and the deepspeed package; on a GPU machine run: '
                           'pip install deepspeed && pytest tests/test_train_config.py -k deepspeed_trains')
@pytest.mark.parametrize('stage', ['zero2', 'zero3'])
def test_deepspeed_trains(stage, tiny_data, tmp_path):
    from st_toolkit.train import finetune
    res = finetune(_cfg(tiny_data, tmp_path / stage, deepspeed=stage))
    fct.test_eq(res['card']['result']['global_step'], 2)


def test_shrink_first(tiny_data, tmp_path):
    "Over budget, the pre-flight lowers the resolution before the frame count (or the frame count first)."
    from st_toolkit.train import build_trainer
    _, ds, _ = build_trainer(_cfg(tiny_data, tmp_path / 'o', num_frames=16))
    fat = max(ds.count_tokens(j)['total'] for j in range(len(ds.samples)))
    budget = fat - 20
    _, ds, pf = build_trainer(_cfg(tiny_data, tmp_path / 'o', num_frames=16, max_tokens=budget))
    shrunk = [r for r in pf.rows if r['action'] == 'resampled']
    assert shrunk and all(r['frames'] == 16 and r['pixels'] < ds.max_pixels and r['total'] <= budget for r in shrunk)
    _, ds, pf = build_trainer(_cfg(tiny_data, tmp_path / 'o', num_frames=16, max_tokens=budget, shrink_first='frames'))
    shrunk = [r for r in pf.rows if r['action'] == 'resampled']
    assert shrunk and all(r['frames'] < 16 and r['pixels'] == ds.max_pixels for r in shrunk)


def test_fps_capped_is_evenly_spaced():
    "fps=2 over a 7.9 s clip gives 16 frames; capped at 7, the 7 frames spread evenly over the clip (spacing "
    "varies by at most one native frame, 0.1 s), instead of 7 picks from the 2 fps grid (spacings of 1.0 and 1.5 s)."
    from st_toolkit.train import sample_frames
    s = dict(video=str(ROOT / 'data_samples/scenes/sample_00.mp4'), clip=dict(t0=0.0, t1=7.9))
    _, ts = sample_frames(s, num_frames=7, fps=2)
    fct.test_eq(len(ts), 7)
    d = np.diff(ts)
    assert d.max() - d.min() <= 0.1 + 1e-6, d
    fct.test_close(ts[[0, -1]], [0.0, 7.9], eps=1e-6)
    _, ts = sample_frames(s, num_frames=20, fps=2)                     # under the cap, the rate decides
    fct.test_close(ts, np.arange(0.0, 7.51, 0.5), eps=1e-6)


def _chat_file(tmp, recs):
    p = tmp / 'chat.json'
    p.write_text(json.dumps(recs))
    return p


def _rec(video, turns):
    return dict(id='c0', video=video, conversations=[{'from': f, 'value': v} for f, v in turns])


def test_system_prompt_and_multi_turn(tiny_data, tmp_path):
    "A record's own system prompt replaces the template's; every assistant turn is trained; evaluation asks the last "
    "question and expects the last answer."
    from st_toolkit.models import load_processor
    from st_toolkit.train import VideoQADataset, read_samples
    video = str(ROOT / 'data_samples/scenes/sample_00.mp4')
    f = _chat_file(tmp_path, [_rec(video, [('system', 'Answer in metres.'), ('human', '<video>\nHow far?'),
                                           ('gpt', 'About 3 m.'), ('human', 'And how fast?'), ('gpt', '2 m/s.')])])
    s = read_samples(f)[0]
    fct.test_eq((s['question'], s['answer']), ('And how fast?', '2 m/s.'))
    proc = load_processor(tiny_data[0])
    ds = VideoQADataset(f, proc, num_frames=2, time_note=False)
    tk, x = proc.tokenizer, ds[0]
    text = tk.decode(x['input_ids'])
    assert text.startswith('<|im_start|>system\nAnswer in metres.<|im_end|>') and 'helpful assistant' not in text
    lab = x['labels']
    runs = [tk.decode(x['input_ids'][i:j]) for i, j in _runs(lab != -100)]
    fct.test_eq(runs, ['About 3 m.<|im_end|>', '2 m/s.<|im_end|>'])
    prompt = tk.decode(ds.encode(0, answer=False)['input_ids'])
    assert prompt.endswith('And how fast?<|im_end|>\n<|im_start|>assistant\n') and 'About 3 m.' in prompt


def _runs(mask):
    "(start, end) of the runs of True in a 1-D bool tensor."
    m = mask.tolist() + [False]
    starts = [i for i in range(len(m) - 1) if m[i] and (i == 0 or not m[i - 1])]
    return [(s, next(j for j in range(s, len(m)) if not m[j])) for s in starts]


def test_load_adapter_honours_max_pixels(tiny_data, tmp_path):
    "The adapter folder's processor gets the caller's max_pixels, as load_model's does."
    from st_toolkit.train import finetune, load_adapter, VideoQADataset
    res = finetune(_cfg(tiny_data, tmp_path / 'o', max_steps=1))
    _, proc = load_adapter(res['final'], max_pixels=56 * 56)
    fct.test_eq(proc.video_processor.size['longest_edge'], 56 * 56)
    fct.test_eq(VideoQADataset(tiny_data[1], proc).max_pixels, 56 * 56)
