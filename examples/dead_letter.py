#!/usr/bin/env python3
"""The seed's URL worker with a dead-letter queue (../shared/seeds/004,
"Multiprocessing communication with FIFO queues"), on fq.

Same shape as the seed: a process waits on input.fifo and forks a worker per
URL; the worker fetches the URL, parses the JSON and sends its `quote` to
output.fifo; on error the URL goes to the dead-letter queue, which a second
process works. Then what the seed's note only asks for, done by fq's retry
policy (fq_fail) rather than by sleeps written here: a delay before each
retry that grows, a maximum number of attempts, and permanent errors (an
invalid URL, an HTTP 4xx) sent to the dead-letter queue at once, never
retried. And what the seed could not do: a worker killed in the middle of a
request loses nothing, because it holds its URL under a lease.

    python3 examples/quote_server.py &               # a local server: no internet needed
    python3 examples/dead_letter.py [--dir DIR] [URL...]
    echo 'http://127.0.0.1:8000/quote' >> input.fifo   # from another shell
    fqctl recv output.fifo                             # the quotes

The queues are made in DIR (default: the current directory). URLs given on
the command line are queued first, as the seed queues three. It runs until
Ctrl-C or SIGTERM. Needs the fq package on PYTHONPATH (build/bindings/python).
"""
import argparse
import json
import os
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request

import fq

# Where a failed URL goes. The seed's deadletter.fifo did two jobs: its
# second process tried each failed URL again (the note wants a growing delay
# there), and it was where failures ended up. fq does the first job inside the
# input queue itself: fq_fail keeps the URL in input.fifo, leased to nobody,
# until its delay from the queue's policy has passed, and that delay cannot be
# applied to a message moved to another queue by hand. Only what fq gives up
# on (out of attempts, or permanent) goes to a dead-letter queue, and fq_fail
# always sends it to "<queue>.dlq" with its history (origin, reason, deaths)
# and a durable record in "<queue>.fq-dead". So the seed's deadletter.fifo is
# fq's own input.fifo.dlq here.
INPUT_FIFO = "input.fifo"
OUTPUT_FIFO = "output.fifo"
DEADLETTER_FIFO = INPUT_FIFO + ".dlq"

# input.fifo's retry policy, shared by every process using the queue: 4
# attempts, retries after 0.25 s, 0.5 s, 1 s; no jitter, so the story is
# readable. The lease must outlast a request: HTTP_TIMEOUT is well below it.
POLICY = dict(max_attempts=4, backoff_base_ms=250, backoff_factor=2.0, jitter_pct=0,
              lease_ms=30_000)
HTTP_TIMEOUT = 10  # seconds; a request that times out is retried


class Permanent(Exception):
    """Retrying cannot help: an invalid URL, an HTTP 4xx, an answer with no quote."""


def fetch_quote(url):
    """The quote at url. Raises Permanent, or any other exception for a
    failure worth retrying (connection refused, HTTP 5xx, a timeout)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Permanent("invalid URL")
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as res:
            body = res.read()
    except urllib.error.HTTPError as e:
        # 408 Request Timeout and 429 Too Many Requests pass with time.
        if 400 <= e.code < 500 and e.code not in (408, 429):
            raise Permanent(f"HTTP {e.code} {e.reason}") from None
        raise
    try:
        return json.loads(body)["quote"]
    except (ValueError, KeyError, TypeError):
        raise Permanent("the answer has no quote") from None


def say(text):
    """Prints a line with one write(2): the processes share stdout, and print()
    may write a line and its newline separately, letting another's line in
    between. (A write of up to PIPE_BUF bytes to a pipe is never split.)"""
    os.write(sys.stdout.fileno(), (text + "\n").encode())


# ---- The worker: one URL, in a forked process --------------------------------


def work(inq, out, tell):
    """Takes the next URL under a lease, tells the dispatcher (fd `tell`),
    fetches it and settles it. Runs in a forked child.

    The worker takes the URL itself rather than being handed it: a lease
    belongs to the process that took it, so if this worker is killed fq sees
    the holder gone and gives the URL to the next worker (attempt + 1). A
    URL read by the dispatcher and handed down would be lost with the child.
    """
    with inq.lease() as m:  # waits for a URL: new, due for its retry, or a killed worker's
        os.write(tell, b"+" + m.data)
        os.close(tell)
        url = m.data.decode("utf-8", "replace")
        say(f"Processing: {url} PID: {os.getpid()} (attempt {m.attempts})")
        try:
            quote = fetch_quote(url)
        except Permanent as e:
            m.fail(str(e), permanent=True)
            say(f"Error processing {url}: {e}: permanent, sent to the dead letter queue "
                f"without retrying")
        except Exception as e:  # noqa: BLE001 - anything else is worth a retry
            delay = m.fail(str(e))  # fq's policy decides: retry later, or give up
            if delay is None:
                say(f"Error processing {url}: {e}: attempt {m.attempts} of "
                    f"{POLICY['max_attempts']}, sent to the dead letter queue")
            else:
                say(f"Error processing {url}: {e}: retrying in {delay:g} s")
        else:
            # Sent, then acknowledged: a crash between the two sends the quote
            # twice, never loses it (at-least-once).
            out.send(quote.encode())
            m.ack()
            say(quote)


def run_worker(inq, out, tell):
    """The forked child's whole life; never returns."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = 0
    try:
        work(inq, out, tell)
    except KeyboardInterrupt:
        code = 130  # Ctrl-C: the unsettled lease went back to the queue on the way out
    except fq.Error as e:
        # Tell the dispatcher why no URL was taken (the queue was removed...).
        try:
            os.write(tell, b"!" + str(e).encode())
        except OSError:
            pass
        code = 1
    finally:
        inq.close()
        out.close()
    os._exit(code)  # not the parent's exit handlers


