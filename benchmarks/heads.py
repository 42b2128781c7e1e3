"""The model-side parts of `st_toolkit.heads`: what they save in video tokens and what they cost per training step.

1. Video tokens per 100-frame clip, counted by LLaVA-OneVision's own processor at the real checkpoints' settings
   (SigLIP 384x384, patch 14: a 27x27 grid): stock pooling (the baseline: 2x2 bilinear pooling per frame) vs the
   processor switched to the packer's count (`use_packer_count`). The same for 16 and 64 frames.
2. LoRA training step time on the tiny offline models, each part vs plain LoRA on the same batch and family
   (the baseline: peft LoRA r=8 on the language model, transformers' own loss on the same labels):
   - coord: LoRA + coordinate tokens, Qwen2.5-VL, a batch of 8 synthetic grounding texts;
   - lape: LoRA + coordinate tokens + LAPE, Qwen2.5-VL, one 8-frame video question;
   - packer: LoRA + packer, LLaVA-OneVision, one 16-frame video question (the packer also shortens the sequence);
   - box: LoRA + per-frame queries + box decoder, Qwen2.5-VL, a batch of 4 8-frame clips with box targets.
3. Held-out accuracy after the same training (`--train-steps`, batch 8, LoRA lr 1e-3) on synthetic STVG/REC text
   (two boxes with spans in the prompt, the answer is one of them): coordinate tokens vs the plain text-coordinate
   baseline (the same samples written with the normalised-float codec, `[0.12, 0.30, 0.52, 0.62]`). Both are scored
   the same way: greedy generation, answers parsed by the toolkit's codecs, box IoU and span tIoU (unparsable = 0).
   Variants interleaved in a rotating order, `--steps` steps per repeat; ratios taken repeat by repeat
   (baseline time / variant time: above 1 the part is faster).

Writes benchmarks/results/heads.json and .md.
Usage: python benchmarks/heads.py [--reps 5] [--steps 5]
"""
import argparse, os, sys, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import interleave, stats, ratios, fmt, environment, header_md, write

import numpy as np
import torch


def token_counts(frames=(16, 64, 100)):
    "Video tokens LLaVA-OneVision's processor writes at the real 384x384 setting, stock vs packer."
    import transformers as T
    from st_toolkit.heads import SpatioTemporalPacker, use_packer_count
    from st_toolkit.models import train_tokenizer, template_corpus, chat_template
    tok = train_tokenizer(template_corpus(200), 512, ('<image>', '<video>'))
    def proc():
        hw = dict(height=384, width=384)
        return T.LlavaOnevisionProcessor(image_processor=T.LlavaOnevisionImageProcessor(size=hw), tokenizer=tok,
                                         chat_template=chat_template('llava_onevision'),
                                         video_processor=T.LlavaOnevisionVideoProcessor(size=hw), num_image_tokens=729,
                                         vision_feature_select_strategy='full')
    stock, packed = proc(), use_packer_count(proc(), SpatioTemporalPacker(8))
    vid = tok.convert_tokens_to_ids('<video>')
    out = {}
    for n in frames:
        fr = np.zeros((n, 384, 384, 3), np.uint8)
        count = lambda p: int((p(text='<video>', videos=[fr], return_tensors='pt')['input_ids'] == vid).sum())
        out[n] = dict(stock=count(stock), packer=count(packed))
    return out


def _tiny(arch, tmp):
    from st_toolkit.models import build_tiny_model, load_model
    return load_model(build_tiny_model(arch, path=Path(tmp) / arch), dtype=torch.float32)


def _video_batch(proc, n, answer):
    from st_toolkit.models import video_metadata
    fr = np.random.default_rng(n).integers(0, 255, (n, 56, 56, 3), dtype=np.uint8)
    conv = [{'role': 'user', 'content': [{'type': 'video', 'video': fr}, {'type': 'text', 'text': 'where is it?'}]},
            {'role': 'assistant', 'content': [{'type': 'text', 'text': answer}]}]
    b = proc.apply_chat_template(conv, tokenize=True, return_dict=True, return_tensors='pt',
                                 return_assistant_tokens_mask=True,
                                 processor_kwargs=dict(video_metadata=[video_metadata(np.arange(n) / 4)]))
    am = b.pop('assistant_masks').bool()
    return dict(b, labels=torch.where(am, b['input_ids'], -100)), np.arange(n) / 4 / (n / 4)


def _stepper(model, batch, lr=1e-3):
    "One training step (forward, backward, AdamW) of `model` on `batch`."
    own = [p for p in model.parameters() if p.requires_grad]
    params = model.param_groups(lr) if hasattr(model, 'param_groups') else own
    opt = torch.optim.AdamW(params, weight_decay=0.0)
    def step():
        model(**batch).loss.backward()
        opt.step()
        opt.zero_grad()
    return step


