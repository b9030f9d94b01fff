"""Writes fq/_errors.py, the Python exception classes, from core/errors.def.

    gen_errors.py ERRORS_DEF OUTPUT

errors.def is the one table of fq's errors; a new line there becomes a new
class here with no other edit. What only Python knows lives below: the
built-in exception each class also derives from, so `except TimeoutError`
or `except FileNotFoundError` works as it does for the standard library.
"""
import re
import sys

# Class name in errors.def -> the built-in it also derives from.
BUILTIN_BASES = {
    "InvalidArgument": "ValueError",
    "NotFound": "FileNotFoundError",
    "PermissionDenied": "PermissionError",
    "NotAFifo": "OSError",
    "Timeout": "TimeoutError",
    "WouldBlock": "BlockingIOError",
    "Interrupted": "InterruptedError",
    "BufferTooSmall": "ValueError",
    "MessageTooLarge": "ValueError",
    "Closed": "ValueError",  # as a closed file or multiprocessing.Queue
    "SystemError": "OSError",
    "OutOfMemory": "MemoryError",
    "WrongMode": "io.UnsupportedOperation",  # as writing a file opened for reading
    "SymbolicLink": "OSError",
    "NoSpace": "OSError",
    "InternalError": "RuntimeError",
}

HEADER = '''\
"""fq's exceptions. Generated from core/errors.def by gen_errors.py: do not edit."""
import builtins
import io
import os

__all__ = ["Error"{names}]


class Error(Exception):
    """Base class of every error fq raises. `code` is the C API's FQ_E* value."""

    code = 0


'''

FOOTER = '''

_BY_CODE = {{{by_code}}}


def _from_code(code, errno=0):
    """The exception for a negative FQ_E* code (called by the C module)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return Error(f"unknown fq error {{code}}")
    if cls is SystemError and errno:
        return cls(errno, f"{{cls.text}}: {{os.strerror(errno)}}")
    return cls(cls.text)
'''


def main(src, out):
    entries = []
    pattern = re.compile(r'^FQ_ERR\(([A-Z]+), *(-[0-9]+), *([A-Za-z]+), *"([^"]*)"\)')
    with open(src, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("FQ_ERR("):
                continue
            m = pattern.match(line)
            if not m:
                sys.exit(f"{src}: cannot parse: {line.rstrip()}")
            entries.append((m[1], int(m[2]), m[3], m[4]))
    unknown = set(BUILTIN_BASES) - {cls for _, _, cls, _ in entries}
    if unknown:
        sys.exit(f"gen_errors.py: BUILTIN_BASES names classes not in {src}: {sorted(unknown)}")

    text = HEADER.format(names="".join(f', "{cls}"' for _, _, cls, _ in entries))
    for name, value, cls, doc in entries:
        base = BUILTIN_BASES.get(cls)
        # fq.SystemError must not hide the built-in inside this module.
        base = "builtins." + base if base and "." not in base else base
        bases = f"Error, {base}" if base else "Error"
        text += f'class {cls}({bases}):\n    """FQ_E{name}: {doc}."""\n\n'
        text += f"    code = {value}\n    text = {doc!r}\n\n\n"
    text = text.rstrip("\n") + "\n\n"
    text += FOOTER.format(by_code=", ".join(f"{v}: {cls}" for _, v, cls, _ in entries))
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main(*sys.argv[1:])
