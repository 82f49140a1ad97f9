"""Credentials in everything the reports write or print.

Redaction itself is :func:`sa_fixtures.redaction.redact`, the project's one
redaction function (URL passwords and literal secrets).  A :class:`Redactor`
only remembers the secrets of a run -- the passwords of the URLs it was
given (``--mysql-url``/``--postgresql-url`` and their environment variables),
raw and URL-decoded -- and applies that function with them, to a string or to
every string inside a JSON-able structure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote

from sa_fixtures.redaction import MASK, redact

#: URL-ish options and environment variables whose value may carry a password
URL_OPTIONS = ("--mysql-url", "--postgresql-url")
URL_ENV = ("SA_CONFORMANCE_MYSQL_URL", "SA_CONFORMANCE_POSTGRESQL_URL")
#: ``scheme://user:password@host``: the password runs to the LAST '@' before the host
_PASSWORD = re.compile(r"://[^:/@\s]*:(?P<pw>[^\s'\"<>]*)@[^\s@'\"<>]*$")


def password_of(url: str | None) -> str | None:
    """The password in ``url`` as written (percent-escapes kept), or None."""
    if not url:
        return None
    m = _PASSWORD.search(url.split()[0] if url.strip() else url)
    return (m.group("pw") or None) if m else None


class Redactor:
    """A run's secrets, applied with :func:`sa_fixtures.redaction.redact`."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self.secrets: set[str] = set()
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        if not secret or secret == MASK:
            return
        self.secrets.add(secret)
        decoded = unquote(secret)
        if decoded:
            self.secrets.add(decoded)

    def add_url(self, url: str | None) -> None:
        self.add(password_of(url))

    def __call__(self, text: Any) -> str | None:
        return redact(text, self.secrets)

    def argv(self, args: Sequence[str]) -> list[str]:
        """A command line with credentials masked, including the value after
        ``--mysql-url``/``--postgresql-url`` (given as one or two words)."""
        return [self(a) for a in args]

    def deep(self, value: Any) -> Any:
        """Redact every string inside a JSON-able structure."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.deep(v) for v in value]
        return value


def from_environment(extra_urls: Iterable[str | None] = ()) -> Redactor:
    r = Redactor()
    for name in URL_ENV:
        r.add_url(os.environ.get(name))
    for url in extra_urls:
        r.add_url(url)
    return r
