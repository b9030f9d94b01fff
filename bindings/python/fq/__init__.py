"""fq: a message queue on a Linux named pipe, between processes on one machine.

    q = fq.Queue("/tmp/jobs.fifo")     # a drop-in multiprocessing.Queue
    q.put({"job": 42}); q.get()
    q.send(b"raw bytes"); q.recv()      # plain messages for C, Ruby, the shell
    jq = fq.JoinableQueue(path)         # multiprocessing.JoinableQueue: task_done(), join()

fq.Queue passes any picklable object; NumPy arrays and bytes travel as
out-of-band buffers, never copied into the pickle (bindings/README.md shows
the format). Errors are exceptions derived from fq.Error.
"""
import collections
import fcntl
import math
import multiprocessing.util
import os
import pickle
import queue as _queue
import shutil
import struct
import tempfile
import threading
import time
import weakref

from . import _errors, _fq
from ._errors import *  # noqa: F401,F403  (generated from core/errors.def)
from ._errors import (BufferTooSmall, Closed, Error, Interrupted, InvalidArgument,
                      MessageTooLarge, Timeout, WouldBlock)

__all__ = ["Queue", "JoinableQueue", "Message", "Policy", "dead_letters", "unlink", "dumps", "loads", "version"]
__all__ += _errors.__all__

_INT_MAX = 2**31 - 1


