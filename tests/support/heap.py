"""Bytes the C heap has handed out (glibc ``mallinfo2``): what durable-rules allocates is not
Python's, so tracemalloc does not see it."""

from __future__ import annotations

import ctypes
import resource

_FIELDS = (
    "arena",
    "ordblks",
    "smblks",
    "hblks",
    "hblkhd",
    "usmblks",
    "fsmblks",
    "uordblks",
    "fordblks",
    "keepcost",
)


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _FIELDS]


_libc = ctypes.CDLL("libc.so.6")
_libc.mallinfo2.restype = _MallInfo2


def heap_bytes() -> int:
    """Bytes in use in malloc's arenas and in its mmapped blocks."""
    info = _libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)


def rss_kib() -> int:
    """This process's resident memory, in KiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 1024
