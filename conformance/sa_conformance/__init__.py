"""SQLAlchemy session-behaviour conformance suite.

The import name is ``sa_conformance`` (not ``conformance``, an unrelated PyPI
package); the source lives in the repository's ``conformance/`` directory.
"""

__version__ = "0.1.0"
