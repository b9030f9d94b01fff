"""The comparison suite: fq against what users would pick instead, in C,
Python and Ruby, side by side in one run on one machine (bench/README.md).

    run.py [--quick | --smoke] [--lang c,python,ruby] [--peers ID,...]
           [--sizes 64,4096,...] [--reps N] [--seconds S] [--build DIR] [--out DIR]

Each language has a runner that does one timed run of one peer in fresh
processes and prints it as JSON (bench/c/main.c, python/runner.py,
ruby/runner.rb). This script finds each peer's message count (a probe run
grown until it lasts a tenth of --seconds), repeats every point --reps
times, alternating the peers so that drift hits all alike, and writes
results.md, results.json and the plots into --out. A run that loses or
corrupts a message is reported and never credited with a speed; the exit
status is then 1.

--smoke: every peer once, at a few sizes, with a fixed small count and no
files written: the CI test of every peer's delivery, never of its speed.

--broker: instead of the local suite, fq over RabbitMQ against librabbitmq
and pika (broker.py), 1 -> 1 only, on the broker FQ_BROKER names or else on
a private node started for the run; writes broker.md and broker.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import broker

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [64, 4096, 65536, 1 << 20, 8 << 20, 64 << 20]
MANY = (4, 4, 4096)  # senders, receivers, size
PING = 64


def runners(args):
    """How to run each language's runner: its command and environment."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    py_env = dict(env, PYTHONPATH=os.path.join(args.build, "bindings", "python"))
    rb_lib = os.path.join(args.build, "bindings", "ruby", "lib")
    return {
        "c": ([os.path.join(args.build, "bench", "fq_bench")], env),
        "python": ([args.python, os.path.join(HERE, "python", "runner.py")], py_env),
        "ruby": ([args.ruby, "-I", rb_lib, os.path.join(HERE, "ruby", "runner.rb")], env),
    }


def list_peers(cmd, env, lang):
    """(id, name) of every peer the runner has; a runner that cannot start
    (a missing module, a missing build) fails the whole suite here."""
    p = subprocess.run(cmd + ["--list"], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"run.py: the {lang} runner cannot start:\n{p.stderr}")
    return [tuple(line.split("\t", 1)) for line in p.stdout.splitlines()]


