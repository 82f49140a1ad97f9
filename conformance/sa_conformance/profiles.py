"""The hypothesis profiles of the suite, without pytest (the CLI validates
``--hypothesis-profile`` with them; ``plugin`` loads them).

* ``ci``: derandomized (the same walks every run), no example database, 25
  examples of 25 steps (machines cap themselves further, ``world.machine.budget``);
* ``dev``: random, 40 examples of 30 steps;
* ``thorough``: random, 400 examples of 60 steps, for nightly runs.
"""

from __future__ import annotations

import os
from typing import Optional

from hypothesis import HealthCheck, settings

ENV_PROFILE = "SA_CONFORMANCE_HYPOTHESIS_PROFILE"

_common = dict(
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("ci", derandomize=True, database=None, max_examples=25, stateful_step_count=25, **_common)
settings.register_profile("dev", max_examples=40, stateful_step_count=30, **_common)
settings.register_profile("thorough", max_examples=400, stateful_step_count=60, **_common)
PROFILES = ("ci", "dev", "thorough")

#: wall-clock seconds hypothesis may spend shrinking the failures of one test,
#: per profile (hypothesis' own default, 300 s, is kept under ``thorough``).
#: A failing world walk costs ~0.1 s per replay, and shrinking one replays it
#: a thousand times and more: unbounded, one failing property held a CI run
#: for minutes. Verdicts never depend on it; only how far a walk is shrunk does.
SHRINK_SECONDS = {"ci": 20, "ci-noshrink": 20, "dev": 30}

#: pytest-timeout seconds for a ``property`` test per profile (other tests keep
#: the ini's 60 s): room for the walks on a loaded host plus the shrink cap, so a
#: failing property reports its shrunk walk instead of being cut off.
PROPERTY_TIMEOUT = {"ci": 150, "ci-noshrink": 150, "dev": 240, "thorough": 1800}


def bound_shrinking(profile: str) -> None:
    """Cap the time hypothesis spends shrinking under ``profile`` (see
    ``SHRINK_SECONDS``). Hypothesis has no setting for it, only the module
    constant its engine reads at each shrink; absent, nothing is changed."""
    from hypothesis.internal.conjecture import engine

    default = engine.__dict__.setdefault("_sa_conformance_default_shrink_seconds",
                                         getattr(engine, "MAX_SHRINKING_SECONDS", None))
    if default is not None:
        engine.MAX_SHRINKING_SECONDS = SHRINK_SECONDS.get(profile, default)


def property_timeout(profile: str) -> Optional[int]:
    """The timeout of a property test under ``profile`` (None: the ini's)."""
    return PROPERTY_TIMEOUT.get(profile)


def default_profile() -> str:
    """$SA_CONFORMANCE_HYPOTHESIS_PROFILE, else ``ci`` under CI=true, else ``dev``."""
    chosen = os.environ.get(ENV_PROFILE)
    if chosen:
        return chosen
    return "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"
