#!/usr/bin/env python3
"""Writes the C API's manual pages from fq.h, whose comments are the API's
documentation: one page per documented declaration, so nothing is said twice.

    gen_man3.py FQ_H OUT_DIR VERSION

Each doc comment in fq.h with the function declarations after it (up to the
next comment) becomes the page of its first function, OUT_DIR/man3/fq_xxx.3;
every other function of that group gets a page that is only `.so` of it, so
`man fq_msg_size` shows fq_msg_data's page. fq(3) gathers the conventions at
the top of the header, the flags, the error codes and an index of functions.
A struct a function takes (fq_opts, fq_stats, fq_policy) is shown on its page.
The date comes from SOURCE_DATE_EPOCH when set (Debian sets it from the
changelog), so the pages are reproducible.
"""
import datetime
import os
import re
import sys

FUNC = re.compile(r"FQ_API\s+(?P<ret>[^;(]*?)\b(?P<name>fq_\w+)\s*\((?P<args>[^)]*)\)\s*;")
STRUCT = re.compile(r"typedef struct (fq_\w+) \{")


def parse(text):
    """The header as a list of blocks: (comment lines, code lines)."""
    blocks, comment, code, in_comment = [], None, [], False
    for line in text.splitlines():
        stripped = line.strip()
        if in_comment:
            end = stripped.endswith("*/")
            body = stripped[:-2] if end else line.lstrip()
            # " * text": drop the star and one space, keep any further indent (code).
            body = re.sub(r"^\* ?", "", body)
            comment.append(body.rstrip())
            in_comment = not end
            continue
        if stripped.startswith("/*"):
            if comment is not None or code:
                blocks.append((comment or [], code))
            code = []
            first = stripped[2:]
            end = first.endswith("*/")
            comment = [(first[:-2] if end else first).strip()]
            in_comment = not end
            continue
        if stripped:
            code.append(line.rstrip())
    blocks.append((comment or [], code))
    return [(c[:-1] if c and c[-1] == "" else c, code) for c, code in blocks]


def functions(code):
    return [m.groupdict() for m in FUNC.finditer("\n".join(code))]


def esc(s):
    """Plain text for roff: backslashes, minus signs before digits and options."""
    s = s.replace("\\", "\\e")
    return re.sub(r"(?<![\w])-(?=[\w-])", r"\\-", s)


def inline(s, params=()):
    """Prose with `param` in italics and fq names in bold."""
    out = []
    for i, part in enumerate(re.split(r"`([^`]*)`", s)):
        if i % 2:
            out.append("\\fI" + esc(part) + "\\fP")
            continue
        part = esc(part)
        part = re.sub(r"\b(fq_\w+|FQ_[A-Z0-9_]+)\b", r"\\fB\1\\fP", part)
        if params:
            part = re.sub(r"\b(" + "|".join(map(re.escape, params)) + r")\b(?!\\fP)",
                          r"\\fI\1\\fP", part)
        out.append(part)
    text = "".join(out)
    return "\\&" + text if text[:1] in (".", "'") else text


def paragraphs(lines):
    """Comment lines as roff: blank lines part paragraphs, "- " items are
    bullets, lines indented by 3 or more are code."""
    out, prose = [], []

    def flush():
        if prose:
            out.append(("p", " ".join(prose)))
            prose.clear()

    for line in lines:
        if not line.strip():
            flush()
        elif out and out[-1][0] == "item" and not prose and line.startswith("   "):
            out[-1] = ("item", out[-1][1] + " " + line.strip())
        elif re.match(r"^ {2,}\S", line) and (not prose or prose[-1].endswith(":")):
            flush()
            out.append(("code", line.strip()))
        elif re.match(r"^ ?- ", line):
            flush()
            out.append(("item", line.strip()[2:]))
        else:
            prose.append(line.strip())
    flush()
    return out


def roff_paragraphs(lines, params=()):
    out, last = [], None
    for kind, text in paragraphs(lines):
        if kind == "code":
            if last != "code":
                out.append(".PP\n.EX")
            out.append(esc(text) if not text.startswith(".") else "\\&" + esc(text))
        else:
            if last == "code":
                out.append(".EE")
            out.append(".IP \\(bu 2" if kind == "item" else ".PP")
            out.append(inline(text, params))
        last = kind
    if last == "code":
        out.append(".EE")
    return "\n".join(out)


