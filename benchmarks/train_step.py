"""LoRA training step: st_toolkit's pipeline vs a plain transformers + peft baseline, measured in the same run.

ours      frames decoded once (the pre-flight fills the cache), padding to the longest sample of the batch,
          SDPA attention (flash-attention 2 when installed, on a GPU), bf16 and 4 DataLoader workers on a GPU.
baseline  transformers + peft defaults: eager attention, padding every batch to `max_length`, decoding the video of
          every sample at every step (no cache). Same model, same LoRA adapter, same data, same optimizer.

Both variants run the same manual loop (DataLoader fetch + forward + backward + AdamW step), each in its own
process so that peak memory is its own. Reported: step time, real (non-pad) tokens per second, peak memory,
decoder calls, and on a GPU the model FLOPs utilisation (MFU).

CPU (default): the tiny offline model (`st_toolkit.models.build_tiny_model`), shipped sample videos.
GPU (`--gpu`, needs CUDA): Qwen2.5-VL-3B's real configuration with random weights, LoRA r=64 on the language model,
16 frames at 448x448 per sample, bf16 (the issue's setting). MFU counts useful work only: language model
4*N*T (forward + activation gradients; frozen base weights get no weight gradients) + LoRA 6*N_lora*T + causal
attention 3 * 2*L*T^2*d (fwd+bwd), and the frozen vision tower's forward 2*N_vis*P + its attention
(window 64 patches, full attention within a frame group in 4 layers); divided by step time x peak bf16 FLOP/s.

Writes benchmarks/results/train_step.json and .md (a GPU run writes train_step_gpu.json/.md).
Usage: python benchmarks/train_step.py [--steps 30] [--batch 4] [--frames 8] [--threads N]
       python benchmarks/train_step.py --gpu [--steps 20] [--batch 1]
       python benchmarks/train_step.py --gpu --dry-run     (the GPU code path on CPU with a shrunken 3B config)
"""
import argparse, json, os, platform, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / 'benchmarks' / 'results'

# Qwen2.5-VL-3B-Instruct config.json values
QWEN25_VL_3B = dict(
    text=dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2,
              vocab_size=151936, max_position_embeddings=128000, rms_norm_eps=1e-6,
              rope_parameters=dict(rope_type='default', rope_theta=1000000.0, mrope_section=[16, 24, 24])),
    vision=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048, patch_size=14,
                spatial_merge_size=2, temporal_patch_size=2, window_size=112, fullatt_block_indexes=[7, 15, 23, 31],
                tokens_per_second=2, hidden_act='silu'),
    tie_word_embeddings=True)
# a shrunken copy for --dry-run (same code path, CPU-sized)
DRY = dict(text=dict(QWEN25_VL_3B['text'], hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, vocab_size=4096, rope_parameters=dict(rope_type='default', rope_theta=1e6, mrope_section=[4, 6, 6])),
           vision=dict(QWEN25_VL_3B['vision'], depth=2, hidden_size=64, intermediate_size=128, num_heads=2, out_hidden_size=128,
                       fullatt_block_indexes=[1]), tie_word_embeddings=True)


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


def load(args, attn):
    import torch
    from st_toolkit.models import build_tiny_model, load_model, default_attention
    if args.gpu or args.dry_run:
        dev = 'cuda' if args.gpu else 'cpu'
        dtype = torch.bfloat16 if args.gpu else torch.float32
        return big_model(DRY if args.dry_run else QWEN25_VL_3B, attn, dtype, dev)
    m, p = load_model(build_tiny_model(path=Path(args.tmp) / 'tiny'), attn_implementation=attn, dtype=torch.float32)
    return m, p


# ---- one variant, in its own process -------------------------------------------------------------------------------
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


