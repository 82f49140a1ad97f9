"""The results model: typed, frozen, validated.  Pytest-free.

The unit of counting is a *verdict*: one :class:`Record` per
``(claim, backend, driver, scope_mode)`` (:attr:`Record.key`).  A claim
checked by tests that need no database has ``backend = driver = None``.
A catalogue claim no collected test cites gets one ``not-run`` record with
``backend = None``.

``Document.from_dict`` validates against ``results.schema.json`` before it
builds anything; ``Document.to_dict`` validates what it returns.  Defects of
a results file raise one subclass of :class:`ResultsError` each, with a
one-line message (see :mod:`sa_conformance.resultsio`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from .outcomes import (  # noqa: F401  (part of the model API)
    BAD,
    UNIT,
    UNIT_SHORT,
    Outcome,
    claims_line,
    verdict_changes_line,
    worst,
)
from .paths import SCHEMA_FILE

SUITE_NAME = "sa-session-conformance"
FORMAT = "sa-conformance-results"
FORMAT_VERSION = 2


# -- errors ----------------------------------------------------------------------
class ResultsError(Exception):
    """A results file (or set of them) cannot be used; one-line message."""


class ResultsMissingError(ResultsError):
    """No file at the path (or a directory there)."""


class ResultsUnreadableError(ResultsError):
    """The file exists but cannot be read or decoded, or is empty."""


class ResultsNotJSONError(ResultsError):
    """The file is not JSON (truncated or corrupt)."""


class ResultsFormatError(ResultsError):
    """JSON, but not an sa-conformance results file or of another format version."""


class ResultsSchemaError(ResultsError):
    """The right format, but the content does not match results.schema.json."""


class ResultsMismatchError(ResultsError):
    """Several results files that cannot be combined (different suites)."""


# -- schema ----------------------------------------------------------------------
@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


def validate(data: Any, where: str = "results") -> None:
    """Raise :class:`ResultsSchemaError` (one line) unless ``data`` matches
    the schema."""
    import jsonschema

    validator = _validator()
    if validator.is_valid(data):  # the common case: one pass, no error objects
        return
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        path = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        msg = error.message if len(error.message) < 160 else error.message[:157] + "..."
        raise ResultsSchemaError(f"{where}: not a valid results file: at {path}: {msg}")


def _frozen(d: Mapping | None) -> Mapping:
    return MappingProxyType(dict(d or {}))


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    if isinstance(value, Outcome):
        return value.value
    return value


# -- records ---------------------------------------------------------------------
Key = tuple  # (claim, backend | None, driver | None, scope_mode)


@dataclass(frozen=True)
class Source:
    """Where the test behind a record is: absolute file path and 1-based line."""

    path: str
    line: int | None = None

    def to_dict(self) -> dict:
        return {"path": self.path, "line": self.line}

    @classmethod
    def from_dict(cls, d: Mapping) -> Source:
        return cls(path=d["path"], line=d.get("line"))


@dataclass(frozen=True)
class Record:
    """One verdict: a claim on one backend/driver/scope mode."""

    claim: str
    backend: str | None
    driver: str | None
    scope_mode: str
    outcome: Outcome
    duration: float = 0.0
    tests: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)  # test results per outcome behind it
    detail_from: str | None = None  # the test whose result the record shows
    reason: str | None = None  # skip / n/a / xfail / not-reached reason
    message: str | None = None  # first lines of the failure, redacted
    repro: str | None = None  # standalone reproduction (script or hypothesis example)
    leak: bool = False  # the failure is the leak guard's
    source: Source | None = None  # test file and line of detail_from
    kinds: tuple[str, ...] = ()  # "example" / "property": how the tests check it
    selector: str | None = None  # the --backend value that selects it ("mysql+mysqlconnector"); default: backend

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", Outcome(self.outcome))
        object.__setattr__(self, "tests", tuple(self.tests))
        object.__setattr__(self, "kinds", tuple(self.kinds))
        object.__setattr__(self, "counts", _frozen(self.counts))

    @property
    def key(self) -> Key:
        return (self.claim, self.backend, self.driver, self.scope_mode)

    @property
    def target(self) -> str:
        """'sqlite-memory', 'mysql (mysqldb)', '(no database)', ... for display."""
        if self.backend is None:
            return "(no database)"
        return self.backend + (f" [{self.driver}]" if self.driver else "")

    def rerun_command(self, prog: str = "sa-conformance run", server_option: str | None = None) -> str:
        """The command that reruns exactly this claim on this backend
        (``server_option``: the run's own server, e.g. ``--mysql-url URL``)."""
        cmd = f"{prog} --claim {self.claim}"
        if self.backend:
            cmd += f" --backend {self.selector or self.backend}"
            if server_option:
                cmd += f" {server_option}"
        return cmd

    def replace(self, **changes: Any) -> Record:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "claim": self.claim, "backend": self.backend, "driver": self.driver, "scope_mode": self.scope_mode,
            "outcome": self.outcome.value, "duration": round(self.duration, 4), "tests": list(self.tests),
            "counts": dict(self.counts),
        }
        for name in ("detail_from", "reason", "message", "repro"):
            value = getattr(self, name)
            if value:
                d[name] = value
        if self.leak:
            d["leak"] = True
        if self.source is not None:
            d["source"] = self.source.to_dict()
        if self.kinds:
            d["kinds"] = list(self.kinds)
        if self.selector and self.selector != self.backend:
            d["selector"] = self.selector
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> Record:
        src = d.get("source")
        return cls(
            claim=d["claim"], backend=d.get("backend"), driver=d.get("driver"), scope_mode=d["scope_mode"],
            outcome=Outcome(d["outcome"]), duration=float(d.get("duration", 0.0)), tests=tuple(d.get("tests", ())),
            counts=d.get("counts", {}), detail_from=d.get("detail_from"), reason=d.get("reason"),
            message=d.get("message"), repro=d.get("repro"), leak=bool(d.get("leak", False)),
            source=Source.from_dict(src) if src else None, kinds=tuple(d.get("kinds", ())),
            selector=d.get("selector"),
        )


