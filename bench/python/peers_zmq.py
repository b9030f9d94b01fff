"""ZeroMQ PUSH/PULL over ipc:// from Python (pyzmq), used fairly: send with
copy=False (pyzmq copies below 64 KiB itself, where that is faster), NumPy
arrays received without a copy (recv(copy=False), np.frombuffer). As in C,
each receiver binds its own endpoint, each sender connects to all, and the
high-water marks keep at most 128 MiB queued per side. A sender's close
waits until everything it sent has left (linger -1)."""

import numpy as np
import zmq


class Zmq:
    def __init__(self, path, size, senders, receivers):
        self.path, self.receivers = path, receivers
        self.hwm = max(1, min(1000, (128 << 20) // size))

    def open(self, sending, index):
        return _End(self, sending, index)

    def destroy(self):
        pass  # the endpoints go with the run's directory


class ZmqNumpy(Zmq):
    def open(self, sending, index):
        return _NumpyEnd(self, sending, index)


class _End:
    def __init__(self, chan, sending, index):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.PUSH if sending else zmq.PULL)
        self.sock.setsockopt(zmq.SNDHWM if sending else zmq.RCVHWM, chan.hwm)
        self.sock.linger = -1
        if sending:
            for r in range(chan.receivers):
                self.sock.connect(f"ipc://{chan.path}-{r}")
        else:
            self.sock.bind(f"ipc://{chan.path}-{index}")

    def send(self, msg):
        self.sock.send(msg, copy=False)

    def recv(self):
        return self.sock.recv()

    def close(self):
        self.sock.close()
        self.ctx.term()


class _NumpyEnd(_End):
    def recv(self):
        return np.frombuffer(self.sock.recv(copy=False), np.uint8)
