"""Evaluation settings on a tiny checkpoint: greedy decoding ignores the sampling settings and repetition penalty a
checkpoint's `generation_config.json` carries (and the card records both); a chat of several turns is asked its last
question and scored on its last answer; a record's own system prompt reaches the model."""
import json, shutil
from pathlib import Path
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
MESSY = dict(do_sample=True, temperature=0.7, top_p=0.8, top_k=5, repetition_penalty=3.0)

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "The tiny offline model, a copy whose generation config asks for sampling and a penalty, and a small dataset."
    from st_toolkit.models import build_tiny_model
    from st_toolkit.core import Scene
    from st_toolkit.templates import kinematic_qa
    from st_toolkit.formats import write_dataset
    d = tmp_path_factory.mktemp('greedy')
    clean = build_tiny_model(path=d / 'clean')
    messy = Path(shutil.copytree(clean, d / 'messy'))
    gc = json.loads((messy / 'generation_config.json').read_text())
    (messy / 'generation_config.json').write_text(json.dumps(gc | MESSY))
    scenes = [Scene.from_json(ROOT / f'data_samples/scenes/sample_0{i}.json') for i in (0, 1)]
    qa = [q for s in scenes for q in kinematic_qa(s, tasks=['distance', 'speed'], seed=0)]
    return clean, messy, write_dataset(qa, d / 'qa.json'), d

def test_checkpoint_generation_config_is_ignored(tiny):
    from st_toolkit.models import load_model
    from st_toolkit.evaluate import evaluate
    clean, messy, data, _ = tiny
    m_clean, proc = load_model(clean)
    m_messy, _ = load_model(messy)
    assert m_messy.generation_config.repetition_penalty == 3.0          # the checkpoint really carries it
    ev_clean = evaluate(m_clean, data, proc, num_frames=2, max_new_tokens=12)
    ev_messy = evaluate(m_messy, data, proc, num_frames=2, max_new_tokens=12)
    assert ev_messy.answers == ev_clean.answers
    dec = ev_messy.card.protocol['decoding']
    assert (dec['do_sample'], dec['num_beams'], dec['repetition_penalty'], dec['max_new_tokens']) == (False, 1, 1.0, 12)
    assert dec['checkpoint_ignored'] == MESSY
    assert ev_clean.card.protocol['decoding']['checkpoint_ignored'] == {}
    assert m_messy.generation_config.repetition_penalty == 3.0          # restored after evaluation

def test_do_sample_false_alone_is_not_greedy(tiny):
    "The control: `generate(do_sample=False)` on the same prompts keeps the checkpoint's penalty and answers otherwise."
    from st_toolkit.models import load_model
    from st_toolkit.evaluate import generate_answers
    from st_toolkit.train import VideoQADataset, VideoCollator
    _, messy, data, _ = tiny
    model, proc = load_model(messy)
    ds = VideoQADataset(data, proc, num_frames=2)
    greedy = generate_answers(model, ds, batch_size=1, max_new_tokens=12)
    col, plain = VideoCollator(proc, 'left'), []
    for j in ds.keep:
        x = col([ds.encode(j, answer=False)])
        with torch.no_grad(): g = model.generate(**x, max_new_tokens=12, do_sample=False, pad_token_id=col.pad_id)
        plain.append(proc.tokenizer.decode(g[0, x['input_ids'].shape[1]:], skip_special_tokens=True).strip())
    assert plain != greedy

def test_multi_turn_scored_on_last_answer_with_own_system_prompt(tiny):
    from st_toolkit.models import load_model
    from st_toolkit.evaluate import evaluate, _prompt
    from st_toolkit.train import VideoQADataset
    clean, _, data, d = tiny
    video = json.loads(Path(data).read_text())[0]['video']
    recs = [dict(id=f'chat{i}', video=video, conversations=[
        {'from': 'system', 'value': f'You are judge number {i}.'}, {'from': 'human', 'value': '<video>\nFirst question?'},
        {'from': 'gpt', 'value': 'First answer.'}, {'from': 'human', 'value': f'Last question {i}?'},
        {'from': 'gpt', 'value': f'Last answer {i}.'}]) for i in range(2)]
    (d / 'chat.json').write_text(json.dumps(recs))
    model, proc = load_model(clean)
    ds = VideoQADataset(d / 'chat.json', proc, num_frames=2)
    text = proc.tokenizer.decode(_prompt(ds, 1)['input_ids'])
    assert 'You are judge number 1.' in text and 'First answer.' in text and 'Last answer 1.' not in text
    assert text.rstrip().endswith('assistant') and text.index('Last question 1?') > text.index('First answer.')
    ev = evaluate(model, ds, max_new_tokens=6)
    assert [s['answer'] for s in ev.samples] == ['Last answer 0.', 'Last answer 1.']
    assert [s['gt']['value'] for s in ev.samples] == ['Last answer 0.', 'Last answer 1.']
    assert ev.card['chat']['n'] == 2 and ds.system is None