# -- run metadata ----------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """Run metadata.  The typed fields are what reports read; ``extra`` keeps
    the rest (hypothesis settings, expectations, cwd, ...) as written."""

    sqlalchemy: str
    python: str
    platform: str
    started: str
    finished: str | None
    command: str
    catalogue: str | None = None
    invocation: str | None = None
    backends_selected: tuple[str, ...] = ()
    backends: Mapping[str, Mapping] = field(default_factory=dict)  # name -> describe() / {unavailable}
    extra: Mapping[str, Any] = field(default_factory=dict)

    _TYPED = ("sqlalchemy", "python", "platform", "started", "finished", "command", "catalogue", "invocation",
              "backends_selected", "backends")

    def __post_init__(self) -> None:
        object.__setattr__(self, "backends_selected", tuple(self.backends_selected))
        object.__setattr__(self, "backends", _frozen({k: _frozen(v) for k, v in self.backends.items()}))
        object.__setattr__(self, "extra", _frozen(self.extra))

    @property
    def hypothesis(self) -> Mapping:
        return self.extra.get("hypothesis", {})

    def server_option(self, backend: str | None) -> str | None:
        """The option that named ``backend``'s server in this run (redacted),
        e.g. ``--mysql-url 'mysql+pymysql://root@127.0.0.1:3306/test'``."""
        return self.extra.get("server_options", {}).get(backend) if backend else None

    def to_dict(self) -> dict:
        d = {name: _thaw(getattr(self, name)) for name in self._TYPED}
        d.update(_thaw(self.extra))
        d.setdefault("hypothesis", {"profile": None})
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> Run:
        return cls(
            **{name: d.get(name) for name in cls._TYPED if name not in ("backends_selected", "backends")},
            backends_selected=tuple(d.get("backends_selected", ())),
            backends=d.get("backends", {}),
            extra={k: v for k, v in d.items() if k not in cls._TYPED},
        )


# -- the document ----------------------------------------------------------------
@dataclass(frozen=True)
class TestCounts:
    """pytest's own counts, as its terminal summary line prints them
    (``passed``, ``failed``, ``errors``, ``skipped``, ``xfailed``, ``xpassed``)."""

    __test__ = False  # not a pytest test class

    counts: Mapping[str, int] = field(default_factory=dict)
    #: tests that reported (one per node id); pytest's words overlap (a test that
    #: passes and then errors at teardown is "1 passed, 1 error"), so it is counted apart
    tests: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", _frozen({k: v for k, v in self.counts.items() if v}))
        if self.tests is None:  # not counted apart: every test has one word besides "errors"
            object.__setattr__(self, "tests", sum(v for k, v in self.counts.items() if k != "errors"))

    @property
    def total(self) -> int:
        return int(self.tests or 0)

    def line(self) -> str:
        order = ("failed", "passed", "skipped", "xfailed", "xpassed", "errors")
        parts = [f"{self.counts[k]} {k if k != 'errors' or self.counts[k] != 1 else 'error'}"
                 for k in order if self.counts.get(k)]
        return ", ".join(parts) or "no tests ran"


@dataclass(frozen=True)
class Document:
    suite_version: str
    complete: bool
    exit_status: int | None
    run: Run
    claims: Mapping[str, Mapping]  # catalogue entries embedded: id -> Claim.to_json()
    records: tuple[Record, ...]
    tests: TestCounts = field(default_factory=TestCounts)
    suite_name: str = SUITE_NAME

    def __post_init__(self) -> None:
        object.__setattr__(self, "records", tuple(sorted(self.records, key=_sort_key)))
        object.__setattr__(self, "claims", _frozen({k: _frozen(v) for k, v in self.claims.items()}))

    # -- queries
    def by_key(self) -> dict[Key, Record]:
        return {r.key: r for r in self.records}

    def verdict_counts(self, backend: str | None | type = ...) -> dict[Outcome, int]:
        """Verdicts per outcome (all, or those of one backend; None: no database)."""
        out: dict[Outcome, int] = {}
        for r in self.records:
            if backend is ... or r.backend == backend:
                out[r.outcome] = out.get(r.outcome, 0) + 1
        return out

    def bad(self) -> list[Record]:
        return sorted((r for r in self.records if r.outcome.bad), key=lambda r: (r.outcome.rank, _sort_key(r)))

    def backends(self) -> list[str]:
        """Backends with a column: selected ones first, then any with records."""
        names = list(self.run.backends_selected)
        for r in self.records:
            if r.backend is not None and r.backend not in names:
                names.append(r.backend)
        return names

    def claims_line(self) -> str:
        """The one line every report prints beside pytest's own counts."""
        return claims_line(self.verdict_counts())

    # -- (de)serialisation
    def to_dict(self) -> dict:
        totals: dict[str, dict[str, int]] = {}
        for r in self.records:
            name = r.backend or ("(not run)" if r.outcome is Outcome.NOT_RUN else "(no database)")
            t = totals.setdefault(name, {})
            t[r.outcome.value] = t.get(r.outcome.value, 0) + 1
        d = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "suite": {"name": self.suite_name, "version": self.suite_version},
            "complete": self.complete,
            "exit_status": self.exit_status,
            "unit": UNIT,
            "run": self.run.to_dict(),
            "claims": _thaw(self.claims),
            "results": [r.to_dict() for r in self.records],
            "verdicts": {o.value: n for o, n in sorted(self.verdict_counts().items(), key=lambda kv: kv[0].rank)},
            "totals": totals,
            "tests": {"total": self.tests.total, "outcomes": dict(self.tests.counts)},
        }
        validate(d, "results document")
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str = "results") -> Document:
        check_format(d, where)
        validate(d, where)
        return cls(
            suite_name=d["suite"]["name"], suite_version=d["suite"]["version"], complete=d["complete"],
            exit_status=d["exit_status"], run=Run.from_dict(d["run"]), claims=d["claims"],
            records=tuple(Record.from_dict(r) for r in d["results"]),
            tests=TestCounts(d["tests"].get("outcomes", {}), tests=d["tests"].get("total")),
        )


def _sort_key(r: Record) -> tuple:
    return (r.claim, r.backend or "", r.driver or "", r.scope_mode)


def check_format(d: Any, where: str) -> None:
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ResultsFormatError(f"{where}: not an sa-conformance results file (no \"format\": \"{FORMAT}\")")
    if d.get("format_version") != FORMAT_VERSION:
        raise ResultsFormatError(
            f"{where}: results format version {d.get('format_version')!r} is not supported (expected {FORMAT_VERSION})"
        )


def check_same_suite(docs: Iterable[Document], names: Iterable[str]) -> None:
    docs, names = list(docs), list(names)
    suites = {d.suite_name for d in docs}
    if len(suites) > 1:
        detail = ", ".join(f"{n}: {d.suite_name!r}" for n, d in zip(names, docs))
        raise ResultsMismatchError(f"results files come from different suites ({detail})")
