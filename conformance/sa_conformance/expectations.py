"""Known deviations: ``conformance/sa_conformance/expectations.toml``.

Each ``[[expect]]`` entry names a claim (and optionally a backend and a
SQLAlchemy version range) that is known to fail, with the issue tracking it.
Matching test items get ``xfail(strict=True)``: the failure is reported as
``expected-fail``; if it starts passing the run fails (``unexpected-pass``),
so the entry must be removed.

Fields: ``claim`` (required), ``issue`` (required URL), ``reason`` (required),
``backend`` (optional, a backend name), ``since`` / ``until`` (optional,
SQLAlchemy versions, half-open like the catalogue), ``scope_mode`` (optional).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .catalogue import VERSION_PATTERN, in_version_range

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]


class ExpectationsError(Exception):
    """The expectations file is malformed (one-line message)."""


@dataclass(frozen=True)
class Expectation:
    claim: str
    issue: str
    reason: str
    backend: str | None = None
    since: str | None = None
    until: str | None = None
    scope_mode: str | None = None

    def matches(self, claim: str, backend: str, sa_version: str, scope_mode: str = "default") -> bool:
        if claim != self.claim:
            return False
        if self.backend is not None and backend != self.backend:
            return False
        if self.scope_mode is not None and scope_mode != self.scope_mode:
            return False
        return in_version_range(sa_version, self.since, self.until)

    @property
    def text(self) -> str:
        return f"known deviation {self.claim}: {self.reason} ({self.issue})"

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


FIELDS = {"claim", "issue", "reason", "backend", "since", "until", "scope_mode"}


def load_expectations(path: str | Path, known_claims: Iterable[str] | None = None) -> list[Expectation]:
    """Read the file; a missing file means no expectations."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ExpectationsError(f"{path}: not valid TOML: {exc}") from None
    extra_top = set(data) - {"expect"}
    if extra_top:
        raise ExpectationsError(f"{path.name}: unexpected top-level key(s) {', '.join(sorted(extra_top))}")
    known = set(known_claims) if known_claims is not None else None
    out: list[Expectation] = []
    entries = data.get("expect", [])
    if not isinstance(entries, list):
        raise ExpectationsError(f"{path.name}: 'expect' must be an array of tables ([[expect]])")
    for n, raw in enumerate(entries, 1):
        where = f"{path.name}: expect #{n}"
        if not isinstance(raw, dict):
            raise ExpectationsError(f"{where}: must be a table")
        extra = set(raw) - FIELDS
        if extra:
            raise ExpectationsError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        for req in ("claim", "issue", "reason"):
            if not isinstance(raw.get(req), str) or not raw[req].strip():
                raise ExpectationsError(f"{where}: missing required field {req!r}")
        for opt in ("backend", "since", "until", "scope_mode"):
            if opt in raw and not isinstance(raw[opt], str):
                raise ExpectationsError(f"{where}: field {opt!r} must be a string")
        for opt in ("since", "until"):
            if opt in raw and not VERSION_PATTERN.match(raw[opt]):
                raise ExpectationsError(f"{where}: {opt} = {raw[opt]!r} is not 'X.Y' or 'X.Y.Z'")
        if not raw["issue"].startswith(("http://", "https://")):
            raise ExpectationsError(f"{where}: 'issue' must be a URL")
        if known is not None and raw["claim"] not in known:
            raise ExpectationsError(f"{where}: unknown claim id {raw['claim']!r}")
        out.append(Expectation(**{k: raw[k].strip() for k in raw}))
    return out


def matching(
    expectations: Iterable[Expectation], claims: Iterable[str], backend: str, sa_version: str, scope_mode: str
) -> list[Expectation]:
    claims = list(claims)
    return [e for e in expectations if any(e.matches(c, backend, sa_version, scope_mode) for c in claims)]
