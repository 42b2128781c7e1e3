"""The measuring protocol every benchmark in this folder follows.

- Variants are interleaved: each repeat runs every variant once, in an order rotated from repeat to repeat, so a
  change of machine load hits all of them alike.
- Each variant is repeated; results are reported as median [min-max] over the repeats, and every ratio is taken
  repeat by repeat (baseline time / variant time of the same repeat) and reported the same way.
- The results file records the load average (before and after), the versions, the thread count and the machine,
  and says in one line what the baseline is.
"""
import importlib.metadata as md, json, os, platform, statistics, time
from pathlib import Path

OUT = Path(__file__).resolve().parent / 'results'
PACKAGES = ('st-toolkit', 'numpy', 'torch', 'transformers', 'peft', 'av', 'decord2', 'plotly', 'pyarrow')


def interleave(variants: dict, reps: int, warmup: int = 1):
    "{name: [seconds per repeat]} for `variants` {name: fn(rep)}, run round-robin in a rotating order."
    names = list(variants)
    for _ in range(warmup):
        for n in names: variants[n](0)
    times = {n: [] for n in names}
    for r in range(reps):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            t0 = time.perf_counter(); variants[n](r); times[n].append(time.perf_counter() - t0)
    return times


def stats(xs) -> dict:
    "median, min and max of `xs`."
    return dict(median=statistics.median(xs), min=min(xs), max=max(xs), n=len(xs))


def ratios(base, other) -> dict:
    "Per-repeat ratios base[i] / other[i] (how many times faster `other` is), as stats."
    return stats([b / o for b, o in zip(base, other)])


def fmt(s: dict, digits: int = 2, unit: str = '') -> str:
    "median [min-max] as text."
    f = f'{{:,.{digits}f}}'
    return f"{f.format(s['median'])}{unit} [{f.format(s['min'])}-{f.format(s['max'])}]"


def threads() -> dict:
    "torch's intra-op thread count (if torch is already imported) and the thread environment variables."
    import sys
    t = sys.modules.get('torch')
    return dict(torch_threads=t.get_num_threads() if t else None,
                **{k: os.environ.get(k) for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'ST_NUM_THREADS')})


def versions() -> dict:
    out = dict(python=platform.python_version())
    for p in PACKAGES:
        try: out[p] = md.version(p)
        except md.PackageNotFoundError: pass
    return out


def environment(load_before) -> dict:
    "Machine, load average before/after, versions and threads, for the results file."
    aff = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else None
    return dict(machine=dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(), affinity=aff),
                load_avg_before=[round(x, 2) for x in load_before], load_avg_after=[round(x,
                                                                                          2) for x in os.getloadavg()],
                versions=versions(), threads=threads(), created=time.strftime('%Y-%m-%dT%H:%M:%S'))


def header_md(d: dict) -> str:
    "The protocol lines every results .md starts with."
    e, lb, la = d['env'], d['env']['load_avg_before'], d['env']['load_avg_after']
    v = ', '.join(f'{k} {x}' for k, x in e['versions'].items())
    th = e['threads']['torch_threads']
    proto = d.get('protocol') or (f"variants interleaved (rotating order), {d['reps']} repeats each; median [min-max]; "
                                  "ratios taken repeat by repeat")
    return (f"Baseline: {d['baseline']}\n\n"
            f"Protocol: {proto}. Machine: {e['machine']['cpu']}, {e['machine']['cores']} cores (affinity "
            f"{e['machine']['affinity']}), load average {lb[0]:.2f} / {lb[1]:.2f} / {lb[2]:.2f} before, "
            f"{la[0]:.2f} / {la[1]:.2f} / {la[2]:.2f} after; torch threads {th}.\n\nVersions: {v}.\n")


def write(name: str, d: dict, md: str):
    "Write results/NAME.json and results/NAME.md; print the markdown."
    OUT.mkdir(exist_ok=True)
    (OUT / f'{name}.json').write_text(json.dumps(d, indent=1, default=float))
    (OUT / f'{name}.md').write_text(md)
    print(md)
