"""Credential redaction for everything the reports write or print.

A single URL is redacted by :func:`sa_fixtures.redaction.redact_url`
(re-exported here); free text (messages, tracebacks, command lines) by a
:class:`Redactor`, in two layers:

* a pattern: the password part of anything shaped like a URL with
  credentials (``scheme://user:password@host``) becomes ``***``;
* literal secrets: passwords taken from the URLs the run was given
  (``--mysql-url``/``--postgresql-url`` and their environment variables) are
  replaced wherever they appear, even outside a URL (a driver error may echo
  one).
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Sequence
from urllib.parse import unquote

from sa_fixtures.redaction import MASK, redact_url  # noqa: F401  (the one URL redaction function)

#: ``scheme://user:password@`` -- the password may contain anything but
#: whitespace, quotes and '@' is matched up to the LAST '@' before the host.
_URL_CRED = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s'\"<>]*:)(?P<pw>[^\s'\"<>]*)@(?=[^\s@'\"<>]*(?:[\s'\"<>]|$))"
)
#: URL-ish options and environment variables whose value may carry a password
URL_OPTIONS = ("--mysql-url", "--postgresql-url")
URL_ENV = ("SA_CONFORMANCE_MYSQL_URL", "SA_CONFORMANCE_POSTGRESQL_URL")


def password_of(url: str | None) -> str | None:
    """The password in ``url`` (raw and unquoted forms both matter), or None."""
    if not url:
        return None
    m = _URL_CRED.search(url if " " not in url else url.split()[0])
    if not m:
        m = re.search(r"://[^:/@\s]*:(.+)@", url)
        if not m:
            return None
        return m.group(1) or None
    return m.group("pw") or None


class Redactor:
    """Masks URL passwords and a set of literal secrets in text."""

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

    def __call__(self, text):
        if text is None:
            return None
        if not isinstance(text, str):
            text = str(text)
        out = _URL_CRED.sub(lambda m: m.group("head") + MASK + "@", text)
        # longest first so a secret containing another is masked whole
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= 3:
                out = out.replace(secret, MASK)
        return out

    def argv(self, args: Sequence[str]) -> list[str]:
        """A command line with credentials masked, including the value after
        ``--mysql-url``/``--postgresql-url`` (given as one or two words)."""
        return [self(a) for a in args]

    def deep(self, value):
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

