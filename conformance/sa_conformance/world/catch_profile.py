"""pytest plugin for ``scripts/property_catch_rate.py``: registers the
hypothesis profile ``ci-noshrink`` -- the ``ci`` profile without the shrink
phase (a catch-rate run needs only "caught or not", not the minimal walk)."""

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "ci-noshrink", derandomize=True, database=None, max_examples=25, stateful_step_count=25, deadline=None,
    print_blob=False, phases=(Phase.explicit, Phase.reuse, Phase.generate), report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