def summary(comment_lines, name):
    """The NAME line: the comment's first sentence, without asides."""
    text = " ".join(l.strip() for l in comment_lines if l.strip())
    first = re.split(r"(?<=[A-Za-z0-9)`])\.(\s|$)", text, 1)[0]
    first = re.sub(r"\s*\([^)]*\)", "", first).replace("`", "")
    if len(first) > 60 and ": " in first:  # "The one call for a failed message: by ..."
        first = first.split(": ", 1)[0]
    first = re.sub(r"^" + re.escape(name) + r"\b\s*", "", first).strip(" :;,")
    return first if re.match(r"[A-Z]{2}", first) else first[:1].lower() + first[1:]


class Header:
    def __init__(self, text):
        self.blocks = parse(text)
        self.structs = {}  # name -> (comment, code) of its typedef
        self.pages = []    # (comment, code, [functions])
        for comment, code in self.blocks:
            for m in STRUCT.finditer("\n".join(code)):
                self.structs[m.group(1)] = (comment, code)
            funcs = functions(code)
            if funcs:
                self.pages.append((comment, code, funcs))
        self.overview = self.blocks[0][0]
        self.enum = [l.strip() for l in text.splitlines() if re.match(r"\s+FQ_(OK|E[A-Z]+) = ", l)]
        self.flags = [l.strip() for l in text.splitlines()
                      if re.match(r"#define FQ_(READ|WRITE|CREATE|LINES|NONBLOCK|PERMANENT)\b", l)]
        self.names = [f["name"] for _, _, fs in self.pages for f in fs]


def th(name, section, version, date):
    return (f'.TH {name.upper()} {section} "{date}" "fq {version}" "fq manual"\n'
            ".\\\" Generated from fq.h by man/gen_man3.py: edit the comments in capi/fq.h.in.")


def prototype(f):
    """A prototype for .BI, as man-pages writes them: types bold, names italic."""
    ret = f["ret"].strip()
    words = [ret + ("" if ret.endswith("*") else " ") + f["name"] + "("]
    args = [a.strip() for a in f["args"].split(",")]
    for i, a in enumerate(args):
        m = re.match(r"^(.*?[\s*])(\w+)$", a)
        lead = ", " if i else ""
        if a == "void" or not m:
            words[-1] += lead + a
        else:
            words[-1] += lead + m.group(1)
            words += [m.group(2), ""]
    words[-1] += ");"
    return ".BI " + " ".join('"' + esc(w) + '"' for w in words)


def param_names(funcs):
    names = set()
    for f in funcs:
        for a in f["args"].split(","):
            m = re.match(r"^.*?(\w+)\s*$", a.strip())
            if m and a.strip() != "void":
                names.add(m.group(1))
    return sorted(names - {"void"}, key=len, reverse=True)


