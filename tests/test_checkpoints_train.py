"""The training dataset on checkpoint folders built like the published ones (`tests/checkpoints.py`): frames decoded at
the size each family's processor keeps, a pre-flight that lowers resolution before frames, one-frame Qwen3-VL clips,
and `load_adapter`'s video budget."""
import numpy as np
import pytest
import torch
from checkpoints import cached_checkpoint, qwen_tokenizer  # noqa: F401

LAYOUTS = [('qwen2_5_vl', True), ('qwen2_5_vl', False), ('qwen3_vl', True), ('llava_onevision', True)]
IDS = ['qwen2_5_vl-flat', 'qwen2_5_vl-nested', 'qwen3_vl', 'llava_onevision']


@pytest.fixture(scope='module', params=LAYOUTS, ids=IDS)
def ckpt(request, qwen_tokenizer):
    "(family, folder, processor) of one cached checkpoint folder, processor under the family defaults."
    from st_toolkit.models import load_processor
    fam, flat = request.param
    folder = cached_checkpoint(fam, flat, qwen_tokenizer)
    return fam, folder, load_processor(folder)


@pytest.fixture(scope='module')
def hd_video(tmp_path_factory):
    "A 1280x720 clip of 8 frames at 4 fps (smooth gradients)."
    from st_toolkit.video import write_video
    y, x = np.mgrid[0:720, 0:1280]
    frames = np.stack([np.stack([(x + 9 * i) % 256, (y + 5 * i) % 256, (x + y) % 256], -1) for i in range(8)])
    return write_video(frames.astype(np.uint8), tmp_path_factory.mktemp('hd') / 'hd.mp4', fps=4)


def _sample(video, sid='hd'):
    q, a = 'Where is the red car at the end?', 'At [12, 40, 200, 180].'
    return dict(id=sid, video=str(video), question=q, answer=a,
                messages=[dict(role='user', content=q), dict(role='assistant', content=a)])


def _visual(ds, x):
    return int(sum((x['input_ids'] == i).sum() for i in ds.visual_ids))


