"""Bad inputs of `st_toolkit.train`: dataset files (null or non-text answers, wrong field types, missing videos, empty
files), TrainConfig numbers and choices, config files and shipped-config names. Each raises a named error that names
the file, the record and the field (or the setting and its value)."""
import json
from pathlib import Path
import pytest
from ._check import expect_error

ROOT = Path(__file__).resolve().parents[2]
VIDEO = str(ROOT / 'data_samples/scenes/sample_00.mp4')


def _conv(*turns, **extra):
    return dict(id='r1', video=VIDEO, conversations=[{'from': f, 'value': v} for f, v in turns], **extra)


OK_TURNS = (('human', '<video>\nHow far?'), ('gpt', '3 m.'))

# (id, file content: a list of records, or raw text / bytes; names the message must hold besides the file name)
DATA = [
    ('answer_null', [_conv(('human', 'q?'), ('gpt', None))], ['record 0', "'conversations[1].value'", 'null']),
    ('answer_number', [_conv(('human', 'q?'), ('gpt', 3.5))], ['record 0', "'conversations[1].value'", 'float']),
    ('answer_list', [_conv(('human', 'q?'), ('gpt', ['a']))], ['record 0', "'conversations[1].value'", 'list']),
    ('question_null', [_conv(('human', None), ('gpt', 'a'))], ['record 0', "'conversations[0].value'", 'null']),
    ('qa_answer_null', [dict(id='q', video=VIDEO, question='q?', answer=None)], ['record 0', "'answer'", 'null']),
    ('qa_question_dict', [dict(id='q', video=VIDEO, question={'t': 1}, answer='a')],
     ['record 0', "'question'", 'dict']),
    ('messages_content_null', [dict(id='m', videos=[VIDEO], messages=[dict(role='user', content='q'),
                                                                      dict(role='assistant', content=None)])],
     ['record 0', "'messages[1].content'", 'null']),
    ('conversations_not_list', [dict(id='c', video=VIDEO, conversations='hello')], ['record 0', "'conversations'"]),
    ('turn_not_object', [dict(id='c', video=VIDEO, conversations=['hello'])], ['record 0', "'conversations'"]),
    ('unknown_role', [_conv(('robot', 'q'), ('gpt', 'a'))], ['record 0', "'robot'"]),
    ('role_null', [_conv((None, 'q'), ('gpt', 'a'))], ['record 0', 'None']),
    ('no_assistant_turn', [_conv(('human', 'q'))], ['record 0', 'no assistant turn']),
    ('no_user_turn', [_conv(('gpt', 'a'))], ['record 0', 'no user turn']),
    ('ends_with_question', [_conv(*OK_TURNS, ('human', 'and?'))], ['record 0', 'ends with a user turn']),
    ('no_conversation', [dict(id='x', video=VIDEO, text='hi')], ['record 0', "'conversations'"]),
    ('record_not_object', [_conv(*OK_TURNS), 7], ['record 1', 'int']),
    ('video_missing_file', [_conv(*OK_TURNS) | dict(video='nope.mp4')], ['record 0', "'video'", 'nope.mp4']),
    ('video_number', [_conv(*OK_TURNS) | dict(video=5)], ['record 0', "'video'", 'int']),
    ('video_is_folder', [_conv(*OK_TURNS) | dict(video=str(ROOT / 'data_samples'))], ['record 0', "'video'"]),
    ('two_videos', [{k: v for k, v in _conv(*OK_TURNS).items() if k != 'video'} | dict(videos=[VIDEO, VIDEO])],
     ['record 0', "'videos'", '2']),
    ('no_video', [{k: v for k, v in _conv(*OK_TURNS).items() if k != 'video'}], ['record 0', "'video'"]),
    ('second_record_bad', [_conv(*OK_TURNS), _conv(('human', 'q'), ('gpt', None)) | dict(id='r2')],
     ['record 1', "'r2'", "'conversations[1].value'"]),
    ('empty_list', [], ['the dataset is empty']),
    ('empty_text', '', ['the dataset is empty']),
    ('whitespace_text', '  \n\n ', ['the dataset is empty']),
    ('not_json', 'this is {not json', ['neither JSON nor JSON Lines']),
    ('top_level_string', '"hello"', ['expected a list of records', 'str']),
    ('top_level_number', '42', ['expected a list of records', 'int']),
    ('binary', b'\x80\x81\xfe\xff' * 64, ['not a text file']),
    ('jsonl_bad_line', json.dumps(_conv(*OK_TURNS)) + '\n{"id": ', ['neither JSON nor JSON Lines', 'line']),
]


