"""One cached virtual environment per SQLAlchemy release, created with uv.

``ensure_env("2.0.58")`` returns an :class:`Env` whose ``python`` imports
SQLAlchemy 2.0.58, this suite's runtime dependencies and the DB drivers of the
current environment at the *same* versions, and this very ``sa_conformance`` /
``sa_fixtures`` code: a shim directory of symlinks to the installed package
directories, put on the env's path by a ``.pth`` file.  No clone, no wheel
needed; the env's own SQLAlchemy is the one imported (checked on creation).

Cache: ``$SA_CONFORMANCE_CACHE/envs`` (default ``~/.cache/sa-conformance/envs``),
one directory per ``py<X.Y>-sa<release>-<hash of the pinned dependency set>``.
A directory is used only once its ``env.json`` marker exists (written last);
creation holds a per-env file lock, so parallel callers share one env.
uv hard-links installed files to its cache: each use checks the env's
SQLAlchemy against its wheel's RECORD hashes and recreates a modified env
from the registry, bypassing uv's cache (:func:`modified_files`).
Every failure is an :class:`EnvError` with a one-line message.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata as md
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .releases import cache_root

DISTRIBUTION = "sa-session-conformance"
#: DB drivers (and what they need) copied from the current environment when installed.
DRIVER_DISTS = (
    "PyMySQL", "mysqlclient", "mariadb", "aiomysql", "asyncmy", "cryptography",
    "aiosqlite", "psycopg", "psycopg-binary", "psycopg2", "psycopg2-binary", "asyncpg",
    "greenlet", "testcontainers",
)
#: Used when our distribution metadata is absent (running from a source tree).
FALLBACK_RUNTIME = ("pytest", "pytest-xdist", "pytest-timeout", "hypothesis", "jinja2", "jsonschema")
#: runtime dependencies an env does not get: its own SQLAlchemy; uv runs here, not in the env
NOT_IN_ENVS = ("sqlalchemy", "uv")
SHIM_PACKAGES = ("sa_conformance", "sa_fixtures")
LAYOUT = "1"  # bump when the env layout changes
MARKER = "env.json"
INSTALL_TIMEOUT = 900


class EnvError(Exception):
    """An environment could not be created or is broken (one-line message)."""


@dataclass(frozen=True)
class Env:
    path: Path
    sqlalchemy: str
    python_version: str

    @property
    def python(self) -> Path:
        return self.path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    def subprocess_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """os.environ without PYTHONPATH/VIRTUAL_ENV (they would let the caller's
        SQLAlchemy in), plus ``extra``."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env.update(extra or {})
        return env


def envs_root() -> Path:
    return cache_root() / "envs"


def _requirement_name(req: str) -> str:
    return re.split(r"[\s<>=!~\[;(]", req.strip(), maxsplit=1)[0]


def _installed_version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def dependency_pins() -> list[str]:
    """``name==version`` for our runtime deps and the installed DB drivers, as
    installed here (SQLAlchemy and uv excluded: each env gets its own SQLAlchemy)."""
    try:
        reqs = [r for r in (md.requires(DISTRIBUTION) or []) if "extra ==" not in r and "extra==" not in r]
        names = [_requirement_name(r) for r in reqs]
    except md.PackageNotFoundError:
        names = list(FALLBACK_RUNTIME)
    names += list(DRIVER_DISTS)
    pins: dict[str, str] = {}
    for name in names:
        if name.lower() in NOT_IN_ENVS:
            continue
        version = _installed_version(name)
        if version is not None:
            pins[name.lower()] = f"{name}=={version}"
        elif name in FALLBACK_RUNTIME or name not in DRIVER_DISTS:
            pins[name.lower()] = name  # a runtime dep missing here: let uv pick
    return sorted(pins.values(), key=str.lower)


def env_key(release: str, python_version: str, pins: list[str]) -> str:
    digest = hashlib.sha256("\n".join([LAYOUT, *pins]).encode()).hexdigest()[:10]
    return f"py{python_version}-sa{release}-{digest}"


