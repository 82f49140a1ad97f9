"""``sa-conformance bisect CLAIM [--from V] [--to V]``: the first release where a claim's verdict changes.

Installs SQLAlchemy releases into cached uv envs, runs only that claim (ranges
ignored, so the verdict is observed, not assumed) and binary-searches the
final releases between --from and --to (releases or series; default: the
catalogue's supported series).  Prints the first release with the new verdict
and whether it agrees with the claim's since/until.

Exit: 0 agrees; 1 disagrees (a catalogue defect: the range is wrong, or the
verdict flips where the catalogue says nothing changes); 2 bad input (unknown
claim, empty range, claim not applicable anywhere in the range, registry
unreachable, a release that cannot be installed or judged); 3 a given server
URL cannot be used (unreachable, login refused), as ``run``'s exit 3.
"""

from __future__ import annotations

import argparse
import difflib
import sys


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from .env_runner import add_run_options

    b = sub.add_parser(
        "bisect", help="binary-search the first SQLAlchemy release where a claim's verdict changes",
        description="Run one claim (its since/until ignored) on SQLAlchemy releases installed with uv and find the "
        "first release whose verdict differs from --from's; compare it with the claim's since/until. "
        "Exit 0 agrees, 1 disagrees (catalogue defect), 2 bad input.",
    )
    b.add_argument("claim", metavar="CLAIM", help="claim id")
    b.add_argument("--from", dest="lo", metavar="V", help="first release or series (default: oldest supported series)")
    b.add_argument("--to", dest="hi", metavar="V", help="last release or series (default: newest supported series)")
    add_run_options(b, claims=False)
    b.add_argument("--python", metavar="PYTHON", default=None, help="interpreter for the envs (default: this one)")
    b.set_defaults(func=cmd_bisect, takes_pytest_args=True, backend_default="sqlite-memory")
    return b


def _info(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class Bisector:
    def __init__(self, claim_id: str, releases: list[str], opts, python=None, log=_info):
        self.claim_id, self.releases, self.opts, self.python, self.log = claim_id, releases, opts, python, log
        self.seen: dict[str, str] = {}

    def verdict(self, release: str) -> str:
        from .env_runner import RunRefused
        from .probe import SKIP, observe, probe_release

        if release not in self.seen:
            doc = probe_release(release, self.opts, python=self.python, log=None)
            v = observe(doc, {self.claim_id}).get(self.claim_id, SKIP)
            if v == SKIP:
                raise RunRefused(f"{self.claim_id} could not be judged on SQLAlchemy {release} (no test ran it: "
                                 "skipped or deselected on this backend)")
            self.seen[release] = v
            self.log(f"  SQLAlchemy {release}: {self.claim_id} {v}")
        return self.seen[release]

    def run(self) -> tuple[str, str | None]:
        """(verdict at the first release, first release with another verdict or None)."""
        rel = self.releases
        first, last = self.verdict(rel[0]), self.verdict(rel[-1])
        if first == last:
            return first, None
        lo, hi = 0, len(rel) - 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.verdict(rel[mid]) == first:
                lo = mid
            else:
                hi = mid
        return first, rel[hi]


def judge(claim, releases: list[str], first: str, flip: str | None) -> tuple[bool, str]:
    """Does the observation agree with the claim's range? (ok, one line)."""
    from .catalogue import parse_version

    lo, hi = parse_version(releases[0]), parse_version(releases[-1])

    def inside(bound: str | None) -> bool:
        return bound is not None and lo < parse_version(bound) <= hi

    if flip is None:
        bounds = [f"{n} = {b}" for n, b in (("since", claim.since), ("until", claim.until)) if inside(b)]
        if bounds:
            return False, (f"DISAGREES: the verdict is '{first}' on every release {releases[0]}..{releases[-1]}, "
                           f"but the catalogue's {' and '.join(bounds)} lies inside")
        expected = "holds" if claim.applies_to(releases[0]) else "fails"
        if first != expected:
            return False, (f"DISAGREES: it {first} on every release {releases[0]}..{releases[-1]}, "
                           f"the catalogue ({claim.range_text}) says it {expected}")
        return True, (f"agrees: no change in {releases[0]}..{releases[-1]} "
                      f"and the catalogue ({claim.range_text}) has no boundary there")
    bound_name, bound = ("since", claim.since) if first == "fails" else ("until", claim.until)
    if bound is None:
        return False, f"DISAGREES: the verdict changes at {flip}, but the claim has no '{bound_name}' ({claim.range_text})"
    if parse_version(bound) != parse_version(flip):
        return False, f"DISAGREES: the verdict changes at {flip}, the catalogue says {bound_name} = {bound}"
    return True, f"agrees with {bound_name} = {bound}"


def cmd_bisect(args: argparse.Namespace) -> int:
    from .catalogue import load_catalogue
    from .cli import CliError, _out
    from .env_runner import (
        RunRefused,
        check_options,
        options_from,
        answer_refusal,
    )
    from .envs import EnvError
    from .paths import CATALOGUE_DIR
    from .releases import ReleaseError, releases_between

    cat = load_catalogue(CATALOGUE_DIR)
    if args.claim not in cat:
        family = [c.id for c in cat if c.family == args.claim]
        if family:
            raise CliError(f"{args.claim!r} is a claim family; bisect takes one claim id, e.g. "
                           f"{', '.join(family[:3])} (list them: sa-conformance claims --family {args.claim})")
        close = difflib.get_close_matches(args.claim, list(cat.claims), n=3, cutoff=0.5)
        raise CliError(f"unknown claim {args.claim!r}" + (f"; did you mean {', '.join(close)}?" if close else
                                                          " (list them: sa-conformance claims)"))
    claim = cat[args.claim]
    opts = options_from(args)
    opts.backend = opts.backend or args.backend_default
    opts.hypothesis_profile = opts.hypothesis_profile or "ci"  # derandomized: verdicts comparable across releases
    opts.claims = [claim.id]
    try:
        check_options(opts)
        lo = args.lo or cat.supported_series[0]
        hi = args.hi or cat.supported_series[-1]
        releases = releases_between(lo, hi)
        if not releases:
            raise CliError(f"no SQLAlchemy release between {lo} and {hi}")
        if len(releases) < 2:
            raise CliError(f"only one release ({releases[0]}) between {lo} and {hi}; nothing to bisect")
        if not any(claim.applies_to(v) for v in releases):
            raise CliError(f"{claim.id} ({claim.range_text}) is not applicable anywhere in "
                           f"{releases[0]}..{releases[-1]}; nothing to bisect")
        _info(f"bisect {claim.id} ({claim.range_text}) over {len(releases)} releases {releases[0]}..{releases[-1]} "
              f"on {opts.backend}")
        bis = Bisector(claim.id, releases, opts, python=args.python)
        first, flip = bis.run()
    except RunRefused as exc:
        return answer_refusal(exc)
    except (ReleaseError, EnvError) as exc:
        raise CliError(str(exc.args[0] if exc.args else exc)) from None
    ok, line = judge(claim, releases, first, flip)
    if flip is None:
        _out(f"{claim.id}: {first} on every release {releases[0]}..{releases[-1]} ({len(bis.seen)} probed)")
    else:
        before = releases[releases.index(flip) - 1]
        _out(f"{claim.id}: first release with the new verdict: {flip} ({first} on {before} and before, "
             f"{bis.seen[flip]} from {flip}; {len(bis.seen)} releases probed)")
    _out(f"{claim.id}: {line}")
    return 0 if ok else 1

