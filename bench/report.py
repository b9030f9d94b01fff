"""Writes a suite's results: results.json (every run), results.md (the
tables) and PNG plots, into one directory."""

import datetime
import json
import os
import platform
import resource

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

LANGS = {"c": "C", "python": "Python", "ruby": "Ruby"}


def machine():
    def read(path):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return "?"

    cpu = next((line.split(":", 1)[1].strip() for line in read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), "?")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "kernel": platform.release(),
        "pipe_max_size": read("/proc/sys/fs/pipe-max-size"),
        "mqueue_msgsize_max": read("/proc/sys/fs/mqueue/msgsize_max"),
        "rlimit_msgqueue": resource.getrlimit(resource.RLIMIT_MSGQUEUE)[0],
        "wmem_max": read("/proc/sys/net/core/wmem_max"),
    }


def is_fq(point):
    return point["peer"].startswith("fq")


def size_label(size):
    return next((f"{size >> s} {u}" for s, u in ((20, "MiB"), (10, "KiB")) if size >= 1 << s),
                f"{size} B")


def label(point):
    if point["workload"] == "latency":
        return "ping-pong 64 B"
    return f"{point['senders']}→{point['receivers']}, {size_label(point['size'])}"


def add_ratios(points):
    """Each metric also as a ratio to the best alternative (a peer that is not
    fq) in the same language and workload: above 1 is more, below 1 is less."""
    metrics = {"msgs_per_s": max, "mb_per_s": max, "cpu_us_per_msg": min, "rss_mb": min, "p50_us": min, "p99_us": min}
    for p in points:
        if p["status"] == "ok":
            p["rss_mb"] = p["rss_send_mb"] + p["rss_recv_mb"]
    for p in points:
        if p["status"] != "ok":
            continue
        others = [q for q in points if q["lang"] == p["lang"] and label(q) == label(p)
                  and q["status"] == "ok" and not is_fq(q)]
        for metric, best in metrics.items():
            values = [q[metric] for q in others if metric in q]
            if metric in p and values:
                p[metric + "_ratio"] = p[metric] / best(values)


def cell(p, metric, fmt):
    if p["status"] == "na":
        return "n/a"
    if p["status"] != "ok":
        got = f" {p['received']}/{p['messages']}" if p.get("received") is not None else ""
        return f"**{p['status'].upper()}**{got}"
    ratio = p.get(metric + "_ratio")
    text = fmt.format(p[metric])
    return f"{text} ({ratio:.2f}x)" if ratio is not None else text


