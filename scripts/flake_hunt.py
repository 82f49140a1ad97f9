#!/usr/bin/env python3
"""Flake hunt: run the suite N times in random order and report every test
whose outcome changed between runs.

Each run is ``python -m pytest -n 2 -p randomly --randomly-seed=<seed>`` (the
project's addopts say ``-p no:randomly``; a later ``-p randomly`` re-enables
pytest-randomly, which shuffles modules, classes and tests and reseeds
``random`` per test), with its own JUnit XML.  Outcomes are compared per test
id (``module::name[params]``); a test that passed in one run and failed,
errored or was skipped in another is a flake, listed with the seeds that
reproduce each outcome.

    python scripts/flake_hunt.py                   # 20 runs, default backends, ci profile
    python scripts/flake_hunt.py -N 5 -- --backend sqlite-memory conformance/sa_conformance/suite/test_registry.py
    python scripts/flake_hunt.py --seeds 123,456   # re-run given seeds

Exit status: 0 no flake; 1 at least one flake (or a run that crashed); 2 bad
usage.  Consistent failures (same outcome in every run) are listed but are not
flakes; ``--strict`` makes them fail the hunt too.  Never "fix" a flake with a
retry: find why the outcome depends on order or timing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def outcomes(path: Path) -> dict[str, tuple[str, str]]:
    """test id -> (outcome, first line of the message) from one JUnit XML."""
    root = ET.parse(path).getroot()
    result: dict[str, tuple[str, str]] = {}
    for case in root.iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                message = (node.get("message") or node.text or "").strip().splitlines()[:1]
                message = message[0][:200] if message else ""
                break
        if test_id in result and result[test_id][0] != "passed":
            # a test can appear twice (call failure + teardown error): keep the worst
            continue
        result[test_id] = (outcome, message)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-N", "--runs", type=int, default=20, help="number of runs (default 20)")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds to use instead of random ones")
    ap.add_argument("--workers", default="2", help="pytest-xdist -n value (default 2)")
    ap.add_argument("--profile", default="ci", help="hypothesis profile (default ci; 'dev' also varies examples)")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--run-timeout", type=float, default=900.0, help="seconds one run may take before it is killed")
    ap.add_argument("--strict", action="store_true", help="also exit 1 when a test fails in every run")
    ap.add_argument("--output", default=str(REPO / "reports" / "flake_hunt.json"))
    ap.add_argument("--keep", action="store_true", help="keep the per-run JUnit XML files")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the running pytest child is killed too (subprocess.run does that).
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))

    if args.seeds:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    else:
        rng = random.SystemRandom()
        seeds = [rng.randrange(1, 2**31) for _ in range(args.runs)]
    if not seeds:
        ap.error("no runs requested")

    tmp = Path(tempfile.mkdtemp(prefix="sa-flake-hunt-"))
    per_test: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    messages: dict[tuple[str, str], str] = {}
    runs: list[dict] = []
    crashed: list[dict] = []
    started = time.monotonic()
    try:
        for i, seed in enumerate(seeds):
            junit = tmp / f"run-{i}.xml"
            env = dict(os.environ)
            env["SA_CONFORMANCE_HYPOTHESIS_PROFILE"] = args.profile
            env["SA_CONFORMANCE_RESULTS_DIR"] = str(tmp / f"results-{i}")  # keep reports/ untouched
            argv_i = [
                args.python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "-p", "randomly", f"--randomly-seed={seed}",
                "-n", args.workers, f"--junitxml={junit}", *args.pytest_args,
            ]
            t = time.monotonic()
            try:
                proc = subprocess.run(argv_i, cwd=REPO, env=env, capture_output=True, text=True, check=False,
                                      timeout=args.run_timeout)
                rc, tail = proc.returncode, (proc.stdout.strip().splitlines() or [""])[-1]
            except subprocess.TimeoutExpired:
                rc, tail = -1, f"killed after {args.run_timeout:.0f}s"
            wall = time.monotonic() - t
            info = {"run": i, "seed": seed, "exit_code": rc, "wall_seconds": round(wall, 1), "summary": tail}
            runs.append(info)
            if rc not in (0, 1) or not junit.exists():
                crashed.append(info)
                print(f"run {i + 1}/{len(seeds)} seed {seed}: CRASHED (exit {rc}): {tail}", flush=True)
                continue
            got = outcomes(junit)
            for test_id, (outcome, msg) in got.items():
                per_test[test_id][outcome].append(seed)
                messages.setdefault((test_id, outcome), msg)
            print(f"run {i + 1}/{len(seeds)} seed {seed}: {wall:.0f}s exit {rc}: {tail}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    complete = [r["seed"] for r in runs if r not in crashed]
    flakes, consistent = {}, {}
    for test_id, by_outcome in sorted(per_test.items()):
        seen = sum(len(v) for v in by_outcome.values())
        if seen < len(complete):
            # Missing from some runs (collection differs between runs?): a flake too.
            by_outcome = dict(by_outcome)
            present = {s for v in by_outcome.values() for s in v}
            by_outcome["absent"] = [s for s in complete if s not in present]
        if len(by_outcome) > 1:
            flakes[test_id] = {
                o: {"seeds": seeds_, "message": messages.get((test_id, o), "")} for o, seeds_ in by_outcome.items()
            }
        elif set(by_outcome) & {"failed", "error"}:
            ((o, _seeds),) = by_outcome.items()
            consistent[test_id] = {"outcome": o, "message": messages.get((test_id, o), "")}

    report = {
        "runs": runs,
        "total_seconds": round(time.monotonic() - started, 1),
        "tests_seen": len(per_test),
        "flakes": flakes,
        "consistent_failures": consistent,
        "crashed_runs": crashed,
        "pytest_args": args.pytest_args,
        "profile": args.profile,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")

    walls = [r["wall_seconds"] for r in runs]
    print(f"\nflake hunt: {len(runs)} runs ({len(crashed)} crashed), {len(per_test)} tests, "
          f"{len(flakes)} flaky, {len(consistent)} failing in every run; "
          f"run time min {min(walls):.0f}s / max {max(walls):.0f}s; report: {out}")
    for test_id, by in flakes.items():
        print(f"FLAKY {test_id}")
        for outcome, info in by.items():
            msg = f" - {info['message']}" if info["message"] else ""
            print(f"    {outcome} with --randomly-seed in {info['seeds'][:8]}{msg}")
    for test_id, info in consistent.items():
        print(f"ALWAYS {info['outcome'].upper()} {test_id}: {info['message']}")
    for info in crashed:
        print(f"CRASHED run seed {info['seed']} (exit {info['exit_code']}): {info['summary']}")
    if flakes or crashed or (args.strict and consistent):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
