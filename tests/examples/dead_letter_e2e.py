#!/usr/bin/env python3
"""End-to-end test of a dead-letter example (examples/dead_letter.py, and
examples/dead_letter.rb), played as a user would: URLs echoed into input.fifo
from the shell, a worker killed with SIGKILL in the middle of its request,
the quotes read from output.fifo with fqctl. Then it checks the books.

    dead_letter_e2e.py --fqctl build/fqctl/fqctl [--show] [--server URL] -- EXAMPLE...

EXAMPLE is the command that runs the example, e.g. `python3
examples/dead_letter.py` or `ruby examples/dead_letter.rb`. It is started in
an empty directory and must:
  - make input.fifo and output.fifo there, and say "Waiting for messages in
    the process queue" and "... in the dead letter queue" once it waits;
  - print "Processing: URL PID: N (attempt K)" when worker N starts a URL;
  - retry by input.fifo's policy and dead-letter with fq_fail (so dead
    letters are in input.fifo.dlq and its log input.fifo.fq-dead), permanent
    for an invalid URL and an HTTP 4xx;
  - print "Dead Letter: URL ..." when its second process parks one, taking it
    off input.fifo.dlq;
  - on SIGTERM, stop with status 0, leaving no process of its group behind.

Checks: every URL is accounted for exactly once, as its quote in output.fifo
or in the dead log with its reason; /flaky succeeds on its third request,
each retry later than the last by at least the policy's growing delay; /down
dies after max_attempts with growing delays; the invalid URL and the 404 die
on their first attempt, permanent, never retried; the killed worker's URL is
fetched again and its quote arrives once; at the end no queue holds anything.

Without --server it starts examples/quote_server.py (or --quote-server PATH,
an installed one) on a free port. --show
prints the example's output and the user's commands as they happen (the
demo, scripts/demo, runs it so). Exit status 0: passed; 1: a check failed.
Every wait is bounded; no sleep stands in for an event.
"""
import argparse
import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
QUOTE_SERVER = os.path.join(HERE, "..", "..", "examples", "quote_server.py")
WAIT = 30.0  # seconds: the most any single step may take before the test fails
POLL = 0.05  # how often a condition that has no event of its own is looked at


_print_lock = threading.Lock()


def emit(line):
    """Prints a line whole: the example's reader thread prints too."""
    with _print_lock:
        print(line, flush=True)


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def wait_for(what, cond, timeout=WAIT):
    """Polls cond() until it returns something true; fails after timeout."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise Failed(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL)


class Example:
    """The example under test: its process group and its output, line by line."""

    def __init__(self, cmd, cwd, show):
        self.lines = []
        self.ended = False  # its output is closed
        self.show = show
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self.show:
                emit(f"  {line}")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def wait_line(self, what, match, timeout=WAIT):
        """The first line for which match(line) is true, waiting for it."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if match(line):
                        return line
                left = end - time.monotonic()
                if left <= 0 or self.ended:
                    raise Failed(f"the example never printed {what}")
                self.cond.wait(left)

    def output(self):
        with self.cond:
            return list(self.lines)

    def stop(self):
        """SIGTERM, then its exit status; kills the group if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise Failed("the example did not stop on SIGTERM") from None

    def group_gone(self):
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return True
        return False

    def kill_group(self):
        if not self.group_gone():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


class Server:
    """The quote server: started here, or one already running (--server)."""

    def __init__(self, url, port, script=QUOTE_SERVER):
        self.proc = None
        if url:
            self.url = url.rstrip("/")
            return
        self.proc = subprocess.Popen(
            [sys.executable, script, "--port", str(port)], stdout=subprocess.PIPE)
        first = self.proc.stdout.readline().decode()  # "quote server on http://HOST:PORT"
        check(first.startswith("quote server on http://"), f"the quote server said {first!r}")
        self.url = first.split()[-1]

    def stats(self):
        with urllib.request.urlopen(self.url + "/stats", timeout=WAIT) as r:
            return json.load(r)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(WAIT)


class Fqctl:
    def __init__(self, exe, cwd):
        self.exe, self.cwd = exe, cwd

    def run(self, *args):
        r = subprocess.run([self.exe, *args], cwd=self.cwd, capture_output=True, text=True,
                           timeout=WAIT)
        check(r.returncode == 0, f"fqctl {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return r.stdout

    def drain(self, path):
        """Every message now in the queue, taken off it."""
        out = self.run("recv", path, "-n", "0", "--timeout", "0")
        return out.splitlines()

    def stat(self, path):
        return json.loads(self.run("stat", path, "--json"))

    def dead(self, path):
        # Before the first dead letter there is no log, and fqctl prints nothing.
        return json.loads(self.run("dead", path, "--json") or "[]")

    def policy(self, path):
        rows = dict(line.split() for line in self.run("policy", path).splitlines())
        return {k: float(v) for k, v in rows.items()}


def retry_gaps(requests, path):
    """The times between successive requests for path, by the server's clock."""
    t = [r["t"] for r in requests if r["path"] == path]
    return [b - a for a, b in zip(t, t[1:])]


