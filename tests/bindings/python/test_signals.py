"""Signals: Ctrl-C interrupts a blocked get(); other signals do not stretch a timeout."""
import signal
import subprocess
import sys
import time

import pytest

import fq
from conftest import run_python

BLOCKED_GET = """
import sys, fq
q = fq.Queue(sys.argv[1])
print("ready", flush=True)
q.get()
"""


def wait_until_blocked(pid):
    """Returns once `pid` sleeps in the kernel waiting for fq (poll or futex)."""
    deadline = time.monotonic() + 10
    while True:
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read()
        if "poll" in wchan or "futex" in wchan:
            return
        assert time.monotonic() < deadline, f"never blocked (wchan {wchan!r})"
        time.sleep(0.001)


@pytest.mark.parametrize("call", ["q.get()", "q.recv()", "q.lease()", "q.put(0)"])
def test_ctrl_c_interrupts_a_blocked_call(path, call):
    with fq.Queue(path, maxsize=1) as q:
        if call == "q.put(0)":
            q.put("fills the queue")
        child = run_python(BLOCKED_GET.replace("q.get()", call), path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.stdout.readline() == b"ready\n"
        wait_until_blocked(child.pid)
        t0 = time.monotonic()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=10)
        assert time.monotonic() - t0 < 5
        # An uncaught KeyboardInterrupt ends Python by SIGINT, as a shell expects.
        assert child.returncode == -signal.SIGINT and b"KeyboardInterrupt" in err, err.decode()


def test_a_signal_whose_handler_returns_does_not_restart_the_timeout(path):
    ticks = []
    old = signal.signal(signal.SIGALRM, lambda *a: ticks.append(1))
    signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
    try:
        with fq.Queue(path) as q:
            t0 = time.monotonic()
            with pytest.raises(fq.Timeout):
                q.recv(timeout=0.5)
            elapsed = time.monotonic() - t0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert len(ticks) >= 3, "the handler ran while recv waited"
    assert 0.5 <= elapsed < 1.5, f"the timeout was restarted after a signal: {elapsed:.2f} s"


def test_a_handler_that_raises_propagates(path):
    def boom(*a):
        raise RuntimeError("from the handler")

    with fq.Queue(path) as q:
        # The timer starts once the queue is open: started before, it can
        # fire inside a slow open, outside pytest.raises.
        old = signal.signal(signal.SIGALRM, boom)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        try:
            with pytest.raises(RuntimeError, match="from the handler"):
                q.get()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


def test_interpreter_is_debians():
    assert sys.executable.startswith("/usr/bin/python3"), sys.executable
