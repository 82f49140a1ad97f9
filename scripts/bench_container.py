"""Benchmark sections for the container path and the whole CI run (used by
scripts/benchmark.py: ``--container``, ``--container-cold``, ``--ci-run``).

* image build: warm (``python -m sa_fixtures.docker_image build`` with the image
  present: the no-op check) and, with ``cold=True``, from nothing (the image and
  its debootstrap base removed first: debootstrap + import + build);
* container: ``provision_mysql(provisioner="testcontainers")`` start to first
  answered query, and ``stop()``, repeated;
* the CI run: ``CI=true bash .ci/run`` in a fresh clone of this repository.

Each measurement runs in a child process; nothing here is a test.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCAL_IMAGE = "sa-conformance/mariadb:10.11"


def _stats(values: list[float]) -> dict:
    if not values:
        return {}
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3), "all": [round(v, 3) for v in values]}


def _timed(argv: list[str], timeout: float = 1800, **kw) -> tuple[float, int, str]:
    t = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    tail = (proc.stderr or proc.stdout).strip().splitlines()
    return round(time.monotonic() - t, 2), proc.returncode, (tail[-1] if tail else "")


def image_build(python: str, cold: bool) -> dict:
    out: dict = {}
    build = [python, "-m", "sa_fixtures.docker_image", "build", "--tag", LOCAL_IMAGE]
    if cold:
        subprocess.run([python, "-m", "sa_fixtures.docker_image", "remove", "--tag", LOCAL_IMAGE],
                       capture_output=True, text=True, check=False, cwd=REPO)
        secs, rc, last = _timed(build, cwd=REPO)
        out["cold_seconds"], out["cold_exit_code"], out["cold_last_line"] = secs, rc, last
    secs, rc, last = _timed(build, cwd=REPO)
    out["warm_seconds"], out["warm_exit_code"] = secs, rc
    return out


CONTAINER_CODE = r"""
import json, os, sys, time
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
from sa_fixtures import provision
provision.sweep_stale()
ready, stop, versions, errors = [], [], set(), []
for _ in range(int(sys.argv[1])):
    t = time.monotonic()
    server = provision.provision_mysql(None, image=sys.argv[2], provisioner="testcontainers")
    if isinstance(server, provision.Unavailable):
        errors.append(server.reason); continue
    ready.append(time.monotonic() - t)
    versions.add(f"{server.product} {server.server_version} ({server.image})")
    t = time.monotonic()
    server.stop()
    stop.append(time.monotonic() - t)
print(json.dumps({"ready": ready, "stop": stop, "versions": sorted(versions), "errors": errors}))
"""


def container_times(python: str, repeat: int, image: str = LOCAL_IMAGE) -> dict:
    proc = subprocess.run([python, "-c", CONTAINER_CODE, str(repeat), image], cwd=REPO, capture_output=True,
                          text=True, timeout=600, check=False)
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    return {"repetitions": repeat, "start_to_first_query_seconds": _stats(data["ready"]),
            "stop_seconds": _stats(data["stop"]), "server": data["versions"], "errors": data["errors"]}


def ci_run() -> dict:
    """``CI=true bash .ci/run`` in a fresh clone (both mysql provisioners, drivers, PostgreSQL)."""
    tmp = Path(tempfile.mkdtemp(prefix="sa-bench-ci-"))
    clone = tmp / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    secs, rc, last = _timed(["bash", ".ci/run"], timeout=3600, cwd=clone, env=dict(os.environ, CI="true"))
    subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return {"wall_seconds": secs, "exit_code": rc, "last_line": last}


def markdown(result: dict) -> list[str]:
    lines = []
    img = result.get("image_build")
    if img:
        cold = f"cold {img['cold_seconds']:.0f} s, " if "cold_seconds" in img else ""
        lines.append(f"local image build ({LOCAL_IMAGE}): {cold}warm {img['warm_seconds']:.2f} s")
    c = result.get("container")
    if c and c.get("start_to_first_query_seconds"):
        r, s = c["start_to_first_query_seconds"], c["stop_seconds"]
        lines.append(f"container start to first query: median {r['median']:.2f} s (min {r['min']:.2f}) over "
                     f"{c['repetitions']}; stop: median {s['median']:.2f} s - {', '.join(c['server'])}")
    elif c:
        lines.append(f"container: not measured ({c.get('error') or c.get('errors')})")
    ci = result.get("ci_run")
    if ci:
        lines.append(f"CI run (.ci/run, fresh clone): {ci['wall_seconds']:.0f} s, exit {ci['exit_code']}")
    return lines


if __name__ == "__main__":
    res = {"image_build": image_build(sys.executable, cold="--cold" in sys.argv),
           "container": container_times(sys.executable, 3)}
    print("\n".join(markdown(res)))