def run_variant(args):
    import numpy as np, torch
    from st_toolkit.models import add_lora, default_attention
    from st_toolkit.train import VideoQADataset, VideoCollator, preflight, sample_frames
    from st_toolkit.video import DECODE_CALLS
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error(); hf_logging.disable_progress_bar()
    if args.threads: torch.set_num_threads(args.threads)
    ours = args.variant == 'ours'
    attn = (default_attention() if args.gpu else 'sdpa') if ours else 'eager'
    model, proc = load(args, attn)
    model = add_lora(model, r=args.lora_r, alpha=2 * args.lora_r, dropout=0.05)
    lora_params = sum(p.numel() for n, p in model.named_parameters() if 'lora_' in n)
    model.train()
    dev = 'cuda' if args.gpu else 'cpu'

    class NoCache(VideoQADataset):
        "The baseline's dataset: the video is decoded again at every step."
        def frames(self, j):
            from st_toolkit.video import load_frames
            s = self.samples[j]; c = s.get('clip') or {}
            return load_frames(s['video'], num_frames=self.n_frames[j], span=(c.get('t0'), c.get('t1')) if c else None,
                               max_pixels=self.max_pixels, multiple=self.multiple, cache=False)

    ds = (VideoQADataset if ours else NoCache)(args.data, proc, num_frames=args.frames, draw=ours)
    t0 = time.perf_counter()
    if ours: pf = preflight(ds, max_tokens=args.max_length)
    prep_s = time.perf_counter() - t0
    col = VideoCollator(proc, 'right', pad_to_multiple_of=(8 if args.gpu else None) if ours else args.max_length)
    g = torch.Generator().manual_seed(0)
    nw = args.workers if ours else 0                                   # peft/transformers default: no workers
    dl = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, collate_fn=col, generator=g, drop_last=True,
                                     num_workers=nw, persistent_workers=nw > 0, pin_memory=args.gpu and nw > 0)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ctx = torch.autocast('cuda', dtype=torch.bfloat16) if args.gpu else torch.autocast('cpu', enabled=False)
    if args.gpu: torch.cuda.reset_peak_memory_stats()
    DECODE_CALLS.clear()
    times, data_t, real, padded, losses, flops = [], [], [], [], [], []
    it, total = iter(dl), args.warmup + args.steps
    for step in range(total):
        if args.gpu: torch.cuda.synchronize()
        t = time.perf_counter()
        try: b = next(it)
        except StopIteration: it = iter(dl); b = next(it)
        b = {k: v.to(dev, non_blocking=True) for k, v in b.items()}
        td = time.perf_counter() - t
        with ctx: loss = model(**b).loss
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        if args.gpu: torch.cuda.synchronize()
        dt = time.perf_counter() - t
        if step >= args.warmup:
            times.append(dt); data_t.append(td); real.append(int(b['attention_mask'].sum())); padded.append(int(b['attention_mask'].numel()))
            if args.gpu or args.dry_run: flops.append(flops_per_step(model.get_base_model(), b, lora_params)[0])
        losses.append(float(loss))
    times = np.array(times)
    r = dict(variant=args.variant, attention=attn, workers=nw, padding='longest in batch' if ours else f'max_length={args.max_length}',
             video='decoded once (cache)' if ours else 'decoded every step', step_s_mean=float(times.mean()),
             step_s_median=float(np.median(times)), data_s_mean=float(np.mean(data_t)),
             compute_s_mean=float(times.mean() - np.mean(data_t)), tokens_per_s=float(sum(real) / times.sum()),
             padded_tokens_per_s=float(sum(padded) / times.sum()), real_tokens_per_step=float(np.mean(real)),
             padded_tokens_per_step=float(np.mean(padded)), decoder_calls_in_loop=int(sum(DECODE_CALLS.values())),
             prep_s=prep_s, loss_first=losses[0], loss_last=losses[-1], lora_params=int(lora_params),
             params=int(sum(p.numel() for p in model.parameters())))
    if args.gpu:
        r['peak_mem_gb'] = torch.cuda.max_memory_allocated() / 2**30
        pk = args.peak_tflops or peak_tflops(torch.cuda.get_device_name())
        r['model_tflops_per_step'] = float(np.mean(flops)) / 1e12
        r['achieved_tflops'] = float(sum(flops) / times.sum()) / 1e12
        r['mfu'] = r['achieved_tflops'] / pk
    else:
        r['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if flops: r['model_tflops_per_step'] = float(np.mean(flops)) / 1e12
    print('RESULT ' + json.dumps(r))


# ---- driver --------------------------------------------------------------------------------------------------------
def versions():
    import importlib.metadata as md
    return {p: md.version(p) for p in ('torch', 'transformers', 'peft', 'accelerate', 'st-toolkit')} | dict(python=platform.python_version())


def device_text(gpu):
    import torch
    if gpu: return torch.cuda.get_device_name()
    return f'CPU, {os.cpu_count()} cores (load {os.getloadavg()[0]:.1f}), torch threads {torch.get_num_threads()}'


def child(args, variant):
    cmd = [sys.executable, __file__, '--_variant', variant, '--_data', str(args.data), '--_tmp', str(args.tmp),
           '--steps', str(args.steps), '--warmup', str(args.warmup), '--batch', str(args.batch), '--frames', str(args.frames),
           '--max-length', str(args.max_length), '--lora-r', str(args.lora_r), '--threads', str(args.threads or 0),
           '--workers', str(args.workers)]
    cmd += ['--gpu'] * args.gpu + ['--dry-run'] * args.dry_run + (['--peak-tflops', str(args.peak_tflops)] if args.peak_tflops else [])
    env = dict(os.environ, PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM='false')
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    line = [l for l in out.stdout.splitlines() if l.startswith('RESULT ')]
    if out.returncode or not line: raise SystemExit(f'{variant} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}')
    return json.loads(line[0][7:])


def report(args, res, dev):
    o, b = res['ours'], res['baseline']
    mem = 'peak_mem_gb' if args.gpu else 'peak_rss_mb'
    ratios = dict(throughput=o['tokens_per_s'] / b['tokens_per_s'], step_time=b['step_s_mean'] / o['step_s_mean'],
                  memory=b[mem] / o[mem])
    setting = (f"Qwen2.5-VL-3B config, random weights, LoRA r={args.lora_r}, {args.frames} frames at 448x448, bf16"
               if args.gpu else ('shrunken 3B config (dry run)' if args.dry_run else
               f"tiny model (hidden 64, 2 layers), LoRA r={args.lora_r}, {args.frames} frames, float32"))
    d = dict(benchmark='train_step', setting=setting, device=dev, batch=args.batch, steps=args.steps, warmup=args.warmup,
             max_length=args.max_length, samples=args.n_samples, results=res, ratios=ratios, versions=versions(),
             created=time.strftime('%Y-%m-%dT%H:%M:%S'))
    if args.gpu: d['goal'] = dict(throughput_ratio=1.5, mfu=0.35, met=ratios['throughput'] >= 1.5 and o['mfu'] >= 0.35)
    else: d['gpu'] = ('not measured: no GPU machine was available to this session. Run `python benchmarks/train_step.py --gpu` '
                      'on a CUDA machine; it writes train_step_gpu.json/.md with tokens/s, step time, peak memory and MFU '
                      'for ours and the baseline (goal: >= 1.5x the baseline throughput, >= 35% MFU on an H100).')
    return d


def markdown(d, gpu):
    o, b = d['results']['ours'], d['results']['baseline']
    memk, memu = ('peak_mem_gb', 'GB (allocated)') if gpu else ('peak_rss_mb', 'MB (RSS)')
    rows = [('attention', 'attention', '{}'), ('padding', 'padding', '{}'), ('video', 'video', '{}'),
            ('DataLoader workers', 'workers', '{}'), ('step time, mean (s)', 'step_s_mean', '{:.4f}'), ('step time, median (s)', 'step_s_median', '{:.4f}'),
            ('  of which data (decode + processor + collate), mean (s)', 'data_s_mean', '{:.4f}'),
            ('  of which forward + backward + optimizer, mean (s)', 'compute_s_mean', '{:.4f}'),
            ('real tokens / s', 'tokens_per_s', '{:,.0f}'), ('real / padded tokens per step', None, None),
            (f'peak memory {memu}', memk, '{:.1f}'), ('decoder calls in the timed loop', 'decoder_calls_in_loop', '{}'),
            ('loss first -> last', None, None)]
    if gpu: rows += [('model TFLOP / step', 'model_tflops_per_step', '{:.2f}'), ('achieved TFLOP/s', 'achieved_tflops', '{:.1f}'), ('MFU', 'mfu', '{:.1%}')]
    out = [f"# Training step: st_toolkit vs plain baseline\n", f"{d['setting']}; batch {d['batch']}, {d['steps']} timed steps after "
           f"{d['warmup']} warm-up, {d['samples']} samples. Device: {d['device']}. Same run, each variant in its own process.\n",
           '| | ours | baseline |', '|---|---:|---:|']
    for name, k, f in rows:
        if name.startswith('real / padded'): out.append(f"| {name} | {o['real_tokens_per_step']:.0f} / {o['padded_tokens_per_step']:.0f} | {b['real_tokens_per_step']:.0f} / {b['padded_tokens_per_step']:.0f} |")
        elif name.startswith('loss'): out.append(f"| {name} | {o['loss_first']:.3f} -> {o['loss_last']:.3f} | {b['loss_first']:.3f} -> {b['loss_last']:.3f} |")
        else: out.append(f"| {name} | {f.format(o[k])} | {f.format(b[k])} |")
    r = d['ratios']
    out += ['', f"**Ratios (ours vs baseline):** throughput (real tokens/s) **{r['throughput']:.2f}x**, step time "
            f"{r['step_time']:.2f}x faster, peak memory {r['memory']:.2f}x lower.", '',
            f"Pre-flight (counts every sample's tokens, fills the frame cache) took {o['prep_s']:.1f} s once before training."]
    if 'gpu' in d: out += ['', f"**GPU:** {d['gpu']}"]
    if 'goal' in d: out += ['', f"Goal (>= 1.5x throughput, >= 35% MFU): {'met' if d['goal']['met'] else 'NOT met'}."]
    out += ['', 'Versions: ' + ', '.join(f'{k} {v}' for k, v in d['versions'].items())]
    return '\n'.join(out) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--gpu', action='store_true'); ap.add_argument('--dry-run', action='store_true')
    ap.add_argument('--steps', type=int, default=None); ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--batch', type=int, default=None); ap.add_argument('--frames', type=int, default=None)
    ap.add_argument('--max-length', type=int, default=None); ap.add_argument('--lora-r', type=int, default=None)
    ap.add_argument('--samples', type=int, default=32, dest='n_samples'); ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--peak-tflops', type=float, default=None)
    ap.add_argument('--workers', type=int, default=None, help='DataLoader workers for ours (default 4 on GPU, 0 on CPU)')
    ap.add_argument('--_variant'); ap.add_argument('--_data'); ap.add_argument('--_tmp')
    args = ap.parse_args()
    big = args.gpu or args.dry_run
    args.steps = args.steps or (20 if big else 30)
    args.batch = args.batch or (1 if big else 4)
    args.frames = args.frames or (16 if big else 8)
    args.max_length = args.max_length or (4096 if big else 1024)
    args.lora_r = args.lora_r or (64 if big else 16)
    args.workers = (4 if args.gpu else 0) if args.workers is None else args.workers
    if args._variant:
        args.variant, args.data, args.tmp = args._variant, args._data, args._tmp
        return run_variant(args)
    if args.gpu:
        import torch
        if not torch.cuda.is_available(): raise SystemExit('--gpu needs CUDA; no GPU is visible here')
    with tempfile.TemporaryDirectory() as tmp:
        args.tmp = tmp
        args.data = make_data(Path(tmp), args.gpu, args.n_samples)
        if not big:
            from st_toolkit.models import build_tiny_model
            build_tiny_model(path=Path(tmp) / 'tiny')
        res = {v: child(args, v) for v in ('ours', 'baseline')}
    if args.threads:
        import torch; torch.set_num_threads(args.threads)
    d = report(args, res, device_text(args.gpu))
    name = 'train_step_gpu' if args.gpu else ('train_step_dryrun' if args.dry_run else 'train_step')
    if args.dry_run: print(json.dumps(d, indent=1)); print(markdown(d, False)); return
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f'{name}.json').write_text(json.dumps(d, indent=1))
    (OUT / f'{name}.md').write_text(markdown(d, args.gpu))
    print(markdown(d, args.gpu))


if __name__ == '__main__':
    main()
