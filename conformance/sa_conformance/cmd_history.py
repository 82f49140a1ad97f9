"""``sa-conformance history --series 2.0``: every claim on every release of a series.

Runs the claims (their since/until ignored, so what is shown is observed) on
each final release of the series in its cached uv env, one results file per
release under ``<results>/<release>/results.json``, then merges them into a
claims × releases matrix (``history.json``) and an HTML heatmap
(``history.html``), and lists every claim whose observed verdicts disagree with
its catalogue range (it fails inside it or holds outside it).

Results are cached: a release whose results file is complete and was made by
the same suite (catalogue + tests fingerprint) and options is not rerun, so a
second ``history`` after a new release runs only that release.  ``--shard K/N``
runs every N-th release (K-th of N); ``--merge`` only merges what the shards
left in the results directory (``sa-conformance report DIR/*/results.json``
renders the same files as one matrix too).

Exit: 0 every observation agrees with the catalogue; 1 some claim disagrees;
2 bad input (unknown series, registry unreachable, bad --shard, ...); 3 a given
server URL cannot be used (unreachable, login refused), as ``run``'s exit 3.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

DEFAULT_DIR = "sa-conformance-history"
#: releases run at once at most (``--jobs auto``)
MAX_JOBS = 4
STAMP = "history-run.json"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from .env_runner import add_run_options

    h = sub.add_parser(
        "history", help="run the claims on every release of a series: claims × release matrix + heatmap",
        description="Run the claims (ranges ignored) on every final release of a SQLAlchemy series in cached uv "
        "envs; write one results file per release, history.json (claims × releases) and history.html (heatmap), "
        "and list the claims whose observed flips disagree with their since/until (exit 1).",
    )
    h.add_argument("--series", required=True, metavar="X.Y", help="release series, e.g. 2.0")
    h.add_argument("--shard", metavar="K/N", default=None, help="run only every N-th release, starting at the K-th")
    h.add_argument("--merge", action="store_true",
                   help="run nothing; merge the results already in --results (DIR/<release>/results.json, also "
                   "below shard directories: DIR/<shard>/<release>/results.json)")
    h.add_argument("--jobs", metavar="N", default="auto",
                   help="releases run at once (default auto: one per CPU, up to 4, when -n is not given; else 1)")
    h.add_argument("--results", metavar="DIR", default=None,
                   help=f"results directory (default ./{DEFAULT_DIR}/<series>/)")
    add_run_options(h)
    h.add_argument("--python", metavar="PYTHON", default=None)
    h.set_defaults(func=cmd_history, takes_pytest_args=True)
    return h


def _info(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def parse_shard(text: str | None) -> tuple[int, int]:
    if text is None:
        return 1, 1
    m = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise ValueError(f"--shard {text!r} must be K/N with 1 <= K <= N, e.g. 2/4")
    return int(m.group(1)), int(m.group(2))


def parse_jobs(text: str, opts) -> int:
    if text == "auto":
        return default_jobs(opts)
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"--jobs {text!r} must be a positive number or 'auto'")
    return int(text)


def shard_of(releases: list[str], k: int, n: int) -> list[str]:
    return releases[k - 1::n]


def _stamp(opts) -> dict:
    from .probe import suite_fingerprint

    return {"suite": suite_fingerprint(), "backend": opts.backend, "claims": sorted(opts.claims),
            "hypothesis_profile": opts.hypothesis_profile, "pytest_args": opts.pytest_args}


def _cached(root: Path, release: str, stamp: dict):
    from .resultsio import load_results

    path, stamp_path = root / release / "results.json", root / release / STAMP
    try:
        if json.loads(stamp_path.read_text(encoding="utf-8")) != stamp:
            return None
        doc = load_results(path)
    except Exception:
        return None
    return doc if doc.complete and doc.run.sqlalchemy == release else None


def default_jobs(opts) -> int:
    """Releases run at once: one per CPU when each run is one process (a
    release's run is single-threaded, and xdist workers would each collect the
    suite again), else one."""
    if opts.numprocesses not in (None, "0"):
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_JOBS))


def run_series(releases: list[str], root: Path, opts, python=None, jobs: int = 1) -> dict[str, object]:
    """Run (or take from the cache) every release; ``jobs`` releases at once."""
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    from packaging.version import Version

    from .probe import probe_release

    stamp = _stamp(opts)
    docs, todo = {}, []
    for i, release in enumerate(releases, 1):
        doc = _cached(root, release, stamp)
        if doc is None:
            todo.append((i, release))
        else:
            _info(f"[{i}/{len(releases)}] SQLAlchemy {release}: cached")
            docs[release] = doc

    def one(i: int, release: str):
        _info(f"[{i}/{len(releases)}] SQLAlchemy {release}: running")
        started = time.monotonic()
        doc = probe_release(release, opts, root=root, python=python, reuse=False)
        (root / release / STAMP).write_text(json.dumps(stamp), encoding="utf-8")
        if jobs > 1:
            _info(f"[{i}/{len(releases)}] SQLAlchemy {release}: done in {time.monotonic() - started:.0f} s")
        return release, doc

    if jobs <= 1 or len(todo) <= 1:
        for i, release in todo:
            docs.setdefault(*one(i, release))
    else:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="history") as pool:
            futures = [pool.submit(one, i, release) for i, release in todo]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:  # stop starting releases; the running ones finish (each is bounded)
                for f in futures:
                    f.cancel()
                raise failed.exception()
            for f in futures:
                docs.setdefault(*f.result())
    return dict(sorted(docs.items(), key=lambda kv: Version(kv[0])))


def load_dir(root: Path) -> dict[str, object]:
    from packaging.version import Version

    from .resultsio import load_results

    docs = {}
    # DIR/<release>/results.json, or shard directories of them (DIR/<shard>/<release>/results.json)
    for path in sorted(root.rglob("results.json")):
        try:
            doc = load_results(path)
        except Exception as exc:
            _info(f"skipping {path}: {exc}")
            continue
        if doc.complete:
            docs[doc.run.sqlalchemy] = doc
    return dict(sorted(docs.items(), key=lambda kv: Version(kv[0])))


def matrix(docs: dict[str, object]) -> dict:
    """{releases, claims: {id: {release: verdict}}, disagreements: {id: [releases]}, flips: {id: [releases]}}."""
    from .catalogue import in_version_range
    from .probe import HOLDS, SKIP, observe

    releases = list(docs)
    meta: dict[str, dict] = {}
    cells: dict[str, dict[str, str]] = {}
    for release, doc in docs.items():
        for cid, verdict in observe(doc).items():
            cells.setdefault(cid, {})[release] = verdict
        for cid, c in doc.claims.items():
            meta.setdefault(cid, dict(c))
    disagreements, flips = {}, {}
    for cid, row in cells.items():
        c = meta.get(cid, {})
        bad = [r for r in releases if row.get(r, SKIP) != SKIP
               and (row[r] == HOLDS) != in_version_range(r, c.get("since"), c.get("until"))]
        if bad:
            disagreements[cid] = bad
        seen = [r for r in releases if row.get(r, SKIP) != SKIP]
        flips[cid] = [b for a, b in zip(seen, seen[1:]) if row[a] != row[b]]
    return {"releases": releases, "claims": {k: cells[k] for k in sorted(cells)},
            "ranges": {k: {"since": meta.get(k, {}).get("since"), "until": meta.get(k, {}).get("until")} for k in sorted(cells)},
            "flips": {k: v for k, v in sorted(flips.items()) if v},
            "disagreements": dict(sorted(disagreements.items()))}


def heatmap(m: dict, series: str) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("sa_conformance", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    return env.get_template("history.html.j2").render(m=m, series=series)


def cmd_history(args: argparse.Namespace) -> int:
    from .cli import CliError, _out
    from .env_runner import (
        RunRefused,
        check_options,
        options_from,
        answer_refusal,
    )
    from .envs import EnvError
    from .releases import ReleaseError, series_releases
    from .resultsio import write_atomic

    opts = options_from(args)
    opts.backend = opts.backend or "sqlite-memory"
    opts.hypothesis_profile = opts.hypothesis_profile or "ci"  # derandomized: verdicts comparable across releases
    root = Path(args.results or f"{DEFAULT_DIR}/{args.series}").resolve()
    if root.exists() and not root.is_dir():
        raise CliError(f"--results {root} is a file, not a directory")
    try:
        k, n = parse_shard(args.shard)
        jobs = parse_jobs(args.jobs, opts)
        if not args.merge:
            check_options(opts)
            releases = series_releases(args.series)
            if not releases:
                raise CliError(f"SQLAlchemy has no final release in series {args.series}")
            mine = shard_of(releases, k, n)
            _info(f"history {args.series}: {len(mine)} of {len(releases)} releases (shard {k}/{n}) on {opts.backend}, "
                  f"{jobs} at once; results in {root}")
            root.mkdir(parents=True, exist_ok=True)
            run_series(mine, root, opts, python=args.python, jobs=jobs)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except RunRefused as exc:
        return answer_refusal(exc)
    except (ReleaseError, EnvError) as exc:
        raise CliError(str(exc.args[0] if exc.args else exc)) from None
    docs = load_dir(root) if root.is_dir() else {}
    if not docs:
        raise CliError(f"no complete results in {root}")
    m = matrix(docs)
    write_atomic(root / "history.json", json.dumps(m, indent=1) + "\n")
    write_atomic(root / "history.html", heatmap(m, args.series))
    dis = m["disagreements"]
    _out(f"history {args.series}: {len(m['claims'])} claims × {len(m['releases'])} releases "
         f"({m['releases'][0]}..{m['releases'][-1]}); {len(m['flips'])} claim(s) flip; "
         f"{len(dis)} claim(s) disagree with their range")
    for cid, flips in m["flips"].items():
        _out(f"  flip {cid}: at {', '.join(flips)} (catalogue {_range(m['ranges'][cid])})")
    for cid, rels in dis.items():
        _out(f"  DISAGREES {cid} ({_range(m['ranges'][cid])}): observed otherwise on {_span(rels)}")
    _out(f"wrote {root / 'history.json'} and {root / 'history.html'}")
    return 1 if dis else 0


def _range(r: dict) -> str:
    s, u = r.get("since"), r.get("until")
    return (f">={s}" if s else "") + ("," if s and u else "") + (f"<{u}" if u else "") or "all versions"


def _span(rels: list[str]) -> str:
    return ", ".join(rels) if len(rels) <= 4 else f"{rels[0]}, {rels[1]} … {rels[-1]} ({len(rels)} releases)"