def setups(tmp):
    "{name: (baseline step, part step)} on the tiny models."
    from st_toolkit.heads import HeadsConfig, attach_heads, grounding_batch, synthetic_grounding, split_coord_values
    from st_toolkit.models import add_lora
    lora = lambda m: add_lora(m, r=8, alpha=16, dropout=0.0)
    out = {}
    # coordinate tokens on text grounding; the baseline reads the same samples' coordinates as plain text
    m0, p0 = _tiny('qwen2_5_vl', tmp)
    sm = synthetic_grounding(8, seed=1)
    def text(s): return s.replace('<', '').replace('>', '')
    b0 = grounding_batch(p0.tokenizer, 10**9, [(text(q), text(a), s, x) for q, a, s, x in sm])
    m1, p1 = _tiny('qwen2_5_vl', tmp / 'b')
    h1 = attach_heads(lora(m1), HeadsConfig(coord_tokens=True), p1.tokenizer)
    b1 = grounding_batch(p1.tokenizer, h1.coords.first, sm)
    keys = ('input_ids', 'attention_mask', 'labels')
    out['coord'] = (_stepper(lora(m0), {k: b0[k] for k in keys}),
                    _stepper(h1, {k: b1[k] for k in keys + ('coord_values',)}))
    # LAPE on an 8-frame video (Qwen2.5-VL)
    m2, p2 = _tiny('qwen2_5_vl', tmp / 'c')
    b2, _ = _video_batch(p2, 8, 'It is on the left.')
    m3, p3 = _tiny('qwen2_5_vl', tmp / 'd')
    h3 = attach_heads(lora(m3), HeadsConfig(coord_tokens=True, lape=True), p3.tokenizer)
    b3, t3 = _video_batch(p3, 8, 'It is on the left.')
    out['lape'] = (_stepper(lora(m2), b2), _stepper(h3, dict(b3, video_times=[torch.as_tensor(t3)])))
    # the packer on a 16-frame video (LLaVA-OneVision)
    m4, p4 = _tiny('llava_onevision', tmp / 'e')
    b4, _ = _video_batch(p4, 16, 'It is on the left.')
    m5, p5 = _tiny('llava_onevision', tmp / 'f')
    h5 = attach_heads(lora(m5), HeadsConfig(packer=True), p5.tokenizer, p5)
    b5, _ = _video_batch(p5, 16, 'It is on the left.')
    out['packer'] = (_stepper(lora(m4), b4), _stepper(h5, b5))
    # the box head on 4 clips (Qwen2.5-VL); the baseline gets the same clips without query tokens or box targets
    from st_toolkit.heads import square_batch
    m6, p6 = _tiny('qwen2_5_vl', tmp / 'g')
    h6 = attach_heads(lora(m6), HeadsConfig(box_head=True), p6.tokenizer)
    b6, t6 = square_batch(p6, h6.queries, range(4))
    m7, p7 = _tiny('qwen2_5_vl', tmp / 'h')
    class _NoQueries: text = staticmethod(lambda n: '')
    b7, _ = square_batch(p7, _NoQueries, range(4))
    out['box'] = (_stepper(lora(m7), dict(b7, labels=b7['input_ids'])),
                  _stepper(h6, dict(b6, labels=b6['input_ids'], box_targets=t6)))
    n = lambda b: b['input_ids'].shape[1]
    return out, dict(coord=(n(b0), n(b1)), lape=n(b3), packer=(n(b4), n(b5)))


def _generate_scores(hm, tok, prompts, truth, parse, bs=16):
    "Greedy answers to `prompts`, parsed into (span, box), scored against `truth`: mean box IoU and span tIoU."
    from st_toolkit.heads import split_coord_values, values_for_ids
    from st_toolkit.metrics import box_iou, temporal_iou
    tok.padding_side = 'left'
    ious, tious = [], []
    for i in range(0, len(prompts), bs):
        split = [split_coord_values(q) for q in prompts[i:i + bs]]
        enc = tok([q for q, _ in split], return_tensors='pt', padding=True)
        cv = values_for_ids(enc['input_ids'], [v for _, v in split], hm.coords.first) if hm.coords is not None else None
        with torch.no_grad(): out = hm.generate(**enc, coord_values=cv, max_new_tokens=48, do_sample=False)
        for text, (span, box) in zip(tok.batch_decode(out[:, enc['input_ids'].shape[1]:]), truth[i:i + bs]):
            sp, bx = parse(text)
            ious.append(box_iou(list(bx), box) if bx is not None else 0.0)
            tious.append(temporal_iou(list(sp), span) if sp is not None else 0.0)
    return float(np.mean(ious)), float(np.mean(tious))


def _safe(f):
    def g(text):
        try: return f(text)
        except Exception: return None
    return g


