"""Raw byte messages, and messages that cross to C (fqctl) and the shell."""
import struct
import subprocess
import threading

import numpy as np
import pytest

import fq


def test_send_takes_anything_with_the_buffer_protocol(path):
    payloads = [b"bytes", bytearray(b"bytearray"), memoryview(b"xxmemoryview")[2:],
                np.arange(10, dtype=np.int32), b"", b"L" * 200_000]
    with fq.Queue(path) as q:
        for p in payloads:
            q.send(p)
        for p in payloads:
            got = q.recv(timeout=5)
            assert type(got) is bytes and got == bytes(p)


def test_recv_into(path):
    with fq.Queue(path) as q:
        q.send(b"0123456789")
        small = bytearray(4)
        with pytest.raises(fq.BufferTooSmall) as e:
            q.recv_into(small)
        assert e.value.size == 10 and "10 bytes" in str(e.value)
        buf = np.zeros(16, dtype=np.uint8)  # a NumPy array is a buffer too
        assert q.recv_into(buf, timeout=5) == 10, "the message was kept"
        assert bytes(buf[:10]) == b"0123456789"


def test_recv_timeouts(path):
    with fq.Queue(path) as q:
        with pytest.raises(fq.Timeout) as e:
            q.recv(timeout=0.05)
        assert isinstance(e.value, TimeoutError) and isinstance(e.value, fq.Error)
        with pytest.raises(fq.WouldBlock):
            q.recv(timeout=0)
        with pytest.raises(fq.Timeout):
            q.recv_into(bytearray(8), timeout=0.05)


def test_iteration_yields_each_message_until_the_queue_is_removed(path):
    q = fq.Queue(path)
    got = []
    t = threading.Thread(target=lambda: got.extend(q))
    t.start()
    for m in (b"a", b"b", b"c"):
        q.send(m)
    while q.qsize():
        t.join(0.01)
    fq.unlink(path)  # wakes the iterator: fq.Closed ends it
    t.join(10)
    assert not t.is_alive() and got == [b"a", b"b", b"c"]
    q.close()


def test_with_block_closes(path):
    with fq.Queue(path) as q:
        q.send(b"x")
    with pytest.raises(fq.Closed):
        q.recv()


def test_bad_input(path):
    with fq.Queue(path) as q:
        with pytest.raises(TypeError):
            q.send("text is not bytes")
        with pytest.raises(TypeError):
            q.send(None)
        with pytest.raises((BufferError, ValueError)):
            q.send(np.arange(100)[::2])  # not contiguous
        with pytest.raises(BufferError, match="not writable"):
            q.recv_into(b"read-only")
        with pytest.raises(ValueError):
            q.recv(timeout=-0.5)
        with pytest.raises(TypeError):
            q.recv(timeout=[1])


def test_python_sends_c_receives(path, fqctl):
    with fq.Queue(path) as q:
        q.send(b"from python")
        q.send(np.frombuffer(b"numpy bytes", dtype=np.uint8))
        out = subprocess.run([fqctl, "recv", path, "-n", "2", "--timeout", "5"],
                             capture_output=True, check=True).stdout
    assert out == b"from python\nnumpy bytes\n"


def test_c_and_the_shell_send_python_receives(path, fqctl):
    with fq.Queue(path) as q:
        subprocess.run([fqctl, "send", path, "from C"], check=True)
        subprocess.run(["sh", "-c", 'echo "from the shell" >> "$0"', path], check=True)
        assert q.recv(timeout=5) == b"from C"
        assert q.get(timeout=5) == b"from the shell", "get() gives bytes for what put() did not send"


def test_pickled_message_format_as_another_language_reads_it(path, fqctl):
    """Reads a put() message through C (fqctl) and parses it by the
    documented format (bindings/README.md), not with fq.loads."""
    a = np.arange(1000, dtype=np.uint16)
    blob = b"B" * 3000
    with fq.Queue(path) as q:
        q.put({"array": a, "small": 1})
        q.put(blob)
        out = subprocess.run([fqctl, "recv", path, "-n", "2", "--timeout", "5"],
                             capture_output=True, check=True).stdout

    def parse(msg):
        magic, n, plen = struct.unpack_from("<4sIQ", msg)
        assert magic == b"\xfffqp"
        sizes = struct.unpack_from(f"<{n}Q", msg, 16)
        pos = 16 + 8 * n
        pickle_bytes, pos = msg[pos:pos + plen], pos + plen
        bufs = []
        for size in sizes:
            pos += -pos % 16
            bufs.append(msg[pos:pos + size])
            pos += size
        return pickle_bytes, bufs, pos

    _, bufs, end = parse(out)
    assert bufs == [a.tobytes()]
    second = out[end + 1:]  # fqctl ends each message with a newline
    _, bufs, end = parse(second)
    assert bufs == [blob] and second[end:] == b"\n"


def test_send_many_and_recv_many_move_small_messages_in_batches(path):
    msgs = [b"m%05d" % i + b"x" * (i % 300) for i in range(5000)]
    with fq.Queue(path) as q:
        assert q.send_many(msgs) == len(msgs)
        got = []
        while len(got) < len(msgs):
            batch = q.recv_many(max=1000, timeout=5)
            assert 1 <= len(batch) <= 1000
            got += batch
        assert got == msgs
        assert q.stats()["received"] == len(msgs)
        with pytest.raises(fq.WouldBlock):
            q.recv_many(timeout=0)


def test_recv_many_hands_a_message_larger_than_its_size_alone(path):
    with fq.Queue(path) as q:
        q.send_many([b"a" * 100, b"b" * 5000, b"c"])
        assert q.recv_many(size=200) == [b"a" * 100]
        assert q.recv_many(size=200) == [b"b" * 5000]
        assert q.recv_many(size=200) == [b"c"]


def test_send_many_says_how_many_went_when_the_queue_is_full(path):
    with fq.Queue(path, maxsize=3) as q:
        with pytest.raises(fq.WouldBlock) as e:
            q.send_many([b"1", b"2", b"3", b"4", b"5"], timeout=0)
        assert e.value.sent == 3
        with pytest.raises(fq.Timeout) as e:
            q.send_many([b"4", b"5"], timeout=0.1)
        assert e.value.sent == 0
        assert q.recv_many() == [b"1", b"2", b"3"]
