#!/usr/bin/env python
"""How many deliberate SQLAlchemy breakages the property-based tests alone
catch.

For every fault in ``sa_conformance.world.faults.FAULTS`` (families other than
registry/states) and every mutation in ``sa_conformance.mutations.MUTATIONS``,
run ``pytest -m property`` on the suite with that one breakage applied (a
fresh process each) and count it caught when the run fails.  A clean run
first proves the properties pass without any breakage.

    python scripts/property_catch_rate.py [--backend sqlite-memory,sqlite-file] [--only NAME ...]
        [--profile ci] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance" / "sa_conformance" / "suite"


def run(plugin: str | None, env_var: str | None, name: str | None, args) -> tuple[int, float, str]:
    env = dict(os.environ)
    for var in ("SA_CONFORMANCE_MUTATION", "SA_CONFORMANCE_PROPERTY_FAULT"):
        env.pop(var, None)
    if env_var:
        env[env_var] = name
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "sa_conformance.world.catch_profile",
           "-m", "property",
           "--backend", args.backend, "--hypothesis-profile", args.profile, "-n", str(args.workers),
           f"--junitxml={os.devnull}", str(SUITE)]
    if plugin:
        cmd[3:3] = ["-p", plugin]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.timeout)
    tail = (proc.stdout.strip().splitlines() or [""])[-1]
    return proc.returncode, time.monotonic() - t0, tail


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="sqlite-memory,sqlite-file")
    ap.add_argument("--profile", default="ci-noshrink",
                    help="hypothesis profile (default ci-noshrink: the ci walks, without shrinking failures)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--only", nargs="*", default=None, help="names of faults/mutations to run")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "conformance"))
    from sa_conformance.mutations import MUTATIONS
    from sa_conformance.world.faults import FAULTS

    code, secs, tail = run(None, None, None, args)
    print(f"clean run: exit {code} in {secs:.0f}s ({tail})", flush=True)
    if code != 0:
        print("the property tests fail without any breakage; fix that first", file=sys.stderr)
        return 2
    plan = [("property-fault", "sa_conformance.world.faults", "SA_CONFORMANCE_PROPERTY_FAULT", n) for n in FAULTS]
    plan += [("mutation", "sa_conformance.mutations", "SA_CONFORMANCE_MUTATION", n) for n in MUTATIONS]
    if args.only:
        plan = [p for p in plan if p[3] in args.only]
    results = []
    for kind, plugin, var, name in plan:
        code, secs, tail = run(plugin, var, name, args)
        caught = code in (1, 2) and " failed" in tail  # (-x stops at the first failure: exit 2)
        if code not in (0, 1) and not caught:
            tail = f"(exit {code}) {tail}"
        results.append({"kind": kind, "name": name, "caught": caught, "seconds": round(secs, 1), "summary": tail})
        print(f"{'CAUGHT ' if caught else 'missed '} {kind:15} {name:40} {secs:5.0f}s  {tail}", flush=True)
    for kind in ("property-fault", "mutation"):
        sub = [r for r in results if r["kind"] == kind]
        if sub:
            print(f"{kind}: {sum(r['caught'] for r in sub)}/{len(sub)} caught by `pytest -m property` alone")
    total = sum(r["caught"] for r in results)
    print(f"total: {total}/{len(results)} caught (backends {args.backend}, profile {args.profile})")
    if args.json:
        Path(args.json).write_text(json.dumps({"backend": args.backend, "profile": args.profile, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
