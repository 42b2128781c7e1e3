"""Make the shipped sample scenes: `python data_samples/make_samples.py` (seeded; rewrites data_samples/scenes/).

Five scenes, 320x240 at 10 fps, 8-10 s, static and ego cameras; each has a video (.mp4),
a scene file (.json) and depth maps with object-id masks (_depth.npz). See nbs/02_synthetic.ipynb.
"""
from pathlib import Path
from st_toolkit.synthetic import make_samples

if __name__ == '__main__':
    out = Path(__file__).parent / 'scenes'
    for p in make_samples(out): print(p, sum(f.stat().st_size for f in out.glob(p.stem + '*')) // 1024, 'KiB')