def check_growing(gaps, policy, what):
    """Each gap at least the policy's delay for that retry (less its jitter),
    and each longer than the one before."""
    base = policy["backoff_base"] / 1000
    factor, cap = policy["backoff_factor"], policy["backoff_cap"] / 1000
    low = 1 - policy["jitter_pct"] / 100
    for n, gap in enumerate(gaps, 1):
        delay = min(cap, base * factor ** (n - 1))
        check(gap >= delay * low,
              f"{what}: retry {n} came {gap:.3f} s after the last try, before its delay {delay:g} s")
    check(all(b > a for a, b in zip(gaps, gaps[1:])),
          f"{what}: the delays between tries do not grow: {[round(g, 3) for g in gaps]}")


def main():
    ap = argparse.ArgumentParser(description="End-to-end test of a dead-letter example.")
    ap.add_argument("--fqctl", required=True, help="the fqctl of this build")
    ap.add_argument("--server", help="a quote server already running (default: start one)")
    ap.add_argument("--port", type=int, default=0, help="port for the server started here")
    ap.add_argument("--quote-server", default=QUOTE_SERVER,
                    help="the quote_server.py to start (default: this tree's examples/)")
    ap.add_argument("--show", action="store_true", help="print the story as it happens")
    ap.add_argument("example", nargs="+", help="the command that runs the example (after --)")
    args = ap.parse_args()
    say = emit if args.show else (lambda s: None)

    with tempfile.TemporaryDirectory(prefix="fq-dead-letter-") as d:
        server = Server(args.server, args.port, args.quote_server)
        fqctl = Fqctl(os.path.abspath(args.fqctl), d)
        example = None
        try:
            say(f"quote server: {server.url}; queues in {d}")
            say(f"$ {' '.join(args.example)}")
            # It runs in the queues' directory: files named relative to here
            # (python3 examples/dead_letter.py) are made absolute.
            cmd = [os.path.abspath(a) if os.path.exists(a) else a for a in args.example]
            example = Example(cmd, d, args.show)
            example.wait_line("that it waits on the process queue",
                              lambda s: s.startswith("Waiting for messages in the process queue"))
            example.wait_line("that it waits on the dead letter queue",
                              lambda s: s.startswith("Waiting for messages in the dead letter queue"))
            run(server, example, fqctl, d, say)
            say("$ kill -TERM %d" % example.proc.pid)
            rc = example.stop()
            check(rc == 0, f"the example exited with status {rc} on SIGTERM")
            wait_for("the example's processes to be gone", example.group_gone)
            check_empty(fqctl)
        except Failed as e:
            print(f"FAILED: {e}", file=sys.stderr)
            if example and not args.show:
                print("the example's output:", *example.output(), sep="\n  ", file=sys.stderr)
            return 1
        finally:
            if example:
                example.kill_group()
            server.stop()
    print("dead-letter example: all checks passed" if not args.show else
          "checked: every URL accounted for once; retries grew; permanent errors not retried; "
          "the killed worker's URL came back; every queue empty")
    return 0


