"""fq's Python peers, each the way a user would call it, its variants
included (batch calls; recv_view, a NumPy array over the mapping): one class
here and one line in runner.PEERS each.

A channel is made in the runner before it forks; the children inherit it
and use it as multiprocessing's fork start method would hand it to them.
"""

import collections

import fq
import numpy as np

DEFAULT_MAX_MSG = 64 << 20
PICKLE_ROOM = 4096  # put() sends a header and the pickle before the buffer


class FqQueue:
    """fq.Queue as a multiprocessing.Queue: put and get pickle the object,
    NumPy arrays and large bytes out of band."""

    def __init__(self, path, size, senders, receivers):
        # A 64 MiB object is more than fq's default largest message (64 MiB)
        # once put() adds its header: a larger max_msg, as its user would.
        big = size + PICKLE_ROOM > DEFAULT_MAX_MSG
        self.q = fq.Queue(path, max_msg=size + PICKLE_ROOM if big else 0)

    def open(self, sending, index):
        return self

    def send(self, msg):
        self.q.put(msg)

    def recv(self):
        return self.q.get()

    def close(self):
        self.q.close()

    def destroy(self):
        self.q.close()
        fq.unlink(self.q.path)


class FqRaw(FqQueue):
    """Raw bytes: send any buffer, recv() returns bytes."""

    def send(self, msg):
        self.q.send(msg)

    def recv(self):
        return self.q.recv()


class FqRecvInto(FqRaw):
    """Raw bytes received into one buffer the receiver keeps (recv_into),
    as C's fq_recv does: no allocation per message."""

    def __init__(self, path, size, senders, receivers):
        super().__init__(path, size, senders, receivers)
        self.size = size

    def open(self, sending, index):
        if not sending:
            self.buf = bytearray(self.size)
        return self

    def recv(self):
        n = self.q.recv_into(self.buf)
        return memoryview(self.buf)[:n]


class FqRecvView(FqRaw):
    """Raw bytes received as a memoryview (recv_view): from 256 KiB up the
    sender's shared memory mapped in place, no copy."""

    def recv(self):
        return self.q.recv_view()


class FqNumpyView(FqRecvView):
    """NumPy arrays sent raw and received as an array over the mapping."""

    def recv(self):
        return np.frombuffer(self.q.recv_view(), np.uint8)


class FqBatch(FqRaw):
    """Batch calls: the sender gathers up to 64 messages for one send_many,
    the receiver takes all that wait with one recv_many and hands them out
    one by one."""

    BATCH = 64
    latency_na = "a batch waits to fill"

    def open(self, sending, index):
        self.gathered, self.received = [], collections.deque()
        return self

    def send(self, msg):
        self.gathered.append(msg)
        if len(self.gathered) == self.BATCH:
            self._flush()

    def recv(self):
        if not self.received:
            self.received.extend(self.q.recv_many())
        return self.received.popleft()

    def close(self):
        self._flush()
        super().close()

    def _flush(self):
        if self.gathered:
            self.q.send_many(self.gathered)
            self.gathered.clear()
