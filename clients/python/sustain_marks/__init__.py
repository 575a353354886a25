"""Mark the phases of a job measured by sustain, from Python, with the standard library only.

Inside ``sustain-measure -- python train.py`` the wrapper names a FIFO in ``SUSTAIN_MARKS``; each mark is one
line written to it without ever blocking (a full pipe or a missing wrapper drops the mark, the job goes on)::

    import sustain_marks

    with sustain_marks.phase("train", units=4096, unit="tokens"):
        ...

    @sustain_marks.phased("eval")
    def evaluate(): ...

    sustain_marks.event("checkpoint")
    sustain_marks.metric("accuracy", 0.913)   # a quality figure, plotted against energy by `report html`

In a deployed model's server that sustain-measured watches (``[[watch]]`` in its configuration) and that has no
Prometheus counter of its own, ``sustain_marks.count("llm", tokens)`` adds units of work (tokens, requests) to the
watch over the service's socket (``SUSTAIN_SOCKET``, default ``/run/sustain/sustain.sock``); it returns False, never
raises, when the service cannot take them.

Outside a measured job every call does nothing (``sustain_marks.active()`` says whether marks go anywhere), so a
script runs the same with and without sustain.
"""

import contextlib
import errno
import functools
import http.client
import json
import os
import socket
import stat
import urllib.parse

__all__ = ["active", "begin", "count", "end", "event", "metric", "phase", "phased"]
__version__ = "0.1.0"

_MAX_LINE = 4096  # PIPE_BUF: a write this size is atomic
_MAX_NAME = 128


def _path():
    path = os.environ.get("SUSTAIN_MARKS", "")
    return path or None


def active():
    """True when this process runs inside a measured job whose wrapper is reading marks."""
    path = _path()
    if path is None:
        return False
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def _check_name(name, what="name"):
    if not isinstance(name, str) or not name or len(name.encode("utf-8")) > _MAX_NAME:
        raise ValueError(f"{what} must be a non-empty str of at most {_MAX_NAME} bytes: {name!r}")
    if any(c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name):
        raise ValueError(f"{what} must be one word without control characters: {name!r}")
    return name


def _send(line):
    """Writes one mark; returns True when it was delivered. Never blocks, never raises for delivery."""
    path = _path()
    if path is None:
        return False
    data = (line + "\n").encode("utf-8")
    if len(data) > _MAX_LINE:
        return False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False  # no wrapper reads there (the job ended): nothing to mark
    try:
        return os.write(fd, data) == len(data)
    except OSError as error:
        if error.errno in (errno.EAGAIN, errno.EPIPE):
            return False  # a full pipe: the mark is dropped rather than slow the job
        raise
    finally:
        os.close(fd)


def begin(name):
    """Marks the start of phase ``name``; returns True when delivered."""
    return _send(f"begin {_check_name(name)}")


def end(name, units=None, unit=None):
    """Marks the end of phase ``name``, with the work it did (``units`` of ``unit``: tokens, samples, steps)."""
    line = f"end {_check_name(name)}"
    if units is not None:
        units = float(units)
        if not (0 <= units < 1e18):
            raise ValueError(f"units must be from 0 to 1e18: {units!r}")
        line += f" units={units!r}"
    if unit is not None:
        line += f" unit={_check_name(unit, 'unit')}"
    return _send(line)


def event(name):
    """Marks an instant (a checkpoint written, an evaluation started)."""
    return _send(f"event {_check_name(name)}")


def metric(name, value):
    """Records a quality metric of the run (accuracy, loss); the last value of a name wins."""
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"a metric must be a finite number: {value!r}")
    return _send(f"metric {_check_name(name)}={value!r}")


@contextlib.contextmanager
def phase(name, units=None, unit=None):
    """A phase around a block: ``with phase("train", units=n, unit="samples"):``. The end is marked even when the
    block raises. ``units`` may be set later through the yielded dict: ``with phase("x") as p: p["units"] = n``."""
    _check_name(name)
    work = {"units": units, "unit": unit}
    begin(name)
    try:
        yield work
    finally:
        end(name, work["units"], work["unit"])


def phased(name=None, units=None, unit=None):
    """A decorator: every call of the function is a phase (named after the function by default)."""

    def decorate(function):
        label = name or function.__name__

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with phase(label, units, unit):
                return function(*args, **kwargs)

        return wrapper

    return decorate


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def count(watch, units, socket_path=None, timeout=2.0):
    """Adds ``units`` of work (tokens, requests) served by this server to the service's watch ``watch``; True
    when the service took them. Never raises for delivery (a service that is down or refuses returns False)."""
    _check_name(watch, "watch")
    units = float(units)
    if not (0 <= units <= 1e15):
        raise ValueError(f"units must be from 0 to 1e15: {units!r}")
    path = socket_path or os.environ.get("SUSTAIN_SOCKET") or "/run/sustain/sustain.sock"
    body = json.dumps({"count": units})
    connection = _UnixConnection(path, timeout)
    try:
        connection.request(
            "POST", "/v1/watches/" + urllib.parse.quote(watch, safe="") + "/units", body,
            {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        connection.close()
