"""Bad answers, protocols and output folders of `st_toolkit.evaluate`: each raises a named error (`AnswersError`,
`OutputError`) whose message names the file, the line, the field or the path; output problems are found before any
model is loaded."""
import json
from pathlib import Path
import pytest
from st_toolkit.evaluate import score, read_answers, ready_output, evaluate_files, AnswersError, OutputError
from ._check import expect_error

def _data(d):
    "A two-sample dataset file (spans in seconds)."
    rows = [dict(id=f'c{i}', task='tvg', scene='s0', video='v.mp4', clip=dict(t0=0, t1=5), overlays=[],
                 question='When?', answer='from 0s to 2s', gt=dict(type='span', value=[0, 2]), meta=dict(codec='seconds'))
            for i in range(2)]
    (d / 'd.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    return d / 'd.jsonl'

# (id, the answers file's text, the names the message must hold)
ANSWER_FILES = [
    ('line-not-json', '{"id": "c0", "answer": "x"}\n{"id": "c1", answer}\n', ['a.jsonl', 'line 2', 'not JSON']),
    ('record-without-answer', '{"id": "c0"}\n', ['a.jsonl', 'line 1', "'answer'"]),
    ('record-without-id', '{"answer": "from 0s to 1s"}\n', ['a.jsonl', 'line 1', "'id'"]),
    ('record-is-a-list', '["c0", "x"]\n', ['a.jsonl', 'line 1', "'id' and 'answer'"]),
    ('record-is-a-number', '3\n', ['a.jsonl', 'line 1']),
    ('id-answered-twice', '{"id": "c0", "answer": "a"}\n{"id": "c0", "answer": "b"}\n',
     ['a.jsonl', 'line 2', "'c0'", 'twice']),
    ('truncated-last-line', '{"id": "c0", "answer": "a"}\n{"id": "c1", "ans', ['a.jsonl', 'line 2']),
]

@pytest.mark.parametrize('text,names', [c[1:] for c in ANSWER_FILES], ids=[c[0] for c in ANSWER_FILES])
def test_answer_file(text, names, tmp_path):
    (tmp_path / 'a.jsonl').write_text(text)
    expect_error(lambda: score(tmp_path / 'a.jsonl', _data(tmp_path)), AnswersError, *names)

def test_answer_file_read_alone(tmp_path):
    (tmp_path / 'a.jsonl').write_text('not json\n')
    expect_error(lambda: read_answers(tmp_path / 'a.jsonl'), AnswersError, 'a.jsonl', 'line 1')

# (id, answers argument, protocol, names)
SCORE = [
    ('list-too-short', ['from 0s to 2s'], 'default', ['1 answers for 2 samples', 'd.jsonl']),
    ('list-too-long', ['a', 'b', 'c'], 'default', ['3 answers for 2 samples']),
    ('field-not-in-data', 'prediction', 'default', ["'prediction'", 'd.jsonl']),
    ('protocol-unknown', ['a', 'b'], 'lmms', ["'lmms'", 'llava-st']),
]

@pytest.mark.parametrize('answers,protocol,names', [c[1:] for c in SCORE], ids=[c[0] for c in SCORE])
def test_score(answers, protocol, names, tmp_path):
    expect_error(lambda: score(answers, _data(tmp_path), protocol), AnswersError, *names)

# (id, the output folder relative to the test folder, names)
OUTPUTS = [
    ('out-is-a-file', 'file.txt', ['file.txt: is a file']),
    ('report-card-is-a-folder', 'taken', ['taken/report_card.json: is a folder']),
    ('answers-is-a-folder', 'taken2', ['taken2/answers.jsonl: is a folder']),
    ('out-under-a-file', 'file.txt/ev', ['file.txt/ev', 'cannot write']),
]

def _tree(d):
    (d / 'file.txt').write_text('x')
    (d / 'taken' / 'report_card.json').mkdir(parents=True)
    (d / 'taken2' / 'answers.jsonl').mkdir(parents=True)
    return d

@pytest.mark.parametrize('out,names', [c[1:] for c in OUTPUTS], ids=[c[0] for c in OUTPUTS])
def test_output(out, names, tmp_path):
    d = _tree(tmp_path)
    expect_error(lambda: ready_output(d / out), OutputError, str(d), *names)

@pytest.mark.parametrize('out', ['file.txt', 'taken'], ids=['out-is-a-file', 'report-card-is-a-folder'])
def test_output_checked_before_loading(out, tmp_path):
    "The model path does not exist: the output error comes first, so nothing was loaded or generated."
    d = _tree(tmp_path)
    expect_error(lambda: evaluate_files(d / 'no_model', _data(d), out=d / out), OutputError, str(d / out))

@pytest.mark.skipif(not Path('/sys').is_dir(), reason='needs Linux /sys (a place nobody may create files in)')
def test_output_read_only_place():
    expect_error(lambda: ready_output('/sys/st_toolkit_eval'), OutputError, '/sys/st_toolkit_eval', 'cannot write')
