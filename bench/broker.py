"""The broker comparison (issue 10, "Speed"; bench/README.md, "Over a
broker"): fq over RabbitMQ against the bare client used the same way,
librabbitmq in C and pika in Python. run.py --broker runs it with the
suite's runners, calibration and repetitions; this module holds what is
particular to it: its peers and sizes, the RabbitMQ node, and its tables
(broker.md, broker.json).
"""

import datetime
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WITH_RABBITMQ = os.path.join(HERE, "..", "tests", "broker", "with_rabbitmq.sh")

# Each fq peer over the broker and the bare client it is measured against.
PAIRS = {
    "c": [("fq-broker", "librabbitmq")],
    "python": [("fq-queue-broker", "pika"), ("fq-raw-broker", "pika")],
}
PEERS = {pid for pairs in PAIRS.values() for pair in pairs for pid in pair}

# 1 -> 1 only. Not 8 MiB or 64 MiB: RabbitMQ's max_message_size is 128 MiB
# and its documentation advises messages far smaller; a quorum queue writes
# every message to its write-ahead log and keeps it in the Raft log in
# memory, and fq's default room (256 MiB, x-max-length-bytes) would hold
# four 64 MiB messages. Past a few MiB the run measures the broker's disk,
# not the client.
SIZES = [64, 4096, 65536, 1 << 20]

# Messages in the first probe run: a confirmed publish is one round trip
# and a quorum write (hundreds to a few thousand a second), where the local
# suite's first probe (4 MiB worth) would take a minute at 64 B.
FIRST_COUNT = 20


def is_broker_peer(pid):
    return pid in PEERS


def use_node():
    """Runs this run.py again under with_rabbitmq.sh (a private node: its own
    name, ports and data in a temporary directory, stopped at the end),
    unless FQ_BROKER already names a broker."""
    if os.environ.get("FQ_BROKER"):
        return
    script = os.path.realpath(WITH_RABBITMQ)
    run_py = os.path.join(HERE, "run.py")
    print("run.py --broker: starting a private RabbitMQ node", file=sys.stderr, flush=True)
    os.execv(script, [script, sys.executable, run_py] + sys.argv[1:])


def _rates(point):
    return [r["messages"] / r["seconds"] for r in point["runs"]]


def _cpu(point):
    return statistics.median((r["cpu_send_s"] + r["cpu_recv_s"]) / r["messages"] * 1e6
                             for r in point["runs"])


def comparisons(points):
    """For each fq peer and size, fq against its bare client: medians, the
    ratio of medians (fq / bare, messages/s) and the range of the ratios of
    the runs made side by side (run i of each: the peers alternate, so a
    pair saw the same moment of the machine)."""
    by = {(p["lang"], p["peer"], p["size"]): p for p in points}
    rows = []
    for lang, pairs in PAIRS.items():
        for fq_id, bare_id in pairs:
            for size in sorted({p["size"] for p in points if p["lang"] == lang}):
                f, b = by.get((lang, fq_id, size)), by.get((lang, bare_id, size))
                if f is None or b is None:
                    continue
                row = {"lang": lang, "fq": f["name"], "bare": b["name"], "size": size,
                       "fq_status": f["status"], "bare_status": b["status"]}
                if f["status"] == "ok" and b["status"] == "ok":
                    fr, br = _rates(f), _rates(b)
                    paired = [x / y for x, y in zip(fr, br)]
                    row.update(
                        fq_msgs_per_s=f["msgs_per_s"], fq_range=f["msgs_per_s_range"],
                        bare_msgs_per_s=b["msgs_per_s"], bare_range=b["msgs_per_s_range"],
                        fq_mb_per_s=f["mb_per_s"], bare_mb_per_s=b["mb_per_s"],
                        ratio=f["msgs_per_s"] / b["msgs_per_s"],
                        paired_ratios=paired, paired_median=statistics.median(paired),
                        fq_cpu_us=_cpu(f), bare_cpu_us=_cpu(b), reps=len(fr))
                rows.append(row)
    return rows


def _size(size):
    return next((f"{size >> s} {u}" for s, u in ((20, "MiB"), (10, "KiB")) if size >= 1 << s),
                f"{size} B")


def table(rows):
    out = ["| language | fq | against | size | fq msg/s (range) | bare msg/s (range) "
           "| fq MB/s | bare MB/s | fq / bare, medians | paired runs: median (range) "
           "| client CPU µs/msg, fq / bare |",
           "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    langs = {"c": "C", "python": "Python"}
    for r in rows:
        head = f"| {langs[r['lang']]} | {r['fq']} | {r['bare']} | {_size(r['size'])} |"
        if "ratio" not in r:
            out.append(head + f" {r['fq_status'].upper()} | {r['bare_status'].upper()} |"
                       + " |" * 5)
            continue
        lo, hi = min(r["paired_ratios"]), max(r["paired_ratios"])
        out.append(
            head + f" {r['fq_msgs_per_s']:.0f} ({r['fq_range'][0]:.0f}–{r['fq_range'][1]:.0f}) |"
            f" {r['bare_msgs_per_s']:.0f} ({r['bare_range'][0]:.0f}–{r['bare_range'][1]:.0f}) |"
            f" {r['fq_mb_per_s']:.2f} | {r['bare_mb_per_s']:.2f} | {r['ratio']:.2f} |"
            f" {r['paired_median']:.2f} ({lo:.2f}–{hi:.2f}) |"
            f" {r['fq_cpu_us']:.0f} / {r['bare_cpu_us']:.0f} |")
    return "\n".join(out)


METHOD = """\
fq's broker transport against the bare client doing the same per message:
a durable quorum queue with the arguments fq gives it, a persistent,
mandatory publish whose confirm is awaited before the next, basic.get polled
(1 ms doubling to 32 ms when empty) and an ack per message
(bench/c/peer_broker.c, bench/python/peers_broker.py say exactly what is
matched). One sender and one receiver, each a fresh process with its own
connection, on a private RabbitMQ node on this machine
(tests/broker/with_rabbitmq.sh). As in the local suite, a probe run sets
each peer's count so that a run lasts about {seconds:g} s, then {reps} runs
per point, alternating the peers; every message is counted and checked. "fq
/ bare" is the ratio of the medians of messages/s (1.00: no overhead; the
issue's target is at least 0.90). "Paired runs" are the ratios of the runs
made side by side (run i of each). Client CPU is user+sys of the sending
and receiving processes per message (the broker's own CPU is not in it).
MB = 10^6 bytes."""


def write(out_dir, points, elapsed, argv, reps, seconds):
    os.makedirs(out_dir, exist_ok=True)
    rows = comparisons(points)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["scripts/bench"] + argv)
    with open(os.path.join(out_dir, "broker.json"), "w") as f:
        json.dump({"date": date, "command": command, "elapsed_s": round(elapsed), "reps": reps,
                   "seconds": seconds, "cpus": os.cpu_count(), "comparisons": rows,
                   "points": points}, f, indent=1)
    md = [f"# fq over RabbitMQ against the bare clients: {date}", "",
          f"`{command}`: {len(points)} points in {elapsed / 60:.1f} min, "
          f"{os.cpu_count()} CPUs shared by the broker, the sender and the receiver.", "",
          METHOD.format(reps=reps, seconds=seconds), "", table(rows), ""]
    with open(os.path.join(out_dir, "broker.md"), "w") as f:
        f.write("\n".join(md))
