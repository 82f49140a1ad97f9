"""``sa-conformance upgrade OLD NEW``: run the suite on two SQLAlchemy releases, diff.

OLD and NEW are releases (``2.0.58``) or series (``2.0`` = its newest release).
Each gets its cached uv env (:mod:`sa_conformance.envs`); the suite runs in each
with the same run options via ``<env python> -m sa_conformance run``, results in
``<results>/<release>/``, each run under its own invocation id; then the two
documents are diffed (:mod:`sa_conformance.diff`).  Results this invocation did
not produce, incomplete results and results of another SQLAlchemy are refused
(one line, exit 2) -- a diff of stale files is impossible.

Exit: the diff's (0, or 1 for undocumented changes / ``--fail-on documented``);
2 bad input (unknown release, registry unreachable, uninstallable release,
refused results); 3 a run could not judge (a required backend missing, a given
server URL unreachable or its login refused: checked before any env is made).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_DIR = "sa-conformance-upgrade"


def add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--html", metavar="PATH", help="also write the diff as HTML")
    p.add_argument("--md", metavar="PATH", help="write the Markdown here instead of stdout")
    p.add_argument("--format", choices=("md", "json"), default="md", help="stdout format (default md)")
    p.add_argument("--fail-on", choices=("undocumented", "documented"), default="undocumented",
                   help="exit 1 on undocumented changes (default), or on documented behaviour changes too")
    p.add_argument("--no-gate", action="store_true", help="exit 0 whatever the diff says")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from .env_runner import add_run_options

    for name in ("upgrade", "upgrade-diff"):
        u = sub.add_parser(
            name, help="run two SQLAlchemy releases in cached uv envs and diff them" if name == "upgrade"
            else "alias of upgrade (the tox-based upgrade-diff is retired)",
            description="Create or reuse one uv environment per SQLAlchemy release (a series such as 2.0 means its "
            "newest release), run the packaged suite in each with the same options, and diff: documented "
            "behaviour changes, API changes, undocumented changes (the gate), fixed, appeared/vanished. "
            "Arguments after -- go to pytest in both runs.",
        )
        u.add_argument("old", metavar="OLD", help="release (2.0.58) or series (2.0)")
        u.add_argument("new", metavar="NEW", help="release (2.1.9) or series (2.1)")
        add_run_options(u)
        u.add_argument("--results", metavar="DIR", default=DEFAULT_DIR,
                       help=f"results root: DIR/<release>/results.json (default ./{DEFAULT_DIR}/)")
        u.add_argument("--python", metavar="PYTHON", default=None, help="interpreter for the envs (default: this one)")
        add_output_options(u)
        u.set_defaults(func=cmd_upgrade, takes_pytest_args=True)
    return u


def _info(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def run_release(release: str, root: Path, opts, *, python: str | None = None, quiet: bool = False):
    """Env + run + own results for one release (raises the one-line errors)."""
    from .env_runner import load_own_results, run_in_env
    from .envs import ensure_env

    env = ensure_env(release, python=python, log=_info)
    outcome = run_in_env(env, root / release, opts, log=None if quiet else _info, quiet=quiet)
    if outcome.returncode not in (0, 1):
        from .env_runner import RunRefused

        code = outcome.returncode
        what = "could not judge" if code == 3 else "failed"
        raise RunRefused(f"the SQLAlchemy {release} run {what} (exit {code}); see its output above", code)
    return load_own_results(outcome)


def emit_diff(d, args) -> int:
    from . import diff as diffmod
    from . import diff_render as render
    from .cli import _out, _redactor
    from .resultsio import write_atomic

    redact = _redactor()
    if args.html:
        write_atomic(Path(args.html), render.html(d, redact))
        _info(f"wrote {args.html}")
    text = render.json_text(d, redact) if args.format == "json" else render.markdown(d, redact)
    if args.md:
        write_atomic(Path(args.md), render.markdown(d, redact))
        _info(f"wrote {args.md}")
        if args.format == "json":
            _out(text)
        else:
            _out(d.headline())
    else:
        _out(text)
    return 0 if args.no_gate else diffmod.exit_code(d, args.fail_on)


def cmd_upgrade(args: argparse.Namespace) -> int:
    from . import diff as diffmod
    from .cli import CliError
    from .env_runner import RunRefused, answer_refusal, check_options, options_from
    from .envs import EnvError
    from .releases import ReleaseError, resolve

    opts = options_from(args)
    # derandomized unless asked otherwise: both releases see the same examples, so a difference is
    # SQLAlchemy's, not two random property walks' (as bisect and history)
    opts.hypothesis_profile = opts.hypothesis_profile or "ci"
    try:
        root = Path(args.results).resolve()
        if root.exists() and not root.is_dir():
            raise CliError(f"--results {args.results} is a file, not a directory")
        old, new = resolve(args.old), resolve(args.new)
        if old == new:
            raise CliError(f"OLD ({args.old}) and NEW ({args.new}) are the same release {old}; nothing to compare")
        check_options(opts)  # last: it connects to a given server
        _info(f"sa-conformance upgrade: SQLAlchemy {old} → {new}")
        docs = [run_release(v, root, opts, python=args.python) for v in (old, new)]
    except (ReleaseError, EnvError) as exc:
        raise CliError(str(exc)) from None
    except RunRefused as exc:
        return answer_refusal(exc)
    d = diffmod.diff_results(docs[0], docs[1], str(root / old / "results.json"), str(root / new / "results.json"))
    return emit_diff(d, args)