def version():
    """The C library's version as (major, minor, patch)."""
    v = _fq.fq_version()
    return (v // 10000, v // 100 % 100, v % 100)


def unlink(path):
    """Removes the queue at `path`: the FIFO, its state, its pending payloads.
    Processes still holding it get fq.Closed."""
    _fq.fq_unlink(os.fsdecode(path))


# ---- Time ------------------------------------------------------------------


class _Deadline:
    """A timeout in seconds (None: forever) on the monotonic clock."""

    def __init__(self, timeout):
        if timeout is not None and not timeout >= 0:
            raise ValueError(f"timeout must be None or a non-negative number, not {timeout!r}")
        self.end = None if timeout is None else time.monotonic() + timeout
        self.poll = timeout == 0  # "do not wait" rather than "the time ran out"

    def ms(self):
        """What is left, in whole milliseconds rounded up (-1: forever)."""
        if self.end is None:
            return -1
        return min(_INT_MAX, max(0, math.ceil((self.end - time.monotonic()) * 1000)))

    def expired(self):
        return self.end is not None and time.monotonic() >= self.end


_FOREVER = _Deadline(None)


def _deadline(timeout):
    """The _Deadline of a timeout; one shared object for "forever"."""
    return _FOREVER if timeout is None else _Deadline(timeout)


def _retrying(call, deadline, *args):
    """call(*args, timeout_ms) until it is not interrupted: the one place a
    signal's FQ_EINTR is retried, always with the time left. The C module has
    already run the signal handlers, so Ctrl-C raised KeyboardInterrupt there."""
    while True:
        try:
            return call(*args, deadline.ms())
        except Interrupted:
            continue
        except Timeout:
            if deadline.expired():
                raise
            # A timeout beyond INT_MAX ms was cut to INT_MAX: wait the rest.
        except WouldBlock:
            if deadline.poll:
                raise
            # Interrupted with no time left: the retry polled, but the caller waited.
            raise Timeout(Timeout.text) from None


# ---- The pickled-message format (bindings/README.md, "Wire format") ---------

_MAGIC = b"\xfffqp"  # 0xFF never occurs in UTF-8: no shell line starts like this
_HEAD = struct.Struct("<4sIQ")  # magic, number of buffers, pickle length
_ALIGN = 16  # each buffer starts at a multiple of 16 from the message start
_ZEROS = bytes(_ALIGN)
_INLINE_BELOW = 1024  # smaller buffers are copied into the pickle: cheaper than an iovec


class _OutOfBand:
    """Wraps a top-level bytes or bytearray so pickle sends it out of band:
    the pickle module copies those types in-band before any hook sees them."""

    def __init__(self, data):
        self.data = data

    def __reduce_ex__(self, protocol):
        return type(self.data), (pickle.PickleBuffer(self.data),)


def dumps(obj):
    """The message put(obj) sends, as a list of buffers to send together
    (fq_sendv): a header with the pickle, then each out-of-band buffer."""
    buffers = []

    def keep(buf):
        raw = buf.raw()
        if raw.nbytes < _INLINE_BELOW:
            return True  # in-band
        buffers.append(raw)
        return False

    if type(obj) in (bytes, bytearray) and len(obj) >= _INLINE_BELOW:
        obj = _OutOfBand(obj)
    body = pickle.dumps(obj, protocol=5, buffer_callback=keep)
    head = _HEAD.pack(_MAGIC, len(buffers), len(body))
    head += struct.pack(f"<{len(buffers)}Q", *(b.nbytes for b in buffers))
    parts = [head + body]
    pos = len(parts[0])
    for b in buffers:
        pad = -pos % _ALIGN
        if pad:
            parts.append(_ZEROS[:pad])
        parts.append(b)
        pos += pad + b.nbytes
    return parts


def loads(data):
    """The object in a message put() sent; any other message as bytes."""
    view = memoryview(data)
    if view.nbytes < _HEAD.size or view[:4] != _MAGIC:
        return bytes(view)
    magic, n, plen = _HEAD.unpack_from(view)
    sizes = struct.unpack_from(f"<{n}Q", view, _HEAD.size)
    pos = _HEAD.size + 8 * n
    body = view[pos : pos + plen]
    pos += plen
    buffers = []
    for size in sizes:
        pos += -pos % _ALIGN
        buffers.append(view[pos : pos + size])
        pos += size
    if pos > view.nbytes:
        raise Error(f"truncated fq pickle: {view.nbytes} bytes, the header says {pos}")
    return pickle.loads(body, buffers=buffers)


# ---- Handles -------------------------------------------------------------


_pid = os.getpid()  # this process's, kept current across fork without a system call per call


def _after_fork_in_child():
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Handle:
    """A C handle used by several threads: fq_close must not race a call in
    progress, so the last call out closes it once close() was asked for."""

    def __init__(self, h, free, what):
        self._h = h
        self._what = what
        self._free = free
        self._users = 0
        self._closing = False
        self._lock = threading.Lock()
        self._pid = _pid

    def _forked(self):
        # Threads of the parent are gone: their calls will never come back.
        self._lock = threading.Lock()
        self._users = 0
        self._pid = _pid

    def __enter__(self):
        if self._pid != _pid:
            self._forked()
        with self._lock:
            if self._closing:
                raise Closed(f"{self._what} is closed")
            self._users += 1
            return self._h

    def __exit__(self, *exc):
        with self._lock:
            self._users -= 1
            last = self._closing and self._users == 0 and self._h is not None
            h, self._h = (self._h, None) if last else (None, self._h)
        if h is not None:
            self._free(h)

    def close(self):
        """Closes now, or when the last call in progress returns."""
        if self._pid != _pid:
            self._forked()
        with self._lock:
            self._closing = True
            h, self._h = (self._h, None) if self._users == 0 else (None, self._h)
        if h is not None:
            self._free(h)

    @property
    def closed(self):
        return self._closing


def _close_queue(handle, private_dir, path):
    handle.close()
    if private_dir:
        _remove_if_unused(private_dir, path)


def _remove_if_unused(private_dir, path):
    """Removes a private queue once no process holds it. Every fq handle keeps
    a shared flock on the state file (core/README.md, "Lifetime"), so an
    exclusive one means nobody else has the queue open."""
    try:
        fd = os.open(path + ".fq-state", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # still in use: its last user removes it
    else:
        try:
            _fq.fq_unlink(path)
        except Error:
            pass  # another last user got there first
        shutil.rmtree(private_dir, ignore_errors=True)
    finally:
        os.close(fd)


# ---- Queue ---------------------------------------------------------------


class Queue:
    """A queue of messages between processes, on the FIFO at `path`.

    A drop-in replacement for multiprocessing.Queue (put, get, qsize...),
    which also sends and receives raw bytes (send, recv) and leased messages
    with retries and dead letters (lease, recv_msg).

    path     the FIFO; created (with `mode`) if missing. None: a private queue
             in a temporary directory, removed when its last user closes it.
             An int here is taken as maxsize, as multiprocessing.Queue(10).
    maxsize  messages queued before put waits, across all processes
             (0: fq's default, 65536). Fixed when the queue is first created.
    max_msg, room_bytes   the largest message and the bytes queued before
             put waits (0: 64 MiB and 256 MiB). Fixed when first created.
    mode     permissions of the files created (default 0o600).

    A Queue passed to another process (pickled, or inherited over fork)
    opens the same queue by its path there.
    """

    def __init__(self, path=None, maxsize=0, *, max_msg=0, room_bytes=0, mode=0o600):
        if isinstance(path, int) and not isinstance(path, bool):
            path, maxsize = None, path
        if maxsize < 0:
            maxsize = 0  # multiprocessing.Queue: <= 0 means no limit of its own
        private_dir = None
        if path is None:
            private_dir = tempfile.mkdtemp(prefix="fq-")
            path = os.path.join(private_dir, "queue.fifo")
        self._open(os.fsdecode(path), private_dir, maxsize, max_msg, room_bytes, mode)

    def _open(self, path, private_dir, maxsize=0, max_msg=0, room_bytes=0, mode=0o600):
        opts = _fq.fq_opts()
        opts.room_msgs, opts.max_msg, opts.room_bytes = maxsize, max_msg, room_bytes
        opts.mode = mode
        flags = _fq.FQ_READ | _fq.FQ_WRITE | _fq.FQ_CREATE
        try:
            h = _retrying(lambda timeout_ms: _fq.fq_open_opts(path, flags, opts), _Deadline(None))
        except Error as e:
            if private_dir:
                shutil.rmtree(private_dir, ignore_errors=True)
            raise type(e)(f"{path}: {e}") from None
        self._path = path
        self._private_dir = private_dir
        self._handle = _Handle(h, _fq.fq_close, f"queue {path}")
        self._finalizer = multiprocessing.util.Finalize(
            self, _close_queue, (self._handle, private_dir, path), exitpriority=0
        )
        # multiprocessing drops a parent's finalizers in a forked child: the
        # child closes its inherited handle on its own exit.
        multiprocessing.util.register_after_fork(self, Queue._after_fork)
        if maxsize and self.stats()["room_msgs"] != maxsize:
            room = self.stats()["room_msgs"]
            self.close()
            raise ValueError(
                f"{path}: the queue exists with room for {room} messages, not {maxsize}"
            )

    def _after_fork(self):
        self._finalizer = multiprocessing.util.Finalize(
            self, _close_queue, (self._handle, self._private_dir, self._path), exitpriority=0
        )

    def __reduce__(self):
        return (_reopen, (type(self), self._path, self._private_dir))

    def __repr__(self):
        state = " closed" if self._handle.closed else ""
        return f"<fq.{type(self).__name__} {self._path!r}{state}>"

    @property
    def path(self):
        """The FIFO's path."""
        return self._path

    # -- multiprocessing.Queue ------------------------------------------------

    def put(self, obj, block=True, timeout=None):
        """Puts obj (anything picklable) on the queue. Waits only while the
        queue is full: forever, up to `timeout` seconds, or not at all when
        block is false; then raises queue.Full. Never waits for a reader."""
        parts = dumps(obj)
        try:
            self._send_parts(parts, timeout if block else 0)
        except (Timeout, WouldBlock):
            raise _queue.Full from None

    def get(self, block=True, timeout=None):
        """Removes and returns the next object. Waits for one: forever (as
        multiprocessing.Queue does), up to `timeout` seconds, or not at all
        when block is false; then raises queue.Empty. A message that put()
        did not send (C, the shell, send()) comes back as bytes."""
        try:
            data = self._recv_payload(timeout if block else 0)
        except (Timeout, WouldBlock):
            raise _queue.Empty from None
        return loads(data)

    def put_nowait(self, obj):
        """put(obj, False)."""
        self.put(obj, False)

    def get_nowait(self):
        """get(False)."""
        return self.get(False)

    def qsize(self):
        """Messages waiting, across all processes (shell lines not counted)."""
        return self.stats()["queued_msgs"]

    def empty(self):
        """True if no message is waiting (a snapshot: others may put or get)."""
        return self.qsize() == 0

    def full(self):
        """True if put would wait now (a snapshot)."""
        s = self.stats()
        return s["queued_msgs"] >= s["room_msgs"]

    def close(self):
        """Closes this handle; the queue and what it holds stay for others.
        A private queue is removed when its last user closes it. A call in
        progress on another thread keeps the handle open until it returns."""
        self._finalizer()

    def join_thread(self):
        """Does nothing: fq has no feeder thread; put() has sent when it returns."""

    def cancel_join_thread(self):
        """Does nothing: fq has no feeder thread to wait for."""

    # -- Raw bytes ------------------------------------------------------------

    def send(self, data, timeout=None):
        """Sends data (bytes, bytearray, memoryview, a contiguous NumPy array:
        anything with the buffer protocol) as one message, without copying it
        first. Waits only while the queue is full: forever, or up to
        `timeout` seconds (then fq.Timeout; 0: fq.WouldBlock at once)."""
        self._send_parts([data], timeout)

    def recv(self, timeout=None):
        """Receives one message as bytes. Waits forever, or up to `timeout`
        seconds (then fq.Timeout; 0: fq.WouldBlock at once)."""
        return bytes(self._recv_payload(timeout))

    def recv_view(self, timeout=None):
        """Receives one message as a writable memoryview, without a copy: a
        large message is the sender's shared memory, mapped in place (a write
        changes only this process's view). Waits as recv() does."""
        return memoryview(self._recv_payload(timeout))

    def send_many(self, buffers, timeout=None):
        """Sends each buffer as one message, small ones many to a system call
        (fq_send_many). Waits only while the queue is full, up to `timeout`
        seconds for the whole call. Returns how many were sent; on an
        exception, its `sent` attribute says how many went before it."""
        d = _deadline(timeout)
        buffers = list(buffers)
        done = 0
        with self._handle as h:
            while True:
                try:
                    return done + _fq.fq_send_many(h, buffers[done:], d.ms())
                except Error as e:
                    done += getattr(e, "sent", 0)
                    e.sent = done
                    # Retried as _retrying does: after a signal, with the time left.
                    if isinstance(e, Interrupted) or (isinstance(e, Timeout) and not d.expired()):
                        continue
                    if isinstance(e, WouldBlock) and not d.poll:
                        err = Timeout(Timeout.text)
                        err.sent = done
                        raise err from None
                    raise

    def recv_many(self, max=1024, timeout=None, size=1 << 20):
        """Receives up to `max` messages (as a list of bytes) in one call:
        waits for the first as recv() does, then takes those already
        waiting, many to a system call, up to `size` bytes in all. A first
        message larger than `size` comes alone."""
        d = _deadline(timeout)
        with self._handle as h:
            try:
                return _retrying(_fq.fq_py_recv_many, d, h, max, size)
            except BufferTooSmall:
                pass
        return [self.recv(None if d.end is None else d.ms() / 1000)]

    def recv_into(self, buffer, timeout=None):
        """Receives one message into a writable buffer and returns its length.
        If the buffer is too small, raises fq.BufferTooSmall and keeps the
        message (its size is in the exception's `size`)."""
        d = _deadline(timeout)
        with self._handle as h:
            try:
                return _retrying(_fq.fq_recv_timeout, d, h, buffer)
            except BufferTooSmall as e:
                size = _fq.fq_next_size(h, 0)
                cap = memoryview(buffer).nbytes
                err = type(e)(f"{self._path}: the next message has {size} bytes, the buffer {cap}")
                err.size = size
                raise err from None

    def __iter__(self):
        """Each message as bytes, waiting for each, until the queue is removed."""
        while True:
            try:
                yield self.recv()
            except Closed:
                return

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- Messages with their history: leases, retries, dead letters -----------

    def recv_msg(self, timeout=None):
        """Receives one message with its history, at most once (a receiver
        that dies holding it loses it)."""
        d = _deadline(timeout)
        with self._handle as h:
            return Message(_retrying(_fq.fq_recv_msg, d, h))

    def lease(self, timeout=None, lease=None):
        """Receives one message under a lease of `lease` seconds (None: the
        queue's policy, 30 s by default): at least once. Settle it with ack,
        retry, fail or dead_letter before the lease runs out, or another
        receiver gets it. Closing the message unsettled gives it back at once."""
        lease_ms = -1 if lease is None else math.ceil(lease * 1000)
        d = _deadline(timeout)
        with self._handle as h:
            return Message(_retrying(_fq.fq_lease, d, h, lease_ms))

    def policy(self):
        """The queue's retry policy, shared by every process using it."""
        p = _fq.fq_policy()
        with self._handle as h:
            _fq.fq_get_policy(h, p)
        return Policy(**{f: getattr(p, f) for f in Policy._fields})

    def set_policy(self, **fields):
        """Changes the given fields of the policy (Policy's names), for every
        process of the queue; returns the new policy."""
        unknown = set(fields) - set(Policy._fields)
        if unknown:
            raise TypeError(f"set_policy: unknown {sorted(unknown)}; known: {Policy._fields}")
        p = _fq.fq_policy()
        with self._handle as h:
            _fq.fq_get_policy(h, p)
            for k, v in fields.items():
                setattr(p, k, v)
            _fq.fq_set_policy(h, p)
        return self.policy()

    def redrive(self, to=None):
        """For a dead-letter queue (say jobs.fifo.dlq): moves every message in
        it to the queue `to`, or back to the queue each came from, attempts
        reset. Returns how many moved."""
        with self._handle as h:
            return _fq.fq_redrive(h, None if to is None else os.fsdecode(to))

    def stats(self):
        """The queue's counters and limits, shared by every process (a dict)."""
        s = _fq.fq_stats()
        with self._handle as h:
            _fq.fq_get_stats(h, s)
        return {f: getattr(s, f) for f in _STATS_FIELDS}

    # -- Internals ------------------------------------------------------------

    def _send_parts(self, parts, timeout):
        d = _deadline(timeout)
        with self._handle as h:
            try:
                _retrying(_fq.fq_sendv, d, h, parts)
            except MessageTooLarge:
                size = sum(memoryview(p).nbytes for p in parts)
                limit = self.stats()["max_msg"]
                raise MessageTooLarge(
                    f"{self._path}: a message of {size} bytes is larger than the queue allows "
                    f"({limit} bytes; choose a larger max_msg when the queue is created)"
                ) from None

    def _recv_payload(self, timeout):
        """The next message's payload (a buffer), received without a copy."""
        d = _deadline(timeout)
        with self._handle as h:
            return _retrying(_fq.fq_py_recv_payload, d, h)


class JoinableQueue(Queue):
    """A Queue whose consumers mark each message done: a drop-in
    multiprocessing.JoinableQueue, across processes.

    The count of unfinished messages lives in the queue's shared state
    (fq_task_done, fq_join), not in this object: every message an fq sender
    puts on the queue, from any process, counts until some process calls
    task_done() once for it. Lines from the shell do not count. A message
    lost with a killed process stays unfinished: join with a timeout where
    processes may die.
    """

    def task_done(self):
        """Marks one message taken from the queue as processed: call it once
        per get(), when done with the object. Raises ValueError when called
        more times than messages were put."""
        with self._handle as h:
            try:
                _fq.fq_task_done(h)
            except InvalidArgument:
                raise InvalidArgument("task_done() called too many times") from None

    def join(self, timeout=None):
        """Waits until every message put on the queue, by any process, has
        been marked done with task_done(). Returns once the count has been
        zero at some moment since join began, even if a put raised it again
        since. Waits forever, or up to `timeout` seconds (then fq.Timeout; 0:
        fq.WouldBlock at once); Ctrl-C raises KeyboardInterrupt."""
        d = _deadline(timeout)
        with self._handle as h:
            _retrying(_fq.fq_join, d, h)


# The counters of fq_stats, read from the SWIG type rather than listed again.
_STATS_FIELDS = sorted(
    f
    for f, v in vars(_fq.fq_stats).items()
    if not f.startswith("_") and f not in ("size", "this", "thisown") and hasattr(v, "__get__")
)


def _reopen(cls, path, private_dir):
    q = cls.__new__(cls)
    q._open(path, private_dir)
    return q


_POLICY_FIELDS = "max_attempts lease_ms backoff_base_ms backoff_cap_ms backoff_factor jitter_pct"


class Policy(collections.namedtuple("Policy", _POLICY_FIELDS)):
    """A queue's retry policy. The delay before attempt n+1 is
    min(backoff_cap_ms, backoff_base_ms * backoff_factor**(n-1)), less up to
    jitter_pct percent; after max_attempts deliveries a failure dead-letters."""

    __slots__ = ()


# ---- Messages ------------------------------------------------------------


def _seconds(ms):
    return None if ms == 0 else ms / 1000


class Message:
    """A received message and its history. Settle a leased one with ack,
    retry, fail or dead_letter; close() (or the end of a `with` block)
    frees it, giving an unsettled lease back to the queue at once."""

    def __init__(self, m):
        self._handle = _Handle(m, _fq.fq_msg_free, "message")
        self._finalizer = weakref.finalize(self, self._handle.close)
        # Times are seconds since the epoch (as time.time()), None when unset.
        self.data = _fq.fq_msg_data(m)  # the payload, bytes
        self.attempts = _fq.fq_msg_attempts(m)  # deliveries so far, this one included
        self.deaths = _fq.fq_msg_deaths(m)  # times dead-lettered
        self.first_death = _seconds(_fq.fq_msg_first_death_ms(m))
        self.last_death = _seconds(_fq.fq_msg_last_death_ms(m))
        self.enqueued = _seconds(_fq.fq_msg_enqueued_ms(m))  # entered a lease, retry or dead letter
        self.not_before = _seconds(_fq.fq_msg_not_before_ms(m))  # earliest time of its last retry
        self.origin = _fq.fq_msg_origin(m)  # the queue it last failed on, "" if none
        self.reason = _fq.fq_msg_reason(m)  # why, "" if none
        self.permanent = _fq.fq_msg_permanent(m)  # its last failure was permanent

    @property
    def leased(self):
        """True while the queue holds the message for this receiver."""
        with self._handle as m:
            return _fq.fq_msg_leased(m)

    def load(self):
        """The object put() sent; bytes for any other message."""
        return loads(self.data)

    def ack(self):
        """Done: the queue forgets the message. fq.LeaseLost if the lease ran out."""
        with self._handle as m:
            _fq.fq_ack(m)

    def retry(self, reason=None, delay=0.0):
        """Puts it back, not to be delivered for `delay` seconds."""
        with self._handle as m:
            _fq.fq_retry(m, reason, math.ceil(delay * 1000))

    def fail(self, reason=None, permanent=False):
        """Applies the queue's policy: retries after a growing delay, or
        dead-letters it (after max_attempts, or when permanent). Returns the
        delay in seconds, or None when dead-lettered."""
        with self._handle as m:
            ms = _fq.fq_fail(m, reason, _fq.FQ_PERMANENT if permanent else 0)
        return None if ms < 0 else ms / 1000

    def dead_letter(self, reason=None):
        """Sends it to the dead-letter queue (<path>.dlq) with its history."""
        with self._handle as m:
            _fq.fq_dead_letter(m, reason)

    def close(self):
        """Frees the message; an unsettled lease goes back to the queue now."""
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<fq.Message {len(self.data)} bytes, attempts {self.attempts}>"


def dead_letters(queue_path):
    """Every message ever dead-lettered from the queue at queue_path (its
    dead log, <path>.fq-dead), oldest first, as Message objects."""
    log = _fq.fq_dead_open(os.fsdecode(queue_path))
    try:
        while True:
            try:
                m = _fq.fq_dead_next(log)
            except WouldBlock:
                return
            with Message(m) as msg:
                yield msg
    finally:
        _fq.fq_dead_close(log)
