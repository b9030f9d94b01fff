"""The messages Python peers carry, and their check on arrival.

A sender makes its message once and sends that same object every time:
stamping a sequence number into it would mean a fresh copy per message
(`bytes` are immutable) or a race with peers that send later from another
thread (multiprocessing.Queue's feeder, ZeroMQ's zero-copy send). So Python
checks each message's type, length and both ends, and counts them; the C
peers also check sequence numbers.
"""

import struct

import numpy as np

_HEAD = struct.Struct("<I4s")  # sender index, magic
_MAGIC, _TAIL = b"fqbm", b"mbqf"
KINDS = ("bytes", "numpy")


def make(kind, size, sender):
    """Message of `size` bytes (at least 12) from sender `sender`."""
    data = bytearray(size)
    _HEAD.pack_into(data, 0, sender, _MAGIC)
    data[-4:] = _TAIL
    if kind == "bytes":
        return bytes(data)
    return np.frombuffer(data, np.uint8).copy()


def check(kind, msg, size, senders):
    """The sender index of a whole message of this kind, or -1."""
    if kind == "numpy" and not isinstance(msg, np.ndarray):
        return -1
    view = memoryview(msg)
    if view.nbytes != size or view[-4:] != _TAIL:
        return -1
    sender, magic = _HEAD.unpack_from(view)
    return sender if magic == _MAGIC and sender < senders else -1
