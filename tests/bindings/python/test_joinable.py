"""fq.JoinableQueue as a drop-in multiprocessing.JoinableQueue, across real processes."""
import multiprocessing
import signal
import subprocess
import time

import numpy as np
import pytest

import fq
from conftest import run_python, wait_until_blocked

LIMIT = 30  # the most any wait may take: its expiry fails the test


def test_join_returns_only_after_the_last_task_done_in_another_process(path):
    ctx = multiprocessing.get_context("spawn")  # the queue travels pickled, by path
    q = fq.JoinableQueue(path)
    for i in range(3):
        q.put(i)
    done = ctx.Value("i", 0)  # tasks the consumer finished, set before each task_done
    gate, ready, joined = ctx.Event(), ctx.Event(), ctx.SimpleQueue()
    consumer = ctx.Process(target=_consume, args=(q, 3, done, ready, gate))
    joiner = ctx.Process(target=_join, args=(q, done, joined))
    consumer.start()
    joiner.start()
    try:
        assert ready.wait(LIMIT), "the consumer finished its first two tasks"
        wait_until_blocked(joiner.pid)  # in join, with one task left
        with pytest.raises(fq.WouldBlock):
            q.join(timeout=0)  # work left: join would wait
        assert joined.empty(), "join returned with a task unfinished"
        gate.set()  # the consumer finishes the last task in its process
        assert joined.get() == ("joined", 3), "join returned after every task_done"
        q.join(timeout=LIMIT)  # here too, at once
        for p in (consumer, joiner):
            p.join(LIMIT)
            assert p.exitcode == 0
        assert q.stats()["unfinished"] == 0
    finally:
        gate.set()
        for p in (consumer, joiner):
            p.join(LIMIT)
        q.close()


def _consume(q, n, done, ready, gate):
    for i in range(n):
        assert q.get(timeout=LIMIT) == i
        if i == n - 1:
            gate.wait(LIMIT)
        with done.get_lock():
            done.value += 1
        q.task_done()
        if i == n - 2:
            ready.set()


def _join(q, done, joined):
    q.join()
    joined.put(("joined", done.value))


def test_task_done_too_many_times_raises_value_error(path):
    with fq.JoinableQueue(path) as q:
        with pytest.raises(ValueError, match="task_done\\(\\) called too many times"):
            q.task_done()
        q.put("job")
        assert q.get(timeout=LIMIT) == "job"
        q.task_done()
        with pytest.raises(ValueError, match="too many times"):
            q.task_done()
        q.join(timeout=0)  # the extra call did not push the count below zero
        q.put("next")
        with pytest.raises(fq.WouldBlock):
            q.join(timeout=0)


def test_task_done_too_many_times_in_another_process(path):
    with fq.JoinableQueue(path) as q:
        child = run_python(TASK_DONE_TWICE, path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        q.put("job")
        out, err = child.communicate(timeout=LIMIT)
        assert child.returncode == 0, err.decode()
        assert out == b"got job\nValueError\n"
        q.join(timeout=0)


TASK_DONE_TWICE = """
import sys, fq
q = fq.JoinableQueue(sys.argv[1])
print("got", q.get(timeout=30))
q.task_done()
try:
    q.task_done()
except ValueError:
    print("ValueError")
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_child_that_exits_before_its_puts_are_consumed(path, method):
    ctx = multiprocessing.get_context(method)
    big = np.arange(100_000, dtype=np.int64)  # 800 KB: a payload file in /dev/shm
    with fq.JoinableQueue(path) as q:
        p = ctx.Process(target=_put_and_exit, args=(q, big))
        p.start()
        p.join(LIMIT)  # multiprocessing.JoinableQueue can deadlock here: its feeder thread
        assert p.exitcode == 0, "the child exited without anyone reading"
        assert q.stats()["unfinished"] == 101, "its puts count until done"
        with pytest.raises(fq.WouldBlock):
            q.join(timeout=0)
        got = []
        for _ in range(101):
            got.append(q.get(timeout=LIMIT))
            q.task_done()
        assert got[:100] == [("item", i) for i in range(100)] and np.array_equal(got[100], big)
        q.join(timeout=LIMIT)


def _put_and_exit(q, big):
    for i in range(100):
        q.put(("item", i))
    q.put(big)


def test_join_timeout_raises_timeout(path):
    with fq.JoinableQueue(path) as q:
        q.put("never done")
        t0 = time.monotonic()
        with pytest.raises(fq.Timeout):
            q.join(timeout=0.2)
        assert 0.2 <= time.monotonic() - t0 < 2


JOIN = """
import sys, fq
q = fq.JoinableQueue(sys.argv[1])
q.put("never done")
print("ready", flush=True)
q.join()
"""


def test_ctrl_c_interrupts_join(path):
    child = run_python(JOIN, path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout.readline() == b"ready\n"
    wait_until_blocked(child.pid)
    t0 = time.monotonic()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=LIMIT)
    assert time.monotonic() - t0 < 5
    # An uncaught KeyboardInterrupt ends Python by SIGINT, as a shell expects.
    assert child.returncode == -signal.SIGINT and b"KeyboardInterrupt" in err, err.decode()


def test_a_joinable_queue_is_a_queue():
    with fq.JoinableQueue() as q:
        assert isinstance(q, fq.Queue)
        q.put(1)
        assert q.get(timeout=LIMIT) == 1
        q.task_done()
        q.join()
