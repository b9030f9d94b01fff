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


def wait_until_blocked(pid, limit=10):
    """Waits until the process's main thread sleeps in the kernel (a blocking
    call), at most `limit` seconds: a poll with an upper bound, whose expiry
    fails the test."""
    import time

    end = time.monotonic() + limit
    while True:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rpartition(")")[2].split()[0] == "S":
                return
        if time.monotonic() > end:
            pytest.fail(f"process {pid} never blocked")
        time.sleep(0.005)
