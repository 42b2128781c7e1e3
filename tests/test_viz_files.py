"""Views are written atomically: a failed write keeps the old file, and no temporary file is left behind."""
import os
import pytest
import plotly.graph_objects as go
from matplotlib.figure import Figure
from st_toolkit import viz

def test_failed_view_write_keeps_the_old_page(tmp_path, monkeypatch):
    page = viz.to_html(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])), tmp_path / 'v.html', title='first')
    old = page.read_text()
    def full(*a, **kw): raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'replace', full)
    with pytest.raises(OSError, match='No space'): viz.to_html(go.Figure(), page, title='second')
    monkeypatch.undo()
    assert page.read_text() == old and '<title>first</title>' in old
    assert sorted(p.name for p in tmp_path.iterdir()) == ['v.html']

@pytest.mark.parametrize('suffix, magic', [('.png', b'\x89PNG'), ('.pdf', b'%PDF'), ('.svg', b'<?xml')])
def test_static_figure_formats(tmp_path, suffix, magic):
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    p = viz.save_figure(fig, tmp_path / f'f{suffix}')
    assert p.read_bytes().startswith(magic)
    assert sorted(x.name for x in tmp_path.iterdir()) == [p.name]
