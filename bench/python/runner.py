"""One timed run of one Python peer, as one line of JSON on stdout: the
Python twin of the C fq_bench (bench/c/), with the same output.

    runner.py PEER throughput SIZE SENDERS RECEIVERS COUNT
    runner.py PEER latency SECONDS
    runner.py --list

Every run is a fresh interpreter that imports the same modules (fq, NumPy,
pyzmq, multiprocessing) for every peer and allocates no message before it
forks its senders and receivers, so that every peer starts from the same
allocator state: fresh processes, no warm-up. Exit status 0 for a run that
delivered every message intact or cannot run here ("na"), 1 for one that
lost or corrupted a message or whose process failed, 2 for a usage error.
"""

import ctypes
import json
import mmap
import os
import shutil
import signal
import sys
import tempfile
import time

import payload
import peers_broker
import peers_fq
import peers_mp
import peers_zmq

# id: (class, kind of message, name in the results)
PEERS = {
    "fq-queue-bytes": (peers_fq.FqQueue, "bytes", "fq.Queue put/get, bytes"),
    "fq-queue-numpy": (peers_fq.FqQueue, "numpy", "fq.Queue put/get, NumPy"),
    "fq-raw": (peers_fq.FqRaw, "bytes", "fq send/recv, bytes"),
    "fq-recv-into": (peers_fq.FqRecvInto, "bytes", "fq send/recv_into"),
    "fq-recv-view": (peers_fq.FqRecvView, "bytes", "fq send/recv_view"),
    "fq-numpy-view": (peers_fq.FqNumpyView, "numpy", "fq send/recv_view, NumPy"),
    "fq-batch": (peers_fq.FqBatch, "bytes", "fq send_many/recv_many"),
    "mp-queue-bytes": (peers_mp.MpQueue, "bytes", "multiprocessing.Queue, bytes"),
    "mp-queue-numpy": (peers_mp.MpQueue, "numpy", "multiprocessing.Queue, NumPy"),
    "mp-pipe": (peers_mp.MpPipe, "bytes", "multiprocessing.Pipe send_bytes"),
    "zmq-bytes": (peers_zmq.Zmq, "bytes", "ZeroMQ PUSH/PULL, bytes"),
    "zmq-numpy": (peers_zmq.ZmqNumpy, "numpy", "ZeroMQ PUSH/PULL, NumPy"),
    # Run only by run.py --broker: they need a RabbitMQ node.
    "fq-queue-broker": (peers_broker.FqQueueBroker, "bytes", "fq.Queue put/get (broker)"),
    "fq-raw-broker": (peers_broker.FqRawBroker, "bytes", "fq send/recv (broker)"),
    "pika": (peers_broker.Pika, "bytes", "pika"),
}

# Without news for this long the run is over: messages were lost, or (while
# senders still run) it is stuck.
QUIET_AFTER_SENDERS_S, QUIET_WHILE_SENDING_S = 2.0, 10.0
PING = 64

_libc = ctypes.CDLL(None, use_errno=True)


class Gate:
    """Children start on events, never on a sleep, in two stages: first
    every receiving end is opened, then every sending end (a ZeroMQ sender
    that connects before its receiver has bound retries 100 ms later, and
    pyzmq was seen to lose messages then); then all start at once. In each
    stage every child says it is ready on one pipe and waits on another."""

    STAGES = 2

    def __init__(self):
        self.ready = [os.pipe() for _ in range(self.STAGES)]
        self.go = [os.pipe() for _ in range(self.STAGES)]
        self.stage = 0  # the next one, in the runner and in each child

    def fork(self):
        """fork(); the child dies with the runner (PR_SET_PDEATHSIG), so a
        runner killed for taking too long leaves nothing behind."""
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            if _libc.prctl(1, signal.SIGKILL) != 0 or os.getppid() != parent:
                os._exit(2)
            for s in range(self.STAGES):
                os.close(self.ready[s][0])
                os.close(self.go[s][1])
        return pid

    def child_wait(self):
        """In a child: ready for the next stage; returns when it begins."""
        s, self.stage = self.stage, self.stage + 1
        os.write(self.ready[s][1], b"1")
        os.close(self.ready[s][1])  # a sibling dying early shows as EOF in the runner
        os.read(self.go[s][0], 1)  # EOF: the stage begins
        os.close(self.go[s][0])

    def open(self, n):
        """Once every child is forked: waits until all n are ready for the
        next stage, then begins it. Returns the time it began, or None if a
        child died first."""
        s, self.stage = self.stage, self.stage + 1
        os.close(self.ready[s][1])
        os.close(self.go[s][0])
        ok = all(os.read(self.ready[s][0], 1) for _ in range(n))
        os.close(self.ready[s][0])
        t0 = time.monotonic()
        os.close(self.go[s][1])
        return t0 if ok else None

    def start(self, n):
        """Both stages; a child dead in the first shows in the second too."""
        self.open(n)
        return self.open(n)


