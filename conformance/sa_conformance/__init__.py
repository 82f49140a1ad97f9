"""SQLAlchemy session-behaviour conformance suite.

The import name is ``sa_conformance`` (not ``conformance``, an unrelated PyPI
package); the source lives in the repository's ``conformance/`` directory.

Where things are (one module per job; the pytest-free core first):

* claims and their selection: ``claims/*.toml`` (the catalogue), ``catalogue.py``
  (loading, validation, version ranges), ``selection.py`` (``--claim``),
  ``expectations.py`` (known deviations), ``messages.py`` (documented messages)
* results: ``outcomes.py`` (outcomes and the unit every report counts),
  ``model.py`` (the frozen results document), ``resultsio.py`` (reading and
  writing it), ``attribution.py`` (which claim a failed check belongs to),
  ``collect.py`` (test reports -> verdicts), ``verdict.py`` (the exit status),
  ``redact.py`` (credentials out of every output)
* reports and diffs: ``report.py`` (summary.md, matrix.html), ``diff.py``
  (classifying changes between two runs), ``diff_render.py`` (its Markdown,
  JSON and HTML), ``templates/``
* the CLI: ``cli.py`` (parser, report/diff/claims/check), ``cmd_run.py``,
  ``cmd_upgrade.py``, ``cmd_bisect.py``, ``cmd_history.py``, with ``envs.py``
  (one uv env per release), ``env_runner.py`` (running the suite in one),
  ``releases.py`` (the registry's releases), ``probe.py``, ``paths.py``
* pytest at the edge: ``plugin.py`` (claims, applicability, profiles),
  ``results.py`` + ``recorder.py`` (the results plugin: worker and controller
  sides), ``leakguard.py``, ``session_fixtures.py``, ``profiles.py``
  (hypothesis profiles and time bounds, pytest-free)
* what the claim tests share: ``suite/`` (the tests, ``test_<family>*.py``),
  ``orm_models.py`` (mapped classes), ``testing.py`` (barriers, bounded threads),
  ``state_helpers.py``, ``scoping_harness.py`` + ``scope_workers.py`` (scope
  modes), reference models ``scoping_model.py`` / ``state_model.py`` /
  ``world/``, reproduction scripts ``state_repro.py`` / ``repro_engine.py``
* self-validation: ``mutations.py`` + ``mutation_patches.py`` (mutation smoke)
"""

__version__ = "0.1.0"
