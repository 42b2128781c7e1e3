"""What the heads notebook does not show at length: a learning run per part on the tiny models, the packer through
the real processor at 64 and 100 frames, LAPE on the other families, decoding of bin tokens, and save/reload."""
import json, re, os, shutil, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import torch
import fastcore.test as fct
from st_toolkit.coords import LlavaSTBinsCodec
from st_toolkit.heads import (HeadsConfig, HeadsError, attach_heads, coord_scores, cxcywh_to_xyxy, grounding_batch,
                              lape_rows, packed_count, save_heads, load_heads, square_batch, synthetic_grounding)
from st_toolkit.metrics import box_iou
from st_toolkit.models import add_lora, build_tiny_model, load_model, video_metadata

ROOT = Path(__file__).resolve().parents[1]


def tiny(arch, tmp):
    return load_model(build_tiny_model(arch, path=Path(tmp) / arch), dtype=torch.float32)


def train(hm, tok, steps, lr=1e-3, bs=8):
    "Plain AdamW steps on synthetic grounding batches; the losses."
    torch.manual_seed(0)
    opt = torch.optim.AdamW(hm.param_groups(lr), weight_decay=0.0)
    losses = []
    for i in range(steps):
        b = grounding_batch(tok, hm.coords.first, synthetic_grounding(bs, seed=1000 + i))
        loss = hm(input_ids=b['input_ids'], attention_mask=b['attention_mask'], labels=b['labels'],
                  coord_values=b['coord_values']).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses


def video(proc, frames, ts, text='where is the red box?'):
    conv = [{'role': 'user', 'content': [{'type': 'video', 'video': frames}, {'type': 'text', 'text': text}]}]
    return proc.apply_chat_template(conv, tokenize=True, return_dict=True, return_tensors='pt',
                                    processor_kwargs=dict(video_metadata=[video_metadata(ts)]))


@pytest.mark.parametrize('arch', ['qwen2_5_vl', 'llava_onevision'])
def test_coord_tokens_learn(arch, tmp_path):
    "LoRA + coordinate tokens on synthetic STVG/REC text: the loss falls and held-out IoU and tIoU rise."
    m, p = tiny(arch, tmp_path)
    hm = attach_heads(add_lora(m, r=8, alpha=16, dropout=0.0), HeadsConfig(coord_tokens=True, heads_lr=3e-3),
                      p.tokenizer)
    held = grounding_batch(p.tokenizer, hm.coords.first, synthetic_grounding(32, seed=7))
    iou0, tiou0 = coord_scores(hm, held)
    losses = train(hm, p.tokenizer, 200)
    iou1, tiou1 = coord_scores(hm, held)
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 1.0, (losses[:20], losses[-20:])
    assert iou1 > iou0 + 0.05 and tiou1 > tiou0, ((iou0, tiou0), (iou1, tiou1))


def test_decoding_emits_bin_tokens(tmp_path):
    "Greedy decoding emits a bin token (a column past the vocabulary) that the LLaVA-ST bins codec reads back."
    m, p = tiny('qwen2_5_vl', tmp_path)
    hm = attach_heads(m, HeadsConfig(coord_tokens=True), p.tokenizer)
    ids = p.tokenizer('when does it happen?', return_tensors='pt').input_ids
    seen = []
    hook = m.get_output_embeddings().register_forward_hook(lambda mod, args, out: seen.append(args[0][0, -1]))
    with torch.no_grad(): hm(input_ids=ids)
    hook.remove()
    h = seen[0]
    with torch.no_grad(): hm.coords.tables.out[0, 42] = 100 * h / h.dot(h)   # <TEMP-042> now scores 100 there
    out = hm.generate(input_ids=ids, max_new_tokens=1, do_sample=False)
    text = p.tokenizer.decode(out[0, ids.shape[1]:])
    fct.test_eq(text, '<TEMP-042>')
    fct.test_close(LlavaSTBinsCodec().parse_times(text), [42 / 99], eps=1e-9)


