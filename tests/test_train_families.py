"""Each family's tiny model (Qwen2.5-VL, Qwen3-VL, LLaVA-OneVision): a batch of videos with different frame counts
trains and evaluates, and a clip that starts at 3.5 s is timed in the prompt as its answer is (absolute seconds)."""
import json, re
from pathlib import Path
import pytest
import torch
import fastcore.test as fct

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / 'data_samples/scenes/sample_00.mp4'            # 8 s at 10 fps
FAMILIES = ['qwen2_5_vl', 'qwen3_vl', 'llava_onevision']


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "Each family's tiny checkpoint folder, built once."
    from st_toolkit.models import build_tiny_model
    d = tmp_path_factory.mktemp('tiny')
    return {a: build_tiny_model(a, path=d / a) for a in FAMILIES}


def _sample(i, t0, t1, answer):
    return dict(id=f's{i}', video=str(VIDEO), clip=dict(t0=t0, t1=t1),
                messages=[dict(role='user', content='When does the red car stop?'),
                          dict(role='assistant', content=answer)])


def _write(tmp, samples):
    "A dataset file of `samples`, written by `st_toolkit.formats` (LLaVA JSON with the toolkit's extras)."
    from st_toolkit.formats import write_dataset
    qa = [dict(id=s['id'], video=s['video'], question=s['messages'][0]['content'], answer=s['messages'][1]['content'],
               task='chat', scene='', clip=s['clip'], overlays=[], meta={},
               gt=dict(type='text', value=s['messages'][1]['content'])) for s in samples]
    return write_dataset(qa, tmp / 'mixed.json')


@pytest.mark.parametrize('arch', FAMILIES)
def test_mixed_frame_counts_train_and_evaluate(arch, tiny, tmp_path):
    "Two samples of 4 and 2 frames in one batch: the loss is the token-weighted mean of the parts, training runs, and "
    "batched greedy answers equal the one-by-one answers."
    from st_toolkit.models import load_model
    from st_toolkit.train import (VideoQADataset, VideoCollator, TrainConfig, finetune, answer, generation_inputs,
                                  ragged_videos)
    torch.manual_seed(0)
    model, proc = load_model(tiny[arch])
    two = [_sample(0, 0.5, 3.5, 'From 1.0s to 2.0s.'), _sample(1, 4.0, 7.0, 'At 5.5s.')]
    ds = VideoQADataset(two, proc, num_frames=4)
    ds.n_frames[1] = 2
    batch = VideoCollator(proc)([ds[0], ds[1]])
    ragged_videos(model)
    with torch.no_grad():
        loss = model(**batch).loss
        parts = [(model(**VideoCollator(proc)([ds[i]])).loss, (ds[i]['labels'] != -100).sum()) for i in range(2)]
    fct.test_close(loss, sum(l * n for l, n in parts) / sum(n for _, n in parts), eps=1e-4)
    left = VideoCollator(proc, 'left')([ds.encode(0, False), ds.encode(1, False)])
    with torch.no_grad():
        g = model.generate(**generation_inputs(model, left), max_new_tokens=6, do_sample=False)
    batched = [proc.tokenizer.decode(r, skip_special_tokens=True).strip() for r in g[:, left['input_ids'].shape[1]:]]
    fct.test_eq(batched, [answer(model, ds, j, max_new_tokens=6) for j in range(2)])

    data = _write(tmp_path, ds.samples)
    budget = max(ds.count_tokens(j)['total'] for j in range(2)) - 1 if arch == 'llava_onevision' else 4096
    cfg = TrainConfig(model=str(tiny[arch]), data=str(data), output_dir=str(tmp_path / 'run'), num_frames=4,
                      max_tokens=budget, batch_size=2, max_steps=2, save_steps=100, logging_steps=1, quiet=True)
    res = finetune(cfg)
    fct.test_eq(res['card']['result']['global_step'], 2)
    if arch == 'llava_onevision': assert len(set(res['dataset'].n_frames)) == 2   # the pre-flight cut one's frames


def _prompt(ds, j):
    return ds.processor.tokenizer.decode(ds.encode(j, answer=False)['input_ids'])


@pytest.mark.parametrize('arch', FAMILIES)
def test_clip_times_match_the_answer(arch, tiny):
    "A clip of 3.5-6.5 s whose answer says 'from 4.0s to 6.0s': the prompt's times are absolute video seconds."
    from st_toolkit.models import load_processor
    from st_toolkit.train import VideoQADataset
    proc = load_processor(tiny[arch])
    ds = VideoQADataset([_sample(0, 3.5, 6.5, 'From 4.0s to 6.0s.')], proc, num_frames=7)
    fr, ts = ds.frames(0)
    fct.test_close(ts[0], 3.5, eps=1e-6); fct.test_close(ts[-1], 6.5, eps=1e-6)
    p = _prompt(ds, 0)
    if arch == 'qwen3_vl':                                   # the processor writes every frame pair's own time
        got = [float(t) for t in re.findall(r'<([\d.]+) seconds>', p)]
        fct.test_close(got, [(a + b) / 2 for a, b in zip(ts[0::2], ts[1::2])] + [ts[-1]], eps=0.051)
        assert 'The clip shows' not in p
    else:                                                    # positions start at 0: the prompt states the clip's span
        assert 'The clip shows 3.5s to 6.5s of the video in 7 frames.' in p, p
    ans = [float(x) for x in re.findall(r'([\d.]+)s', ds.samples[0]['messages'][-1]['content'])]
    assert all(3.5 <= a <= 6.5 for a in ans)                 # the answer lies inside the stated times


def test_time_note_per_family(tiny):
    "Only the families without absolute frame times get the note; it can be switched off or forced."
    from st_toolkit.models import load_processor
    from st_toolkit.train import VideoQADataset, states_time
    fct.test_eq({a: states_time(load_processor(tiny[a])) for a in FAMILIES},
                dict(qwen2_5_vl=False, qwen3_vl=True, llava_onevision=False))
    proc = load_processor(tiny['qwen2_5_vl'])
    off = VideoQADataset([_sample(0, 3.5, 6.5, 'x')], proc, num_frames=4, time_note=False)
    assert 'The clip shows' not in _prompt(off, 0)


@pytest.mark.parametrize('arch', FAMILIES)
def test_generate_answers_mixed_frame_counts(arch, tiny, tmp_path):
    "`evaluate.generate_answers` batches samples of 4 and 2 frames together and answers as one-by-one generation does."
    from st_toolkit.models import load_model
    from st_toolkit.train import VideoQADataset, answer
    from st_toolkit.evaluate import generate_answers
    torch.manual_seed(0)
    model, proc = load_model(tiny[arch])
    data = _write(tmp_path, [_sample(0, 0.5, 3.5, 'From 1.0s to 2.0s.'), _sample(1, 4.0, 7.0, 'At 5.5s.')])
    ds = VideoQADataset(data, proc, num_frames=4)
    ds.n_frames[1] = 2
    batched = generate_answers(model, ds, batch_size=2, max_new_tokens=6)
    fct.test_eq(batched, [answer(model, ds, j, max_new_tokens=6) for j in range(2)])