def child(body, *args):
    """Runs body in a forked child; any exception ends it with status 2."""
    try:
        body(*args)
    except BaseException as e:  # reported, and the runner sees status 2
        print(f"{type(e).__name__}: {e}", file=sys.stderr, flush=True)
        os._exit(2)
    os._exit(0)


class Usage:
    """One side's user+sys CPU time (summed) and largest peak RSS."""

    def __init__(self):
        self.cpu_s, self.maxrss_kb = 0.0, 0

    def add(self, ru):
        self.cpu_s += ru.ru_utime + ru.ru_stime
        self.maxrss_kb = max(self.maxrss_kb, ru.ru_maxrss)


def receiver(chan, kind, index, size, senders, tally, gate):
    end = chan.open(False, index)
    gate.child_wait()  # receivers open first
    gate.child_wait()
    n = bad = 0
    while True:
        msg = end.recv()
        if payload.check(kind, msg, size, senders) < 0:
            bad += 1
            tally[2 * index + 1] = bad
        n += 1
        tally[2 * index] = n


def sender(chan, kind, index, size, count, gate):
    msg = payload.make(kind, size, index)
    gate.child_wait()
    end = chan.open(True, index)
    gate.child_wait()
    for _ in range(count):
        end.send(msg)
    end.close()


def throughput(cls, kind, path, size, senders, receivers, count, out):
    """Receivers count what they get in shared memory and the runner watches
    the total (nobody knows how several receivers will share the messages
    out); then the receivers, blocked waiting for more, are killed and
    reaped like the senders, for their resource use."""
    out["messages"] = senders * count
    chan = cls(path, size, senders, receivers)
    shared = mmap.mmap(-1, 16 * receivers)
    tally = memoryview(shared).cast("Q")
    gate = Gate()
    sys.stdout.flush()
    kids = {}  # pid: is a sender
    for r in range(receivers):
        pid = gate.fork()
        if pid == 0:
            child(receiver, chan, kind, r, size, senders, tally, gate)
        kids[pid] = False
    for s in range(senders):
        pid = gate.fork()
        if pid == 0:
            child(sender, chan, kind, s, size, count, gate)
        kids[pid] = True
    t0 = gate.start(len(kids))
    send, recv = Usage(), Usage()
    failed, senders_left, t1, seen = t0 is None, senders, None, 0
    last_news = t0
    while not failed:
        while kids:
            pid, status, ru = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                break
            is_sender = kids.pop(pid)
            (send if is_sender else recv).add(ru)
            if not is_sender or os.waitstatus_to_exitcode(status) != 0:
                print(f"a {'sender' if is_sender else 'receiver'} ended early, status {status:#x}",
                      file=sys.stderr)
                failed = True
            senders_left -= is_sender
        now = time.monotonic()
        got = sum(tally[0::2])
        if got != seen:
            seen, last_news = got, now
        if got >= out["messages"] and t1 is None:
            t1 = now
        if failed or (t1 is not None and senders_left == 0):
            break
        if now - last_news > (QUIET_WHILE_SENDING_S if senders_left else QUIET_AFTER_SENDERS_S):
            break
        time.sleep(0.001)  # the resolution of the run's end
    for pid in kids:  # only this run's children, by pid
        os.kill(pid, signal.SIGKILL)
    for pid, is_sender in kids.items():
        (send if is_sender else recv).add(os.wait4(pid, 0)[2])
    out["received"], out["bad"] = sum(tally[0::2]), sum(tally[1::2])
    out["seconds"] = (t1 or time.monotonic()) - t0 if t0 else 0.0
    chan.destroy()
    tally.release()
    shared.close()
    if failed or senders_left > 0:
        out["status"] = "error"
    elif out["received"] < out["messages"]:
        out["status"] = "lost"
    elif out["bad"] or out["received"] > out["messages"]:
        out["status"] = "corrupt"
    else:
        out["status"] = "ok"
    return send, recv


