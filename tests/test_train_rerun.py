"""One output folder, one run: a second run with other data into a used folder stops with RunMismatch (nothing reused);
overwrite=True trains it fresh; resume=True resumes anyway and the card says what changed; the same run resumes."""
import json
from pathlib import Path
import pytest
import fastcore.test as fct
from test_train_resume import _data

ROOT = Path(__file__).resolve().parents[1]


def _other_data(tmp):
    "Dataset 2: speed questions instead of distance ones, over the same four scenes."
    from st_toolkit.core import Scene
    from st_toolkit.templates import kinematic_qa
    from st_toolkit.formats import write_dataset
    scenes = [Scene.from_json(p) for p in sorted((ROOT / 'data_samples/scenes').glob('sample_0*.json'))[:4]]
    return write_dataset([kinematic_qa(s, tasks=['speed'], seed=0)[0] for s in scenes], tmp / 'speed.json')


def _cfg(tiny, data, out, **kw):
    from st_toolkit.train import TrainConfig
    base = dict(num_frames=4, max_steps=4, save_steps=2, logging_steps=1, learning_rate=1e-3, quiet=True)
    return TrainConfig(model=str(tiny), data=str(data), output_dir=str(out), **{**base, **kw})


def _weights(final):
    return (Path(final) / 'adapter_model.safetensors').read_bytes()


def test_other_data_into_a_used_folder(tmp_path):
    from st_toolkit.train import finetune, RunMismatch
    tiny, d1 = _data(tmp_path)
    d2 = _other_data(tmp_path)
    out = tmp_path / 'O'
    run1 = finetune(_cfg(tiny, d1, out))
    w1 = _weights(run1['final'])
    with pytest.raises(RunMismatch) as e: finetune(_cfg(tiny, d2, out))
    msg = str(e.value)
    for part in (str(out), 'data:', '--resume', '--overwrite', 'new output folder'): assert part in msg, msg
    fct.test_eq(_weights(out / 'final'), w1)                                  # nothing was touched
    with pytest.raises(RunMismatch, match=r"target_steps: 4 -> 10.*max_steps: 4 -> 10"):
        finetune(_cfg(tiny, d1, out, max_steps=10))                          # a quickstart rerun with --steps 10

    fresh = finetune(_cfg(tiny, d2, out, overwrite=True))
    fct.test_eq(fresh['card']['result']['resumed_from'], None)
    fct.test_eq(fresh['card']['result']['global_step'], 4)
    fct.test_eq(fresh['card']['data']['sha256'][:12], json.loads((out / 'st_run.json').read_text())['data'][:12])
    assert _weights(out / 'final') != w1                                      # trained on dataset 2, from scratch
    ref = finetune(_cfg(tiny, d2, tmp_path / 'ref'))
    fct.test_eq(_weights(out / 'final'), _weights(ref['final']))              # exactly as in a new folder


def test_same_run_resumes_and_forced_resume_records_changes(tmp_path):
    from st_toolkit.train import finetune, StopAt
    tiny, d1 = _data(tmp_path)
    out = tmp_path / 'O'
    with pytest.raises(KeyboardInterrupt): finetune(_cfg(tiny, d1, out), callbacks=[StopAt(3)])
    again = finetune(_cfg(tiny, d1, out))                                     # the same run: resumed, no question
    fct.test_eq(again['card']['result']['resumed_from'], 'checkpoint-2')
    fct.test_eq(again['card']['result']['changed_since_checkpoint'], [])
    forced = finetune(_cfg(tiny, d1, out, resume=True, lora_dropout=0.1))
    fct.test_eq(forced['card']['result']['resumed_from'], 'checkpoint-4')
    fct.test_eq(forced['card']['result']['changed_since_checkpoint'], [['lora_dropout', 0.05, 0.1]])
    never = finetune(_cfg(tiny, d1, out, resume=False, lora_dropout=0.1))
    fct.test_eq(never['card']['result']['resumed_from'], None)
    fct.test_eq(never['card']['result']['global_step'], 4)


def test_a_folder_without_a_run_record(tmp_path):
    "Checkpoints written before run records existed are not resumed silently either."
    from st_toolkit.train import finetune, RunMismatch
    tiny, d1 = _data(tmp_path)
    out = tmp_path / 'O'
    finetune(_cfg(tiny, d1, out))
    for p in out.rglob('st_run.json'): p.unlink()
    with pytest.raises(RunMismatch, match='run record'): finetune(_cfg(tiny, d1, out))
