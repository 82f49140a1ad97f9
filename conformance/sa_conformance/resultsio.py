"""Reading and writing results files.  Pytest-free.

* :func:`write_atomic` -- temp file in the same directory + ``os.replace``:
  a reader (or a crash) never sees a half-written file.
* :func:`write_document` -- validate, then write atomically.
* :func:`load_results` -- read, check, validate, build a typed
  :class:`~sa_conformance.model.Document`; each defect raises its own
  :class:`~sa_conformance.model.ResultsError` subclass with a one-line message.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .model import (
    Document,
    ResultsMissingError,
    ResultsNotJSONError,
    ResultsUnreadableError,
)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def write_atomic(path: str | os.PathLike, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def dumps(doc: Document) -> str:
    """The JSON text of ``doc`` (validated by ``Document.to_dict``)."""
    return json.dumps(doc.to_dict(), indent=1, ensure_ascii=False) + "\n"


def write_document(path: str | os.PathLike, doc: Document) -> None:
    write_atomic(path, dumps(doc))


def read_json(path: str | os.PathLike) -> object:
    """The parsed JSON of a results file (no format check yet)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsMissingError(f"{p}: no such results file") from None
    except IsADirectoryError:
        raise ResultsMissingError(f"{p}: is a directory, not a results file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsUnreadableError(f"{p}: cannot read: {exc.__class__.__name__}") from None
    if not text.strip():
        raise ResultsUnreadableError(f"{p}: empty file, not a results file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsNotJSONError(
            f"{p}: not JSON (truncated or corrupt?): {exc.msg} (line {exc.lineno}, column {exc.colno})") from None


def load_results(path: str | os.PathLike) -> Document:
    """Read, check and validate a results file."""
    return Document.from_dict(read_json(path), str(path))
