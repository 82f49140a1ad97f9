"""The claims catalogue: loading, validation and version applicability.

A claim is one observable, documented statement about Session, sessionmaker or
scoped_session.  The catalogue (``conformance/sa_conformance/claims/<family>.toml``, one file
per claim family, beside ``conformance/sa_conformance/suite/test_<family>.py``) is the unit of
everything this project reports: tests cite claim ids with
``@pytest.mark.claim("family.slug", ...)`` and results are keyed by claim id.

Version ranges are half-open: ``since`` is inclusive, ``until`` is exclusive,
both written as ``"major.minor"`` or a full release ``"2.0.22"``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on older interpreters only
    import tomli as tomllib  # type: ignore[no-redef]

ID_PATTERN = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$")
VERSION_PATTERN = re.compile(r"^\d+\.\d+(\.\d+)?$")
MEMBER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")

#: Families, in the order reports list them.  One test module per family.
FAMILIES = (
    "registry",
    "reargs",
    "remove",
    "proxy",
    "query-property",
    "scopes",
    "threads",
    "async",
    "sessionmaker",
    "states",
    "cross-session",
    "transactions",
    "savepoint",
    "expire",
    "legacy-api",
    "scoped-api",
    "session-basics",
    "state-management",
    "session-transactions",
)


class CatalogueError(Exception):
    """The catalogue file is missing or malformed (one-line message)."""


Version = tuple[int, ...]


def parse_version(text: str) -> Version:
    """``"2.0.22"`` -> ``(2, 0, 22)``; pre-release suffixes are dropped
    (``"2.1.0b2"`` -> ``(2, 1, 0)``), which places a pre-release of X.Y inside
    the X.Y series for range purposes."""
    parts: list[int] = []
    for chunk in text.split(".")[:3]:
        m = re.match(r"\d+", chunk)
        if not m:
            break
        parts.append(int(m.group()))
    if not parts:
        raise ValueError(f"not a version: {text!r}")
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def in_version_range(version: str, since: str | None, until: str | None) -> bool:
    """``since <= version < until`` (either bound optional)."""
    v = parse_version(version)
    if since and v < parse_version(since):
        return False
    if until and v >= parse_version(until):
        return False
    return True


@dataclass(frozen=True)
class Claim:
    id: str
    family: str
    claim: str
    source: str
    section: str
    seeds: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    note: str | None = None
    #: API-reference members (``"scoped_session.add"``, ``"ScopedRegistry.set"``) whose
    #: documented behaviour this claim checks (seed 002's Contextual Session API)
    members: tuple[str, ...] = ()
    #: behaviour changes: the older claim this one supersedes (its ``until`` is
    #: this claim's ``since``), the changelog ticket + release, a reference URL
    changes: str | None = None
    changelog: str | None = None
    reference: str | None = None

    def applies_to(self, version: str) -> bool:
        """True if the claim holds for this exact SQLAlchemy release."""
        return in_version_range(version, self.since, self.until)

    def applies_to_series(self, series: str) -> bool:
        """True if the claim's range meets the release series ``X.Y``
        (i.e. holds for at least one X.Y.z)."""
        lo = parse_version(series)
        hi = (lo[0], lo[1] + 1, 0)
        since = parse_version(self.since) if self.since else (0, 0, 0)
        until = parse_version(self.until) if self.until else (10**6, 0, 0)
        return since < hi and lo < until

    @property
    def range_text(self) -> str:
        if self.since and self.until:
            return f">={self.since},<{self.until}"
        if self.since:
            return f">={self.since}"
        if self.until:
            return f"<{self.until}"
        return "all versions"

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "family": self.family,
            "claim": self.claim,
            "source": self.source,
            "section": self.section,
            "seeds": list(self.seeds),
            "since": self.since,
            "until": self.until,
            "note": self.note,
            "members": list(self.members),
            "changes": self.changes,
            "changelog": self.changelog,
            "reference": self.reference,
        }


@dataclass
class Catalogue:
    path: Path
    supported_series: tuple[str, ...]
    claims: dict[str, Claim] = field(default_factory=dict)

    def __contains__(self, claim_id: str) -> bool:
        return claim_id in self.claims

    def __getitem__(self, claim_id: str) -> Claim:
        return self.claims[claim_id]

    def __iter__(self):
        return iter(self.claims.values())

    def __len__(self) -> int:
        return len(self.claims)

    def by_family(self) -> dict[str, list[Claim]]:
        out: dict[str, list[Claim]] = {f: [] for f in FAMILIES}
        for c in self.claims.values():
            out.setdefault(c.family, []).append(c)
        return {k: v for k, v in out.items() if v}

    def unknown(self, ids: Iterable[str]) -> list[str]:
        return [i for i in ids if i not in self.claims]


def _str_field(raw: Mapping, key: str, where: str, *, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise CatalogueError(f"{where}: missing required field {key!r}")
        return None
    if not isinstance(value, str):
        raise CatalogueError(f"{where}: field {key!r} must be a string")
    return value.strip()


META_FILE = "_catalogue.toml"
#: member -> claims map for claims written before the ``members`` field, and
#: the members whose text states nothing observable (see _members.toml)
MEMBERS_FILE = "_members.toml"


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogueError(f"claims catalogue not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{path}: not valid TOML: {exc}") from None


def load_catalogue(path: str | Path) -> Catalogue:
    """Load and validate the catalogue directory (``_catalogue.toml`` with the
    supported series, then one ``<family>.toml`` per claim family), raising
    :class:`CatalogueError` with a one-line message naming the file, the claim
    and the problem."""
    path = Path(path)
    if not path.is_dir():
        raise CatalogueError(f"claims catalogue directory not found: {path}")
    meta = _read_toml(path / META_FILE)
    supported = meta.get("supported_series")
    if not (isinstance(supported, list) and supported and all(isinstance(s, str) for s in supported)):
        raise CatalogueError(f"{path / META_FILE}: 'supported_series' must be a non-empty list of 'X.Y' strings")
    cat = Catalogue(path=path, supported_series=tuple(supported))
    for file in sorted(path.glob("*.toml")):
        if file.name.startswith("_"):  # _catalogue.toml, _members.toml
            continue
        if file.stem not in FAMILIES:
            raise CatalogueError(f"{file}: file name must be a family ({', '.join(FAMILIES)})")
        _load_family_file(cat, file, _read_toml(file))
    if not cat.claims:
        raise CatalogueError(f"{path}: no [[claim]] entries")
    _apply_member_map(cat, path / MEMBERS_FILE)
    _check_change_links(cat)
    return cat


def _member_list(value, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(m, str) and MEMBER_PATTERN.match(m) for m in value):
        raise CatalogueError(f"{where}: 'members' must be a list like [\"scoped_session.add\"]")
    return tuple(value)


def _apply_member_map(cat: Catalogue, file: Path) -> None:
    """Merge ``[claims]`` of ``_members.toml`` (claim id -> members) into the claims."""
    if not file.is_file():
        return
    from dataclasses import replace

    for cid, members in _read_toml(file).get("claims", {}).items():
        where = f"{file.name}: claims.{cid}"
        if cid not in cat.claims:
            raise CatalogueError(f"{where}: unknown claim id")
        old = cat.claims[cid]
        merged = tuple(dict.fromkeys(old.members + _member_list(members, where)))
        cat.claims[cid] = replace(old, members=merged)


def _load_family_file(cat: Catalogue, file: Path, data: dict) -> None:
    extra_top = set(data) - {"claim"}
    if extra_top:
        raise CatalogueError(f"{file.name}: unexpected top-level key(s) {', '.join(sorted(extra_top))}")
    for index, raw in enumerate(data.get("claim", [])):
        where = f"{file.name}: claim #{index + 1}"
        cid = _str_field(raw, "id", where)
        where = f"{file.name}: claim {cid!r}"
        if not ID_PATTERN.match(cid):
            raise CatalogueError(f"{where}: id must look like 'family.slug' (lowercase, hyphens)")
        if cid in cat.claims:
            raise CatalogueError(f"{where}: duplicate id")
        family = _str_field(raw, "family", where)
        if family != file.stem:
            raise CatalogueError(f"{where}: family {family!r} does not match its file {file.name}")
        if not cid.startswith(family + "."):
            raise CatalogueError(f"{where}: id must start with its family {family!r}")
        since = _str_field(raw, "since", where, required=False)
        until = _str_field(raw, "until", where, required=False)
        for label, v in (("since", since), ("until", until)):
            if v is not None and not VERSION_PATTERN.match(v):
                raise CatalogueError(f"{where}: {label} = {v!r} is not 'X.Y' or 'X.Y.Z'")
        if since and until and parse_version(since) >= parse_version(until):
            raise CatalogueError(f"{where}: empty version range since={since} until={until}")
        seeds = raw.get("seeds", [])
        if not isinstance(seeds, list) or not all(isinstance(s, str) for s in seeds):
            raise CatalogueError(f"{where}: 'seeds' must be a list of seed file names")
        known = {"id", "family", "claim", "source", "section", "seeds", "since", "until", "note", "members",
                 "changes", "changelog", "reference"}
        extra = set(raw) - known
        if extra:
            raise CatalogueError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        cat.claims[cid] = Claim(
            id=cid,
            family=family,
            claim=_str_field(raw, "claim", where),
            source=_str_field(raw, "source", where),
            section=_str_field(raw, "section", where),
            seeds=tuple(seeds),
            since=since,
            until=until,
            note=_str_field(raw, "note", where, required=False),
            members=_member_list(raw.get("members", []), where),
            changes=_str_field(raw, "changes", where, required=False),
            changelog=_str_field(raw, "changelog", where, required=False),
            reference=_str_field(raw, "reference", where, required=False),
        )


CHANGELOG_PATTERN = re.compile(r"^(#\d+|[a-z][a-z0-9_-]*) (\d+\.\d+\.\d+)$")


def _check_change_links(cat: Catalogue) -> None:
    """``changes``/``changelog``: the linked claim exists, the two ranges meet
    exactly (older.until == newer.since, patch precision), the changelog entry
    is ``"<#ticket or doc name> <X.Y.Z>"`` naming the release where it changed."""
    successors: dict[str, str] = {}
    for c in cat:
        where = f"{c.family}.toml: claim {c.id!r}"
        if c.changelog is not None:
            m = CHANGELOG_PATTERN.match(c.changelog)
            if not m:
                raise CatalogueError(f"{where}: changelog = {c.changelog!r} must look like '#9809 2.1.0'")
            at = c.since if c.changes or not c.until else c.until
            if at is None or parse_version(m.group(2)) != parse_version(at):
                raise CatalogueError(
                    f"{where}: changelog release {m.group(2)} is not the claim's boundary "
                    f"({'since' if c.changes or not c.until else 'until'} = {at})"
                )
        if c.reference is not None and not c.reference.startswith("https://"):
            raise CatalogueError(f"{where}: reference must be an https:// URL")
        if c.changes is None:
            continue
        if c.changes not in cat.claims:
            raise CatalogueError(f"{where}: changes = {c.changes!r} is not a claim id")
        older = cat.claims[c.changes]
        if c.changelog is None:
            raise CatalogueError(f"{where}: a claim with 'changes' needs changelog = '<#ticket> <release>'")
        if not (c.since and VERSION_PATTERN.match(c.since) and c.since.count(".") == 2):
            raise CatalogueError(f"{where}: a claim with 'changes' needs since = the exact release 'X.Y.Z'")
        if older.until is None or parse_version(older.until) != parse_version(c.since):
            raise CatalogueError(
                f"{where}: ranges do not meet: {older.id} until = {older.until} but this claim's since = {c.since}"
            )
        if c.changes in successors:
            raise CatalogueError(f"{where}: {c.changes} is already changed by {successors[c.changes]}")
        successors[c.changes] = c.id


def successor_of(cat_claims: Mapping[str, Mapping], claim_id: str) -> str | None:
    """The claim (id) whose ``changes`` names ``claim_id``, from catalogue dicts."""
    return next((cid for cid, c in cat_claims.items() if c.get("changes") == claim_id), None)


def coverage_problems(cat: Catalogue, tests: Mapping[str, list[str]]) -> list[str]:
    """Everything the self-check rejects, as one line each.

    ``tests`` maps a test id (node id without parametrisation) to the claim ids
    it cites.  A claim is covered for a supported series only by a test *all*
    of whose claims apply there (a test that also cites a claim absent from
    that series is skipped as not-applicable on it).
    """
    problems: list[str] = []
    for test_id, ids in sorted(tests.items()):
        if not ids:
            problems.append(f"{test_id}: cites no claim (add @pytest.mark.claim(...))")
        for cid in cat.unknown(ids):
            problems.append(f"{test_id}: cites unknown claim {cid!r}")
    for claim in cat:
        live = [s for s in cat.supported_series if claim.applies_to_series(s)]
        if not live:
            problems.append(
                f"{claim.id}: range {claim.range_text} excludes every supported series "
                f"({', '.join(cat.supported_series)})"
            )
            continue
        module = "test_" + claim.family.replace("-", "_")
        cited_in = {t.split("::", 1)[0].rsplit("/", 1)[-1] for t, ids in tests.items() if claim.id in ids}
        if cited_in and not any(m.startswith(module) for m in cited_in):
            problems.append(
                f"{claim.id}: tested only in {', '.join(sorted(cited_in))}; its family module is {module}*.py"
            )
        for series in live:
            covering = [
                t
                for t, ids in tests.items()
                if claim.id in ids
                and all(i in cat and cat[i].applies_to_series(series) for i in ids)
            ]
            if not covering:
                problems.append(f"{claim.id}: no test checks it on SQLAlchemy {series}")
    return problems
