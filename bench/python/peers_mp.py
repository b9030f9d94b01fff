"""The standard library's peers: multiprocessing.Queue and Pipe."""

import multiprocessing


class NotAvailable(Exception):
    """This peer cannot run this workload; the message says why."""


class MpQueue:
    """multiprocessing.Queue: put hands the object to a feeder thread that
    pickles it and writes it to a pipe; get reads and unpickles it."""

    def __init__(self, path, size, senders, receivers):
        self.q = multiprocessing.Queue()

    def open(self, sending, index):
        return self

    def send(self, msg):
        self.q.put(msg)

    def recv(self):
        return self.q.get()

    def close(self):
        # As a multiprocessing.Process does at exit: flush the feeder thread.
        self.q.close()
        self.q.join_thread()

    def destroy(self):
        self.q.close()


class MpPipe:
    """multiprocessing.Pipe(duplex=False): send_bytes and recv_bytes on an
    os.pipe (left at the kernel's default 64 KiB). A Connection has no lock,
    so each end belongs to one process: no 4 x 4 run."""

    def __init__(self, path, size, senders, receivers):
        if senders > 1 or receivers > 1:
            raise NotAvailable("one process per end (a Connection has no lock)")
        self.r, self.w = multiprocessing.Pipe(duplex=False)

    def open(self, sending, index):
        return self

    def send(self, msg):
        self.w.send_bytes(msg)

    def recv(self):
        return self.r.recv_bytes()

    def close(self):
        pass

    def destroy(self):
        self.r.close()
        self.w.close()
