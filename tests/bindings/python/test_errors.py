"""The exception classes: one per line of core/errors.def, in a small hierarchy."""
import errno
import os
import re

import pytest

import fq
from fq import _errors, _fq


def _table():
    with open(os.environ["FQ_ERRORS_DEF"], encoding="utf-8") as f:
        return re.findall(r'^FQ_ERR\(([A-Z]+), *(-[0-9]+), *([A-Za-z]+), *"([^"]*)"\)', f.read(), re.M)


def test_every_error_of_the_table_is_a_class():
    table = _table()
    assert len(table) >= 17
    for name, value, cls_name, text in table:
        cls = getattr(fq, cls_name)
        assert issubclass(cls, fq.Error) and cls.code == int(value) == getattr(_fq, "FQ_E" + name)
        assert _fq.fq_strerror(int(value)) == text == cls.text
        e = _errors._from_code(int(value))
        assert type(e) is cls and str(e).endswith(text)


def test_standard_bases():
    assert issubclass(fq.Timeout, TimeoutError)
    assert issubclass(fq.NotFound, FileNotFoundError)
    assert issubclass(fq.PermissionDenied, PermissionError)
    assert issubclass(fq.InvalidArgument, ValueError)
    assert issubclass(fq.Closed, ValueError)
    assert issubclass(fq.OutOfMemory, MemoryError)
    assert fq.SystemError is not SystemError and issubclass(fq.SystemError, OSError)


def test_system_error_keeps_errno():
    e = _errors._from_code(_fq.FQ_ESYS, errno.ENOSPC)
    assert isinstance(e, fq.SystemError) and e.errno == errno.ENOSPC
    assert os.strerror(errno.ENOSPC) in str(e)


def test_unknown_code():
    e = _errors._from_code(-999)
    assert type(e) is fq.Error and "-999" in str(e)


def test_open_errors_name_the_path(tmp_path):
    regular = tmp_path / "file"
    regular.write_text("")
    with pytest.raises(fq.NotAFifo, match=str(regular)):
        fq.Queue(str(regular))
    link = tmp_path / "link"
    os.symlink(tmp_path / "elsewhere", link)
    with pytest.raises(fq.SymbolicLink):
        fq.Queue(link)
    with pytest.raises(fq.NotFound):
        fq.unlink(tmp_path / "missing")


def test_version():
    assert fq.version() == tuple(int(x) for x in re.findall(r"\d+", "%d.%d.%d" % (
        _fq.FQ_VERSION_MAJOR, _fq.FQ_VERSION_MINOR, _fq.FQ_VERSION_PATCH)))
