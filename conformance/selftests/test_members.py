"""Self-check: every member of seed 002's Contextual Session API reference has
a behavioural claim (a claim whose ``members`` names it) or an entry in
``claims/_members.toml`` ``[unobservable]`` saying why its text states nothing
observable.

The member list is read from the seed itself (``../shared/seeds/`` beside the
checkout, or ``SA_CONFORMANCE_SEEDS_DIR``).  Under CI (``CI=true``) a missing
seed fails the check; elsewhere it skips with the path it looked for.
"""

from __future__ import annotations
import os
import re
import sys
from pathlib import Path

import pytest

from sa_conformance.catalogue import MEMBER_PATTERN, MEMBERS_FILE, load_catalogue
from sa_conformance.paths import CATALOGUE_DIR, repo_root

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SEED = "002_d52a439e69888859.txt"
#: "method sqlalchemy.orm.scoped_session.add(...)", "class sqlalchemy.util.ScopedRegistry", ...
HEADING = re.compile(
    r"^(?:method|attribute|classmethod|class|function) sqlalchemy\.(?:orm|util)\.([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)?)"
)


def seeds_dir() -> Path | None:
    env = os.environ.get("SA_CONFORMANCE_SEEDS_DIR")
    if env:
        return Path(env)
    root = repo_root()
    return root.parent / "shared" / "seeds" if root else None


def reference_members(text: str) -> list[str]:
    """The members the seed's API reference documents, in order, once each."""
    found: dict[str, None] = {}
    for line in text.splitlines():
        m = HEADING.match(line.strip())
        if m:
            found.setdefault(m.group(1))
    return list(found)


@pytest.fixture(scope="module")
def seed_members() -> list[str]:
    where = seeds_dir()
    path = where / SEED if where else None
    if path is None or not path.is_file():
        msg = f"seed {SEED} not found (looked in {where}; set SA_CONFORMANCE_SEEDS_DIR)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return reference_members(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def member_map() -> dict:
    return tomllib.loads((CATALOGUE_DIR / MEMBERS_FILE).read_text(encoding="utf-8"))


def test_reference_parser_finds_the_documented_members(seed_members):
    """The parser sees the reference as documented (guards against a silent
    zero-member pass)."""
    assert len(seed_members) >= 50
    for expected in ("scoped_session", "scoped_session.__call__", "scoped_session.add", "scoped_session.get_one",
                     "scoped_session.session_factory", "ScopedRegistry.set", "ThreadLocalRegistry",
                     "QueryPropertyDescriptor"):
        assert expected in seed_members


def test_every_seed_member_has_a_behavioural_claim_or_a_reason(seed_members, member_map):
    cat = load_catalogue(CATALOGUE_DIR)
    presence_only = set(member_map.get("presence_only", []))
    behavioural: dict[str, list[str]] = {}
    for c in cat:
        if c.id in presence_only:
            continue
        for m in c.members:
            behavioural.setdefault(m, []).append(c.id)
    unobservable = member_map.get("unobservable", {})
    missing = [m for m in seed_members if m not in behavioural and m not in unobservable]
    assert not missing, (
        "seed 002 members with neither a behavioural claim (members = [...]) nor an [unobservable] "
        f"entry in claims/{MEMBERS_FILE}: " + ", ".join(missing)
    )
    both = [m for m in unobservable if m in behavioural]
    assert not both, f"listed as unobservable but claims check them: {', '.join(both)}"
    empty = [m for m, why in unobservable.items() if not (isinstance(why, str) and why.strip())]
    assert not empty, f"[unobservable] entries need a reason: {', '.join(empty)}"


def test_members_named_by_claims_exist_in_the_seed(seed_members, member_map):
    """A member name in a claim or in _members.toml is one the reference documents
    (catches typos that would leave a member uncovered unnoticed)."""
    cat = load_catalogue(CATALOGUE_DIR)
    named = {m for c in cat for m in c.members} | set(member_map.get("unobservable", {}))
    statements = member_map.get("statements", {})
    named |= set(statements)
    assert all(isinstance(v, list) and v and all(isinstance(x, str) and ": " in x for x in v)
               for v in statements.values()), "[statements] entries are lists of 'statement: reason'"
    unknown = sorted(m for m in named if m not in seed_members)
    assert not unknown, f"not members of seed 002's reference: {', '.join(unknown)}"
    assert all(MEMBER_PATTERN.match(m) for m in named)


def test_member_parser_on_a_sample():
    text = (
        "method sqlalchemy.orm.scoped_session.add(instance: object) None\n"
        "class sqlalchemy.orm.scoped_session (typing.Generic)\n"
        "class sqlalchemy.orm.scoped_session\n"
        "attribute sqlalchemy.orm.scoped_session.session_factory: sessionmaker[_S]\n"
        "method sqlalchemy.util.ScopedRegistry.clear() None\n"
        "See scoped_session.add() for details\n"
    )
    assert reference_members(text) == [
        "scoped_session.add",
        "scoped_session",
        "scoped_session.session_factory",
        "ScopedRegistry.clear",
    ]


def _toy_catalogue(tmp_path, claim_extra: str, members_toml: str | None = None):
    (tmp_path / "_catalogue.toml").write_text('supported_series = ["2.1"]\n')
    (tmp_path / "registry.toml").write_text(
        '[[claim]]\nid = "registry.alpha"\nfamily = "registry"\nclaim = "Alpha."\n'
        'source = "https://docs.sqlalchemy.org/en/20/orm/contextual.html#alpha"\nsection = "A"\n' + claim_extra
    )
    if members_toml is not None:
        (tmp_path / MEMBERS_FILE).write_text(members_toml)
    return load_catalogue(tmp_path)


def test_catalogue_members_field_validated_and_merged(tmp_path):
    from sa_conformance.catalogue import CatalogueError

    cat = _toy_catalogue(tmp_path, 'members = ["scoped_session.add"]\n',
                         '[claims]\n"registry.alpha" = ["scoped_session.flush", "scoped_session.add"]\n')
    assert cat["registry.alpha"].members == ("scoped_session.add", "scoped_session.flush")
    assert cat["registry.alpha"].to_json()["members"] == ["scoped_session.add", "scoped_session.flush"]
    with pytest.raises(CatalogueError, match="'members' must be a list"):
        _toy_catalogue(tmp_path, 'members = ["scoped session add"]\n', "")
    with pytest.raises(CatalogueError, match=r"claims\.registry\.nope: unknown claim id"):
        _toy_catalogue(tmp_path, "", '[claims]\n"registry.nope" = ["scoped_session.add"]\n')