@pytest.mark.parametrize('content,names', [c[1:] for c in DATA], ids=[c[0] for c in DATA])
def test_dataset_file(content, names, tmp_path):
    from st_toolkit.train import read_samples, DataError
    p = tmp_path / 'data.json'
    if isinstance(content, bytes): p.write_bytes(content)
    else: p.write_text(content if isinstance(content, str) else json.dumps(content))
    expect_error(lambda: read_samples(p), DataError, 'data.json', *names)


@pytest.mark.parametrize('where', ['missing', 'folder'])
def test_dataset_path(where, tmp_path):
    from st_toolkit.train import read_samples, DataError
    p = tmp_path / 'nope.json' if where == 'missing' else tmp_path
    expect_error(lambda: read_samples(p), DataError, str(p), 'not found' if where == 'missing' else 'is a folder')


# (id, TrainConfig field, bad value, words the message must hold)
CONFIG = [
    ('steps_negative', 'max_steps', -3, ['-1 to train']),
    ('steps_zero', 'max_steps', 0, ['> 0']),
    ('steps_fraction', 'max_steps', 2.5, []),
    ('steps_text', 'max_steps', '10', []),
    ('batch_zero', 'batch_size', 0, ['>= 1']),
    ('grad_accum_negative', 'grad_accum', -1, ['>= 1']),
    ('frames_zero', 'num_frames', 0, ['>= 1']),
    ('frames_text', 'num_frames', '8', []),
    ('frames_bool', 'num_frames', True, []),
    ('fps_negative', 'fps', -5, ['> 0']),
    ('max_pixels_negative', 'max_pixels', -5, ['> 0']),
    ('max_tokens_zero', 'max_tokens', 0, ['>= 1']),
    ('lr_zero', 'learning_rate', 0, ['> 0']),
    ('epochs_zero', 'epochs', 0, ['> 0']),
    ('lora_r_zero', 'lora_r', 0, ['>= 1']),
    ('lora_alpha_negative', 'lora_alpha', -8, ['> 0']),
    ('lora_dropout_negative', 'lora_dropout', -0.1, ['>= 0']),
    ('save_steps_zero', 'save_steps', 0, ['>= 1']),
    ('logging_steps_zero', 'logging_steps', 0, ['>= 1']),
    ('eval_steps_zero', 'eval_steps', 0, ['> 0']),
    ('save_total_limit_zero', 'save_total_limit', 0, ['>= 1']),
    ('warmup_negative', 'warmup_steps', -1, ['>= 0']),
    ('workers_negative', 'dataloader_workers', -1, ['>= 0']),
    ('threads_zero', 'threads', 0, ['> 0']),
    ('report_to_unknown', 'report_to', 'mlflow', ["'tensorboard'"]),
    ('shrink_first_unknown', 'shrink_first', 'pixels', ["'resolution'"]),
    ('budget_policy_unknown', 'budget_policy', 'truncate', ["'resample'"]),
    ('backend_unknown', 'backend', 'ffmpeg', ["'pyav'"]),
    ('start_fork', 'dataloader_start', 'fork', ["'forkserver'"]),
    ('resume_text', 'resume', 'yes', ['True or False']),
    ('overwrite_int', 'overwrite', 1, ['True or False']),
    ('full_finetune_text', 'full_finetune', 'yes', ['True or False']),
    ('freeze_llm_none', 'freeze_llm', None, ['True or False']),
    ('model_empty', 'model', '', ['a path']),
    ('output_dir_none', 'output_dir', None, ['a path']),
]


def _cfg(tmp, **kw):
    from st_toolkit.train import TrainConfig
    return TrainConfig(**{**dict(model='m', data='d.json', output_dir=str(tmp / 'o')), **kw})


@pytest.mark.parametrize('field,value,words', [c[1:] for c in CONFIG], ids=[c[0] for c in CONFIG])
def test_config_value(field, value, words, tmp_path):
    from st_toolkit.train import ConfigError
    expect_error(lambda: _cfg(tmp_path, **{field: value}), ConfigError, f'TrainConfig.{field}={value!r}', *words)


def test_deepspeed_and_fsdp_together(tmp_path):
    from st_toolkit.train import ConfigError
    expect_error(lambda: _cfg(tmp_path, deepspeed='zero2', fsdp='full_shard'), ConfigError, 'TrainConfig.fsdp',
                 'deepspeed')