def echo(ping, pong, kind, gate):
    """Sends back every message until one from sender 1: the last."""
    inp = ping.open(False, 0)
    gate.child_wait()  # receiving ends open first
    outp = pong.open(True, 0)
    gate.child_wait()
    while True:
        msg = inp.recv()
        outp.send(msg)
        if payload.check(kind, msg, PING, 2) != 0:
            break
    outp.close()


def pinger(ping, pong, kind, seconds, result, gate):
    msg, last = payload.make(kind, PING, 0), payload.make(kind, PING, 1)
    rtt, bad = [], 0
    inp = pong.open(False, 0)
    gate.child_wait()
    outp = ping.open(True, 0)
    gate.child_wait()
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        done = t0 - start >= seconds and len(rtt) >= 100
        outp.send(last if done else msg)
        back = inp.recv()
        t1 = time.perf_counter()
        rtt.append(t1 - t0)
        bad += payload.check(kind, back, PING, 2) != done
        if done:
            break
    rtt.sort()
    for i, v in enumerate((rtt[len(rtt) // 2], rtt[int(len(rtt) * 0.99)], len(rtt), bad)):
        result[i] = v
    outp.close()


def latency(cls, kind, path, seconds, out):
    """Ping-pong on two channels, both ends pinned to one CPU: see
    bench/c/latency.c for why."""
    if getattr(cls, "latency_na", None):
        raise peers_mp.NotAvailable(cls.latency_na)
    ping = cls(path + "-ping", PING, 1, 1)
    pong = cls(path + "-pong", PING, 1, 1)
    shared = mmap.mmap(-1, 32)
    result = memoryview(shared).cast("d")
    everywhere = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {_libc.sched_getcpu()})
    gate = Gate()
    sys.stdout.flush()
    kids = {}
    pid = gate.fork()
    if pid == 0:
        child(echo, ping, pong, kind, gate)
    kids[pid] = "echo"
    pid = gate.fork()
    if pid == 0:
        child(pinger, ping, pong, kind, seconds, result, gate)
    kids[pid] = "pinger"
    os.sched_setaffinity(0, everywhere)
    t0 = gate.start(2)
    failed = t0 is None
    send, recv = Usage(), Usage()
    while kids:  # in either order: one failing must not leave us waiting
        pid, status, ru = os.wait4(-1, 0)
        who = kids.pop(pid)
        (send if who == "pinger" else recv).add(ru)
        if os.waitstatus_to_exitcode(status) != 0:
            print(f"the {who} ended with status {status:#x}", file=sys.stderr)
            for other in kids:
                os.kill(other, signal.SIGKILL)
            failed = True
    out["seconds"] = time.monotonic() - (t0 or time.monotonic())
    ping.destroy()
    pong.destroy()
    p50, p99, rounds, bad = result.tolist()
    result.release()
    shared.close()
    out.update(messages=int(rounds), received=int(rounds), bad=int(bad))
    out.update(p50_us=p50 * 1e6, p99_us=p99 * 1e6)
    out["status"] = "error" if failed else "corrupt" if bad else "ok"
    return send, recv


def main(argv):
    if argv == ["--list"]:
        for peer_id, (_, _, name) in PEERS.items():
            print(f"{peer_id}\t{name}")
        return 0
    if len(argv) < 2 or argv[0] not in PEERS:
        print(__doc__, file=sys.stderr)
        return 2
    cls, kind, _ = PEERS[argv[0]]
    workload, nums = argv[1], [float(a) for a in argv[2:]]
    size, senders, receivers = [int(n) for n in nums[:3]] if len(nums) == 4 else (PING, 1, 1)
    out = {"lang": "python", "peer": argv[0], "workload": workload, "size": size,
           "senders": senders, "receivers": receivers}
    directory = tempfile.mkdtemp(prefix="fq-bench-")
    path = os.path.join(directory, "channel")
    send = recv = Usage()
    try:
        if workload == "throughput" and len(nums) == 4:
            send, recv = throughput(cls, kind, path, size, senders, receivers, int(nums[3]), out)
        elif workload == "latency" and len(nums) == 1:
            send, recv = latency(cls, kind, path, nums[0], out)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except peers_mp.NotAvailable as e:
        out.update(status="na", na=str(e))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    out.update(cpu_send_s=send.cpu_s, cpu_recv_s=recv.cpu_s,
               rss_send_kb=send.maxrss_kb, rss_recv_kb=recv.maxrss_kb)
    print(json.dumps(out), flush=True)
    return 0 if out["status"] in ("ok", "na") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
