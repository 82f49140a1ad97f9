"""Benchmark `sa-conformance history` (imported by scripts/benchmark.py --history; runnable alone).

Target: the whole 2.0 series (~60 releases) on sqlite-memory in <= 20 min on
the 2-core machine with a warm package cache.  Measured here, in a fresh env
cache (uv's own package cache stays warm, as the target says):

* ``env_s``: creating one release's env (uv venv + uv pip install --compile-bytecode);
* ``run_s``: one release's history run (every claim, ranges ignored, sqlite-memory, -n WORKERS);
* ``cached_s``: the same release again (results cached: no env, no run);

for SAMPLE releases spread over the series, then extrapolated to the whole
series: ``releases × (median env_s + median run_s)`` -- an estimate, printed as
such, not a full measurement (a full one is `sa-conformance history --series 2.0`).

    python scripts/bench_history.py [--series 2.0] [--sample 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 20 * 60


def measure(series: str = "2.0", sample: int = 2, workers: str = "2", backend: str = "sqlite-memory") -> dict:
    from sa_conformance.releases import series_releases

    releases = series_releases(series)
    picks = [releases[round(i * (len(releases) - 1) / max(sample - 1, 1))] for i in range(sample)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="sa-bench-history-") as tmp:
        env = {**os.environ, "SA_CONFORMANCE_CACHE": str(Path(tmp) / "cache")}
        results = Path(tmp) / "results"
        for release in picks:
            code = (f"import time; from sa_conformance.envs import ensure_env; t=time.monotonic(); "
                    f"ensure_env({release!r}); print(time.monotonic()-t)")
            env_s = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                         check=True).stdout.strip())
            # exactly this release, the way `history` runs each one (run_series)
            code = (f"import time; from pathlib import Path; from sa_conformance.cmd_history import run_series; "
                    f"from sa_conformance.env_runner import RunOptions; t=time.monotonic(); "
                    f"run_series([{release!r}], Path({str(results)!r}), RunOptions(backend={backend!r}, "
                    f"numprocesses={workers!r})); print(time.monotonic()-t)")
            t0, cpu0 = time.monotonic(), _children_cpu()
            run_s = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                         check=True).stdout.strip().splitlines()[-1])
            t1, cpu1 = time.monotonic(), _children_cpu()
            cached_s = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                            check=True).stdout.strip().splitlines()[-1])
            rows.append({"release": release, "env_s": round(env_s, 1), "run_s": round(run_s, 1),
                         "cached_s": round(cached_s, 2), "wall_s": round(t1 - t0, 1),
                         "cpu_s": round(cpu1 - cpu0, 1), "load_avg": round(os.getloadavg()[0], 1)})
    env_m = statistics.median(r["env_s"] for r in rows)
    run_m = statistics.median(r["run_s"] for r in rows)
    estimate = len(releases) * (env_m + run_m)
    cpu_m = statistics.median(r["cpu_s"] for r in rows)
    # what the same work needs on 2 idle cores: CPU seconds / 2 (+ env creation, mostly I/O)
    estimate_idle = len(releases) * (cpu_m / 2 + min(r["env_s"] for r in rows))
    return {"series": series, "releases": len(releases), "backend": backend, "workers": workers,
            "sample": rows, "estimate_s": round(estimate, 0), "estimate_idle_2core_s": round(estimate_idle, 0), "target_s": TARGET_S,
            "meets_target_estimate": estimate <= TARGET_S, "cpus": os.cpu_count(),
            "note": "estimate = releases x (median env + median run) from the sampled releases"}


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def markdown(r: dict) -> str:
    lines = [f"history --series {r['series']} on {r['backend']} (-n {r['workers']}): {r['releases']} releases",
             "", "| release | env create s | run s (wall) | run CPU s | load avg | cached rerun s |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {s['release']} | {s['env_s']} | {s['run_s']} | {s['cpu_s']} | {s['load_avg']} | {s['cached_s']} |"
              for s in r["sample"]]
    lines.append("")
    lines.append(f"estimate for the whole series: {r['estimate_s'] / 60:.1f} min (target {r['target_s'] / 60:.0f} min: "
                 f"{'met' if r['meets_target_estimate'] else 'MISSED'} at the measured load); {r['note']}")
    lines.append(f"on 2 idle cores (CPU seconds / 2 + env creation): {r['estimate_idle_2core_s'] / 60:.1f} min")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", default="2.0")
    ap.add_argument("--sample", type=int, default=2)
    ap.add_argument("--workers", default="2")
    ap.add_argument("--backend", default="sqlite-memory")
    ap.add_argument("--output", default=None)
    a = ap.parse_args()
    result = measure(a.series, a.sample, a.workers, a.backend)
    print(markdown(result))
    if a.output:
        Path(a.output).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
