"""A file's bytes as text, by one rule for every reader.

gzip is unwrapped (told by its magic bytes, not the ``.gz`` name); UTF-16 with a byte-order mark (what Windows
PowerShell writes when it redirects a command's output) and UTF-8 with or without a BOM are read; a file with NUL
bytes is a binary or corrupt file, not a text log. Each failure is an ``InputError`` naming the file and the byte.
"""

from __future__ import annotations

import codecs
import gzip
import zlib
from pathlib import Path

from pipelines.errors import InputError

# The first two bytes of every gzip member (RFC 1952): how each reader tells gzip from text, whatever the name.
GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``, gzip unwrapped; InputError when it cannot be read or the gzip data is corrupt."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    if raw.startswith(GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(path, f"corrupt gzip data: {exc}") from exc
    return raw


def decode_text(path: Path, raw: bytes, *, accepted: str = "UTF-8 text") -> str:
    """The text of ``raw`` (UTF-16 with a BOM, else UTF-8); ``accepted`` names what the reader takes, for errors."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(
                path, f"not {accepted} (invalid UTF-16 after its byte-order mark at byte {exc.start})"
            ) from exc
        # A log in UTF-16 is mostly ASCII (digits, commas, names); bytes that decode to none are binary data
        # that happens to start like a byte-order mark.
        if text.strip() and not any(" " <= c <= "~" for c in text[:4096]):
            raise InputError(path, f"not {accepted} (a UTF-16 byte-order mark followed by no text)")
        return text
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise InputError(
            path, f"contains NUL bytes (first at byte {nul}): a binary or corrupt file, not a text log"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(path, f"not {accepted} (byte 0x{raw[exc.start]:02x})", line=line) from exc
