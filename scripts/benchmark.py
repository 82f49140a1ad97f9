#!/usr/bin/env python3
"""Benchmark the conformance suite: where does a run's wall time go?

Measures, on this machine:

* the full default suite (``ci`` hypothesis profile) per backend
  (``--backend X``) and for all default backends together, with ``-n 0`` and
  ``-n 2`` (each a fresh ``python -m pytest`` subprocess, so server
  provisioning and interpreter start-up are included, as in CI);
* the bare start-up cost of a pytest run (``--collect-only``) and the import
  time of the heavy modules;
* the time to provision the throwaway MySQL-family server
  (``sa_fixtures.provision.provision_mysql(None, docker=False)``, several
  repetitions, min/median), and to stop it;
* optionally (``--tox``, slow) the warm per-SQLAlchemy-version run time of the
  tox envs on ``sqlite-memory``;
* the claims-only run a user gets, ``sa-conformance run --backend <default
  backends> -n 2`` from an empty temporary directory, with the MySQL-family
  server started by the run itself (no URL), printed beside the repository's
  full run (``--claims-run-only`` measures just that one).

Writes ``reports/benchmark.json`` and prints a Markdown table.  It is not a
test: nothing here fails a CI run.  The exit status is 0 unless a measured
pytest run could not start at all (usage error / crash); ``--check`` makes the
targets (see TARGETS) decide the exit status.

    python scripts/benchmark.py                     # suite + provisioning (~4-6 min)
    python scripts/benchmark.py --quick             # total only, -n 2, 3 provisionings
    python scripts/benchmark.py --tox               # plus tox warm times per SQLAlchemy version
    python scripts/benchmark.py --quick --container # plus the container path (scripts/bench_container.py):
                                                    # image build warm (--container-cold: also cold),
                                                    # container start to first query, stop
    python scripts/benchmark.py --quick --ci-run    # plus CI=true .ci/run in a fresh clone (~15 min)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import bench_container  # scripts/ is on sys.path when this file runs
import bench_history

REPO = Path(__file__).resolve().parents[1]
DEFAULT_BACKENDS = ("sqlite-memory", "sqlite-file", "mysql")
TOX_ENVS = ("sa14", "sa20", "sa21")

#: The targets this suite commits to on a 2-core machine.
TARGETS = {
    "total_n2_seconds": 90.0,  # full default suite, -n 2, incl. server start
    "server_ready_seconds": 5.0,  # provision_mysql(None, docker=False), median
    "speedup_n2_over_n0": 1.6,
    "claims_run_n2_seconds": 25.0,  # sa-conformance run, default backends, -n 2, incl. server start
}


def junit_counts(path: Path) -> dict:
    counts: dict = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "not_passed": []}
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return counts
    for case in root.iter("testcase"):
        counts["tests"] += 1
        if case.find("failure") is not None:
            counts["failures"] += 1
            counts["not_passed"].append(f"FAILED {case.get('classname')}::{case.get('name')}")
        elif case.find("error") is not None:
            counts["errors"] += 1
            counts["not_passed"].append(f"ERROR {case.get('classname')}::{case.get('name')}")
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
    return counts


def children_cpu() -> float:
    """CPU seconds (user + sys) of the waited-for children so far: beside the
    wall time, a figure the other load on a shared machine inflates less."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_suite(python: str, backends: str, workers: int, profile: str, extra: list[str], tmp: Path) -> dict:
    tag = f"{backends.replace(',', '+')}-n{workers}"
    junit = tmp / f"{tag}.xml"
    env = dict(os.environ)
    env["SA_CONFORMANCE_HYPOTHESIS_PROFILE"] = profile
    # Keep the measured runs from overwriting the user's reports/.
    env["SA_CONFORMANCE_RESULTS_DIR"] = str(tmp / f"results-{tag}")
    argv = [
        python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "--backend", backends, "-n", str(workers), f"--junitxml={junit}", "--durations=10",
        *extra,
    ]
    start, cpu = time.monotonic(), children_cpu()
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.monotonic() - start, children_cpu() - cpu
    durations = [
        line.strip()
        for line in proc.stdout.splitlines()
        if re.match(r"^\d+\.\d+s (call|setup|teardown) ", line.strip())
    ]
    summary = next((ln for ln in reversed(proc.stdout.splitlines()) if re.search(r" in \d+\.\d+s", ln)), "")
    return {
        "backends": backends,
        "workers": workers,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "exit_code": proc.returncode,
        "summary": summary.strip("= "),
        "counts": junit_counts(junit),
        "slowest": durations[:10],
        "stderr_tail": proc.stderr.strip().splitlines()[-3:] if proc.returncode not in (0, 1) else [],
    }