def function_page(h, comment, code, funcs, version, date):
    name = funcs[0]["name"]
    names = [f["name"] for f in funcs]
    params = param_names(funcs)
    text = " ".join(comment)
    ret_at = text.find("Returns ")
    body = comment
    returns = None
    if ret_at >= 0:
        # Split the comment where its "Returns ..." part starts.
        joined = "\n".join(comment)
        cut = joined.find("Returns ")
        body, returns = joined[:cut].rstrip().split("\n"), joined[cut:]
        if body == [""]:
            body = []
    out = [th(name, 3, version, date), ".SH NAME", ", ".join(names) + " \\- " + esc(summary(comment, name)),
           ".SH SYNOPSIS", ".nf", ".B #include <fq.h>", ".PP"]
    out += [prototype(f) for f in funcs]
    out += [".fi", ".PP", "Link with \\fI\\-lfq\\fP (\\fBpkg\\-config \\-\\-libs fq\\fP)."]
    out += [".SH DESCRIPTION", roff_paragraphs(body, params) if body else
            ".PP\n" + inline(summary(comment, name).capitalize() + ".", params)]
    used = [s for s in h.structs if re.search(r"\b" + s + r"\b", " ".join(f["args"] for f in funcs))
            and s not in ("fq_queue",)]
    for s in used:
        scomment, scode = h.structs[s]
        if not any("{" in l for l in scode):
            continue
        out += [".PP", inline(f"{s}:"), roff_paragraphs(scomment), ".PP\n.in +4n\n.EX"]
        out += [esc(l) for l in scode]
        out += [".EE\n.in"]
    if returns:
        out += [".SH RETURN VALUE", ".PP", inline(" ".join(returns.split()), params)]
    out += [".SH NOTES", ".PP",
            "The conventions every fq function follows (handles, timeouts, signals, threads, "
            "errors) are in \\fBfq\\fP(3)."]
    mentioned = {n for n in re.findall(r"\bfq_\w+", text) if n in h.names}
    # Functions on the same object (fq_dead_log, fq_policy) see each other.
    types = set(re.findall(r"\bfq_\w+", " ".join(f["args"] for f in funcs))) - {"fq_queue", "fq_msg"}
    for _, _, others in h.pages:
        if types & set(re.findall(r"\bfq_\w+", " ".join(f["args"] for f in others))):
            mentioned.add(others[0]["name"])
    mentioned = sorted(mentioned - set(names))
    see = ["fq(3)"] + [f"{n}(3)" for n in mentioned]
    out += [".SH SEE ALSO", ",\n".join(f".BR {s.split('(')[0]} ({s.split('(')[1]}" for s in see)]
    return "\n".join(out) + "\n"


def overview_page(h, version, date):
    out = [th("fq", 3, version, date), ".SH NAME", "fq \\- a message queue on a Linux named pipe",
           ".SH SYNOPSIS", ".nf", ".B #include <fq.h>", ".PP",
           ".B cc prog.c $(pkg\\-config \\-\\-cflags \\-\\-libs fq)", ".fi",
           ".SH DESCRIPTION", roff_paragraphs(h.overview[1:] if h.overview[0].startswith("fq")
                                              else h.overview)]
    out += [".SH FLAGS", ".PP", "For \\fBfq_open\\fP(3), and \\fBFQ_PERMANENT\\fP for \\fBfq_fail\\fP(3):"]
    for line in h.flags:
        m = re.match(r"#define (\w+) (\d+)\s*/\* (.*) \*/", line)
        out += [".TP", f".B {m.group(1)}", inline(m.group(3))]
    out += [".SH ERRORS", ".PP",
            "Every function returns 0 or one of these codes; \\fBfq_strerror\\fP(3) describes each."]
    for line in h.enum:
        m = re.match(r"(\w+) = (-?\d+),?\s*(?:/\* (.*) \*/)?", line)
        out += [".TP", f".BR {m.group(1)} \" ({esc(m.group(2))})\"", esc(m.group(3) or "success")]
    out += [".SH FUNCTIONS"]
    for comment, code, funcs in h.pages:
        for f in funcs:
            out += [".TP", f".BR {f['name']} (3)", esc(summary(comment, funcs[0]["name"]))]
    out += [".SH SEE ALSO", ".BR fqctl (1)"]
    return "\n".join(out) + "\n"


def main():
    header, out_dir, version = sys.argv[1:4]
    with open(header, encoding="utf-8") as f:
        h = Header(f.read())
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    date = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y-%m-%d") \
        if epoch else ""
    man3 = os.path.join(out_dir, "man3")
    os.makedirs(man3, exist_ok=True)
    for old in os.listdir(man3):  # a function removed from fq.h loses its page
        if old.endswith(".3"):
            os.remove(os.path.join(man3, old))
    pages = {"fq": overview_page(h, version, date)}
    for comment, code, funcs in h.pages:
        pages[funcs[0]["name"]] = function_page(h, comment, code, funcs, version, date)
        for f in funcs[1:]:
            pages[f["name"]] = f".so man3/{funcs[0]['name']}.3\n"
    for name, text in pages.items():
        with open(os.path.join(man3, name + ".3"), "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
