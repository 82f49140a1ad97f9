#!/usr/bin/env python
"""How many deliberate SQLAlchemy breakages the property-based tests alone
catch.

For every breakage, run ``pytest -m property`` on the suite with that one
breakage applied (a fresh process each) and count it caught when the run
fails.  A clean run first proves the properties pass without any breakage.

Breakages come from the suite's own ``sa_conformance.world.faults`` and
``sa_conformance.mutations`` (the default), or from an external module
(``--faults PATH``): a pytest plugin module that defines ``ENV`` (the
environment variable naming the fault to apply) and ``FAULTS`` (name ->
record with ``description`` and, optionally, ``family``), and applies the
named fault at ``pytest_configure`` -- ``scripts/property_faults_external.py``
is one.  Nothing in SQLAlchemy's files changes.

    python scripts/property_catch_rate.py [--faults scripts/property_faults_external.py]
        [--backend sqlite-memory | mysql --mysql-url URL] [--only NAME ...]
        [--profile ci] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance" / "sa_conformance" / "suite"
BUILTIN = (("property-fault", "sa_conformance.world.faults"), ("mutation", "sa_conformance.mutations"))


def run(plugin: str | None, env_var: str | None, name: str | None, args, extra_path: str | None = None):
    env = dict(os.environ)
    for var in ("SA_CONFORMANCE_MUTATION", "SA_CONFORMANCE_PROPERTY_FAULT", env_var):
        if var:
            env.pop(var, None)
    if env_var and name:
        env[env_var] = name
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra_path, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "sa_conformance.world.catch_profile",
           "-m", "property", "--no-results",
           "--backend", args.backend, "--hypothesis-profile", args.profile, "-n", str(args.workers),
           f"--junitxml={os.devnull}", str(SUITE)]
    if args.mysql_url:
        cmd[-1:-1] = ["--mysql-url", args.mysql_url, "--require-backend", "mysql"] if "mysql" in args.backend else []
    if plugin:
        cmd[3:3] = ["-p", plugin]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return 124, time.monotonic() - t0, f"timed out after {args.timeout}s"
    lines = proc.stdout.strip().splitlines() or [""]
    failed = [ln for ln in lines if ln.startswith(("FAILED ", "ERROR "))]
    tail = lines[-1] + (f" | {failed[0][:220]}" if failed else "")
    return proc.returncode, time.monotonic() - t0, tail


def family_of(record, kind: str) -> str:
    fam = getattr(record, "family", None)
    if fam:
        return fam
    claims = getattr(record, "claims", ()) or ()
    return claims[0].split(".")[0] if claims else kind


def plan_for(args):
    """[(kind, plugin module, env var, name, family, extra sys.path)]."""
    if args.faults:
        path = Path(args.faults).resolve()
        if not path.is_file():
            raise SystemExit(f"--faults: no such file {args.faults}")
        sys.path.insert(0, str(path.parent))
        mod = importlib.import_module(path.stem)
        for attr in ("ENV", "FAULTS"):
            if not hasattr(mod, attr):
                raise SystemExit(f"--faults: {path} defines no {attr} (see this script's docstring)")
        return [("external", path.stem, mod.ENV, n, family_of(f, "external"), str(path.parent)) for n, f in mod.FAULTS.items()]
    sys.path.insert(0, str(ROOT / "conformance"))
    plan = []
    for kind, modname in BUILTIN:
        mod = importlib.import_module(modname)
        table = getattr(mod, "FAULTS", None) or mod.MUTATIONS
        plan += [(kind, modname, mod.ENV, n, family_of(f, kind), None) for n, f in table.items()]
    return plan


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="sqlite-memory,sqlite-file")
    ap.add_argument("--mysql-url", default=None, help="MySQL-family server for --backend mysql (required then)")
    ap.add_argument("--profile", default="ci-noshrink",
                    help="hypothesis profile (default ci-noshrink: the ci walks, without shrinking failures)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--faults", default=None, help="an external faults module (file path); default: the suite's own")
    ap.add_argument("--only", nargs="*", default=None, help="names of faults/mutations to run")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if "mysql" in args.backend and not args.mysql_url:
        print("--backend mysql needs --mysql-url (a catch-rate run must not skip the backend)", file=sys.stderr)
        return 2
    plan = plan_for(args)
    if args.only:
        unknown = sorted(set(args.only) - {p[3] for p in plan})
        if unknown:
            print(f"--only: unknown names {', '.join(unknown)}", file=sys.stderr)
            return 2
        plan = [p for p in plan if p[3] in args.only]

    extra = plan[0][5] if plan else None
    code, secs, tail = run(plan[0][1] if plan else None, None, None, args, extra)
    print(f"clean run: exit {code} in {secs:.0f}s ({tail})", flush=True)
    if code != 0:
        print("the property tests fail without any breakage; fix that first", file=sys.stderr)
        return 2
    results = []
    for kind, plugin, var, name, family, path in plan:
        code, secs, tail = run(plugin, var, name, args, path)
        caught = code in (1, 2) and " failed" in tail.split(" | ")[0]  # (-x stops at the first failure: exit 2)
        if code not in (0, 1) and not caught:
            tail = f"(exit {code}) {tail}"
        results.append({"kind": kind, "name": name, "family": family, "caught": caught, "seconds": round(secs, 1),
                        "summary": tail})
        print(f"{'CAUGHT ' if caught else 'missed '} {family:20} {name:40} {secs:5.0f}s  {tail}", flush=True)
    by_family: dict = defaultdict(lambda: [0, 0])
    for r in results:
        by_family[r["family"]][0] += r["caught"]
        by_family[r["family"]][1] += 1
    print("per family:")
    for fam in sorted(by_family):
        got, total = by_family[fam]
        print(f"  {fam:22} {got}/{total}")
    total = sum(r["caught"] for r in results)
    print(f"total: {total}/{len(results)} caught by `pytest -m property` alone (backends {args.backend}, profile {args.profile})")
    if args.json:
        Path(args.json).write_text(json.dumps({"backend": args.backend, "profile": args.profile, "results": results,
                                               "by_family": dict(by_family)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