@pytest.mark.parametrize('frames', [16, 64, 100])
def test_packer_through_processor(frames, tmp_path):
    "LLaVA-OneVision with the packer: the processor writes the packer's count and the model runs at 16/64/100 frames."
    m, p = tiny('llava_onevision', tmp_path)
    hm = attach_heads(m, HeadsConfig(packer=True), p.tokenizer, p)
    fr = np.random.default_rng(frames).integers(0, 255, (frames, 56, 56, 3), dtype=np.uint8)
    b = video(p, fr, np.arange(frames) / 2)
    n = int((b['input_ids'] == m.config.video_token_index).sum())
    fct.test_eq(n, packed_count(frames, 4, 4) + 1)
    with torch.no_grad(): out = hm(**b)
    assert torch.isfinite(out.logits).all()


def test_packer_and_lape_train_llava(tmp_path):
    "LoRA + packer + LAPE + coordinate tokens on a video grounding batch: every part gets a gradient, loss falls."
    m, p = tiny('llava_onevision', tmp_path)
    hm = attach_heads(add_lora(m, r=8, alpha=16, dropout=0.0),
                      HeadsConfig(coord_tokens=True, lape=True, packer=True, heads_lr=3e-3), p.tokenizer, p)
    fr = np.random.default_rng(0).integers(0, 255, (10, 56, 56, 3), dtype=np.uint8)
    ts = np.array([0, .2, .5, .9, 1.0, 1.6, 2.0, 2.1, 2.9, 3.3])
    conv = [{'role': 'user', 'content': [{'type': 'video', 'video': fr}, {'type': 'text', 'text': 'where?'}]},
            {'role': 'assistant', 'content': [{'type': 'text', 'text': '[<WIDTH-012>,<HEIGHT-030>,<WIDTH-050>]'}]}]
    b = p.apply_chat_template(conv, tokenize=True, return_dict=True, return_tensors='pt',
                              return_assistant_tokens_mask=True,
                              processor_kwargs=dict(video_metadata=[video_metadata(ts)]))
    ids, am = b.pop('input_ids'), b.pop('assistant_masks').bool()
    labels = torch.where(am, ids, -100)
    vals = torch.full(ids.shape, float('nan'))
    vals[hm.coords.is_coord(ids)] = torch.tensor([0.1234, 0.3, 0.5])
    opt = torch.optim.AdamW(hm.param_groups(1e-3), weight_decay=0.0)
    losses = []
    for i in range(30):
        loss = hm(input_ids=ids, labels=labels, coord_values=vals, video_times=[torch.as_tensor(ts / 4)], **b).loss
        loss.backward()
        if i == 0:
            for name in ('packer', 'coords'):
                g = [q.grad for q in hm.parts[name].parameters()]
                assert any(x is not None and x.abs().sum() > 0 for x in g), f'{name} got no gradient'
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 1.0, losses


