"""The example workflow is one a user can copy, and its gates can fail.

GitHub runs ``run:`` steps with ``bash -e {0}``: without ``pipefail`` a
``cmd | tee`` step is green whatever ``cmd`` returns.  Every piped step must
set it.  The workflow installs the published package (no checkout of this
repository) and requires the MySQL-family backend.
"""

from __future__ import annotations

import re

import pytest

from sa_conformance.paths import repo_root

pytestmark = [
    pytest.mark.selfcheck,
    pytest.mark.skipif(repo_root() is None, reason="needs the source checkout"),
]


def _workflow() -> str:
    return (repo_root() / ".github" / "workflows" / "conformance.yml").read_text(encoding="utf-8")


def _run_blocks(text: str) -> list[str]:
    """The shell scripts of the ``run:`` steps (block scalars and one-liners)."""
    blocks, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(?:- )?run: ?(.*)$", line)
        if not m:
            continue
        indent, rest = len(m.group(1)), m.group(2).strip()
        if rest not in ("|", ">", "|-", ">-"):
            blocks.append(rest)
            continue
        body = []
        for nxt in lines[i + 1:]:
            if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                break
            body.append(nxt)
        blocks.append("\n".join(body))
    return blocks


def test_every_piped_step_sets_pipefail() -> None:
    blocks = _run_blocks(_workflow())
    assert blocks, "no run: steps found"
    piped = [b for b in blocks if re.search(r"[^|]\|[^|]", re.sub(r"\$\{\{.*?\}\}", "", b))]
    assert piped, "expected piped steps (tee into the step summary)"
    for block in piped:
        assert "set -o pipefail" in block, f"piped step without pipefail (its gate can never fail):\n{block}"


def test_workflow_is_the_one_a_user_copies() -> None:
    text = _workflow()
    assert "actions/checkout" not in text, "a user's workflow must not check out this repository"
    assert "pip install -e" not in text
    assert 'SUITE: "sa-session-conformance[mysql]"' in text and 'pip install "$SUITE" "SQLAlchemy==$SQLALCHEMY_PIN"' in text
    assert "image: mysql:8.4" in text
    assert re.search(r"sa-conformance run .*--require-backend mysql", text)
    assert re.search(r"sa-conformance upgrade \"\$UPGRADE_FROM\" \"\$UPGRADE_TO\"", text)
    assert "--shard" in text and "sa-conformance report" in text
    # the shards' results merge into one heatmap and the list of claims whose flips disagree with their range
    assert re.search(r"sa-conformance history --series \"\$UPGRADE_FROM\" --merge --results history", text)
    assert "upload-artifact" in text
