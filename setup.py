# Older pip versions (< 21.3) cannot do an editable install from pyproject.toml alone;
# this shim lets `pip install -e .` work there. All metadata lives in pyproject.toml.
from setuptools import setup
setup()