@pytest.mark.parametrize('field,value', [('deepspeed', 'zero4'), ('deepspeed', 'missing_ds.json'),
                                         ('fsdp', 'missing_fsdp.json')], ids=['ds_name', 'ds_file', 'fsdp_file'])
def test_scale_config_missing(field, value, tmp_path, monkeypatch):
    "Unknown shipped names and missing files are named (with deepspeed installed and on a GPU machine)."
    import importlib.util
    from st_toolkit.train import ConfigError, _scale_args
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda n, *a: object() if n == 'deepspeed' else real(n, *a))
    expect_error(lambda: _scale_args(_cfg(tmp_path, **{field: value}), gpu=True), ConfigError, f'{field}={value!r}',
                 'no such file')


def test_deepspeed_not_installed(tmp_path):
    "Stops before the model loads."
    from st_toolkit.train import ConfigError, build_trainer
    if __import__('importlib').util.find_spec('deepspeed'): pytest.skip('deepspeed is installed')
    expect_error(lambda: build_trainer(_cfg(tmp_path, deepspeed='zero2')), ConfigError, "deepspeed='zero2'",
                 'pip install deepspeed')


def test_fsdp_on_cpu(tmp_path):
    "On CPU accelerate would run plain DDP and ignore the FSDP setting: refused, before the model loads."
    from st_toolkit.train import ConfigError, build_trainer
    if __import__('torch').cuda.is_available(): pytest.skip('this machine has a GPU')
    expect_error(lambda: build_trainer(_cfg(tmp_path, fsdp='full_shard')), ConfigError, "fsdp='full_shard'",
                 'needs GPUs')


@pytest.mark.parametrize('content,names', [
    ('{"model": "m", "data": "d", "output_dir": "o", "lora_rank": 4}', ["'lora_rank'", 'unknown']),
    ('not json', ['not a readable JSON file']),
    ('[1, 2]', ['expected a JSON object']),
    ('{"model": "m", "data": "d", "output_dir": "o", "max_steps": -3}', ['TrainConfig.max_steps=-3']),
], ids=['unknown_field', 'not_json', 'not_object', 'bad_value'])
def test_config_file(content, names, tmp_path):
    from st_toolkit.train import TrainConfig, ConfigError
    p = tmp_path / 'run.json'
    p.write_text(content)
    expect_error(lambda: TrainConfig.from_json(p), ConfigError, *names if names[0].startswith('TrainConfig') else
                 ('run.json', *names))


def test_empty_dataset_before_the_model_loads(tmp_path):
    "An empty dataset says so (not 'every sample is over max_tokens'), before any model is loaded."
    from st_toolkit.train import DataError, build_trainer
    d = tmp_path / 'empty.json'
    d.write_text('[]')
    expect_error(lambda: build_trainer(_cfg(tmp_path, data=str(d), model=str(tmp_path / 'no_model'))), DataError,
                 'empty.json', 'the dataset is empty')


def test_null_answer_in_val_data(tmp_path):
    from st_toolkit.train import DataError, build_trainer
    good, bad = tmp_path / 'train.json', tmp_path / 'val.json'
    good.write_text(json.dumps([_conv(*OK_TURNS)]))
    bad.write_text(json.dumps([_conv(('human', 'q'), ('gpt', None))]))
    expect_error(lambda: build_trainer(_cfg(tmp_path, data=str(good), val_data=str(bad))), DataError,
                 'val.json', 'record 0', "'conversations[1].value'", 'null')


def test_load_adapter_without_adapter(tmp_path):
    from st_toolkit.train import load_adapter
    expect_error(lambda: load_adapter(tmp_path), FileNotFoundError, str(tmp_path), 'adapter_config.json')


def test_every_sample_over_budget(tmp_path):
    "A dataset whose every sample is over max_tokens names the file and the budget."
    from st_toolkit.models import build_tiny_model
    from st_toolkit.train import BudgetError, build_trainer
    d = tmp_path / 'two.json'
    d.write_text(json.dumps([_conv(*OK_TURNS), _conv(*OK_TURNS) | dict(id='r2')]))
    tiny = build_tiny_model(path=tmp_path / 'tiny')
    run = dict(model=str(tiny), data=str(d), max_tokens=10)
    expect_error(lambda: build_trainer(_cfg(tmp_path, budget_policy='drop', **run)), BudgetError, 'two.json',
                 'max_tokens=10')
    expect_error(lambda: build_trainer(_cfg(tmp_path, budget_policy='error', **run)), BudgetError, "'r1'", "'r2'",
                 'max_tokens=10')