def run_claims(python: str, backends: str, workers: int, profile: str, tmp: Path) -> dict:
    """``sa-conformance run`` as a user runs it: from an empty directory, the
    packaged claims only, the MySQL-family server provisioned by the run."""
    cwd = tmp / "claims-run"
    cwd.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("SA_CONFORMANCE_MYSQL_URL", "SA_CONFORMANCE_RESULTS_DIR")}
    argv = [python, "-m", "sa_conformance", "run", "--backend", backends, "-n", str(workers),
            "--hypothesis-profile", profile, "--results", str(cwd / "reports"), "--", "-q", "--durations=10"]
    start, cpu = time.monotonic(), children_cpu()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.monotonic() - start, children_cpu() - cpu
    durations = [ln.strip() for ln in proc.stdout.splitlines() if re.match(r"^\d+\.\d+s (call|setup|teardown) ", ln.strip())]
    summary = next((ln for ln in reversed(proc.stdout.splitlines()) if re.search(r" in \d+\.\d+s", ln)), "")
    verdict = next((ln for ln in reversed(proc.stderr.splitlines()) if ln.startswith("sa-conformance run: exit")), "")
    return {
        "backends": backends,
        "workers": workers,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "exit_code": proc.returncode,
        "summary": summary.strip("= "),
        "verdict": verdict,
        "counts": junit_counts(cwd / "reports" / "junit.xml"),
        "slowest": durations[:10],
        "stderr_tail": proc.stderr.strip().splitlines()[-3:] if proc.returncode not in (0, 1) else [],
    }


def startup(python: str) -> dict:
    """Interpreter + plugin start-up: a --collect-only run and module import times."""
    out: dict = {}
    t = time.monotonic()
    subprocess.run(
        [python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "--backend", "sqlite-memory",
         "--junitxml", os.devnull],
        cwd=REPO, capture_output=True, text=True, check=False,
    )
    out["collect_only_seconds"] = round(time.monotonic() - t, 2)
    for module in ("sqlalchemy.orm", "hypothesis", "pytest", "sa_conformance.plugin", "sa_fixtures.pytest_plugin"):
        proc = subprocess.run(
            [python, "-X", "importtime", "-c", f"import {module}"], cwd=REPO, capture_output=True, text=True, check=False
        )
        cumulative = 0
        for line in proc.stderr.splitlines():
            m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)$", line)
            if m and m.group(2) == module:
                cumulative = int(m.group(1))
        out[f"import_{module.replace('.', '_')}_seconds"] = round(cumulative / 1e6, 3)
    return out


def provision_times(python: str, repeat: int) -> dict:
    """Runs the provisioning in a child interpreter (so a crash or a leaked
    server cannot outlive this script) and returns its measurements."""
    code = r"""
import json, sys, time
from sa_fixtures import provision
provision.cleanup_stale()
ready, stop, versions, errors = [], [], set(), []
for _ in range(int(sys.argv[1])):
    t = time.monotonic()
    try:
        server = provision.provision_mysql(None, docker=False)
    except provision.ProvisionError as exc:
        errors.append(str(exc)); continue
    ready.append(time.monotonic() - t)
    if isinstance(server, provision.Unavailable):
        errors.append(server.reason); continue
    versions.add(f"{server.product} {server.server_version}")
    t = time.monotonic()
    server.stop()
    stop.append(time.monotonic() - t)
print(json.dumps({"ready": ready, "stop": stop, "versions": sorted(versions), "errors": errors}))
"""
    proc = subprocess.run([python, "-c", code, str(repeat)], cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}

    def stats(values: list[float]) -> dict:
        if not values:
            return {}
        return {
            "min": round(min(values), 3),
            "median": round(statistics.median(values), 3),
            "max": round(max(values), 3),
            "all": [round(v, 3) for v in values],
        }

    return {"repetitions": repeat, "ready_seconds": stats(data["ready"]), "stop_seconds": stats(data["stop"]),
            "server": data["versions"], "errors": data["errors"]}


