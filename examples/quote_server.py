#!/usr/bin/env python3
"""A tiny quote server for the dead-letter examples, so they run without the
internet: HTTP on 127.0.0.1, standard library only.

    GET /quote...    200 {"quote": "..."}
    GET /flaky...    503 twice, then 200 {"quote": ...}
    GET /down...     always 503: retried until the attempts run out
    GET /slow...     the first request hangs until its client goes away (or
                     --hang seconds pass); later ones answer at once. A worker
                     can be killed in the middle of this request.
    GET /missing...  and any other path: 404 {"error": "not found"}
    GET /stats       what was asked, for tests: {"requests": [{"path", "t",
                     "status"}...], "in_flight": [path...], "quotes": {path: quote}}

Each full path (query included) counts on its own, so /flaky?id=1 and
/flaky?id=2 each fail twice, and each path keeps one quote: a URL answered
twice gets the same quote both times (a duplicate in output.fifo shows).

    python3 examples/quote_server.py [--port 8000] [--host 127.0.0.1] [--hang 60]

It prints one line, the address it listens on, and then nothing per request.
--port 0 picks a free port (the line says which).
"""
import argparse
import http.server
import json
import select
import sys
import threading
import time

QUOTES = [
    "Simplicity is prerequisite for reliability.",
    "Make it work, make it right, make it fast.",
    "The cheapest, fastest and most reliable components are those that aren't there.",
    "Errors should never pass silently.",
    "If it hurts, do it more often.",
    "Premature optimization is the root of all evil.",
    "Everything fails, all the time.",
    "Debugging is twice as hard as writing the code in the first place.",
    "There are only two hard things: cache invalidation and naming things.",
    "A queue is a promise to do it later.",
    "Retry with backoff, or you are the outage.",
    "Dead letters tell you what you have not thought of yet.",
]
FLAKY_FAILURES = 2


class State:
    """What the server has seen, shared by its request threads."""

    def __init__(self, hang):
        self.hang = hang
        self.lock = threading.Lock()
        self.requests = []  # {"path", "t" (monotonic seconds), "status"}
        self.in_flight = []  # paths being answered now
        self.counts = {}  # path -> requests so far
        self.quotes = {}  # path -> its quote, one per path

    def arrive(self, path):
        with self.lock:
            self.counts[path] = self.counts.get(path, 0) + 1
            self.in_flight.append(path)
            return self.counts[path]

    def leave(self, path, status, t):
        with self.lock:
            self.in_flight.remove(path)
            self.requests.append({"path": path, "t": t, "status": status})

    def quote(self, path):
        with self.lock:
            if path not in self.quotes:
                n = len(self.quotes)
                text = QUOTES[n % len(QUOTES)]
                if n >= len(QUOTES):  # keep every path's quote distinct
                    text += f" ({n // len(QUOTES) + 1})"
                self.quotes[path] = text
            return self.quotes[path]

    def snapshot(self):
        with self.lock:
            return {
                "requests": list(self.requests),
                "in_flight": list(self.in_flight),
                "quotes": dict(self.quotes),
            }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection: a killed client ends it

    def do_GET(self):
        state = self.server.state
        path = self.path
        if path == "/stats":
            self.reply(200, state.snapshot())
            return
        t = time.monotonic()  # when the request arrived, for the tests' delays
        n = state.arrive(path)
        status = 0
        try:
            route = path.split("?", 1)[0]
            if route == "/quote":
                status = self.reply(200, {"quote": state.quote(path)})
            elif route == "/flaky":
                if n <= FLAKY_FAILURES:
                    status = self.reply(503, {"error": f"flaky: failure {n} of {FLAKY_FAILURES}"})
                else:
                    status = self.reply(200, {"quote": state.quote(path)})
            elif route == "/down":
                status = self.reply(503, {"error": "down"})
            elif route == "/slow":
                if n == 1 and self.hang_until_client_leaves():
                    status = -1  # the client went away: nothing to answer
                else:
                    status = self.reply(200, {"quote": state.quote(path)})
            else:
                status = self.reply(404, {"error": "not found"})
        finally:
            state.leave(path, status, t)

    def hang_until_client_leaves(self):
        """Waits until the client closes the connection (True) or --hang
        seconds pass (False). A client sends nothing more after its request,
        so the socket turns readable only at its end."""
        ready, _, _ = select.select([self.connection], [], [], self.server.state.hang)
        return bool(ready)

    def reply(self, status, body):
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            return -1  # the client is gone
        return status

    def log_message(self, format, *args):
        pass  # quiet: the examples tell the story


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000, help="0: any free port (default 8000)")
    ap.add_argument("--hang", type=float, default=60.0,
                    help="longest a first /slow request waits, in seconds (default 60)")
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.state = State(args.hang)
    host, port = server.server_address[:2]
    print(f"quote server on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