def _uv() -> str:
    """uv: on PATH, beside this Python, or the ``uv`` distribution (a dependency of this package)."""
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if Path(found).exists():
        return found
    try:
        from uv import find_uv_bin  # the uv wheel's own locator

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        raise EnvError("uv is not installed (pip install uv); it creates the per-release environments") from None


def _one_line(text: str) -> str:
    """uv's error in one line: its ``error:`` line and the innermost cause."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith(("error", "×", "╰─▶", "because"))]
    causes = [ln for ln in lines if ln.lower().startswith(("caused by", "cause:"))]
    picked = " ".join(errors[-3:] + causes[-1:]) if errors or causes else (lines[-1] if lines else "(no output)")
    return re.sub(r"\s+", " ", picked)[:400]


_NETWORK = re.compile(r"(error sending request|failed to fetch|dns error|connection refused|timed out|"
                      r"network|certificate|tls|could not connect|failed to download|request failed|"
                      r"tcp connect error)", re.IGNORECASE)


def _run(cmd: list[str], what: str, release: str, python_version: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise EnvError(f"{what} for SQLAlchemy {release} timed out after {INSTALL_TIMEOUT}s") from None
    if proc.returncode != 0:
        detail = _one_line(proc.stderr + "\n" + proc.stdout)
        if _NETWORK.search(proc.stderr):
            raise EnvError(f"package registry unreachable while creating the env for SQLAlchemy {release}: {detail}")
        raise EnvError(f"Python {python_version} cannot install SQLAlchemy=={release}: {detail}")


def _python_version(python: str) -> str:
    if Path(python).resolve() == Path(sys.executable).resolve():
        return f"{sys.version_info[0]}.{sys.version_info[1]}"
    out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise EnvError(f"cannot run Python {python!r}: {_one_line(out.stderr)}")
    return out.stdout.strip()


def _package_dirs() -> dict[str, Path]:
    import sa_fixtures

    import sa_conformance

    return {m.__name__: Path(m.__file__).resolve().parent for m in (sa_conformance, sa_fixtures)}


def _site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise EnvError(f"new env's Python does not start: {_one_line(out.stderr)}")
    return Path(out.stdout.strip())


def _write_shim(env: Env) -> None:
    """(Re)point the shim's symlinks at the current package dirs; idempotent."""
    shim = env.path / "sa-conformance-shim"
    shim.mkdir(exist_ok=True)
    for name, target in _package_dirs().items():
        link = shim / name
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        tmp = shim / f".{name}.{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(target, target_is_directory=True)
        tmp.replace(link)
    pth = _site_packages(env.python) / "_sa_conformance_shim.pth"
    if not pth.exists() or pth.read_text(encoding="utf-8").strip() != str(shim):
        pth.write_text(str(shim) + "\n", encoding="utf-8")


