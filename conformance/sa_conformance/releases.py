"""SQLAlchemy releases on the package registry: list a series, resolve a spec.

``resolve("2.0")`` is the newest final 2.0.x release; ``resolve("2.0.58")`` is
exactly that release (pre-releases such as ``2.1.0b2`` only when named
exactly).  The release list comes from the registry's JSON API
(``$SA_CONFORMANCE_INDEX_URL``, default PyPI's ``/pypi/SQLAlchemy/json``,
honouring ``SSL_CERT_FILE``) and is cached for an hour beside the envs.
Every failure is a :class:`ReleaseError` with a one-line message.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

from packaging.version import InvalidVersion, Version

DEFAULT_INDEX_URL = "https://pypi.org/pypi/SQLAlchemy/json"
CACHE_TTL = 3600.0
SERIES_PATTERN = re.compile(r"^\d+\.\d+$")


class ReleaseError(Exception):
    """Unknown release/series or registry unreachable (one-line message)."""


def cache_root() -> Path:
    """``$SA_CONFORMANCE_CACHE`` else ``~/.cache/sa-conformance``."""
    env = os.environ.get("SA_CONFORMANCE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sa-conformance"


def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(
        cafile=os.environ.get("SSL_CERT_FILE") or None, capath=os.environ.get("SSL_CERT_DIR") or None
    )


def _fetch(url: str) -> dict[str, dict]:
    """{version: {"yanked": bool, "requires_python": str|None}} from the registry."""
    try:
        with urllib.request.urlopen(url, context=_ssl_context(), timeout=30) as resp:
            data = json.load(resp)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ReleaseError(f"package registry unreachable ({url}): {reason}") from None
    out: dict[str, dict] = {}
    for version, files in (data.get("releases") or {}).items():
        if not files:
            continue
        out[version] = {
            "yanked": all(f.get("yanked") for f in files),
            "requires_python": next((f.get("requires_python") for f in files if f.get("requires_python")), None),
        }
    if not out:
        raise ReleaseError(f"package registry answered without SQLAlchemy releases ({url})")
    return out


def all_releases(*, refresh: bool = False) -> dict[str, dict]:
    """Every SQLAlchemy release the registry lists (cached for CACHE_TTL s)."""
    url = os.environ.get("SA_CONFORMANCE_INDEX_URL", DEFAULT_INDEX_URL)
    cache = cache_root() / "releases.json"
    if not refresh:
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
            if cached.get("url") == url and time.time() - cached["fetched"] < CACHE_TTL:
                return cached["releases"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    releases = _fetch(url)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": url, "fetched": time.time(), "releases": releases}), encoding="utf-8")
        tmp.replace(cache)
    except OSError:
        pass  # a read-only cache only costs a refetch
    return releases


def _v(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def series_releases(series: str, *, include_pre: bool = False) -> list[str]:
    """Final (not yanked) releases of ``X.Y``, oldest first."""
    if not SERIES_PATTERN.match(series):
        raise ReleaseError(f"not a release series: {series!r} (expected X.Y, e.g. 2.0)")
    major, minor = (int(p) for p in series.split("."))
    out = []
    for text, info in all_releases().items():
        v = _v(text)
        if v is None or v.release[:2] != (major, minor) or info["yanked"]:
            continue
        if (v.is_prerelease or v.is_devrelease) and not include_pre:
            continue
        out.append(text)
    return sorted(out, key=Version)


def releases_between(lo: str | None, hi: str | None) -> list[str]:
    """Final releases with lo <= v <= hi (each a release or a series), oldest first."""
    # a yanked release is a fine range bound (the range just never installs it)
    lo_v = Version(resolve(lo, newest=False, allow_yanked=True)) if lo else None
    hi_v = Version(resolve(hi, allow_yanked=True)) if hi else None
    out = []
    for text, info in all_releases().items():
        v = _v(text)
        if v is None or info["yanked"] or v.is_prerelease or v.is_devrelease:
            continue
        if (lo_v is None or v >= lo_v) and (hi_v is None or v <= hi_v):
            out.append(text)
    return sorted(out, key=Version)


def resolve(spec: str, *, newest: bool = True, allow_yanked: bool = False) -> str:
    """A series -> its newest (``newest=False``: oldest) final release; a
    release -> itself if the registry has it (and, unless ``allow_yanked``,
    it is not yanked)."""
    spec = spec.strip()
    if SERIES_PATTERN.match(spec):
        found = series_releases(spec)
        if not found:
            raise ReleaseError(f"SQLAlchemy has no final release in series {spec} on the registry")
        return found[-1] if newest else found[0]
    releases = all_releases()
    if spec in releases:
        if releases[spec]["yanked"] and not allow_yanked:
            raise ReleaseError(f"SQLAlchemy {spec} is yanked on the registry")
        return spec
    v = _v(spec)
    if v is not None:  # 2.0.0 written as 2.0.0.0, or normalisations
        for text in releases:
            if _v(text) == v:
                return text
    near = [r for r in releases if r.startswith(spec.rsplit(".", 1)[0] + ".")]
    hint = f" (e.g. {', '.join(sorted(near, key=lambda r: _v(r) or Version('0'))[-3:])})" if near else ""
    raise ReleaseError(f"unknown SQLAlchemy release or series {spec!r}{hint}")
