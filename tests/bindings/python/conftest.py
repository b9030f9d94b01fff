"""Shared fixtures for the fq Python tests (run by CTest as python_test)."""
import os
import subprocess
import sys

import pytest


@pytest.fixture
def path(tmp_path):
    """A path for a queue, in a directory removed after the test."""
    p = str(tmp_path / "q.fifo")
    yield p
    import fq

    for q in (p, p + ".dlq"):
        try:
            fq.unlink(q)
        except fq.NotFound:
            pass


@pytest.fixture
def fqctl():
    """The fqctl tool of this build (CTest sets FQCTL)."""
    return os.environ["FQCTL"]


def run_python(code, *args, **kw):
    """Starts `python -c code` as a separate process with this package."""
    return subprocess.Popen([sys.executable, "-c", code, *args], **kw)
