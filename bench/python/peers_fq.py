"""fq's Python peers, each the way a user would call it. A variant (a batch
call, a zero-copy receive returning a NumPy array over the mapping) is one
more class here and one line in runner.PEERS.

A channel is made in the runner before it forks; the children inherit it
and use it as multiprocessing's fork start method would hand it to them.
"""

import fq

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
