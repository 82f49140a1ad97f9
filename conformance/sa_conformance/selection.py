"""``--claim`` selection: claim ids and family names -> the claim ids to run.

Pure (no pytest): the pytest plugin (``pytest --claim``) and
``sa-conformance run --claim`` resolve the same way.  A family name selects
every claim of the family; anything else must be a catalogue claim id.
"""

from __future__ import annotations

import difflib
from typing import Iterable

from .catalogue import Catalogue


class SelectionError(ValueError):
    """An unknown claim id or family; the message is one line naming close matches."""


def resolve(cat: Catalogue, names: Iterable[str]) -> frozenset[str]:
    """The claim ids selected by ``names`` (claim ids or family names)."""
    families = cat.by_family()
    ids = [c.id for c in cat]
    chosen: set[str] = set()
    for raw in names:
        name = raw.strip()
        if name in families:
            chosen.update(c.id for c in families[name])
        elif name in cat:
            chosen.add(name)
        else:
            raise SelectionError(unknown_message(name, ids, families))
    return frozenset(chosen)


def unknown_message(name: str, ids: list[str], families: Iterable[str]) -> str:
    families = sorted(families)
    close = difflib.get_close_matches(name, families + ids, n=4, cutoff=0.6)
    if not close:  # a family prefix or a claim's tail ("remove.closes" -> "remove.closes-session")
        close = [i for i in ids if name and (i.startswith(name) or i.endswith("." + name))][:4]
    hint = f"did you mean {', '.join(close)}?" if close else f"families: {', '.join(families)}"
    return f"unknown claim id or family {name!r} (from --claim); {hint} (list them: sa-conformance claims)"
