"""LoRA training step: st_toolkit's pipeline vs the plain transformers + peft loop a user would write, and vs an
upper limit, measured in the same run with the variants interleaved.

plain        the baseline: `AutoModelForImageTextToText.from_pretrained` (SDPA, transformers' default), peft's
             `get_peft_model` with the same LoRA adapter, a Dataset that decodes each sample's video when it is
             fetched (every step) and encodes it with the processor, batches padded to their longest sample.
ours         st_toolkit: `load_model` + `add_lora`, `VideoQADataset` whose pre-flight decodes each video once (frame
             cache), the same padding; on a GPU bf16, flash-attention 2 when installed, 4 DataLoader workers.
pre_encoded  the upper limit: every batch encoded before the loop; the loop is forward + backward + optimizer only.
trainer      the toolkit's real training step: `build_trainer(TrainConfig(...))` then `Trainer.train()` (its sampler,
             collator, callbacks, gradient clipping, scheduler), timed from one step's end to the next; the processor
             runs once per sample (the pre-flight) and its output is cached, 0 DataLoader workers (the CPU default).
trainer_w2   the same with 2 DataLoader workers (forkserver): do workers help here?

Each (variant, threads) runs in its own process (peak memory is its own), the same manual loop (DataLoader fetch +
forward + backward + AdamW step). Repeats interleave the variants in a rotating order; reported as median [min-max]
of the per-repeat tokens/s and per-repeat ratios. `--threads` lists thread counts to compare for `ours` ('auto' is
`st_toolkit.models.set_threads()`'s choice).

CPU (default): the tiny offline model (`st_toolkit.models.build_tiny_model`), shipped sample videos.
GPU (`--gpu`, needs CUDA): Qwen2.5-VL-3B's real configuration with random weights, LoRA r=64 on the language model,
16 frames at 448x448 per sample, bf16. MFU counts useful work only (see `flops_per_step`).

Writes benchmarks/results/train_step.json and .md (a GPU run writes train_step_gpu.json/.md).
Usage: python benchmarks/train_step.py [--steps 20] [--reps 5] [--batch 4] [--frames 8] [--threads 1,2,auto]
       python benchmarks/train_step.py --gpu [--steps 20] [--batch 1]
"""
import argparse, json, os, platform, resource, subprocess, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _protocol import stats, ratios, fmt, environment, header_md, write

ROOT = Path(__file__).resolve().parents[1]

# Qwen2.5-VL-3B-Instruct config.json values
QWEN25_VL_3B = dict(
    text=dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2,
              vocab_size=151936, max_position_embeddings=128000, rms_norm_eps=1e-6,
              rope_parameters=dict(rope_type='default', rope_theta=1000000.0, mrope_section=[16, 24, 24])),
    vision=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048, patch_size=14,
                spatial_merge_size=2, temporal_patch_size=2, window_size=112, fullatt_block_indexes=[7, 15, 23, 31],
                tokens_per_second=2, hidden_act='silu'),
    tie_word_embeddings=True)

def peak_tflops(name):
    "Dense bf16 peak of known GPUs (TFLOP/s)."
    n = name.upper()
    if 'H100' in n and 'PCIE' in n: return 756.0
    if 'H100' in n or 'H200' in n or 'H800' in n: return 989.4
    if 'A100' in n: return 312.0
    if 'L40' in n: return 362.0
    return float('nan')


