"""``sa-conformance``: reports, diffs and the catalogue outside pytest.

    sa-conformance report RESULTS... [--html PATH] [--md PATH]
    sa-conformance diff OLD NEW [--html PATH] [--md PATH]
    sa-conformance claims [QUERY] [--family F] [--tests] [--json]
    sa-conformance check [--no-collect]
    sa-conformance upgrade OLD NEW [run options] [-- PYTEST_ARGS...]   (cmd_upgrade.py)
    sa-conformance bisect CLAIM [--from V] [--to V]                     (cmd_bisect.py)
    sa-conformance history --series X.Y [--shard K/N] [--jobs N]        (cmd_history.py)
    sa-conformance run [run options] [-- PYTEST_ARGS...]                (cmd_run.py)

Exit status: 0 success; 1 ``diff``/``upgrade`` found undocumented changes,
``run`` non-conforming claims, ``bisect``/``history`` a catalogue disagreement or
``check`` problems; 2 bad input (missing, empty, corrupt or invalid results
files, files from different suites, a broken catalogue, unknown releases...);
3 the run could not judge (``run``, ``upgrade``, ``bisect``, ``history``: a
backend or a given server URL that cannot be used).  Errors are one line on
stderr, never a traceback (set SA_CONFORMANCE_DEBUG=1 for one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from . import __version__
from .paths import CATALOGUE_DIR, EXPECTATIONS_FILE, SUITE_DIR, SUITE_INI, repo_root

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class CliError(Exception):
    """Bad input: one line on stderr, exit 2."""


def _redactor():
    from .redact import from_environment

    return from_environment()


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write("sa-conformance: " + _redactor()(text).replace("\n", " ") + "\n")


def _load_all(paths: Sequence[str]) -> list[dict]:
    from .resultsio import load_results

    return [load_results(p) for p in paths]


def _repo_root() -> Path:
    """The checkout this package lives in (editable install), else cwd."""
    return repo_root() or Path.cwd()


def _catalogue_dir(arg: str | None) -> Path:
    return Path(arg) if arg else CATALOGUE_DIR


# -- verbs ---------------------------------------------------------------------
def cmd_report(args: argparse.Namespace) -> int:
    from .model import check_same_suite
    from .report import html_matrix, markdown_summary
    from .resultsio import write_atomic

    docs = _load_all(args.results)
    check_same_suite(docs, args.results)
    redact = _redactor()
    if args.html:
        write_atomic(Path(args.html), html_matrix(docs, redact, title=args.title))
        _err_info(f"wrote {args.html}")
    if args.md:
        write_atomic(Path(args.md), markdown_summary(docs, redact))
        _err_info(f"wrote {args.md}")
    if not args.html and not args.md:
        _out(markdown_summary(docs, redact))
    return EXIT_OK


def _err_info(text: str) -> None:
    sys.stderr.write(text + "\n")


def cmd_diff(args: argparse.Namespace) -> int:
    from . import diff as diffmod
    from .cmd_upgrade import emit_diff
    from .resultsio import load_results

    old, new = load_results(args.old), load_results(args.new)
    return emit_diff(diffmod.diff_results(old, new, args.old, args.new), args)


def _collect_claim_tests(root: Path, catalogue: Path | None = None) -> dict[str, list[str]]:
    """{test id: [claim ids]} by collecting the suite in a subprocess."""
    with tempfile.TemporaryDirectory(prefix="sa-conformance-cli-") as tmp:
        dump = Path(tmp) / "claims.json"
        cmd = [
            sys.executable, "-m", "pytest", "-c", str(SUITE_INI), "--rootdir", str(SUITE_DIR),
            "--collect-only", "-q", "-p", "no:cacheprovider", "--no-results",
            "--backend", "sqlite-memory", f"--claims-dump={dump}",
        ]
        if catalogue is not None:
            cmd += ["-o", f"claims_catalogue={catalogue.resolve()}"]
        cmd.append(str(SUITE_DIR))
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0 or not dump.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["(no output)"]
            raise CliError(f"collecting the tests failed (pytest exit {proc.returncode}): {tail[0]}")
        return json.loads(dump.read_text(encoding="utf-8"))


def cmd_claims(args: argparse.Namespace) -> int:
    from .catalogue import load_catalogue

    cat = load_catalogue(_catalogue_dir(args.catalogue))
    tests_by_claim: dict[str, list[str]] = {}
    if args.tests:
        for test, ids in _collect_claim_tests(_repo_root()).items():
            for cid in ids:
                tests_by_claim.setdefault(cid, []).append(test)
    q = (args.query or "").lower()
    rows = []
    for c in cat:
        if args.family and c.family != args.family:
            continue
        hay = " ".join([c.id, c.claim, c.section, c.source, c.note or ""]).lower()
        if q and q not in hay:
            continue
        row = c.to_json()
        row["range"] = c.range_text
        if args.tests:
            row["tests"] = sorted(tests_by_claim.get(c.id, []))
        rows.append(row)
    if args.json:
        _out(json.dumps(rows, indent=1))
        return EXIT_OK
    for row in rows:
        _out(f"{row['id']}  [{row['range']}]")
        _out(f"    {row['claim']}")
        _out(f"    source: {row['source']}  ({row['section']})")
        if args.tests:
            if row["tests"]:
                for t in row["tests"]:
                    _out(f"    test: {t}")
            else:
                _out("    test: (none)")
    sys.stderr.write(f"{len(rows)} of {len(cat)} claims\n")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from .catalogue import coverage_problems, load_catalogue
    from .expectations import load_expectations

    cat_dir = _catalogue_dir(args.catalogue)
    cat = load_catalogue(cat_dir)
    exp_path = Path(args.expectations) if args.expectations else EXPECTATIONS_FILE
    expectations = load_expectations(exp_path, known_claims=[c.id for c in cat])
    _out(f"catalogue {cat_dir}: {len(cat)} claims in {len(cat.by_family())} families, valid")
    _out(f"expectations {exp_path}: {len(expectations)} active entr{'y' if len(expectations) == 1 else 'ies'}, valid")
    if args.no_collect:
        return EXIT_OK
    tests = _collect_claim_tests(_repo_root(), cat_dir if args.catalogue else None)
    problems = coverage_problems(cat, tests)
    if problems:
        _out(f"{len(problems)} problem(s):")
        for p in problems:
            _out(f"  {p}")
        return EXIT_FAIL
    _out(f"{len(tests)} tests cite claims; every claim is tested on every supported series it covers")
    return EXIT_OK


# -- parser ----------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sa-conformance",
        description="Reports, diffs and catalogue tools of the SQLAlchemy session conformance suite.",
        epilog="Exit status: 0 ok; 1 non-conforming claims (run), undocumented changes (diff, upgrade), a "
        "catalogue disagreement (bisect, history) or problems (check); 2 bad input; 3 the run could not judge "
        "(a backend or a given server URL unusable: run, upgrade, bisect, history).",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="verb", metavar="VERB", required=True)

    r = sub.add_parser(
        "report", help="results file(s) -> HTML claims matrix and/or Markdown summary",
        description="Render one or more results files. Several files (e.g. one per SQLAlchemy version) merge "
        "into one matrix with a column per backend and version. Without --html/--md, Markdown goes to stdout.",
    )
    r.add_argument("results", nargs="+", metavar="RESULTS", help="results.json file(s)")
    r.add_argument("--html", metavar="PATH", help="write the self-contained HTML matrix here")
    r.add_argument("--md", metavar="PATH", help="write the Markdown summary here")
    r.add_argument("--title", default=None, help="HTML page title")
    r.set_defaults(func=cmd_report)

    d = sub.add_parser(
        "diff", help="compare two results files (CI gate)",
        description="Diff two results files, one row per claim (backends, drivers, scope modes folded in): "
        "undocumented changes (the gate), documented behaviour changes, API added/removed, fixed, "
        "appeared/vanished. Markdown (or --format json) to stdout; its first line is the summary. "
        "Exit 1 on undocumented changes (with --fail-on documented also on documented ones).",
    )
    d.add_argument("old", metavar="OLD")
    d.add_argument("new", metavar="NEW")
    from .cmd_upgrade import add_output_options

    add_output_options(d)
    d.set_defaults(func=cmd_diff)

    c = sub.add_parser("claims", help="list or search the claims catalogue",
                       description="List catalogue claims (id, range, text, source), optionally with their tests.")
    c.add_argument("query", nargs="?", help="substring to search in id, text, section, source")
    c.add_argument("--family", help="only this family")
    c.add_argument("--tests", action="store_true", help="collect the suite and list the tests citing each claim")
    c.add_argument("--json", action="store_true", help="JSON output")
    c.add_argument("--catalogue", metavar="DIR", help="catalogue directory (default: the packaged sa_conformance/claims)")
    c.set_defaults(func=cmd_claims)

    k = sub.add_parser("check", help="catalogue self-check outside pytest",
                       description="Validate the catalogue and expectations.toml, collect the suite, and report "
                       "claims without tests, tests citing unknown claims, and claims tested outside their module.")
    k.add_argument("--catalogue", metavar="DIR", help="catalogue directory (default: the packaged sa_conformance/claims)")
    k.add_argument("--expectations", metavar="PATH",
                   help="expectations file (default: the packaged sa_conformance/expectations.toml)")
    k.add_argument("--no-collect", action="store_true", help="only validate the files; do not collect tests")
    k.set_defaults(func=cmd_check)

    from .cmd_upgrade import add_parser as add_upgrade_parser

    add_upgrade_parser(sub)  # upgrade, and upgrade-diff as its alias
    from .cmd_bisect import add_parser as add_bisect_parser

    add_bisect_parser(sub)
    from .cmd_history import add_parser as add_history_parser

    add_history_parser(sub)

    from .cmd_run import add_parser as add_run_parser

    add_run_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from .catalogue import CatalogueError
    from .expectations import ExpectationsError
    from .model import ResultsError

    args_list = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in args_list:  # upgrade-diff: what follows goes to pytest (via tox)
        cut = args_list.index("--")
        args_list, pytest_args = args_list[:cut], args_list[cut + 1:]
    parser = build_parser()
    args = parser.parse_args(args_list)
    if pytest_args and not getattr(args, "takes_pytest_args", args.verb == "upgrade-diff"):
        parser.error(f"arguments after -- are not accepted by {args.verb}")
    args.pytest_args = pytest_args
    try:
        return int(args.func(args))
    except (ResultsError, CatalogueError, ExpectationsError, CliError) as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    except OSError as exc:
        _err(f"{exc.__class__.__name__}: {exc.strerror or exc} {getattr(exc, 'filename', '') or ''}".strip())
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # never a traceback
        if os.environ.get("SA_CONFORMANCE_DEBUG"):
            raise
        _err(f"internal error: {exc.__class__.__name__}: {exc}")
        return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