def table(points, lang, metric, fmt, workloads):
    rows = {}
    for p in points:
        if p["lang"] == lang and p["workload"] in workloads:
            rows.setdefault(p["name"], {})[label(p)] = p
    columns = list(dict.fromkeys(label(p) for p in points
                                 if p["lang"] == lang and p["workload"] in workloads))
    out = ["| peer | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
    for name, cells in rows.items():
        out.append(f"| {name} | " + " | ".join(cell(cells[c], metric, fmt) if c in cells else ""
                                              for c in columns) + " |")
    return "\n".join(out)


def latency_table(points, lang):
    out = ["| peer | p50 µs | p99 µs |", "| --- | ---: | ---: |"]
    for p in points:
        if p["lang"] == lang and p["workload"] == "latency":
            out.append(f"| {p['name']} | {cell(p, 'p50_us', '{:.1f}')} | {cell(p, 'p99_us', '{:.1f}')} |")
    return "\n".join(out)


def details(points):
    out = ["| language | peer | workload | msg/s | range msg/s | MB/s | CPU µs/msg | RSS MB send / recv | status |",
           "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | --- |"]
    for p in points:
        if p["status"] == "ok" and p["workload"] == "throughput":
            lo, hi = p["msgs_per_s_range"]
            out.append(f"| {LANGS[p['lang']]} | {p['name']} | {label(p)} | {p['msgs_per_s']:.0f} | "
                       f"{lo:.0f}–{hi:.0f} | {p['mb_per_s']:.1f} | {p['cpu_us_per_msg']:.2f} | "
                       f"{p['rss_send_mb']:.1f} / {p['rss_recv_mb']:.1f} | ok{notes(p)} |")
        elif p["status"] == "ok":
            lo, hi = p["p50_us_range"]
            out.append(f"| {LANGS[p['lang']]} | {p['name']} | {label(p)} | p50 {p['p50_us']:.1f} µs | "
                       f"p50 {lo:.1f}–{hi:.1f} µs | p99 {p['p99_us']:.1f} µs | {p['cpu_us_per_msg']:.2f} | "
                       f"{p['rss_send_mb']:.1f} / {p['rss_recv_mb']:.1f} | ok |")
        else:
            why = p.get("na") or p.get("error", "").replace("\n", " ").replace("|", "/")[-160:]
            out.append(f"| {LANGS[p['lang']]} | {p['name']} | {label(p)} | | | | | | "
                       f"{p['status']}: {why} |")
    return "\n".join(out)


def notes(p):
    return f" ({p['note']})" if p.get("note") else ""


def plot_throughput(points, lang, path):
    fig, ax = plt.subplots(figsize=(8, 5))
    for name in dict.fromkeys(p["name"] for p in points if p["lang"] == lang):
        line = [p for p in points if p["lang"] == lang and p["name"] == name
                and p["workload"] == "throughput" and p["senders"] == 1 and p["status"] == "ok"]
        if line:
            fq = is_fq(line[0])
            ax.plot([p["size"] for p in line], [p["mb_per_s"] for p in line], marker="o",
                    linestyle="-" if fq else "--", linewidth=2.5 if fq else 1.2, label=name)
    ax.set_xscale("log", base=2)
    sizes = sorted({p["size"] for p in points if p["lang"] == lang and p["senders"] == 1
                    and p["workload"] == "throughput"})
    ax.set_xticks(sizes, [size_label(size) for size in sizes])
    ax.set_yscale("log")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("MB/s, 1 sender → 1 receiver (median)")
    ax.set_title(f"{LANGS[lang]}: throughput by message size (fq solid; lost or n/a points left out)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_latency(points, path):
    ok = [p for p in points if p["workload"] == "latency" and p["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(ok) + 1.2))
    names = [f"{LANGS[p['lang']]}: {p['name']}" for p in ok]
    ax.barh(names, [p["p50_us"] for p in ok], color=["tab:blue" if is_fq(p) else "tab:gray" for p in ok])
    ax.invert_yaxis()
    ax.set_xlabel("round trip p50, 64 B, both ends on one CPU (µs)")
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


METHOD = """\
Every run is a fresh process tree: the language's runner starts, imports the
same modules for every peer, and forks the senders and receivers, which open
their ends (receiving ends first) and start together on a pipe. No message
buffer is allocated before the fork and there is no warm-up, so every peer
meets the allocator in the same state: fresh processes (in Python a
process that has already freed multi-megabyte buffers runs 2-4x apart from a
fresh one). Each point: a probe run grown until it lasts a tenth of the run
time sets the message count, then {reps} runs of about {seconds:g} s,
alternating the peers; the median is shown. A run counts and checks every
message (C: sender, sequence number and last byte; Python and Ruby: length,
type and both ends); a point where any run lost, corrupted or failed shows
LOST, CORRUPT or ERROR with what arrived, and no speed. CPU is user+sys of
every sending and receiving process (wait4) per message; RSS is the largest
peak (ru_maxrss) among the senders plus that among the receivers. Ratios are
to the best alternative (the best peer that is not fq) in the same language
and workload: above 1 is more, below 1 less. MB = 10^6 bytes."""


def write(out_dir, points, elapsed, argv, reps, seconds):
    os.makedirs(out_dir, exist_ok=True)
    add_ratios(points)
    info = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "command": " ".join(["scripts/bench"] + argv),
            "elapsed_s": round(elapsed), "reps": reps, "seconds": seconds, "points": points}
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(info, f, indent=1)
    m = info["machine"]
    md = [f"# fq against the alternatives: {info['date']}", "",
          f"`{info['command']}`: {len(points)} points in {elapsed / 60:.1f} min. "
          f"{m['cpus']} CPUs ({m['cpu_model']}), Linux {m['kernel']}, pipe-max-size "
          f"{m['pipe_max_size']}, fs.mqueue.msgsize_max {m['mqueue_msgsize_max']}, "
          f"RLIMIT_MSGQUEUE {m['rlimit_msgqueue']}, net.core.wmem_max {m['wmem_max']}.", "",
          METHOD.format(reps=reps, seconds=seconds), ""]
    tput = ("throughput",)
    for lang in dict.fromkeys(p["lang"] for p in points):
        md += [f"## {LANGS[lang]}", "", "MB/s (× best alternative):", "",
               table(points, lang, "mb_per_s", "{:.0f}", tput), "",
               "messages/s (× best alternative):", "",
               table(points, lang, "msgs_per_s", "{:.0f}", tput), "",
               "CPU µs per message, both sides (× best alternative; lower is better):", "",
               table(points, lang, "cpu_us_per_msg", "{:.2f}", tput), "",
               "peak RSS MB, sender + receiver (× best alternative; lower is better):", "",
               table(points, lang, "rss_mb", "{:.0f}", tput), "",
               "round trip, 64 B, both ends on one CPU, µs (× best alternative; lower is better):", "",
               latency_table(points, lang), "",
               f"![{LANGS[lang]} throughput](throughput-{lang}.png)", ""]
        plot_throughput(points, lang, os.path.join(out_dir, f"throughput-{lang}.png"))
    plot_latency(points, os.path.join(out_dir, "latency.png"))
    md += ["## Latency", "", "![latency](latency.png)", "", "## Every point", "", details(points), ""]
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write("\n".join(md))
