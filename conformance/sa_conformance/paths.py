"""Where the packaged suite lives.

Everything a conformance run needs ships inside the ``sa_conformance``
package, so the suite runs the same from a clone (editable install) and from
an installed wheel, from any working directory:

* ``claims/<family>.toml``  the claims catalogue
* ``suite/test_*.py``       the claim tests (a pytest rootdir of their own)
* ``suite/sa-conformance.ini``  the pytest settings ``sa-conformance run`` uses
* ``expectations.toml``     known deviations
* ``results.schema.json``, ``templates/``  the results format and reports
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CATALOGUE_DIR = PACKAGE_DIR / "claims"
SUITE_DIR = PACKAGE_DIR / "suite"
SUITE_INI = SUITE_DIR / "sa-conformance.ini"
EXPECTATIONS_FILE = PACKAGE_DIR / "expectations.toml"
SCHEMA_FILE = PACKAGE_DIR / "results.schema.json"
TEMPLATES_DIR = PACKAGE_DIR / "templates"


def repo_root() -> Path | None:
    """The checkout this package lives in (editable install), else None."""
    candidate = PACKAGE_DIR.parent.parent
    if (candidate / "pyproject.toml").is_file() and (candidate / "conformance" / "selftests").is_dir():
        return candidate
    return None
