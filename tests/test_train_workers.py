"""Training with DataLoader workers in a process that already runs threads: the workers start with `forkserver`
(or `spawn`), never `fork`, so nothing inherits a held lock; the losses match a run without workers."""
import threading
from pathlib import Path
import fastcore.test as fct
from test_train_resume import _data

ROOT = Path(__file__).resolve().parents[1]


def test_workers_in_a_threaded_process(tmp_path):
    "The default start method is forkserver; training with 2 workers gives the losses of a run without workers."
    import torch
    from st_toolkit.train import TrainConfig, finetune
    torch.set_num_threads(2)
    torch.ones(256, 256) @ torch.ones(256, 256)                  # the intra-op pool is running
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait, daemon=True)       # and so is another thread
    busy.start()
    tiny, data = _data(tmp_path)
    common = dict(model=str(tiny), data=str(data), max_steps=6, save_steps=100, logging_steps=1, quiet=True)
    cfg = TrainConfig(output_dir=str(tmp_path / 'w'), dataloader_workers=2, **common)
    got = finetune(cfg)
    fct.test_eq(got['trainer'].get_train_dataloader().multiprocessing_context.get_start_method(), 'forkserver')
    ref = finetune(TrainConfig(output_dir=str(tmp_path / 'ref'), **common))
    stop.set()
    fct.test_eq(got['card']['result']['global_step'], 6)
    for a, b in zip(got['log'], ref['log'], strict=True): fct.test_close(a['loss'], b['loss'], eps=1e-4)
