"""What a model file holds, from its first bytes, without unpickling or decompressing it.

Pickles of every protocol are recognised: protocols 2-5 start with the ``PROTO`` opcode,
protocols 0 and 1 with text-like opcodes (``(dp0``, ``cmodule\\nname``, ``}q``), so their
first opcodes are decoded (never executed) with :func:`pickletools.genops`. joblib's
compressed files are recognised by their container's magic number. What each result
means, and which model format it is, is in :mod:`tabinv.models.formats`.
"""

from __future__ import annotations

import io
import pickletools

__all__ = ["PICKLE_KINDS", "pickle_protocol", "sniff"]

#: joblib's compressed containers (magic number, codec), as joblib itself tells them apart
_COMPRESSED = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"),
               (b"\x5d\x00\x00", "lzma"), (b"\x04\x22\x4d\x18", "lz4"))
_OPCODES_READ = 64
#: what :func:`sniff` calls a file that is a pickle, bare or in a joblib container
PICKLE_KINDS = ("pickle", *(f"joblib-{codec}" for _, codec in _COMPRESSED), "joblib-zlib")


def _zlib_header(data: bytes) -> bool:
    """RFC 1950 with a 32 KiB window (joblib's ``x`` prefix) and valid check bits."""
    return len(data) >= 2 and data[0] == 0x78 and (0x78 * 256 + data[1]) % 31 == 0


def pickle_protocol(data: bytes) -> int | None:
    """The pickle protocol ``data`` is written in, or None if it is not a pickle.

    Only opcodes are decoded (by :func:`pickletools.genops`, which runs nothing): the
    first :data:`_OPCODES_READ` must be valid, and the file must end with ``STOP``.
    """
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return data[1]
    if not data.endswith(b"."):
        return None
    protocol = 0
    try:
        for count, (opcode, _, _) in enumerate(pickletools.genops(io.BytesIO(data))):
            protocol = max(protocol, opcode.proto)
            if count >= _OPCODES_READ or opcode.name == "STOP":
                break
    except (ValueError, EOFError, UnicodeDecodeError, OverflowError):
        return None
    return min(protocol, 1)


def sniff(data: bytes) -> str:
    """Format by content: ``skops``, ``xgboost-json``, ``xgboost-ubj``, ``lightgbm``
    (a LightGBM model text), ``pickle``, ``joblib-<codec>``, ``empty``, ``text`` or
    ``unknown``."""
    if not data:
        return "empty"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "skops"
    if pickle_protocol(data) is not None:
        return "pickle"
    for magic, codec in _COMPRESSED:
        if data.startswith(magic):
            return f"joblib-{codec}"
    if _zlib_header(data):
        return "joblib-zlib"
    if data.startswith(b"tree\nversion="):
        return "lightgbm"
    stripped = data.lstrip()
    if stripped[:1] == b"{":
        return "xgboost-json" if stripped[1:].lstrip()[:1] in (b'"', b"}") else "xgboost-ubj"
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "unknown"
    return "text"