def run_once(cmd, env, argv, timeout):
    """One run, as the runner's JSON; a crash or a hang is an "error"."""
    try:
        p = subprocess.run(cmd + argv, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": f"no answer after {timeout:.0f} s"}
    try:
        result = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        result = {"status": "error"}
    if p.returncode != 0 or result["status"] not in ("ok", "na"):
        result["error"] = (p.stderr.strip() or f"exit status {p.returncode}")[-400:]
        print(f"  {' '.join(cmd[-1:] + argv)}: {result['status']}: {result['error']}",
              file=sys.stderr)
    return result


def calibrate(cmd, env, point, args):
    """Messages per sender so that a run lasts about --seconds; None if the
    peer cannot run (or failed) here, and then that probe's result."""
    senders, receivers, size = point
    count = broker.FIRST_COUNT if args.broker else max(2, (4 << 20) // size // senders)
    while True:
        r = run_once(cmd, env, ["throughput", str(size), str(senders), str(receivers), str(count)],
                     timeout=60 + 20 * args.seconds)
        if r["status"] != "ok":
            return None, r
        took = max(r["seconds"], 1e-6)
        if took >= args.seconds / 10 or count >= 10**9:
            return max(2, int(count * args.seconds / took)), r
        count *= 16 if took * 16 < args.seconds / 10 else max(2, int(args.seconds / 10 / took * 1.5))


def throughput_point(lang, cmd, env, peers, point, args):
    """Every peer of one language at one point: calibrated, then --reps runs
    each, alternating."""
    senders, receivers, size = point
    counts, results = {}, {pid: [] for pid, _ in peers}
    for pid, _ in peers:
        if args.smoke:
            # Fewer than ZeroMQ's high-water mark (1000): a PULL socket whose
            # queue is full when its sender disconnects drops what is still
            # in flight (bench/README.md), and the smoke test checks our
            # counting, deterministically, not that.
            counts[pid] = max(4, min(500, (8 << 20) // size // senders))
        else:
            counts[pid], probe = calibrate(cmd + [pid], env, point, args)
            if counts[pid] is None:
                results[pid].append(probe)
    for _ in range(1 if args.smoke else args.reps):
        for pid, _ in peers:
            if counts[pid] is not None:
                argv = ["throughput", str(size), str(senders), str(receivers), str(counts[pid])]
                results[pid].append(run_once(cmd + [pid], env, argv, 60 + 20 * args.seconds))
    return results


def latency_point(lang, cmd, env, peers, args):
    seconds = 0.05 if args.smoke else args.seconds
    results = {pid: [] for pid, _ in peers}
    for _ in range(1 if args.smoke else args.reps):
        for pid, _ in peers:
            results[pid].append(run_once(cmd + [pid], env, ["latency", str(seconds)], 60 + 5 * seconds))
    return results


def summarise(runs):
    """The median and range of a point's runs; a point with any run that did
    not deliver every message is flagged, not credited."""
    bad = [r for r in runs if r["status"] not in ("ok", "na")]
    if bad:
        r = bad[0]
        return {"status": r["status"], "error": r.get("error", ""),
                "received": r.get("received"), "messages": r.get("messages")}
    if runs[0]["status"] == "na":
        return {"status": "na", "na": runs[0]["na"]}
    def med(f):
        return statistics.median(f(r) for r in runs)
    rates = [r["messages"] / r["seconds"] for r in runs]
    s = {
        "status": "ok",
        "reps": len(runs),
        "msgs_per_s": statistics.median(rates),
        "msgs_per_s_range": [min(rates), max(rates)],
        "mb_per_s": statistics.median(rates) * runs[0]["size"] / 1e6,
        "cpu_us_per_msg": med(lambda r: (r["cpu_send_s"] + r["cpu_recv_s"]) / r["messages"] * 1e6),
        "rss_send_mb": med(lambda r: r["rss_send_kb"] / 1024),
        "rss_recv_mb": med(lambda r: r["rss_recv_kb"] / 1024),
        "messages": runs[0]["messages"],
    }
    if "p50_us" in runs[0]:
        s["p50_us"], s["p99_us"] = med(lambda r: r["p50_us"]), med(lambda r: r["p99_us"])
        s["p50_us_range"] = [min(r["p50_us"] for r in runs), max(r["p50_us"] for r in runs)]
    notes = sorted({r["note"] for r in runs if r.get("note")})
    if notes:
        s["note"] = "; ".join(notes)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 run of 0.3 s per point")
    ap.add_argument("--smoke", action="store_true", help="delivery only: fixed small counts, no files")
    ap.add_argument("--lang", default="c,python,ruby")
    ap.add_argument("--peers", default="", help="only these peer ids (runner --list shows them)")
    ap.add_argument("--sizes", default="", help="1 -> 1 sizes in bytes")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--python", default="/usr/bin/python3", help="Debian's, with its modules")
    ap.add_argument("--ruby", default="/usr/bin/ruby", help="the Ruby fq was built for")
    ap.add_argument("--out", help="default bench/results; with --quick, BUILD/bench/results-quick")
    ap.add_argument("--broker", action="store_true",
                    help="fq over RabbitMQ against librabbitmq and pika instead (bench/README.md)")
    args = ap.parse_args()
    if args.broker:
        broker.use_node()  # runs run.py again under a private node unless FQ_BROKER is set
    if args.quick:
        args.reps, args.seconds = 1, 0.3
    if args.out is None:  # a quick run never overwrites the full run's results
        quick = os.path.join(args.build, "bench", "results-quick")
        args.out = quick if args.quick else os.path.join(HERE, "results")
    default_sizes = broker.SIZES if args.broker else SIZES
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else default_sizes
    if args.smoke and not args.sizes:
        sizes = [64, 65536, 1 << 20]
    if not args.smoke:
        import report  # here, not at the end: a missing matplotlib fails before the runs

    only = set(filter(None, args.peers.split(",")))
    all_runners = runners(args)
    started = time.monotonic()
    points = []  # every measured point, summarised
    for lang in args.lang.split(","):
        cmd, env = all_runners[lang]
        peers = [(pid, name) for pid, name in list_peers(cmd, env, lang)
                 if (not only or pid in only) and broker.is_broker_peer(pid) == args.broker]
        if not peers:
            continue
        names = dict(peers)
        workloads = [("throughput", (1, 1, s)) for s in sizes]
        if not args.broker:
            workloads += [("throughput", MANY), ("latency", None)]
        for workload, point in workloads:
            label = "latency" if point is None else f"{point[0]}x{point[1]} {point[2]} B"
            print(f"{lang}: {label}", file=sys.stderr, flush=True)
            if point is None:
                results = latency_point(lang, cmd, env, peers, args)
            else:
                results = throughput_point(lang, cmd, env, peers, point, args)
            for pid, runs in results.items():
                senders, receivers, size = point or (1, 1, PING)
                points.append({"lang": lang, "peer": pid, "name": names[pid], "workload": workload,
                               "size": size, "senders": senders, "receivers": receivers,
                               **summarise(runs), "runs": runs})
    elapsed = time.monotonic() - started
    failed = [p for p in points if p["status"] not in ("ok", "na")]
    for p in failed:
        print(f"run.py: {p['lang']} {p['name']} {p['workload']} {p['senders']}x{p['receivers']} "
              f"{p['size']} B: {p['status'].upper()} {p.get('error', '')}", file=sys.stderr)
    if not args.smoke:
        (broker.write if args.broker else report.write)(args.out, points, elapsed, sys.argv[1:],
                                                         args.reps, args.seconds)
    print(f"run.py: {len(points)} points, {len(failed)} failed, {elapsed:.0f} s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