# ---- The dispatcher: waits on input.fifo, a worker per URL --------------------


class Stop(Exception):
    """SIGTERM: stop dispatching."""


class Dispatcher:
    """The seed's process_queue: for each URL on input.fifo, a forked worker.
    One worker at a time waits on the queue; once it has taken a URL, the
    next one is forked."""

    def __init__(self, inq, out):
        self.inq, self.out = inq, out
        self.urls = {}  # busy worker pid -> the URL it took
        self.waiting = 0  # the worker still waiting for a URL

    def run(self):
        say(f"Waiting for messages in the process queue ({self.inq.path}: up to "
            f"{POLICY['max_attempts']} attempts, retries after "
            f"{POLICY['backoff_base_ms'] / 1000:g} s, doubling)")
        signal.signal(signal.SIGCHLD, self.on_child_exit)
        while True:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                run_worker(self.inq, self.out, w)
            self.waiting = pid
            os.close(w)
            try:
                took = read_all(r)  # until the worker has a URL or is gone
            finally:
                os.close(r)
            self.waiting = 0
            if took.startswith(b"+"):
                self.urls[pid] = took[1:].decode("utf-8", "replace")
            elif took.startswith(b"!"):
                raise RuntimeError(f"a worker could not take a URL: {took[1:].decode()}")
            # Nothing: the waiting worker was killed before it took one; fork another.

    def on_child_exit(self, signum, frame):
        # Reaps at once: a dead worker left as a zombie still exists for
        # kill(pid, 0), and fq would not give its URL to the next worker.
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            url = self.urls.pop(pid, None)
            if os.WIFSIGNALED(status) and url is not None:
                say(f"Worker {pid} was killed (signal {os.WTERMSIG(status)}) while processing "
                    f"{url}: fq gives it to the next worker")

    def shut_down(self):
        """Stops the worker waiting for a URL (it holds none; if it had just
        taken one, its lease gives it back) and lets the busy ones finish."""
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if self.waiting:
            try:
                os.kill(self.waiting, signal.SIGTERM)
            except ProcessLookupError:
                pass


def read_all(fd):
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    return data


# ---- The dead-letter process ----------------------------------------------


def process_deadletter(dlq_path):
    """The seed's process_deadletter: works the dead-letter queue. The
    retries already happened in input.fifo, so what arrives here is parked:
    reported with its reason and taken off the queue. fq keeps the durable
    record in input.fifo.fq-dead (`fqctl dead input.fifo` lists it). It takes
    each under a lease too: killed here, the dead letter comes back."""
    dlq = fq.Queue(dlq_path)
    say(f"Waiting for messages in the dead letter queue ({dlq_path})")
    try:
        while True:
            with dlq.lease() as m:
                url = m.data.decode("utf-8", "replace")
                kind = "permanent" if m.permanent else "out of attempts"
                say(f"Dead Letter: {url} from {os.path.basename(m.origin)}: {m.reason} "
                    f"({kind}): parked")
                m.ack()
    except KeyboardInterrupt:
        return 130
    finally:
        dlq.close()


# ---- main --------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(
        description="The seed's URL worker on fq: retries by policy, dead letters, leases.")
    ap.add_argument("--dir", default=".", help="where the queues are (default: here)")
    ap.add_argument("urls", nargs="*", help="URLs to queue first")
    args = ap.parse_args()

    inq = fq.Queue(os.path.join(args.dir, INPUT_FIFO))
    out = fq.Queue(os.path.join(args.dir, OUTPUT_FIFO))
    inq.set_policy(**POLICY)
    for url in args.urls:  # the seed's push_to_fifo(url, INPUT_FIFO)
        inq.send(url.encode())

    dl_pid = os.fork()
    if dl_pid == 0:
        inq.close()
        out.close()
        os._exit(process_deadletter(os.path.join(args.dir, DEADLETTER_FIFO)) or 0)

    def stop(signum, frame):
        raise Stop

    signal.signal(signal.SIGTERM, stop)
    dispatcher = Dispatcher(inq, out)
    try:
        dispatcher.run()
    except (Stop, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        dispatcher.shut_down()
        try:
            os.kill(dl_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        while True:  # the busy workers finish their URL
            try:
                os.wait()
            except ChildProcessError:
                break
        inq.close()
        out.close()
    say("Stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
