"""File names are bytes: how a name that is not valid UTF-8 is stored, compared and shown without loss.

On POSIX a file name is any bytes but "/" and NUL. Python hands a name that is not valid UTF-8 over as a
string with lone surrogates (PEP 383, the ``surrogateescape`` error handler): ``b"\\xff"`` becomes
``"\\udcff"``. SQLite refuses such a string, and a terminal cannot print it. So a name goes into SQLite as
its raw bytes (a BLOB) when it is not valid UTF-8, comes back as the same string, and is shown with the
odd bytes escaped (``\\xff``). Valid names are stored as text, as they always were
(docs/files.md#names-are-bytes).
"""

from __future__ import annotations


def db_value(text: str) -> str | bytes:
    """``text`` as SQLite can keep it: unchanged when it is valid UTF-8, else its raw bytes."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate no file name makes (from a JSON answer): keep it visible
            return shown(text)
    return text


def from_db(value: str | bytes) -> str:
    """The string a :func:`db_value` came from."""
    return value if isinstance(value, str) else value.decode("utf-8", "surrogateescape")


def shown(text: str) -> str:
    """``text`` as it can be printed: bytes that are not UTF-8 become ``\\xff`` escapes."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape" if _escaped_only(text) else "backslashreplace").decode(
        "utf-8", "backslashreplace"
    )


def _escaped_only(text: str) -> bool:
    """Whether every surrogate in ``text`` is one surrogateescape made (U+DC80..U+DCFF)."""
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)
