"""torch's thread count: the toolkit sets it where it runs torch work, from the cores really free, unless the user
chose one (explicit argument, ST_NUM_THREADS, OMP_NUM_THREADS / MKL_NUM_THREADS, or torch.set_num_threads).

Each case runs in a fresh process, with the machine's load pinned through `models._load1` so that the automatic
count is known: load 0 gives every available core, a large load gives 1."""
import json, os, subprocess, sys, textwrap
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
CORES = len(os.sched_getaffinity(0))


def _threads(code, env=None, load=0.0):
    "torch.get_num_threads() printed by `code` in a fresh process (after pinning the load to `load`)."
    pre = f"import st_toolkit.models as M, torch\nM._load1 = lambda: {load}\n"
    e = {k: v for k, v in os.environ.items() if k not in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'ST_NUM_THREADS')}
    p = subprocess.run([sys.executable, '-c', pre + textwrap.dedent(code) + '\nprint(torch.get_num_threads())'],
                       capture_output=True, text=True, cwd=ROOT, env={**e, **(env or {})}, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return int(p.stdout.split()[-1])


def test_automatic_count_follows_load():
    assert _threads("M.set_threads()", load=0.0) == CORES
    assert _threads("M.set_threads()", load=50.0) == 1


def test_env_var_overrides_the_automatic_count():
    assert _threads("M.set_threads()", env=dict(ST_NUM_THREADS='1'), load=0.0) == 1
    if CORES > 1: assert _threads("M.set_threads()", env=dict(ST_NUM_THREADS=str(CORES)), load=50.0) == CORES


def test_omp_num_threads_is_respected():
    assert _threads("M.set_threads()", env=dict(OMP_NUM_THREADS='1'), load=0.0) == 1
    if CORES > 1: assert _threads("M.set_threads()", env=dict(OMP_NUM_THREADS=str(CORES)), load=50.0) == CORES


@pytest.mark.skipif(CORES < 2, reason='needs two cores to tell a user choice from the automatic one')
def test_users_own_torch_setting_is_respected():
    "A torch.set_num_threads call, before or after the toolkit's own setting, is left alone."
    assert _threads("torch.set_num_threads(1); M.set_threads()", load=0.0) == 1
    assert _threads("M.set_threads(); torch.set_num_threads(1); M.set_threads()", load=0.0) == 1
    # torch imported and set before the toolkit: guessed from torch's default count
    p = subprocess.run([sys.executable, '-c', 'import torch; torch.set_num_threads(1)\nimport st_toolkit.models as M\n'
                        'M._load1 = lambda: 0.0\nprint(M.set_threads(), torch.get_num_threads())'],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.split() == ['1', '1']


def test_explicit_count_wins_and_stays():
    "set_threads(n) beats ST_NUM_THREADS, and later automatic calls (load_model's) keep it."
    assert _threads("M.set_threads(1); M.set_threads()", env=dict(ST_NUM_THREADS=str(CORES)), load=0.0) == 1


def test_load_model_applies_it(tmp_path):
    "The toolkit's torch work starts in load_model: training, evaluation and the quickstart all go through it."
    code = f"""
        p = M.build_tiny_model(path={str(tmp_path / 'tiny')!r})
        torch.set_num_threads({CORES})
        M._THREADS.update(auto={CORES})     # as if the toolkit had set it: no user choice
        m, proc = M.load_model(p)
    """
    assert _threads(code, env=dict(ST_NUM_THREADS='1')) == 1
    assert _threads(code, load=50.0) == 1


def test_train_config_and_cli_option(tmp_path):
    "TrainConfig.threads and `st-toolkit ... --threads N` are explicit choices."
    from st_toolkit.train import TrainConfig
    assert TrainConfig(model='m', data='d', output_dir='o').threads is None
    assert _threads("from st_toolkit.cli import _parser\n"
                    "a = _parser().parse_args(['eval', 'x.json', '--model', 'm', '--out', 'o', '--threads', '1'])\n"
                    "assert a.threads == 1\nM.set_threads(a.threads); M.set_threads()", load=0.0) == 1
    code = ("import sys\nfrom st_toolkit.cli import main\n"
            f"sys.exit(main(['eval', 'missing.json', '--model', 'm', '--out', {str(tmp_path)!r}, '--threads', '0']))")
    p = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 2 and '--threads' in p.stderr and "got '0'" in p.stderr, (p.returncode, p.stderr[-2000:])
