"""Benchmark `sa-conformance history` (imported by scripts/benchmark.py --history; runnable alone).

Target: the whole 2.0 series (~60 releases) on sqlite-memory in <= 20 min on
the 2-core machine with a warm package cache.  Measured here, in a fresh env
cache (uv's own package cache stays warm, as the target says), exactly the way
``history`` runs (``ci`` profile, ranges ignored, JOBS releases at once, each
run one process unless --workers is given):

* ``env_s``: creating one release's env (uv venv + uv pip install --compile-bytecode);
* the history run of the SAMPLE releases together (wall and CPU seconds, load average);
* ``cached_s``: the same history again (results cached: no env, no run);

then extrapolated to the whole series: ``releases × (median env_s / jobs +
run wall / sample)`` -- an estimate, printed as such, not a full measurement (a
full one is `sa-conformance history --series 2.0`).  Beside it, what the same
work needs on idle cores: ``releases × (CPU s per release / cores + env_s / jobs)``.

    python scripts/bench_history.py [--series 2.0] [--sample 2] [--jobs auto] [--workers 0]
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


def measure(series: str = "2.0", sample: int = 2, workers: str = "0", backend: str = "sqlite-memory",
            jobs: str = "auto") -> dict:
    from sa_conformance.cmd_history import parse_jobs
    from sa_conformance.env_runner import RunOptions
    from sa_conformance.releases import series_releases

    releases = series_releases(series)
    picks = sorted({releases[round(i * (len(releases) - 1) / max(sample - 1, 1))] for i in range(sample)},
                   key=releases.index)
    opts = RunOptions(backend=backend, numprocesses=None if workers in ("0", "", None) else workers,
                      hypothesis_profile="ci")
    n_jobs = parse_jobs(jobs, opts)
    rows = []
    with tempfile.TemporaryDirectory(prefix="sa-bench-history-") as tmp:
        env = {**os.environ, "SA_CONFORMANCE_CACHE": str(Path(tmp) / "cache")}
        results = Path(tmp) / "results"
        for release in picks:
            code = (f"import time; from sa_conformance.envs import ensure_env; t=time.monotonic(); "
                    f"ensure_env({release!r}); print(time.monotonic()-t)")
            env_s = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                         check=True).stdout.strip())
            rows.append({"release": release, "env_s": round(env_s, 1)})
        # exactly these releases, the way `history` runs them (run_series)
        code = (f"import time; from pathlib import Path; from sa_conformance.cmd_history import run_series; "
                f"from sa_conformance.env_runner import RunOptions; t=time.monotonic(); "
                f"run_series({picks!r}, Path({str(results)!r}), RunOptions(backend={backend!r}, "
                f"numprocesses={opts.numprocesses!r}, hypothesis_profile='ci'), jobs={n_jobs}); "
                f"print(time.monotonic()-t)")
        load_before = os.getloadavg()[0]
        t0, cpu0 = time.monotonic(), _children_cpu()
        run_s = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                     check=True).stdout.strip().splitlines()[-1])
        t1, cpu1 = time.monotonic(), _children_cpu()
        cached_s = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                        check=True).stdout.strip().splitlines()[-1])
    env_m = statistics.median(r["env_s"] for r in rows)
    per_release = run_s / len(picks)
    cpu_per_release = (cpu1 - cpu0) / len(picks)
    estimate = len(releases) * (env_m / n_jobs + per_release)
    cores = os.cpu_count() or 1
    estimate_idle = len(releases) * (cpu_per_release / cores + min(r["env_s"] for r in rows) / n_jobs)
    return {"series": series, "releases": len(releases), "backend": backend, "workers": workers, "jobs": n_jobs,
            "sample": rows, "run_s": round(run_s, 1), "wall_s": round(t1 - t0, 1),
            "cpu_s_per_release": round(cpu_per_release, 1), "cached_s": round(cached_s, 2),
            "load_avg": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "estimate_s": round(estimate, 0), "estimate_idle_s": round(estimate_idle, 0), "target_s": TARGET_S,
            "meets_target_estimate": estimate <= TARGET_S, "cpus": cores,
            "note": "estimate = releases x (median env / jobs + run wall / sampled releases)"}


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def markdown(r: dict) -> str:
    head = (f"history --series {r['series']} on {r['backend']} ({r['jobs']} release(s) at once, -n {r['workers']}): "
            f"{r['releases']} releases; sampled {', '.join(s['release'] for s in r['sample'])}")
    lines = [head, "", "| release | env create s |", "|---|---:|"]
    lines += [f"| {s['release']} | {s['env_s']} |" for s in r["sample"]]
    lines.append("")
    lines.append(f"history run of the {len(r['sample'])} sampled releases: {r['run_s']} s wall, "
                 f"{r['cpu_s_per_release']} CPU s per release, load average {r['load_avg'][0]} -> {r['load_avg'][1]}; "
                 f"cached rerun {r['cached_s']} s")
    lines.append(f"estimate for the whole series: {r['estimate_s'] / 60:.1f} min (target {r['target_s'] / 60:.0f} min: "
                 f"{'met' if r['meets_target_estimate'] else 'MISSED'} at the measured load); {r['note']}")
    lines.append(f"on {r['cpus']} idle cores (CPU s per release / cores + env creation / jobs): "
                 f"{r['estimate_idle_s'] / 60:.1f} min")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--series", default="2.0")
    ap.add_argument("--sample", type=int, default=2)
    ap.add_argument("--workers", default="0", help="xdist workers per release run (default 0: one process)")
    ap.add_argument("--jobs", default="auto", help="releases at once, as `history --jobs` (default auto)")
    ap.add_argument("--backend", default="sqlite-memory")
    ap.add_argument("--output", default=None)
    a = ap.parse_args()
    result = measure(a.series, a.sample, a.workers, a.backend, a.jobs)
    print(markdown(result))
    if a.output:
        Path(a.output).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
