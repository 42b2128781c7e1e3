"""The quickstart end to end on the tiny offline model: a short run (2 steps, shorter than one logging interval),
its held-out split, grounding evaluation, charts, escaped report and console; then a rerun into the same folder with
other settings (refused, naming the difference) and with overwrite=True (fresh results that the report matches)."""
import json, os, re, subprocess, sys
from pathlib import Path
import pytest
from st_toolkit.metrics import ReportCard
from st_toolkit.quickstart import quickstart, report_markdown, QuickstartMismatch, SPLITS
from st_toolkit.templates import KINEMATIC_TASKS, GROUNDING_TASKS
from st_toolkit.formats import read_dataset

PNG = b'\x89PNG\r\n\x1a\n'
ROOT = Path(__file__).resolve().parents[1]


def _cards(rep):
    "The report cards of a report.json, {split: {'before': ReportCard, 'after': ReportCard}}."
    return {k: {w: ReportCard.from_dict(d) for w, d in v.items()} for k, v in rep['scores'].items()}


def _short_run(out):
    "A 2-step quickstart in a fresh process, as a user runs it: (folder, report.json with its cards, stdout, stderr)."
    code = 'import sys\nfrom st_toolkit.quickstart import quickstart\nquickstart(sys.argv[1], steps=2)'
    p = subprocess.run([sys.executable, '-c', code, str(out)], capture_output=True, text=True, timeout=1200,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.returncode == 0, p.stderr[-3000:]
    rep = json.loads((out / 'report.json').read_text())
    return out, dict(rep, cards=_cards(rep)), p.stdout, p.stderr


def _short_run_has_a_loss_and_reports_it(short):
    out, res, _, _ = short
    rep = json.loads((out / 'report.json').read_text())
    card = json.loads((out / 'train' / 'final' / 'training_card.json').read_text())
    assert card['result']['global_step'] == 2 and rep['steps'] == 2
    assert rep['loss_steps'] == [1, 2] and rep['loss_last'] is not None
    md = (out / 'report.md').read_text()
    assert '2 LoRA steps' in md and 'Training loss: ' in md and '(step 2)' in md


def _held_out_scenes_never_trained_on(short):
    out, res, _, _ = short
    train = read_dataset(out / 'data' / 'train.json')
    held = read_dataset(out / 'data' / 'eval_heldout.json')
    assert {s['scene'] for s in held} == set(res['split']['heldout']) == {'sample_03', 'sample_04'}
    assert not {s['scene'] for s in train} & set(res['split']['heldout'])
    assert {s['task'] for s in train} == set(KINEMATIC_TASKS) | set(GROUNDING_TASKS)   # the default: every task
    for k in SPLITS:
        for when in ('before', 'after'):
            card = res['cards'][k][when]
            assert set(GROUNDING_TASKS) | set(KINEMATIC_TASKS) <= set(card.tasks), (k, when, sorted(card.tasks))
    rep = json.loads((out / 'report.json').read_text())
    assert rep['after'] == rep['scores']['heldout']['after'] and rep['before'] == rep['scores']['heldout']['before']
    n = {k: rep['scores'][k]['after']['overall']['n'] for k in SPLITS}
    assert n == dict(train=3 * 14, heldout=2 * 14), n


def _report_labels_splits_and_shows_charts(short):
    out, res, _, _ = short
    md = (out / 'report.md').read_text()
    head = next(l for l in md.splitlines() if l.startswith('| task |'))
    assert head == '| task | metric | held-out before | held-out after | training before | training after |'
    assert 'held-out scenes' in md and 'training scenes' in md and 'memorised' in md
    assert '| speed | yes | 2 | 3 |' in md and '| stvg | yes | 2 | 3 |' in md   # trained on, held-out, training
    imgs = re.findall(r'!\[[^\]]*\]\(([^)]+)\)', md)
    assert imgs == ['figures/scores.png', 'figures/loss.png']
    for i in imgs: assert (out / i).read_bytes()[:8] == PNG
    links = re.findall(r'\]\((views/[^)]+)\)', md)
    assert {Path(l).stem for l in links} == {'trajectories_3d', 'trajectories_bev', 'grounding', 'qa'}
    assert all((out / l).is_file() for l in links)
    assert not list(out.rglob('.*.tmp'))


def _grounding_view_shows_the_models_answer(short):
    "The grounding view is a held-out stvg sample's QA view, with the trained model's answer and its verdict."
    out, rep, _, _ = short
    page = (out / 'views' / 'grounding.html').read_text()
    answers = [json.loads(l) for l in (out / 'eval' / 'heldout_after' / 'answers.jsonl').read_text().splitlines()]
    js = lambda key: json.loads('"' + re.search(rf'"{key}":"((?:[^"\\]|\\.)*)"', page).group(1) + '"')
    r = next(r for r in answers if r['id'] == js('sample'))
    assert r['task'] == 'stvg' and r['id'].split('/')[0] in rep['split']['heldout']
    assert js('answer') == r['answer'] and '"verdict":[' in page


def _budgets_fit_every_reference_answer_and_cuts_are_counted(short):
    "Each task's budget holds its longest reference answer (tiny tokenizer) and end of turn; cut answers are counted."
    from transformers import AutoTokenizer
    out, res, stdout, _ = short
    tok = AutoTokenizer.from_pretrained(out / 'tiny_model')
    for k in SPLITS:
        longest = {}
        for s in read_dataset(out / 'data' / f'eval_{k}.json'):
            n = len(tok(s['answer'], add_special_tokens=False)['input_ids'])
            longest[s['task']] = max(longest.get(s['task'], 0), n)
        assert longest['stvg'] > 250 and longest['distance'] < 40, longest    # grounding answers are long
        for when in ('before', 'after'):
            card = res['cards'][k][when]
            budget, cut = card.protocol['decoding']['max_new_tokens_by_task'], card.protocol['extra']['truncated']
            assert set(budget) == set(cut) == set(longest)
            assert all(longest[t] + 1 < budget[t] <= longest[t] + 1 + max(16, longest[t] / 4) + 16 for t in longest)
            answers = [json.loads(l) for l in (out / 'eval' / f'{k}_{when}' / 'answers.jsonl').read_text().splitlines()]
            assert sum(cut.values()) <= len(answers) and card.overall['n'] == len(answers)
            line = f"{'held-out' if k == 'heldout' else 'training'} {when} {sum(cut.values())}/{len(answers)}"
            assert line in stdout, (line, stdout[-2000:])
    md = (out / 'report.md').read_text()
    assert '## Answer budgets' in md and '| stvg | ' in md.split('## Answer budgets')[1]
    assert res['settings']['trained_in_full'] == ['lm_head'] and 'lm\\_head trained in full' in md


def _console_is_condensed_and_ends_with_the_headline(short):
    _, _, stdout, stderr = short
    lines = stdout.rstrip().splitlines()
    assert lines[-1].split()[:2] == ['overall', 'macro'] and 'held-out before' in lines[-16]
    assert "{'loss'" not in stdout + stderr and "'train_runtime'" not in stdout + stderr
    assert 'PAD/BOS/EOS' not in stderr and 'Loading weights' not in stderr and 'Saving the dataset' not in stderr
    assert re.search(r'training: 100%.*loss=\d', stderr)


def _report_escapes_user_text(short):
    out, res, _, _ = short
    bad = '<img src=x onerror=alert(1)>|'
    res = dict(res, model=bad, scenes=[dict(s, name=bad, camera=bad) for s in res['scenes']],
               split={k: [bad] for k in res['split']}, lift=[dict(r, track=bad) for r in res['lift']])
    md = report_markdown(res, res['cards'])
    assert '<img' not in md and 'onerror=alert' in md.replace('\\', '')


def test_quickstart_short_run(tmp_path):
    "One 2-step run (shorter than one 10-step logging interval), every output checked."
    short = _short_run(tmp_path / 'run')
    for check in (_short_run_has_a_loss_and_reports_it, _held_out_scenes_never_trained_on,
                  _report_labels_splits_and_shows_charts, _grounding_view_shows_the_models_answer,
                  _budgets_fit_every_reference_answer_and_cuts_are_counted,
                  _console_is_condensed_and_ends_with_the_headline, _report_escapes_user_text):
        check(short)


def test_rerun_with_other_settings(tmp_path):
    "A used folder: other settings are refused with the difference named; overwrite=True gives fresh results."
    out = tmp_path / 'run'
    quickstart(out, steps=2, quiet=True)
    with pytest.raises(QuickstartMismatch, match=r"steps: 2 -> 3.*overwrite"):
        quickstart(out, steps=3, quiet=True)
    assert json.loads((out / 'quickstart.json').read_text())['steps'] == 2
    old = (out / 'train' / 'final' / 'adapter_model.safetensors').read_bytes()
    res3 = quickstart(out, steps=3, quiet=True, overwrite=True)
    rep = json.loads((out / 'report.json').read_text())
    card = json.loads((out / 'train' / 'final' / 'training_card.json').read_text())
    assert card['result']['global_step'] == 3 and card['result']['resumed_from'] is None
    assert rep['steps'] == 3 and rep['settings']['steps'] == 3 and res3['loss_steps'] == [1, 3]
    assert '3 LoRA steps' in (out / 'report.md').read_text() and 'resumed' not in (out / 'report.md').read_text()
    assert (out / 'train' / 'final' / 'adapter_model.safetensors').read_bytes() != old
