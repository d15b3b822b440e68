# drvtap.py -- what every Python driver script of the driver matrix shares: its command line,
# TAP-like output (one "ok N - case" or "not ok N - case" line per case, "# " lines saying
# why, "1..N" at the end, exit 1 on any failure), the test values and a barrier with a bound.
#
# A case is a function that raises on the first wrong result; the next case runs anyway, on
# a connection of its own: every connection a case opens goes through track(), and whatever a
# failed case left open is closed before the next starts (a client left in a transaction would
# hold one of the pool's servers).
import hashlib
import os
import sys
import time
import traceback
from datetime import datetime
from decimal import Decimal

USAGE = "usage: %s HOST PORT USER PASSWORD DBNAME session|transaction"

# The parameters every driver sends and reads back: (column, value).
TEXT = "grüße, 東京, ✓ naïve"
BIGINT = 9007199254740993  # 2^53 + 1: wrong if a driver goes through a double
NUMERIC = Decimal("12345678.901234")
TIMESTAMP = datetime(2024, 2, 29, 13, 45, 56, 123456)
BYTES = bytes(range(256)) * 4

CLIENTS = 12  # concurrent connections on a pool of 3 servers
# Each concurrent transaction stores a 64 KiB value: a statement bigger than a pooler's I/O
# buffer (weir's are 32 KiB) that arrives while its client waits for a server.
BLOB = bytes(range(256)) * 256
TXNS = 5  # transactions each
ROWS = 50000  # rows of the large result
# The large value: TEXT repeated by the server to 5 MB (a result bigger than any buffer),
# and a 1 MiB parameter the server hashes.
BIG_REPEAT = 5 * 1024 * 1024 // len(TEXT.encode()) + 1
BIG_TEXT = TEXT * BIG_REPEAT
UPLOAD = 1024 * 1024


_opened = []


def track(c, close=None):
    """Remember a connection (and how to close it) for the end of the current case."""
    _opened.append(close or c.close)
    return c


def args():
    if len(sys.argv) != 7 or sys.argv[6] not in ("session", "transaction"):
        sys.stderr.write(USAGE % sys.argv[0] + "\n")
        sys.exit(2)
    host, port, user, password, db, mode = sys.argv[1:]
    return dict(host=host, port=int(port), user=user, password=password, db=db, mode=mode)


def upload_value():
    """UPLOAD bytes that are not all alike, and their md5 in hex."""
    chunk = hashlib.sha256(b"weir").digest() * 2048  # 64 KiB
    v = (chunk * (UPLOAD // len(chunk) + 1))[:UPLOAD]
    return v, hashlib.md5(v).hexdigest()


def brief(e):
    """An exception in one line: its type and the first line of its message."""
    lines = str(e).strip().splitlines()
    return "%s: %s" % (type(e).__name__, lines[0] if lines else "")


def check(cond, what, got=None, want=None):
    if not cond:
        if got is not None or want is not None:
            what = "%s: got %r, want %r" % (what, got, want)
        raise AssertionError(what)


def eq(got, want, what):
    check(got == want, what, got, want)


class Tap:
    def __init__(self, name):
        self.name = name
        self.n = 0
        self.failed = 0

    def case(self, name, fn, *a):
        self.n += 1
        t0 = time.monotonic()
        try:
            fn(*a)
        except Exception as e:  # any error is this case's failure; the next case runs
            self.failed += 1
            print("not ok %d - %s (%.2f s)" % (self.n, name, time.monotonic() - t0))
            for line in ("%s: %s" % (type(e).__name__, str(e).strip())).splitlines()[:10]:
                print("#   " + line[:2000])
            tb = traceback.format_exc().splitlines()
            for line in tb[-8:]:
                print("#   " + line)
        else:
            print("ok %d - %s (%.2f s)" % (self.n, name, time.monotonic() - t0))
        sys.stdout.flush()
        while _opened:
            try:
                _opened.pop()()
            except Exception:  # already closed, or broken: closing is all that is asked
                pass

    def done(self):
        print("1..%d" % self.n)
        sys.stdout.flush()
        os._exit(1 if self.failed else 0)
