"""fq.Queue as a drop-in multiprocessing.Queue, across real processes."""
import multiprocessing
import os
import pickle
import queue
import signal
import stat
import threading
import time

import numpy as np
import pytest

import fq

CONTEXTS = ["fork", "spawn"]


def test_objects_round_trip(path):
    with fq.Queue(path) as q:
        items = [None, 0, -7, 3.5, "héllo", b"", b"bytes", [1, (2, 3)], {"a": {1, 2}}, Exception("x")]
        for item in items:
            q.put(item)
        assert q.qsize() == len(items)
        got = [q.get() for _ in items]
    assert got[:-1] == items[:-1]
    assert type(got[-1]) is Exception and got[-1].args == ("x",)


def test_put_never_waits_for_a_reader_even_6_mb(path):
    a = np.arange(6 * 1024 * 1024 // 8, dtype=np.float64).reshape(768, 1024)
    with fq.Queue(path) as q:
        q.put(a)  # nobody is reading
        b = q.get(timeout=5)
    assert b.shape == a.shape and b.dtype == a.dtype and np.array_equal(a, b)
    assert b.flags.writeable, "arrays come back writable, as from multiprocessing.Queue"
    assert b.ctypes.data % 16 == 0, "buffers start 16-byte aligned"


def _mapped_file(address):
    """The file mapped at `address` in this process, from /proc/self/maps."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            if lo <= address < hi:
                fields = line.split(maxsplit=5)
                return fields[5].strip() if len(fields) > 5 else "(anonymous)"
    return "(unmapped)"


def test_large_arrays_arrive_in_place_in_the_senders_shared_memory(path):
    a = np.arange(8 * 1024 * 1024 // 8, dtype=np.float64)
    with fq.Queue(path) as q:
        p = multiprocessing.get_context("fork").Process(target=q.put, args=(a,))
        p.start()
        b = q.get(timeout=30)
        p.join()
        assert _mapped_file(b.ctypes.data).startswith("/dev/shm/fq-"), "not copied out"
        q.send(b"z" * 1_000_000)
        view = q.recv_view(timeout=5)
        assert _mapped_file(np.frombuffer(view, np.uint8).ctypes.data).startswith("/dev/shm/fq-")
    fq.unlink(path)  # the queue is gone; what was received stays
    assert np.array_equal(a, b)
    b[0] = -1.0  # private: the write copies one page
    assert b[0] == -1.0 and b[1] == 1.0
    assert bytes(view[:3]) == b"zzz" and view.nbytes == 1_000_000


def test_numpy_and_bytes_are_not_copied_into_the_pickle():
    a = np.ones((512, 512), dtype=np.uint8)
    parts = fq.dumps(a)
    assert len(parts[0]) < 1024, "the header and pickle hold no payload"
    assert np.shares_memory(np.frombuffer(parts[-1], dtype=np.uint8), a)
    b = b"x" * 100_000
    parts = fq.dumps(b)
    assert parts[-1].obj is b and len(parts[0]) < 1024
    assert fq.loads(_joined(parts)) == b
    assert type(fq.loads(_joined(fq.dumps(bytearray(b))))) is bytearray


def _joined(parts):
    return b"".join(bytes(p) for p in parts)


def test_non_contiguous_arrays_and_nested_bytes_travel_too(path):
    a = np.arange(100_000).reshape(1000, 100)[:, ::3]
    with fq.Queue(path) as q:
        q.put({"view": a, "blob": b"y" * 50_000})
        got = q.get()
    assert np.array_equal(got["view"], a) and got["blob"] == b"y" * 50_000


def test_get_timeouts_raise_queue_empty(path):
    with fq.Queue(path) as q:
        t0 = time.monotonic()
        with pytest.raises(queue.Empty):
            q.get(timeout=0.2)
        assert 0.2 <= time.monotonic() - t0 < 2
        with pytest.raises(queue.Empty):
            q.get_nowait()
        with pytest.raises(queue.Empty):
            q.get(block=False, timeout=100)  # as multiprocessing: block=False ignores timeout


def test_get_without_timeout_waits_until_a_put(path):
    with fq.Queue(path) as q:
        got = []
        t = threading.Thread(target=lambda: got.append(q.get()))
        t.start()
        t.join(0.5)
        assert t.is_alive() and not got, "get() must wait with no timeout, not give up"
        q.put("late")
        t.join(5)
        assert got == ["late"]


def test_maxsize_bounds_messages_across_processes(path):
    with fq.Queue(path, maxsize=2) as q:
        assert q.empty() and not q.full()
        q.put(1)
        q.put_nowait(2)
        assert q.full() and q.qsize() == 2
        with pytest.raises(queue.Full):
            q.put_nowait(3)
        t0 = time.monotonic()
        with pytest.raises(queue.Full):
            q.put(3, timeout=0.2)
        assert 0.2 <= time.monotonic() - t0 < 2
        ctx = multiprocessing.get_context("fork")
        p = ctx.Process(target=_put_nowait_expect_full, args=(fq.Queue(path),))
        p.start()
        p.join(10)
        assert p.exitcode == 0, "the child saw the queue full too"
        assert q.get() == 1 and q.get() == 2 and q.empty()


def _put_nowait_expect_full(q):
    try:
        q.put_nowait("child")
    except queue.Full:
        os._exit(0)
    os._exit(1)


def test_maxsize_of_an_existing_queue_must_match(path):
    with fq.Queue(path, maxsize=3):
        with pytest.raises(ValueError, match="room for 3"):
            fq.Queue(path, maxsize=4)
        fq.Queue(path).close()  # no maxsize: takes the queue's


def test_int_first_argument_is_maxsize_as_in_multiprocessing():
    q = fq.Queue(1)
    q.put("a")
    assert q.full()
    q.close()


def test_message_larger_than_the_queue_allows_raises_at_once(path):
    with fq.Queue(path, max_msg=4096) as q:
        t0 = time.monotonic()
        with pytest.raises(fq.MessageTooLarge, match="larger than the queue allows") as e:
            q.put(b"x" * 10_000)
        assert time.monotonic() - t0 < 1
        assert isinstance(e.value, ValueError) and "4096" in str(e.value)
        q.put(b"x" * 100)
        assert q.get() == b"x" * 100


def test_closed_queue_raises(path):
    q = fq.Queue(path)
    q.close()
    q.close()  # twice is fine
    q.join_thread()
    q.cancel_join_thread()
    for call in (lambda: q.put(1), q.get, q.qsize, lambda: q.send(b"x"), q.recv):
        with pytest.raises(fq.Closed, match="is closed"):
            call()
    with pytest.raises(ValueError):  # as multiprocessing.Queue after close
        q.get()
    assert "closed" in repr(q)


def test_fifo_is_created_0600_and_outlives_the_handle(path):
    q = fq.Queue(path)
    q.put("kept")
    q.close()
    st = os.lstat(path)
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    with fq.Queue(path) as q:
        assert q.get(timeout=5) == "kept"
    fq.unlink(path)
    assert not os.path.exists(path)


def test_private_queue_is_removed_by_its_last_user():
    q = fq.Queue()
    d = os.path.dirname(q.path)
    other = pickle.loads(pickle.dumps(q))  # a second user, as in a child
    q.put("x")
    q.close()
    assert os.path.exists(d), "still in use by the other handle"
    assert other.get(timeout=5) == "x"
    other.close()
    assert not os.path.exists(d)


@pytest.mark.parametrize("method", CONTEXTS)
def test_private_queue_in_children(method):
    ctx = multiprocessing.get_context(method)
    q, back = fq.Queue(), fq.Queue()
    d = os.path.dirname(q.path)
    workers = [ctx.Process(target=_square, args=(q, back)) for _ in range(3)]
    for w in workers:
        w.start()
    for i in range(30):
        q.put(i)
    for _ in workers:
        q.put(None)
    got = sorted(back.get(timeout=30) for _ in range(30))
    for w in workers:
        w.join(30)
        assert w.exitcode == 0
    assert got == sorted(i * i for i in range(30))
    q.close()
    back.close()
    assert not os.path.exists(d), "removed once the parent, its last user, closed it"


def _square(q, back):
    while (i := q.get()) is not None:
        back.put(i * i)


@pytest.mark.parametrize("method", CONTEXTS)
def test_child_exiting_before_its_puts_are_consumed_loses_nothing(path, method):
    ctx = multiprocessing.get_context(method)
    with fq.Queue(path) as q:
        p = ctx.Process(target=_put_many, args=(q, 2000))
        p.start()
        p.join(30)  # multiprocessing.Queue can deadlock here: its feeder thread
        assert p.exitcode == 0, "the child exited without anyone reading"
        got = [q.get(timeout=5) for _ in range(2000)]
        assert got == [("item", i) for i in range(2000)]
        assert q.empty()


def _put_many(q, n):
    for i in range(n):
        q.put(("item", i))


def test_a_queue_travels_through_a_queue(path, tmp_path):
    other = str(tmp_path / "other.fifo")
    with fq.Queue(path) as q, fq.Queue(other) as o:
        q.put(o)
        o2 = q.get()
        assert o2.path == other
        o2.put("via the copy")
        assert o.get(timeout=5) == "via the copy"
        o2.close()


def test_os_fork_child_uses_the_inherited_queue(path):
    with fq.Queue(path) as q:
        pid = os.fork()
        if pid == 0:
            try:
                q.put(("child", q.get(timeout=10)))
                os._exit(0)
            finally:
                os._exit(1)
        q.put("ping")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert q.get(timeout=5) == ("child", "ping")


def test_killed_sender_never_hangs_get_past_its_timeout(path):
    ctx = multiprocessing.get_context("fork")
    with fq.Queue(path) as q:
        p = ctx.Process(target=_send_forever, args=(path,))
        p.start()
        first = q.get(timeout=10)
        assert len(first) == 1 << 20
        os.kill(p.pid, signal.SIGKILL)
        p.join(10)
        while True:  # drain what it sent, then time out on time
            t0 = time.monotonic()
            try:
                assert len(q.get(timeout=0.3)) == 1 << 20
            except queue.Empty:
                assert time.monotonic() - t0 < 2
                break


def _send_forever(path):
    q = fq.Queue(path)
    blob = np.zeros(1 << 20, dtype=np.uint8)
    while True:
        q.put(blob)


def test_gil_is_released_while_blocked(path):
    with fq.Queue(path) as q:
        ticks = []
        stop = threading.Event()

        def spin():
            while not stop.is_set():
                ticks.append(1)
                time.sleep(0.001)

        t = threading.Thread(target=spin)
        t.start()
        with pytest.raises(queue.Empty):
            q.get(timeout=0.5)
        stop.set()
        t.join()
        assert len(ticks) > 50, "the other thread ran while get() waited"


def test_close_while_another_thread_waits(path):
    q = fq.Queue(path)
    errors = []

    def wait():
        try:
            q.get(timeout=0.5)
        except queue.Empty:
            pass
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.1)  # let it block; a crash here would be fq_close racing the call
    q.close()
    t.join(5)
    assert not errors
    with pytest.raises(fq.Closed):
        q.get_nowait()


def test_bad_arguments(path):
    with fq.Queue(path) as q:
        with pytest.raises(ValueError, match="non-negative"):
            q.get(timeout=-1)
        with pytest.raises(TypeError):
            q.get(timeout="soon")
        with pytest.raises(TypeError):
            q.put(threading.Lock())  # not picklable: raised at once, no feeder thread
        with pytest.raises(TypeError):
            fq.Queue(3.5)
    with pytest.raises(fq.NotFound, match="/nonexistent/dir"):
        fq.Queue("/nonexistent/dir/q.fifo")