def test_lape_qwen3(tmp_path):
    "Qwen3-VL: LAPE adds exactly the interpolated rows at the mean time of each two-frame grid step."
    m, p = tiny('qwen3_vl', tmp_path)
    fr = np.random.default_rng(0).integers(0, 255, (6, 64, 64, 3), dtype=np.uint8)
    ts = np.array([0.0, 0.5, 0.7, 1.9, 2.0, 3.0])
    b = video(p, fr, ts)
    def feats(): return m.model.get_video_features(b['pixel_values_videos'], b['video_grid_thw']).pooler_output[0]
    with torch.no_grad(): plain = feats()
    hm = attach_heads(m, HeadsConfig(coord_tokens=True, lape=True), p.tokenizer)
    hm.video_times = [torch.as_tensor(ts / 3.0)]
    with torch.no_grad():
        got = feats()
        t, h, w = b['video_grid_thw'][0].tolist()
        rows = lape_rows(hm.coords.tables, torch.tensor([0.25, 1.3, 2.5]) / 3.0, h // 2, w // 2)
    fct.test_eq(t, 3)
    fct.test_close(got - plain, rows.reshape(-1, rows.shape[-1]), eps=1e-5)
    hm.video_times = [torch.as_tensor(ts[:4] / 3.0)]
    fct.test_fail(feats, contains='video_times[0]: 2 time steps for 3')


def test_save_reload_packer(tmp_path):
    "Packer + coordinate tables saved as safetensors and reloaded on a fresh model: identical outputs."
    from peft import PeftModel
    m, p = tiny('llava_onevision', tmp_path)
    pm = add_lora(m, r=4, alpha=8, dropout=0.0)
    hm = attach_heads(pm, HeadsConfig(coord_tokens=True, packer=True, box_head=True), p.tokenizer, p)
    with torch.no_grad():
        for q in hm.parts.parameters(): q.add_(torch.randn_like(q) * 0.1)
    fr = np.random.default_rng(3).integers(0, 255, (12, 56, 56, 3), dtype=np.uint8)
    b = video(p, fr, np.arange(12) / 3, hm.queries.text(12) + ' where?')
    folder = tmp_path / 'adapter'
    pm.save_pretrained(folder)
    save_heads(hm, folder)
    assert not list(folder.glob('*.bin')) and not list(folder.glob('*.pt'))
    m2, p2 = load_model(tmp_path / 'llava_onevision', dtype=torch.float32)
    h2 = load_heads(PeftModel.from_pretrained(m2, folder), folder, p2.tokenizer, p2)
    b2 = video(p2, fr, np.arange(12) / 3, h2.queries.text(12) + ' where?')
    fct.test_eq(b2['input_ids'], b['input_ids'])
    hm.eval()
    h2.eval()
    with torch.no_grad():
        o1, o2 = hm(**b), h2(**b2)
    fct.test_eq(o2.logits, o1.logits)
    fct.test_eq(o2['frame_boxes'][0], o1['frame_boxes'][0])
    fct.test_eq(o2['frame_presence'][0], o1['frame_presence'][0])


def test_bad_settings(tmp_path):
    m, p = tiny('qwen2_5_vl', tmp_path)
    fct.test_fail(lambda: attach_heads(m, HeadsConfig(packer=True), p.tokenizer, p), contains="'qwen2_5_vl' has none")
    m2, p2 = tiny('llava_onevision', tmp_path)
    fct.test_fail(lambda: attach_heads(m2, HeadsConfig(packer=True), p2.tokenizer), contains='needs the processor')
    (tmp_path / 'h').mkdir()
    (tmp_path / 'h' / 'heads.safetensors').write_bytes(b'')
    (tmp_path / 'h' / 'heads_config.json').write_text('{"coord_tokens": true, "bogus": 1}')
    fct.test_fail(lambda: load_heads(m, tmp_path / 'h', p.tokenizer), contains="unknown fields ['bogus']")


def held_iou(hm, held):
    with torch.no_grad(): pb = hm(**held[0])['frame_boxes']
    return float(np.mean([box_iou(p.tolist(), t.tolist()) for bx, tg in zip(pb, held[1])
                          for p, t in zip(cxcywh_to_xyxy(bx), tg) if t.isfinite().all()]))


def test_box_head_learns_llava_packer(tmp_path):
    "LoRA + packer + box head on LLaVA-OneVision (queries per frame): box loss falls, held-out box IoU rises."
    torch.manual_seed(0)
    m, p = tiny('llava_onevision', tmp_path)
    hm = attach_heads(add_lora(m, r=8, alpha=16, dropout=0.0), HeadsConfig(packer=True, box_head=True, heads_lr=3e-3),
                      p.tokenizer, p)
    held = square_batch(p, hm.queries, range(10_000, 10_016), size=56, per=1)
    iou0 = held_iou(hm, held)
    opt = torch.optim.AdamW(hm.param_groups(1e-3), weight_decay=0.0)
    losses = []
    for i in range(150):
        b, tg = square_batch(p, hm.queries, range(4 * i, 4 * i + 4), size=56, per=1)
        loss = hm(**b, labels=torch.full_like(b['input_ids'], -100), box_targets=tg).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    iou1 = held_iou(hm, held)
    assert np.mean(losses[-20:]) < np.mean(losses[:20]), (losses[:20], losses[-20:])
    assert iou1 > iou0 + 0.05, (iou0, iou1)


def test_box_head_no_boxes_touches_every_part(tmp_path):
    "A batch without boxes (and a sample without any) still gives every head parameter a gradient: DDP cannot hang."
    m, p = tiny('qwen3_vl', tmp_path)
    hm = attach_heads(add_lora(m, r=4, alpha=8, dropout=0.0), HeadsConfig(coord_tokens=True, box_head=True),
                      p.tokenizer)
    b, tg = square_batch(p, hm.queries, [0, 1], size=64)
    fct.test_eq([t.shape for t in tg], [(4, 4), (4, 4)])
    out = hm(**b, labels=b['input_ids'], box_targets=[None, torch.full((4, 4), float('nan'))])
    out.loss.backward()
    for n, q in hm.parts.named_parameters(): assert q.grad is not None, n
    fct.test_eq([x.shape for x in out['frame_boxes']], [(4, 4), (4, 4)])
    fct.test_fail(lambda: hm(input_ids=b['input_ids'][:, :5]), contains='no video to ground in')


_DDP_WORKER = '''
import json, os, sys
import torch, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from st_toolkit.heads import HeadsConfig, attach_heads, square_batch
from st_toolkit.models import add_lora, load_model
dist.init_process_group('gloo')
rank = dist.get_rank()
torch.manual_seed(0)
m, p = load_model(sys.argv[1], dtype=torch.float32)
hm = attach_heads(add_lora(m, r=4, alpha=8, dropout=0.0), HeadsConfig(box_head=True, heads_lr=1e-3), p.tokenizer)
ddp = DDP(hm)
opt = torch.optim.AdamW(hm.param_groups(1e-3), weight_decay=0.0)
for step in range(3):
    b, tg = square_batch(p, hm.queries, [10 * step + rank], size=56)
    targets = tg if rank == 0 else [None]          # rank 1: a sample without boxes
    loss = ddp(**b, labels=b['input_ids'], box_targets=targets).loss
    loss.backward()
    opt.step()
    opt.zero_grad()
flat = torch.cat([q.detach().flatten() for q in hm.parts.parameters()])
other = flat.clone()
dist.broadcast(other, 0)
print(json.dumps(dict(rank=rank, same=bool(torch.equal(flat, other)))), flush=True)
dist.destroy_process_group()
'''


@pytest.mark.skipif(shutil.which('torchrun') is None and not (Path(sys.executable).parent / 'torchrun').exists(),
                    reason='torchrun not installed')
def test_box_head_two_processes(tmp_path):
    "torchrun, 2 CPU processes (DDP over gloo), box head: one rank has no boxes; no hang, the heads stay identical."
    tiny_path = build_tiny_model('qwen2_5_vl', path=tmp_path / 'tiny')
    (tmp_path / 'worker.py').write_text(_DDP_WORKER)
    torchrun = shutil.which('torchrun') or str(Path(sys.executable).parent / 'torchrun')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM='false')
    out = subprocess.run([torchrun, '--nproc_per_node', '2', '--master_port', '29533', str(tmp_path / 'worker.py'),
                          str(tiny_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-4000:]
    lines = re.findall(r'\{"rank"[^{}]*\}', out.stdout)   # two processes may print on one line
    res = sorted((json.loads(l) for l in lines), key=lambda r: r['rank'])
    fct.test_eq(res, [dict(rank=0, same=True), dict(rank=1, same=True)])
