"""Observe claims on one SQLAlchemy release, ignoring their catalogue ranges.

``bisect`` and ``history`` need to see where a behaviour really changes, so
they run claims outside their since/until too (``SA_CONFORMANCE_IGNORE_RANGES``)
and reduce each claim's records to one observation:

* ``holds``  every judged record passes (or passes unexpectedly)
* ``fails``  some record fails or is an expected failure
* ``skip``   nothing judged (skipped: the backend lacks a capability, ...;
             or its tests only errored: an error judges no claim)

Results are cached per release and claim selection under
``<cache>/results/<key>/<release>/results.json`` and reused while the suite
(its catalogue and tests) is unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .env_runner import RunOptions, load_own_results, run_in_env
from .envs import ensure_env
from .releases import cache_root

HOLDS, FAILS, SKIP = "holds", "fails", "skip"
IGNORE_RANGES_ENV = "SA_CONFORMANCE_IGNORE_RANGES"


def observe(doc, claim_ids=None) -> dict[str, str]:
    """{claim: holds|fails|skip} from a results Document."""
    out: dict[str, list] = {}
    for r in doc.records:
        if claim_ids is not None and r.claim not in claim_ids:
            continue
        out.setdefault(r.claim, []).append(r.outcome.value)
    result = {}
    for cid, outcomes in out.items():
        if any(o in ("fail", "expected-fail") for o in outcomes):
            result[cid] = FAILS
        elif any(o in ("pass", "unexpected-pass") for o in outcomes):
            result[cid] = HOLDS
        else:
            result[cid] = SKIP
    return result


def suite_fingerprint() -> str:
    """Hash of the packaged catalogue and claim tests: cached results are
    reused only for the same suite."""
    from .paths import CATALOGUE_DIR, SUITE_DIR

    h = hashlib.sha256()
    for root in (CATALOGUE_DIR, SUITE_DIR):
        for f in sorted(root.glob("*")):
            if f.is_file() and f.suffix in (".toml", ".py", ".ini"):
                h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def results_key(opts: RunOptions) -> str:
    parts = [suite_fingerprint(), opts.backend or "default", ",".join(sorted(opts.claims)) or "all",
             opts.hypothesis_profile or "", " ".join(opts.pytest_args)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def probe_release(release: str, opts: RunOptions, *, root: Path | None = None, python: str | None = None,
                  log=None, reuse: bool = True):
    """Run (or reuse) the suite with ranges ignored on one release -> Document."""
    from .resultsio import load_results

    root = root or cache_root() / "results" / results_key(opts)
    path = root / release / "results.json"
    if reuse and path.is_file():
        try:
            doc = load_results(path)
            if doc.complete and doc.run.sqlalchemy == release:
                if log:
                    log(f"SQLAlchemy {release}: cached results {path}")
                return doc
        except Exception:
            pass
    env = ensure_env(release, python=python, log=log)
    if log:
        log(f"SQLAlchemy {release}: running")
    outcome = run_in_env(_with_env(env), root / release, opts, quiet=True)
    # exit 3 with complete results: every test on a backend errored (load_own_results refuses the rest)
    if outcome.returncode not in (0, 1, 3):
        from .env_runner import RunRefused

        raise RunRefused(f"the SQLAlchemy {release} run failed (exit {outcome.returncode}); "
                         f"rerun: {env.python} -m sa_conformance run {' '.join(opts.run_args())}")
    return load_own_results(outcome)


def _with_env(env):
    """The env, with the ignore-ranges switch in its subprocess environment."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class ProbeEnv(type(env)):
        def subprocess_env(self, extra=None):
            return super().subprocess_env({IGNORE_RANGES_ENV: "1", **(extra or {})})

    return ProbeEnv(path=env.path, sqlalchemy=env.sqlalchemy, python_version=env.python_version)