def probe(env: Env) -> dict:
    """What the env's Python imports: SQLAlchemy version and file, our package's file."""
    code = ("import json, sqlalchemy, sa_conformance, sa_fixtures; print(json.dumps({'sqlalchemy': "
            "sqlalchemy.__version__, 'sqlalchemy_file': sqlalchemy.__file__, 'sa_conformance': sa_conformance.__file__}))")
    out = subprocess.run([str(env.python), "-c", code], capture_output=True, text=True, timeout=120,
                         env=env.subprocess_env(), cwd=str(env.path))
    if out.returncode != 0:
        raise EnvError(f"env {env.path.name} is broken: {_one_line(out.stderr)}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _dist_info(env: Env, release: str) -> Path | None:
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    for info in env.path.glob("lib*/python*/site-packages/*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].rpartition("-")
        if canonicalize_name(name) == "sqlalchemy" and Version(version) == Version(release):
            return info
    return None


def modified_files(env: Env, release: str) -> list[str] | None:
    """SQLAlchemy's files in ``env`` whose content differs from its wheel's
    RECORD (None: no RECORD found).  uv hard-links installed files to its
    cache, so an edit to *any* linked copy (someone patching their own venv's
    SQLAlchemy) silently changes this env too: its verdicts would be wrong."""
    import base64
    import csv

    info = _dist_info(env, release)
    if info is None or not (info / "RECORD").is_file():
        return None
    site = info.parent
    bad = []
    with open(info / "RECORD", newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if len(row) < 2 or not row[1].startswith("sha256=") or not row[0].startswith("sqlalchemy/"):
                continue
            try:
                data = (site / row[0]).read_bytes()
            except OSError:
                bad.append(row[0])
                continue
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            if digest != row[1][len("sha256="):]:
                bad.append(row[0])
    return bad


def _modified_text(files: list[str]) -> str:
    shown = ", ".join(f.removeprefix("sqlalchemy/") for f in files[:4])
    return shown + (f" and {len(files) - 4} more" if len(files) > 4 else "")


def _verify(env: Env) -> None:
    from packaging.version import Version

    seen = probe(env)
    if Version(seen["sqlalchemy"]) != Version(env.sqlalchemy):
        raise EnvError(f"env {env.path.name} imports SQLAlchemy {seen['sqlalchemy']}, not {env.sqlalchemy}")
    if not Path(seen["sqlalchemy_file"]).resolve().is_relative_to(env.path.resolve()):
        raise EnvError(f"env {env.path.name} imports SQLAlchemy from {seen['sqlalchemy_file']}, outside the env")


def ensure_env(release: str, *, python: str | None = None, log=None) -> Env:
    """The cached env for exactly this SQLAlchemy release, created if missing."""
    python = python or sys.executable
    pyver = _python_version(python)
    pins = dependency_pins()
    path = envs_root() / env_key(release, pyver, pins)
    env = Env(path=path, sqlalchemy=release, python_version=pyver)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        no_cache = False
        if (path / MARKER).is_file() and env.python.exists():
            changed = modified_files(env, release)
            if not changed:
                _write_shim(env)
                return env
            # files hard-linked from uv's cache were edited somewhere: reinstall from the registry
            no_cache = True
            if log:
                log(f"env for SQLAlchemy {release}: its files differ from the release ({_modified_text(changed)}; "
                    f"an edit to a copy hard-linked from uv's cache?); recreating it without uv's cache")
        if path.exists():
            shutil.rmtree(path)  # a half-made env of an interrupted run, or a modified one
        started = time.monotonic()
        if log:
            log(f"creating env for SQLAlchemy {release} (Python {pyver}) in {path}")
        uv = _uv()
        _run([uv, "venv", "--quiet", "--python", python, str(path)], "uv venv", release, pyver)
        try:
            _run([uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(env.python),
                  *(["--no-cache"] if no_cache else []), f"SQLAlchemy=={release}", *pins],
                 "uv pip install", release, pyver)
            _write_shim(env)
            _verify(env)
            changed = modified_files(env, release)
            if changed and not no_cache:
                if log:
                    log(f"SQLAlchemy {release} from uv's cache differs from the release ({_modified_text(changed)}); "
                        f"reinstalling it from the registry")
                _run([uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(env.python), "--no-cache",
                      "--reinstall-package", "sqlalchemy", f"SQLAlchemy=={release}"], "uv pip install", release, pyver)
                changed = modified_files(env, release)
            if changed:
                raise EnvError(
                    f"SQLAlchemy {release} as installed differs from the release ({_modified_text(changed)}): "
                    f"uv's cache holds an edited copy; run `uv cache clean sqlalchemy` and retry")
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        meta = {"sqlalchemy": release, "python": pyver, "pins": pins, "created": time.time(),
                "seconds": round(time.monotonic() - started, 1)}
        (path / MARKER).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if log:
            log(f"env for SQLAlchemy {release} ready in {meta['seconds']}s")
    return env