def accuracy(tmp, steps):
    "Held-out box IoU / tIoU by greedy generation after `steps` steps: coordinate tokens vs text coordinates."
    from st_toolkit.coords import LlavaSTBinsCodec, NormCodec
    from st_toolkit.heads import (HeadsConfig, attach_heads, encode_sample, pad_batch, synthetic_grounding,
                                  split_coord_values)
    from st_toolkit.models import add_lora
    held = synthetic_grounding(64, seed=7)
    truth = [(s, b) for _, _, s, b in held]
    nc, bc = NormCodec(), LlavaSTBinsCodec()
    def as_text(q):   # the same sample, its coordinates written as normalised floats
        _, v = split_coord_values(q)
        spans_boxes = [v[i:i + 6] for i in range(0, len(v), 6)]
        body = ' '.join(f"{c} {nc.format_span(*x[:2])} {nc.format_box(x[2:])}"
                        for c, x in zip(('red', 'blue'), spans_boxes))
        return body + ' where is ' + q.split(' where is ')[1]
    res = {}
    for name in ('text', 'coord'):
        torch.manual_seed(0)
        m, p = _tiny('qwen2_5_vl', tmp / f'acc_{name}')
        tok = p.tokenizer
        m = add_lora(m, r=8, alpha=16, dropout=0.0)
        hm = attach_heads(m, HeadsConfig(coord_tokens=name == 'coord', heads_lr=3e-3), tok)
        first = hm.coords.first if hm.coords is not None else 10**9
        def sample(q, a, s, b):
            if name == 'coord': return q + ' answer:', a + '<|im_end|>'
            return as_text(q) + ' answer:', f"{nc.format_span(*s)} {nc.format_box(b)}<|im_end|>"
        opt = torch.optim.AdamW(hm.param_groups(1e-3), weight_decay=0.0)
        for i in range(steps):
            b = pad_batch([encode_sample(tok, *sample(*x), first) for x in synthetic_grounding(8, seed=1000 + i)],
                          tok.pad_token_id)
            hm(**{k: b[k] for k in ('input_ids', 'attention_mask', 'labels', 'coord_values')}).loss.backward()
            opt.step()
            opt.zero_grad()
        hm.eval()
        prompts = [sample(*x)[0] for x in held]
        codec = bc if name == 'coord' else nc
        parse = lambda t: (_safe(codec.parse_span)(t), _safe(codec.parse_box)(t))
        res[name] = dict(zip(('box_iou', 'tiou'), _generate_scores(hm, tok, prompts, truth, parse)))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--train-steps', type=int, default=200)
    a = ap.parse_args()
    load = os.getloadavg()
    torch.manual_seed(0)
    counts = token_counts()
    with tempfile.TemporaryDirectory() as tmp:
        st, lens = setups(Path(tmp))
        variants = {}
        for name, (base, part) in st.items():
            variants[f'{name}:lora'] = lambda r, f=base: [f() for _ in range(a.steps)]
            variants[f'{name}:part'] = lambda r, f=part: [f() for _ in range(a.steps)]
        times = interleave(variants, a.reps)
        acc = accuracy(Path(tmp), a.train_steps)
    per = lambda k: stats([t / a.steps for t in times[k]])
    rows = {n: dict(lora=per(f'{n}:lora'), part=per(f'{n}:part'), ratio=ratios(times[f'{n}:lora'], times[f'{n}:part']))
            for n in st}
    d = dict(baseline='tokens: LLaVA-OneVision stock 2x2 pooling counted by its own processor at 384x384; step time: '
                      'plain peft LoRA (r=8) on the same tiny model, family and batch',
             reps=a.reps, steps=a.steps, tokens=counts, step=rows, seq_len=lens, accuracy=acc,
             train_steps=a.train_steps, env=environment(load))
    md = '# heads\n\n' + header_md(d) + '\n## Video tokens per clip (LLaVA-OneVision, 384x384, 27x27 grid)\n\n'
    md += '| frames | stock pooling | packer | stock / packer |\n|---|---|---|---|\n'
    for n, c in counts.items():
        md += f"| {n} | {c['stock']:,} | {c['packer']:,} | {c['stock'] / c['packer']:.2f}x |\n"
    md += '\n## Training step (tiny models, CPU): seconds per step, median [min-max]\n\n'
    md += '| part | plain LoRA | LoRA + part | ratio (LoRA / part) |\n|---|---|---|---|\n'
    for n, r in rows.items():
        md += f"| {n} | {fmt(r['lora'], 3, ' s')} | {fmt(r['part'], 3, ' s')} | {fmt(r['ratio'])} |\n"
    md += (f"\nSequence lengths: coord {lens['coord'][0]} (as text digits) -> {lens['coord'][1]} (one token "
           f"each), lape {lens['lape']}, packer {lens['packer'][0]} (stock pooling) -> {lens['packer'][1]} (packer).\n")
    md += (f"\n## Held-out accuracy after {a.train_steps} steps (tiny Qwen2.5-VL, greedy generation, 64 samples)\n\n"
           "| coordinates | box IoU | span tIoU |\n|---|---|---|\n")
    for n, r in acc.items(): md += f"| {n} | {r['box_iou']:.3f} | {r['tiou']:.3f} |\n"
    write('heads', d, md)


if __name__ == '__main__':
    main()