# ---- data ----------------------------------------------------------------------------------------------------------
def make_data(tmp, gpu, n):
    "A dataset file of `n` kinematic questions over synthetic scenes (448x448 videos for the GPU setting)."
    from st_toolkit.core import Scene
    from st_toolkit.templates import kinematic_qa
    from st_toolkit.formats import write_dataset
    if gpu:
        from st_toolkit.synthetic import make_scene, render_video
        scenes = []
        for i in range(4):
            s = make_scene(seed=100 + i, n_objects=3, duration=8.0, fps=10.0, width=448, height=448)
            render_video(s, tmp / f'{s.name}.mp4'); s.video = str(tmp / f'{s.name}.mp4'); scenes.append(s)
    else:
        scenes = [Scene.from_json(p) for p in sorted((ROOT / 'data_samples/scenes').glob('sample_0*.json'))]
    qa = [q for s in scenes for q in kinematic_qa(s, seed=0)]
    qa = (qa * (n // len(qa) + 1))[:n]
    for i, q in enumerate(qa): q['id'] = f"{q['id']}#{i}"
    return write_dataset(qa, tmp / 'bench.json')


# ---- models --------------------------------------------------------------------------------------------------------
def big_model(sizes, attn, dtype, device):
    "A Qwen2.5-VL of the given sizes with random weights, its processor built around the tiny tokenizer."
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
    from st_toolkit.models import train_tokenizer, template_corpus, tiny_processor, _ids
    tok = train_tokenizer(template_corpus())
    proc = tiny_processor(tok, 'qwen2_5_vl', max_pixels=448 * 448)
    img, vid, vs, ve = _ids(tok, '<|image_pad|>', '<|video_pad|>', '<|vision_start|>', '<|vision_end|>')
    text = dict(sizes['text'], eos_token_id=_ids(tok, '<|im_end|>')[0], pad_token_id=_ids(tok, '<|endoftext|>')[0], bos_token_id=None)
    cfg = Qwen2_5_VLConfig(text_config=text, vision_config=sizes['vision'], image_token_id=img, video_token_id=vid,
                           vision_start_token_id=vs, vision_end_token_id=ve, tie_word_embeddings=sizes['tie_word_embeddings'])
    cfg._attn_implementation = attn
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(cfg, dtype=dtype, attn_implementation=attn)
    return model, proc


def flops_per_step(model, batch, lora_params):
    "Useful model FLOPs of one LoRA training step (see the module docstring)."
    tc, vc = model.config.text_config, model.config.vision_config
    lm = sum(p.numel() for n, p in model.named_parameters() if 'language_model' in n and 'embed_tokens' not in n and 'lora_' not in n)
    vis = sum(p.numel() for n, p in model.named_parameters() if '.visual.' in n and 'lora_' not in n)
    lens = batch['attention_mask'].sum(1).tolist()
    T = sum(lens)
    f = 4 * lm * T + 6 * lora_params * T + 3 * sum(2 * tc.num_hidden_layers * t * t * tc.hidden_size for t in lens)
    f += 2 * tc.hidden_size * tc.vocab_size * T * 2                       # lm_head forward + activation grads
    P = int(batch['pixel_values_videos'].shape[0])
    thw = batch['video_grid_thw'].tolist()
    frame = [h * w for _, h, w in thw]
    full = len(vc.fullatt_block_indexes)
    f += 2 * vis * P + 4 * vc.hidden_size * sum((vc.depth - full) * t * h * w * 64 + full * t * (h * w) ** 2 for (t, h, w) in thw)
    return f, T, P, frame


def _plain_model(args):
    "What a user writes: from_pretrained with transformers' defaults, then peft's get_peft_model."
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from peft import LoraConfig, get_peft_model
    from st_toolkit.models import lora_regex
    if args.gpu: model, proc = big_model(QWEN25_VL_3B, 'sdpa', torch.bfloat16, 'cuda')
    else:
        path = Path(args.tmp) / 'tiny'
        model, proc = AutoModelForImageTextToText.from_pretrained(path), AutoProcessor.from_pretrained(path)
    cfg = LoraConfig(r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.05, target_modules=lora_regex(model),
                     bias='none', task_type='CAUSAL_LM')
    return get_peft_model(model, cfg), proc


def _ours_model(args):
    import torch
    from st_toolkit.models import build_tiny_model, load_model, add_lora, default_attention
    if args.gpu: model, proc = big_model(QWEN25_VL_3B, default_attention(), torch.bfloat16, 'cuda')
    else: model, proc = load_model(Path(args.tmp) / 'tiny', dtype=torch.float32)
    return add_lora(model, r=args.lora_r, alpha=2 * args.lora_r, dropout=0.05), proc


def _datasets(args, proc, variant):
    "The variant's Dataset (and the seconds spent preparing it before the loop)."
    from st_toolkit.train import VideoQADataset, preflight
    from st_toolkit.video import load_frames

    class DecodeEveryStep(VideoQADataset):
        "The plain dataset: the video is decoded again each time a sample is fetched."
        def frames(self, j):
            s = self.samples[j]; c = s.get('clip') or {}
            return load_frames(s['video'], num_frames=self.n_frames[j], span=(c.get('t0'), c.get('t1')) if c else None,
                               max_pixels=self.max_pixels, multiple=self.multiple, cache=False)

    t0 = time.perf_counter()
    if variant == 'plain': return DecodeEveryStep(args.data, proc, num_frames=args.frames), 0.0
    ds = VideoQADataset(args.data, proc, num_frames=args.frames)
    preflight(ds, max_tokens=args.max_length)
    return ds, time.perf_counter() - t0


def _trainer_run(args, workers):
    "The toolkit's Trainer step: per-step seconds (end to end), real tokens per step, preparation seconds."
    import torch
    from transformers import TrainerCallback
    from st_toolkit.train import TrainConfig, build_trainer
    total = args.warmup + args.steps
    out = Path(args.tmp) / f'tr{os.getpid()}'
    cfg = TrainConfig(model=str(Path(args.tmp) / 'tiny'), data=str(args.data), output_dir=str(out),
                      num_frames=args.frames, max_tokens=args.max_length, lora_r=args.lora_r,
                      lora_alpha=2 * args.lora_r, learning_rate=1e-4, batch_size=args.batch, max_steps=total,
                      save_steps=10**6, logging_steps=10**6, dataloader_workers=workers, quiet=True,
                      threads=torch.get_num_threads())
    t0 = time.perf_counter()
    tr, ds, _ = build_trainer(cfg)
    prep = time.perf_counter() - t0
    ends, tokens = [], []
    class Clock(TrainerCallback):
        def on_step_end(self, *a, **kw): ends.append(time.perf_counter())
        def on_train_begin(self, *a, **kw): ends.append(time.perf_counter())
    tr.add_callback(Clock())
    count = lambda m, a, kw: tokens.append(int(kw['attention_mask'].sum())) or None
    tr.model.register_forward_pre_hook(count, with_kwargs=True)
    tr.train()
    step_s = [b - a for a, b in zip(ends, ends[1:])]
    return tr.model, step_s[args.warmup:], tokens[args.warmup:], prep


def run_trainer_variant(args):
    "The `trainer` variants: the same RESULT record as the manual loop's."
    import numpy as np, torch
    from st_toolkit.models import set_threads
    from st_toolkit.video import DECODE_CALLS
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if args.threads_one == 'auto': set_threads()
    else: torch.set_num_threads(int(args.threads_one))
    workers = 2 if args.variant == 'trainer_w2' else 0
    DECODE_CALLS.clear()
    model, times, real, prep = _trainer_run(args, workers)
    times = np.array(times)
    r = dict(variant=args.variant, threads=torch.get_num_threads(), workers=workers,
             attention=model.get_base_model().config._attn_implementation, step_s_mean=float(times.mean()),
             step_s_median=float(np.median(times)), tokens_per_s=float(sum(real) / times.sum()),
             real_tokens_per_step=float(np.mean(real)), padded_tokens_per_step=float('nan'), prep_s=prep,
             end_to_end_s=prep + float(times.sum()),
             peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print('RESULT ' + json.dumps(r))


def run_variant(args):
    if args.variant.startswith('trainer'): return run_trainer_variant(args)
    import numpy as np, torch
    from st_toolkit.models import set_threads
    from st_toolkit.train import VideoCollator
    from st_toolkit.video import DECODE_CALLS
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error(); hf_logging.disable_progress_bar()
    torch.manual_seed(0)
    if args.threads_one == 'auto': set_threads()
    else: torch.set_num_threads(int(args.threads_one))
    threads = torch.get_num_threads()
    v = args.variant
    model, proc = (_plain_model if v == 'plain' else _ours_model)(args)
    lora_params = sum(p.numel() for n, p in model.named_parameters() if 'lora_' in n)
    model.train()
    dev = 'cuda' if args.gpu else 'cpu'
    ds, prep_s = _datasets(args, proc, v)
    col = VideoCollator(proc, 'right', pad_to_multiple_of=8 if args.gpu and v != 'plain' else None)
    nw = args.workers if v == 'ours' else 0
    g = torch.Generator().manual_seed(0)
    dl = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, collate_fn=col, generator=g,
                                     drop_last=True, num_workers=nw, persistent_workers=nw > 0,
                                     pin_memory=args.gpu and nw > 0)
    total = args.warmup + args.steps
    if v == 'pre_encoded':
        t0 = time.perf_counter()
        batches, it = [], iter(dl)
        while len(batches) < total:
            try: batches.append(next(it))
            except StopIteration: it = iter(dl)
        prep_s += time.perf_counter() - t0
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ctx = torch.autocast('cuda', dtype=torch.bfloat16) if args.gpu else torch.autocast('cpu', enabled=False)
    if args.gpu: torch.cuda.reset_peak_memory_stats()
    DECODE_CALLS.clear()
    times, data_t, real, padded, losses, flops = [], [], [], [], [], []
    it = iter(dl)
    for step in range(total):
        if args.gpu: torch.cuda.synchronize()
        t = time.perf_counter()
        if v == 'pre_encoded': b = batches[step]
        else:
            try: b = next(it)
            except StopIteration: it = iter(dl); b = next(it)
        b = {k: x.to(dev, non_blocking=True) for k, x in b.items()}
        td = time.perf_counter() - t
        with ctx: loss = model(**b).loss
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        if args.gpu: torch.cuda.synchronize()
        dt = time.perf_counter() - t
        if step >= args.warmup:
            times.append(dt); data_t.append(td); real.append(int(b['attention_mask'].sum()))
            padded.append(int(b['attention_mask'].numel()))
            if args.gpu: flops.append(flops_per_step(model.get_base_model(), b, lora_params)[0])
        losses.append(float(loss))
    times = np.array(times)
    r = dict(variant=v, threads=threads, attention=model.get_base_model().config._attn_implementation, workers=nw,
             step_s_mean=float(times.mean()), step_s_median=float(np.median(times)), data_s_mean=float(np.mean(data_t)),
             compute_s_mean=float(times.mean() - np.mean(data_t)), tokens_per_s=float(sum(real) / times.sum()),
             real_tokens_per_step=float(np.mean(real)), padded_tokens_per_step=float(np.mean(padded)),
             decoder_calls_in_loop=int(sum(DECODE_CALLS.values())), prep_s=prep_s,
             end_to_end_s=prep_s + float(times.sum()), loss_first=losses[0], loss_last=losses[-1],
             lora_params=int(lora_params))
    if args.gpu:
        r['peak_mem_gb'] = torch.cuda.max_memory_allocated() / 2**30
        r['achieved_tflops'] = float(sum(flops) / times.sum()) / 1e12
        r['mfu'] = r['achieved_tflops'] / (args.peak_tflops or peak_tflops(torch.cuda.get_device_name()))
    else: r['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print('RESULT ' + json.dumps(r))


# ---- driver --------------------------------------------------------------------------------------------------------
def child(args, variant, threads):
    cmd = [sys.executable, __file__, '--_variant', variant, '--_threads', str(threads), '--_data', str(args.data),
           '--_tmp', str(args.tmp), '--steps', str(args.steps), '--warmup', str(args.warmup), '--batch', str(args.batch),
           '--frames', str(args.frames), '--max-length', str(args.max_length), '--lora-r', str(args.lora_r),
           '--workers', str(args.workers)] + ['--gpu'] * args.gpu
    if args.peak_tflops: cmd += ['--peak-tflops', str(args.peak_tflops)]
    env = {k: x for k, x in os.environ.items() if k not in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'ST_NUM_THREADS')}
    env.update(PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM='false')
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = [l for l in out.stdout.splitlines() if l.startswith('RESULT ')]
    if out.returncode or not line: raise SystemExit(f'{variant} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}')
    r = json.loads(line[0][7:]); r['load_1min'] = os.getloadavg()[0]
    print(f"  {variant:12s} threads={threads} ({r['threads']}): {r['tokens_per_s']:,.0f} tokens/s", flush=True)
    return r


def interleaved(args, cells):
    "{cell: [result per repeat]} for cells (variant, threads), children started round-robin in a rotating order."
    out = {c: [] for c in cells}
    for rep in range(args.reps):
        k = rep % len(cells)
        for c in cells[k:] + cells[:k]: out[c].append(child(args, *c))
    return out


def summary(runs, key):
    return stats([r[key] for r in runs])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--gpu', action='store_true')
    ap.add_argument('--steps', type=int, default=20); ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--reps', type=int, default=5); ap.add_argument('--thread-reps', type=int, default=3)
    ap.add_argument('--batch', type=int, default=None); ap.add_argument('--frames', type=int, default=None)
    ap.add_argument('--max-length', type=int, default=None); ap.add_argument('--lora-r', type=int, default=None)
    ap.add_argument('--samples', type=int, default=32, dest='n_samples')
    ap.add_argument('--threads', default='1,2,auto', help="thread counts to compare for ours ('auto': set_threads())")
    ap.add_argument('--peak-tflops', type=float, default=None)
    ap.add_argument('--workers', type=int, default=None, help='DataLoader workers for ours (default 4 on GPU, 0 on CPU)')
    ap.add_argument('--_variant'); ap.add_argument('--_threads'); ap.add_argument('--_data'); ap.add_argument('--_tmp')
    args = ap.parse_args()
    args.batch = args.batch or (1 if args.gpu else 4)
    args.frames = args.frames or (16 if args.gpu else 8)
    args.max_length = args.max_length or (4096 if args.gpu else 1024)
    args.lora_r = args.lora_r or (64 if args.gpu else 16)
    args.workers = (4 if args.gpu else 0) if args.workers is None else args.workers
    if args._variant:
        args.variant, args.threads_one, args.data, args.tmp = args._variant, args._threads, args._data, args._tmp
        return run_variant(args)
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        args.tmp = tmp
        args.data = make_data(Path(tmp), args.gpu, args.n_samples)
        if not args.gpu:
            from st_toolkit.models import build_tiny_model
            build_tiny_model(path=Path(tmp) / 'tiny')
        print('variants, at the automatic thread count:', flush=True)
        cells = [('plain', 'auto'), ('ours', 'auto'), ('pre_encoded', 'auto')]
        if not args.gpu: cells += [('trainer', 'auto'), ('trainer_w2', 'auto')]
        main_runs = interleaved(args, cells)
        th = args.threads.split(',')
        print('threads, ours:', flush=True)
        reps, args.reps = args.reps, args.thread_reps
        th_runs = interleaved(args, [('ours', t) for t in th]) if len(th) > 1 and not args.gpu else {}
        args.reps = reps
    import torch  # noqa: F401  (for the thread count in the environment record)
    d = report(args, main_runs, th_runs, load0)
    name = 'train_step_gpu' if args.gpu else 'train_step'
    write(name, d, markdown(d))


def report(args, main_runs, th_runs, load0):
    P, O, U = (main_runs[(v, 'auto')] for v in ('plain', 'ours', 'pre_encoded'))
    T, W = main_runs.get(('trainer', 'auto')), main_runs.get(('trainer_w2', 'auto'))
    tps = lambda rs: [r['tokens_per_s'] for r in rs]
    e2e = lambda rs: [r['end_to_end_s'] for r in rs]
    mem = 'peak_mem_gb' if args.gpu else 'peak_rss_mb'
    setting = (f"Qwen2.5-VL-3B config, random weights, LoRA r={args.lora_r}, {args.frames} frames at 448x448, bf16"
               if args.gpu else f"tiny model (hidden 64, 2 layers), LoRA r={args.lora_r}, {args.frames} frames, float32")
    d = dict(benchmark='train_step', setting=setting, batch=args.batch, steps=args.steps, warmup=args.warmup,
             samples=args.n_samples, reps=args.reps, thread_reps=args.thread_reps,
             baseline=('the plain transformers + peft loop a user would write: from_pretrained (SDPA), get_peft_model '
                       '(same adapter), the video decoded at every fetch, batches padded to their longest sample'),
             runs={f'{v}@{t}': rs for (v, t), rs in {**main_runs, **th_runs}.items()},
             tokens_per_s={v: stats(tps(rs)) for v, rs in (('plain', P), ('ours', O), ('pre_encoded', U),
                                                             ('trainer', T), ('trainer_w2', W)) if rs},
             ratios=dict(ours_vs_plain=ratios([1 / x for x in tps(P)], [1 / x for x in tps(O)]),
                         ours_vs_pre_encoded=ratios([1 / x for x in tps(U)], [1 / x for x in tps(O)]),
                         pre_encoded_vs_plain=ratios([1 / x for x in tps(P)], [1 / x for x in tps(U)]),
                         ours_vs_plain_end_to_end=ratios(e2e(P), e2e(O)),
                         memory_plain_over_ours=ratios([r[mem] for r in P], [r[mem] for r in O]),
                         **(dict(trainer_vs_pre_encoded=ratios([1 / x for x in tps(U)], [1 / x for x in tps(T)]),
                                 trainer_vs_plain=ratios([1 / x for x in tps(P)], [1 / x for x in tps(T)]),
                                 workers2_vs_workers0=ratios([1 / x for x in tps(T)], [1 / x for x in tps(W)]))
                            if T else {})),
             threads={t: dict(count=sorted({r['threads'] for r in rs}), tokens_per_s=stats(tps(rs)),
                              step_s=summary(rs, 'step_s_median'))
                      for (_, t), rs in th_runs.items()})
    if th_runs:
        base = tps(th_runs[('ours', '2')]) if ('ours', '2') in th_runs else None
        if base:
            d['threads_vs_2'] = {t: ratios([1 / x for x in base], [1 / x for x in tps(rs)])
                                 for (_, t), rs in th_runs.items()}
    d['env'] = environment(load0)
    d['env']['threads']['torch_threads'] = 'per run: see the tables'
    return d


def markdown(d):
    t, r = d['tokens_per_s'], d['ratios']
    rs = {k: v[0] for k, v in d['runs'].items()}
    out = ['# Training step: st_toolkit vs the plain transformers + peft loop', '', header_md(d),
           f"{d['setting']}; batch {d['batch']}, {d['steps']} timed steps after {d['warmup']} warm-up, {d['samples']} "
           f"samples; each run in its own process, torch threads as `set_threads()` chose.", '',
           '| | plain (baseline) | ours | pre-encoded (upper limit) |', '|---|---:|---:|---:|',
           f"| real tokens / s | {fmt(t['plain'], 0)} | {fmt(t['ours'], 0)} | {fmt(t['pre_encoded'], 0)} |"]
    for name, k, f in [('attention', 'attention', '{}'), ('threads (first repeat)', 'threads', '{}'),
                       ('step time, median (s), first repeat', 'step_s_median', '{:.4f}'),
                       ('  of which data, mean (s)', 'data_s_mean', '{:.4f}'),
                       ('real / padded tokens per step', None, None),
                       ('decoder calls in the timed loop', 'decoder_calls_in_loop', '{}'),
                       ('prepared before the loop (s)', 'prep_s', '{:.2f}'), ('peak RSS (MB)', 'peak_rss_mb', '{:.0f}')]:
        vs = [rs[v + '@auto'] for v in ('plain', 'ours', 'pre_encoded')]
        if k is None:
            cells = [f"{x['real_tokens_per_step']:.0f} / {x['padded_tokens_per_step']:.0f}" for x in vs]
        elif k in vs[1]: cells = [f.format(x[k]) for x in vs]
        else: continue
        out.append(f"| {name} | " + ' | '.join(cells) + ' |')
    out += ['', f"**Headline: ours vs plain, training-loop throughput {fmt(r['ours_vs_plain'])}x** (end to end, counting "
            f"ours' one-time pre-flight decode: {fmt(r['ours_vs_plain_end_to_end'])}x). Distance to the upper limit: ours "
            f"runs at {fmt(r['ours_vs_pre_encoded'])}x the pre-encoded loop's throughput (pre-encoded vs plain "
            f"{fmt(r['pre_encoded_vs_plain'])}x). Peak memory plain / ours {fmt(r['memory_plain_over_ours'])}x."]
    if 'trainer' in t:
        out += ['', "## The toolkit's Trainer step (finetune's `build_trainer` + `Trainer.train`)", '',
                '| | Trainer, 0 workers (CPU default) | Trainer, 2 workers |', '|---|---:|---:|',
                f"| real tokens / s | {fmt(t['trainer'], 0)} | {fmt(t['trainer_w2'], 0)} |",
                f"| prepared before the loop (s), first repeat | {rs['trainer@auto']['prep_s']:.2f} | "
                f"{rs['trainer_w2@auto']['prep_s']:.2f} |", '',
                f"**Trainer step vs the pre-encoded loop: {fmt(r['trainer_vs_pre_encoded'])}x** (target >= 0.9x); "
                f"vs plain {fmt(r['trainer_vs_plain'])}x. 2 DataLoader workers vs 0: {fmt(r['workers2_vs_workers0'])}x "
                "(the processor's output is cached by the pre-flight and copied into the workers, so on this CPU "
                "workers only add process start-up and transfer; the CPU default is 0, the GPU default 4, where "
                "they overlap decoding and encoding with the GPU's step; not measured here)."]
    if d['threads']:
        out += ['', f"## Threads (ours, {d['thread_reps']} interleaved repeats)", '',
                '| threads asked | threads used | tokens / s | step time median (s) | vs 2 threads |',
                '|---|---|---|---|---|']
        for k, x in d['threads'].items():
            vs = fmt(d['threads_vs_2'][k]) + 'x' if 'threads_vs_2' in d else '-'
            out.append(f"| {k} | {x['count']} | {fmt(x['tokens_per_s'], 0)} | {fmt(x['step_s'], 4)} | {vs} |")
    return '\n'.join(out) + '\n'


if __name__ == '__main__':
    main()