def run(server, example, fqctl, d, say):
    tag = secrets.token_hex(4)  # this run's paths are new to the server
    u = lambda path: f"{server.url}{path}?run={tag}"  # noqa: E731
    good = {u("/quote") + "&n=1", u("/flaky"), u("/slow"), u("/quote") + "&n=2"}
    slow = u("/slow")
    dead_permanent = {"invalid url": "invalid", u("/missing"): "404"}
    dead_exhausted = {u("/down")}
    urls = [u("/quote") + "&n=1", u("/flaky"), "invalid url", u("/missing"), u("/down"), slow,
            u("/quote") + "&n=2"]

    for url in urls:  # as a user would, from the shell
        say(f"$ echo '{url}' >> input.fifo")
        subprocess.run(["sh", "-c", 'echo "$1" >> input.fifo', "sh", url], cwd=d, check=True,
                       timeout=WAIT)

    # Kill the worker fetching /slow once the server has its request.
    prefix = f"Processing: {slow} PID: "
    line = example.wait_line(f"that a worker took {slow}",
                             lambda s: s.startswith(prefix) and s.endswith("(attempt 1)"))
    pid = int(line[len(prefix):].split()[0])
    slow_path = slow[len(server.url):]
    wait_for("the /slow request to reach the server",
             lambda: slow_path in server.stats()["in_flight"])
    say(f"$ kill -9 {pid}    # the worker in the middle of its request for /slow")
    os.kill(pid, signal.SIGKILL)

    # Every URL accounted for: its quote in output.fifo, or its record in the dead log.
    quotes = []

    def accounted():
        quotes.extend(fqctl.drain("output.fifo"))
        return len(quotes) + len(fqctl.dead("input.fifo")) >= len(urls)

    wait_for("every URL to be answered or dead-lettered", accounted)
    wait_for("the dead letter process to park every dead letter",
             lambda: sum(s.startswith("Dead Letter: ") for s in example.output())
             >= len(dead_permanent) + len(dead_exhausted))
    quotes.extend(fqctl.drain("output.fifo"))  # a duplicate would show now
    say("$ fqctl recv output.fifo -n 0 --timeout 0")
    for q in quotes:
        say(f"  {q}")
    dead = fqctl.dead("input.fifo")
    say("$ fqctl dead input.fifo")
    for r in dead:
        say(f"  {r['payload']}: {r['reason']}, attempts {r['attempts']}"
            f"{', permanent' if r['permanent'] else ''}")

    stats = server.stats()
    policy = fqctl.policy("input.fifo")
    served = stats["quotes"]  # path -> the quote the server gave it
    by_quote = {q: p for p, q in served.items()}

    # Exactly once: each good URL's quote once, nothing else in output.fifo.
    check(len(set(served.values())) == len(served), "the server gave two paths one quote")
    got = sorted(by_quote.get(q, f"<unknown quote {q!r}>") for q in quotes)
    want = sorted(url[len(server.url):] for url in good)
    check(got == want, f"output.fifo held quotes for {got}, expected one each for {want}")
    dead_urls = sorted(r["payload"] for r in dead)
    check(dead_urls == sorted([*dead_permanent, *dead_exhausted]),
          f"the dead log holds {dead_urls}, expected {sorted([*dead_permanent, *dead_exhausted])}")
    check(not (set(dead_urls) & good), "a URL was both answered and dead-lettered")

    # Permanent errors: dead at the first attempt, with their reason, never retried.
    for r in dead:
        if r["payload"] in dead_permanent:
            word = dead_permanent[r["payload"]]
            check(r["permanent"] and r["attempts"] == 1,
                  f"{r['payload']}: dead after {r['attempts']} attempt(s), permanent "
                  f"{r['permanent']}; expected permanent at once")
            check(word in r["reason"], f"{r['payload']}: reason {r['reason']!r} lacks {word!r}")
    missing = u("/missing")[len(server.url):]
    n = sum(r["path"] == missing for r in stats["requests"])
    check(n == 1, f"/missing was requested {n} times: a 404 must not be retried")

    # Transient errors: retried after growing delays, up to max_attempts.
    flaky = u("/flaky")[len(server.url):]
    statuses = [r["status"] for r in stats["requests"] if r["path"] == flaky]
    check(statuses == [503, 503, 200], f"/flaky answered {statuses}, expected 503, 503, 200")
    check_growing(retry_gaps(stats["requests"], flaky), policy, "/flaky")
    down = u("/down")[len(server.url):]
    tries = sum(r["path"] == down for r in stats["requests"])
    check(tries == policy["max_attempts"],
          f"/down was tried {tries} times; the policy allows {policy['max_attempts']:g}")
    check_growing(retry_gaps(stats["requests"], down), policy, "/down")
    (rec,) = [r for r in dead if r["payload"] in dead_exhausted]
    check(not rec["permanent"] and rec["attempts"] == policy["max_attempts"] and rec["reason"],
          f"/down died with {rec}; expected attempts {policy['max_attempts']:g}, with a reason")

    # The killed worker: its request was cut off, the URL came back, answered once.
    statuses = [r["status"] for r in stats["requests"] if r["path"] == slow_path]
    check(statuses == [-1, 200],
          f"/slow answered {statuses}: expected its first request cut off (-1), then 200")
    example.wait_line(f"{slow} taken again after the kill",
                      lambda s: s.startswith(prefix) and s.endswith("(attempt 2)"))

    # The second process parked every dead letter.
    for url in [*dead_permanent, *dead_exhausted]:
        example.wait_line(f"Dead Letter: {url}", lambda s: s.startswith(f"Dead Letter: {url} "))


def check_empty(fqctl):
    """Nothing left in any queue: nothing queued (shell lines included, which
    the counters do not count), nothing leased or waiting for a retry."""
    for path in ("input.fifo", "input.fifo.dlq", "output.fifo"):
        left = fqctl.drain(path)
        check(not left, f"{path} still held {left}")
        s = fqctl.stat(path)
        check(s["held"] == 0 and s["queued_msgs"] == 0,
              f"{path}: {s['held']} held, {s['queued_msgs']} queued at the end")


if __name__ == "__main__":
    sys.exit(main())