def tox_times(envs: list[str], tmp: Path) -> dict:
    tox = shutil.which("tox") or str(Path(sys.executable).with_name("tox"))
    out: dict = {}
    t = time.monotonic()
    warm = subprocess.run([tox, "-e", ",".join(envs), "--notest"], cwd=REPO, capture_output=True, text=True, check=False)
    out["warm_seconds"] = round(time.monotonic() - t, 2)
    out["warm_exit_code"] = warm.returncode
    env = dict(os.environ, SA_CONFORMANCE_HYPOTHESIS_PROFILE="ci")
    for name in envs:
        t = time.monotonic()
        proc = subprocess.run(
            [tox, "-e", name, "--", "--backend", "sqlite-memory", "-q", "-p", "no:cacheprovider"],
            cwd=REPO, capture_output=True, text=True, env=env, check=False,
        )
        wall = time.monotonic() - t
        summary = next((ln for ln in reversed(proc.stdout.splitlines()) if re.search(r" in \d+\.\d+s", ln)), "")
        out[name] = {"wall_seconds": round(wall, 2), "exit_code": proc.returncode, "summary": summary.strip("= ")}
    return out


def markdown(result: dict) -> str:
    rows = ["| measurement | -n 0 | -n 2 | speed-up | outcome (-n 2) |", "| --- | ---: | ---: | ---: | --- |"]
    suite = result.get("suite", {})
    for backends in sorted({r["backends"] for r in suite.values()}, key=lambda b: (b.count(","), b)):
        n0 = suite.get(f"{backends}|0")
        n2 = suite.get(f"{backends}|2")
        speed = f"{n0['wall_seconds'] / n2['wall_seconds']:.2f}x" if n0 and n2 and n2["wall_seconds"] else ""
        label = "total (default backends)" if backends == ",".join(result["backends"]) else backends
        t0 = f"{n0['wall_seconds']:.1f} s" if n0 else ""
        t2 = f"{n2['wall_seconds']:.1f} s" if n2 else ""
        rows.append(f"| {label} | {t0} | {t2} | {speed} | {(n2 or n0 or {}).get('summary', '')} |")
    claims = result.get("claims_run")
    if claims:
        label = f"claims only: `sa-conformance run -n {claims['workers']}`"
        rows.append(f"| {label} | | {claims['wall_seconds']:.1f} s | | {claims['summary']} (exit {claims['exit_code']}) |")
    cpu = [f"{label}: {r['cpu_seconds']:.1f} s" for label, r in
           [(f"pytest --backend {r['backends']} -n {r['workers']}", r) for r in suite.values()]
           + ([("sa-conformance run -n 2", claims)] if claims else []) if r.get("cpu_seconds") is not None]
    prov = result.get("provision")
    lines = ["\n".join(rows), ""]
    if cpu:
        lines.append("CPU (user+sys of all processes; less inflated by other load than wall time): " + "; ".join(cpu))
    try:
        lines.append(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    except OSError:
        pass
    if prov and prov.get("ready_seconds"):
        r, s = prov["ready_seconds"], prov.get("stop_seconds") or {}
        lines.append(
            f"MySQL-family server ready: min {r['min']:.2f} s, median {r['median']:.2f} s over "
            f"{prov['repetitions']} (stop: median {s.get('median', 0):.2f} s) - {', '.join(prov['server'])}"
        )
    elif prov:
        lines.append(f"MySQL-family server: not measured ({prov.get('error') or prov.get('errors')})")
    st = result.get("startup")
    if st:
        lines.append(
            "pytest start-up (--collect-only): {collect_only_seconds:.2f} s; imports: sqlalchemy.orm "
            "{import_sqlalchemy_orm_seconds:.2f} s, hypothesis {import_hypothesis_seconds:.2f} s, "
            "pytest {import_pytest_seconds:.2f} s".format_map(_Dotted(st))
        )
    tox = result.get("tox")
    if tox:
        lines.append(f"tox warm-up (`--notest`): {tox['warm_seconds']:.1f} s")
        for name in TOX_ENVS:
            if name in tox:
                lines.append(f"tox -e {name} (sqlite-memory): {tox[name]['wall_seconds']:.1f} s - {tox[name]['summary']}")
    lines.extend(bench_container.markdown(result))
    checks = result.get("targets", {})
    for key, info in checks.items():
        lines.append(f"target {key}: {info['value']} vs {info['target']} -> {'ok' if info['ok'] else 'MISSED'}")
    return "\n".join(lines)


class _Dotted(dict):
    def __missing__(self, key: str) -> float:
        return 0.0


def evaluate(result: dict) -> dict:
    targets: dict = {}
    suite = result.get("suite", {})
    total = ",".join(result["backends"])
    n2, n0 = suite.get(f"{total}|2"), suite.get(f"{total}|0")
    if n2:
        targets["total_n2_seconds"] = {"value": n2["wall_seconds"], "target": f"<= {TARGETS['total_n2_seconds']}",
                                       "ok": n2["wall_seconds"] <= TARGETS["total_n2_seconds"]}
    if n0 and n2 and n2["wall_seconds"]:
        sp = round(n0["wall_seconds"] / n2["wall_seconds"], 2)
        targets["speedup_n2_over_n0"] = {"value": sp, "target": f">= {TARGETS['speedup_n2_over_n0']}",
                                         "ok": sp >= TARGETS["speedup_n2_over_n0"]}
    claims = result.get("claims_run")
    if claims:
        targets["claims_run_n2_seconds"] = {
            "value": claims["wall_seconds"], "target": f"<= {TARGETS['claims_run_n2_seconds']}",
            "ok": claims["wall_seconds"] <= TARGETS["claims_run_n2_seconds"] and claims["exit_code"] == 0,
        }
    ready = (result.get("provision") or {}).get("ready_seconds") or {}
    if ready:
        targets["server_ready_seconds"] = {"value": ready["median"], "target": f"<= {TARGETS['server_ready_seconds']}",
                                           "ok": ready["median"] <= TARGETS["server_ready_seconds"]}
    return targets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--python", default=sys.executable, help="interpreter whose pytest is measured (default: this one)")
    ap.add_argument("--backends", default=",".join(DEFAULT_BACKENDS), help="the default backend set (comma-separated)")
    ap.add_argument("--workers", default="0,2", help="xdist worker counts to measure (default: 0,2)")
    ap.add_argument("--no-per-backend", action="store_true", help="measure only the total run, not each backend alone")
    ap.add_argument("--profile", default="ci", help="hypothesis profile (default: ci, as CI runs)")
    ap.add_argument("--provision-repeat", type=int, default=5, help="server provisionings to time (0: skip)")
    ap.add_argument("--tox", action="store_true", help="also time warm tox envs per SQLAlchemy version (slow)")
    ap.add_argument("--quick", action="store_true", help="total run with -n 2 only, 3 provisionings")
    ap.add_argument("--no-claims-run", action="store_true", help="skip the `sa-conformance run` measurement")
    ap.add_argument("--claims-run-only", action="store_true",
                    help="measure only `sa-conformance run -n 2` and the full `pytest -n 2` beside it")
    ap.add_argument("--container", action="store_true",
                    help="also time the container path: image build (warm), container start to first query, stop")
    ap.add_argument("--container-cold", action="store_true", help="with --container: also a cold image build (~2 min)")
    ap.add_argument("--ci-run", action="store_true", help="also time CI=true .ci/run in a fresh clone (slow)")
    ap.add_argument("--history", metavar="SERIES", default=None,
                    help="also time `sa-conformance history` on sampled releases of SERIES on sqlite-memory, run "
                    "as history runs them, and extrapolate to the whole series (scripts/bench_history.py; "
                    "target 2.0 <= 20 min)")
    ap.add_argument("--properties", action="store_true",
                    help="also time the claim tests with and without the property tests (`-m property` / "
                    "`-m 'not property'`, -n 2): what the properties add to a claims run (target <= ~15 s with ci)")
    ap.add_argument("--output", default=str(REPO / "reports" / "benchmark.json"))
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    ap.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = ap.parse_args(argv)

    backends = [b for b in args.backends.split(",") if b]
    workers = [int(w) for w in args.workers.split(",") if w != ""]
    if args.quick:
        workers, args.no_per_backend, args.provision_repeat = [2], True, min(args.provision_repeat, 3)
    if args.claims_run_only:
        workers, args.no_per_backend, args.provision_repeat = [2], True, 0
    result: dict = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "python": args.python,
        "profile": args.profile,
        "backends": backends,
        "suite": {},
    }
    proc = subprocess.run([args.python, "-c", "import sqlalchemy; print(sqlalchemy.__version__)"],
                          capture_output=True, text=True, check=False)
    result["sqlalchemy"] = proc.stdout.strip()

    tmp = Path(tempfile.mkdtemp(prefix="sa-bench-"))
    rc = 0
    try:
        result["startup"] = startup(args.python)
        if args.provision_repeat > 0:
            result["provision"] = provision_times(args.python, args.provision_repeat)
        sets = [",".join(backends)] + ([] if args.no_per_backend else backends)
        for bset in sets:
            for w in workers:
                print(f"benchmark: --backend {bset} -n {w} ...", file=sys.stderr, flush=True)
                r = run_suite(args.python, bset, w, args.profile, args.pytest_args, tmp)
                result["suite"][f"{bset}|{w}"] = r
                print(f"benchmark:   {r['wall_seconds']:.1f} s ({r['summary']})", file=sys.stderr, flush=True)
                if r["exit_code"] not in (0, 1):
                    rc = 2
        if not args.no_claims_run:
            print(f"benchmark: sa-conformance run --backend {','.join(backends)} -n 2 ...", file=sys.stderr, flush=True)
            c = result["claims_run"] = run_claims(args.python, ",".join(backends), 2, args.profile, tmp)
            print(f"benchmark:   {c['wall_seconds']:.1f} s ({c['summary']}; {c['verdict']})", file=sys.stderr, flush=True)
            if c["exit_code"] not in (0, 1):
                rc = 2
        if args.properties:
            suite = str(REPO / "conformance" / "sa_conformance" / "suite")
            props = result["properties"] = {}
            for label, marker in (("only", "property"), ("without", "not property"), ("with", None)):
                extra = (["-m", marker] if marker else []) + [suite]
                print(f"benchmark: claim tests, properties {label} (-n 2) ...", file=sys.stderr, flush=True)
                props[label] = run_suite(args.python, ",".join(backends), 2, args.profile, extra, tmp)
                p = props[label]
                print(f"benchmark:   {p['wall_seconds']:.1f} s ({p['summary']})", file=sys.stderr, flush=True)
            props["added_seconds"] = round(props["with"]["wall_seconds"] - props["without"]["wall_seconds"], 2)
            print(f"benchmark:   the property tests add {props['added_seconds']:.1f} s", file=sys.stderr, flush=True)
        if args.tox:
            result["tox"] = tox_times(list(TOX_ENVS), tmp)
        if args.container or args.container_cold:
            result["image_build"] = bench_container.image_build(args.python, cold=args.container_cold)
            result["container"] = bench_container.container_times(args.python, 3)
        if args.ci_run:
            result["ci_run"] = bench_container.ci_run()
        if args.history:
            result["history"] = bench_history.measure(args.history)
            print(bench_history.markdown(result["history"]), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["targets"] = evaluate(result)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(markdown(result))
    print(f"\n(written to {out})")
    if args.check and not all(t["ok"] for t in result["targets"].values()):
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