def test_decoded_at_the_kept_size_and_costs_the_predicted_tokens(ckpt, hd_video):
    "Under defaults a 1280x720 clip is decoded at the size the processor keeps (not native) and costs `visual_tokens`."
    from st_toolkit.models import decode_size, frame_shape, visual_tokens
    from st_toolkit.train import VideoQADataset
    fam, _, proc = ckpt
    ds = VideoQADataset([_sample(hd_video)], proc, num_frames=4, cache_mb=0)
    fr, ts = ds.frames(0)
    px, m = decode_size(proc, 4)
    assert fr.shape[0] == 4 and fr.shape[1] * fr.shape[2] <= px < 1280 * 720
    x = ds[0]
    assert _visual(ds, x) == visual_tokens(proc, 720, 1280, 4)
    if fam == 'llava_onevision':
        assert 0.9 * 384 * 384 <= fr.shape[1] * fr.shape[2] <= 384 * 384       # the pixels of its fixed 384x384
        assert abs(fr.shape[2] / fr.shape[1] - 16 / 9) < 0.02                 # (the processor squares the frame)
        return
    assert tuple(fr.shape[1:3]) == frame_shape(proc, 720, 1280, 4) and fr.shape[1] % m == fr.shape[2] % m == 0
    patch = proc.video_processor.patch_size
    assert x['video_grid_thw'][0].tolist() == [2, fr.shape[1] // patch, fr.shape[2] // patch]   # kept as decoded
    capped = VideoQADataset([_sample(hd_video)], proc, num_frames=4, max_pixels=320 * 240, cache_mb=0)
    cf, _ = capped.frames(0)
    assert cf.shape[1] * cf.shape[2] <= 320 * 240 < fr.shape[1] * fr.shape[2]      # the user's per-frame cap


def _budget_for(ds, pixels, frames):
    "Tokens of sample 0 decoded at `pixels` per frame with `frames` frames (a probe, the dataset left unchanged)."
    n, p = ds.n_frames[0], ds.pixels[0]
    ds.n_frames[0], ds.pixels[0] = frames, pixels
    c = ds.count_tokens(0)
    ds.n_frames[0], ds.pixels[0] = n, p
    return c


def test_preflight_lowers_resolution_before_frames(ckpt, hd_video):
    "Over budget: the resolution drops first (frames kept); only at the family's floor do frames go."
    from st_toolkit.models import decode_size, video_budget
    from st_toolkit.train import VideoQADataset, preflight
    fam, _, proc = ckpt
    make = lambda: VideoQADataset([_sample(hd_video)], proc, num_frames=4)
    ds = make()
    full = ds.count_tokens(0)
    half = full['text'] + full['visual'] // 2 + 1                    # (+1: OneVision's one newline token)
    row = preflight(ds, max_tokens=half).rows[0]
    assert row['action'] == 'resampled' and row['total'] <= half
    if fam == 'llava_onevision':                       # fixed 384x384 frames: only the frame count can go
        assert row['frames'] < 4 and row['pixels'] == 384 * 384
        return
    assert row['frames'] == 4 and row['pixels'] < decode_size(proc, 4)[0]
    floor = video_budget(proc)['frame_min_pixels']
    ds = make()
    at_floor = _budget_for(ds, floor, 4)
    assert at_floor['visual'] < full['visual']
    limit = at_floor['text'] + at_floor['visual'] // 2
    row = preflight(ds, max_tokens=limit).rows[0]
    assert row['action'] == 'resampled' and row['pixels'] == floor and row['frames'] == 2 and row['total'] <= limit
    first = preflight(make(), max_tokens=half, shrink_first='frames').rows[0]
    assert first['frames'] == 2 and first['pixels'] == decode_size(proc, 2)[0]       # the other order, on request


def test_one_frame_qwen3_sample_encodes_trains_and_answers(qwen_tokenizer, hd_video):
    "Qwen3-VL's processor refuses a 1-frame clip; the dataset repeats the frame, keeping the frame's own timestamp."
    from st_toolkit.models import load_model, visual_tokens
    from st_toolkit.train import VideoCollator, VideoQADataset, answer
    model, proc = load_model(cached_checkpoint('qwen3_vl', True, qwen_tokenizer))
    clip = dict(_sample(hd_video), clip=dict(t0=1.0, t1=2.0))
    ds = VideoQADataset([clip], proc, num_frames=1)
    fr, ts = ds.frames(0)
    assert len(fr) == 2 and (fr[0] == fr[1]).all() and len(ts) == 1
    x = ds[0]
    assert x['video_grid_thw'][0, 0] == 1 and _visual(ds, x) == visual_tokens(proc, 720, 1280, 1)
    text = proc.tokenizer.decode(x['input_ids'])
    assert f'<{ts[0]:.1f} seconds>' in text and text.count(' seconds>') == 1
    b = VideoCollator(proc)([x])
    torch.manual_seed(0)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    before = model.lm_head.weight.detach().clone()
    loss = model(**b).loss
    loss.backward()
    opt.step()
    assert torch.isfinite(loss) and not torch.equal(before, model.lm_head.weight)
    assert isinstance(answer(model.eval(), ds, 0, max_new_tokens=2), str)


@pytest.mark.parametrize('fam', ['qwen2_5_vl', 'qwen3_vl'])
def test_load_adapter_honours_the_video_budget(fam, qwen_tokenizer, tmp_path):
    "`load_adapter(max_pixels=, min_pixels=, fps=)` configures the processor, with or without one saved beside it."
    from st_toolkit.models import add_lora, load_model, video_budget
    from st_toolkit.train import load_adapter
    model, proc = load_model(cached_checkpoint(fam, True, qwen_tokenizer))
    bare, full = tmp_path / 'bare', tmp_path / 'full'
    adapter = add_lora(model, r=2)
    adapter.save_pretrained(bare)
    adapter.save_pretrained(full)
    proc.save_pretrained(full)
    f = video_budget(proc)['multiple']
    for path in (bare, full):
        _, p = load_adapter(path, max_pixels=300 * f * f, min_pixels=8 * f * f, fps=1.5)
        vb = video_budget(p)
        assert vb['frame_max_pixels'] == 300 * f * f and vb['frame_min_pixels'] == 8 * f * f, (path, vb)
        assert p.video_processor.fps == 1.5
        _, p = load_adapter(path)
        assert video_budget(p)['frame_max_pixels'] == video_budget(fam)['frame_max_pixels']
