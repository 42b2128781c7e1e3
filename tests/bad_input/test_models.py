"""Bad inputs of `st_toolkit.models`: checkpoint folders that cannot be loaded, unknown families, and pixel budgets,
frame rates and timestamps the video processor cannot use. Each names the bad item."""
import json
from pathlib import Path
import pytest
from ._check import expect_error

from st_toolkit.models import (ModelError, load_model, load_processor, arch_of, checkpoint_config, chat_template,
                               video_budget, configure_video, video_metadata, build_tiny_model, add_lora, set_threads)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "Tiny checkpoints of the three families (built once)."
    root = tmp_path_factory.mktemp('tiny')
    return {a: build_tiny_model(a, path=root / a) for a in ('qwen2_5_vl', 'qwen3_vl', 'llava_onevision')}


def _folder(tmp_path, config=None, text=None):
    "A checkpoint folder holding `config` (as JSON) or raw `text` as its config.json."
    d = tmp_path / 'ckpt'
    d.mkdir()
    if config is not None: text = json.dumps(config)
    if text is not None: (d / 'config.json').write_text(text)
    return d


FOLDERS = {
    'missing folder': (lambda t: t / 'no' / 'such' / 'ckpt', 'no such checkpoint folder'),
    'folder without config.json': (lambda t: _folder(t), 'no config.json there'),
    'config.json not JSON': (lambda t: _folder(t, text='{"model_type": "qwen2_5_vl",'), 'not valid JSON'),
    'config without model_type': (lambda t: _folder(t, {'architectures': ['Qwen2_5_VLForConditionalGeneration']}),
                                  "no 'model_type' field"),
    'config is a list': (lambda t: _folder(t, text='[1, 2]'), "no 'model_type' field"),
    'empty model_type': (lambda t: _folder(t, {'model_type': ''}), "no 'model_type' field"),
    'unknown family': (lambda t: _folder(t, {'model_type': 'qwen2'}), "model_type 'qwen2' is not supported"),
    'another vision family': (lambda t: _folder(t, {'model_type': 'llava'}), "model_type 'llava' is not supported"),
}

@pytest.mark.parametrize('case', FOLDERS, ids=list(FOLDERS))
def test_load_model_bad_folder(case, tmp_path):
    make, why = FOLDERS[case]
    d = make(tmp_path)
    names = [why, str(d)] + ([] if case == 'missing folder' else ['config.json'])
    expect_error(lambda: load_model(d), ModelError, *names)


def test_relative_non_hub_name(tmp_path):
    expect_error(lambda: load_model('./not/a/checkpoint'), ModelError, './not/a/checkpoint', "not a hub id")


def test_checkpoint_config_on_a_file(tmp_path):
    f = tmp_path / 'weights.bin'
    f.write_text('x')
    expect_error(lambda: checkpoint_config(f), ModelError, 'weights.bin', 'no such checkpoint folder')


@pytest.mark.parametrize('fn', [chat_template, video_budget, lambda a: build_tiny_model(a, path='/tmp/never')],
                         ids=['chat_template', 'video_budget', 'build_tiny_model'])
def test_unknown_architecture(fn):
    expect_error(lambda: fn('gpt2'), ModelError, "unknown architecture 'gpt2'")


def test_arch_of_unsupported_object():
    expect_error(lambda: arch_of(object()), ModelError, 'model_type None is not supported')


PIXELS = {'negative': -5, 'zero': 0, 'nan': float('nan'), 'infinite': float('inf'), 'below one patch': 100,
          'fractional': 602112.5, 'text': '602112', 'bool': True, 'none-like list': [602112]}

@pytest.mark.parametrize('key', PIXELS, ids=list(PIXELS))
@pytest.mark.parametrize('which', ['max_pixels', 'min_pixels'])
def test_bad_pixel_budget(tiny, key, which):
    bad = PIXELS[key]
    expect_error(lambda: load_processor(tiny['qwen2_5_vl'], **{which: bad}), ModelError, f'{which}={bad!r}',
                 'qwen2_5_vl', 'pixels per frame')


def test_bad_pixel_budget_qwen3(tiny):
    expect_error(lambda: load_processor(tiny['qwen3_vl'], max_pixels=-5), ModelError, 'max_pixels=-5', 'qwen3_vl',
                 '1024')


def test_min_above_max(tiny):
    expect_error(lambda: load_processor(tiny['qwen2_5_vl'], max_pixels=50176, min_pixels=100352), ModelError,
                 'min_pixels=100352', 'max_pixels=50176')


@pytest.mark.parametrize('which', ['max_pixels', 'min_pixels'])
def test_pixel_budget_on_onevision(tiny, which):
    expect_error(lambda: load_processor(tiny['llava_onevision'], **{which: 50176}), ModelError, 'llava_onevision',
                 'max_pixels/min_pixels', 'fixed')


@pytest.mark.parametrize('fps', [0, -2.0, float('nan'), 'fast', True], ids=['zero', 'negative', 'nan', 'text', 'bool'])
def test_bad_fps(tiny, fps):
    expect_error(lambda: load_processor(tiny['qwen2_5_vl'], fps=fps), ModelError, f'fps={fps!r}')


TIMESTAMPS = {'empty': ([], 'non-empty 1-D'), 'two-dimensional': ([[0.0, 1.0]], 'non-empty 1-D'),
              'repeated time': ([0.0, 0.5, 0.5], 'timestamps[2]=0.5'), 'decreasing': ([1.0, 0.5], 'timestamps[1]=0.5')}

@pytest.mark.parametrize('key', TIMESTAMPS, ids=list(TIMESTAMPS))
def test_bad_timestamps(key):
    ts, why = TIMESTAMPS[key]
    expect_error(lambda: video_metadata(ts), ModelError, why)


def test_lora_regex_matching_nothing(tiny):
    from transformers import AutoModelForImageTextToText
    m = AutoModelForImageTextToText.from_pretrained(tiny['qwen2_5_vl'])
    expect_error(lambda: add_lora(m, target_regex=r'.*no_such_layer'), ModelError, r'.*no_such_layer',
                 'matches no nn.Linear')


def test_zero_threads():
    expect_error(lambda: set_threads(0), ValueError, 'threads must be >= 1', '0')
