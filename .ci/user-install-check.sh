#!/usr/bin/env bash
# The suite as a user gets it: build the sdist and (from it) the wheel, install the wheel with the
# `mysql` extra and a pinned SQLAlchemy into a fresh venv in a temporary directory outside the
# checkout, run `sa-conformance run` there with the MySQL-family backend required, and check its
# results.json.  Nothing of the repository is reachable from the venv or the working directory.
#
#   .ci/user-install-check.sh [RUN OPTIONS...]     e.g. --mysql-url mysql+pymysql://root@127.0.0.1:3306/test
#                                                  or   --no-docker
# Environment: SA_CONFORMANCE_SQLALCHEMY=2.0.44 pins another SQLAlchemy (default: the one in .venv);
#              PYTHON=python3.12 builds the venv with another interpreter (default: .venv's).
# Then a project of the user's own with its own tests in that directory: `pytest` there must show no
# option or fixture of ours.
# Exit status: the run's exit status if it is not 0, else 1 if results.json or the user's pytest fails a
# check, else 0.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-$repo/.venv/bin/python}"
uv="$(command -v uv || echo "$(dirname "$py")/uv")"
sa_version="${SA_CONFORMANCE_SQLALCHEMY:-$("$py" -c 'import sqlalchemy; print(sqlalchemy.__version__)')}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/sa-user-install-check.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

echo "user-check: building sdist + wheel of $repo"
"$uv" build -q --out-dir "$tmp/dist" "$repo"
wheel="$(ls "$tmp"/dist/*.whl)"

echo "user-check: fresh venv in $tmp/venv with $(basename "$wheel")[mysql] and SQLAlchemy==$sa_version"
"$uv" venv -q --python "$py" "$tmp/venv"
vpy="$tmp/venv/bin/python"
# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set, every pytest process would recompile otherwise
"$uv" pip install -q --python "$vpy" --compile-bytecode "${wheel}[mysql]" "SQLAlchemy==$sa_version"

mkdir "$tmp/work"
cd "$tmp/work"
# Nothing of the checkout may leak in: no PYTHONPATH, no pytest settings of the caller, no venv of ours.
unset PYTHONPATH PYTEST_ADDOPTS PYTEST_PLUGINS VIRTUAL_ENV
"$vpy" - "$tmp" "$repo" "$sa_version" <<'PY'
import sys
from pathlib import Path
tmp, repo, want = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve(), sys.argv[3]
import sa_conformance, sa_fixtures, sqlalchemy
for mod in (sa_conformance, sa_fixtures, sqlalchemy):
    where = Path(mod.__file__).resolve()
    if tmp / "venv" not in where.parents or repo in where.parents:
        sys.exit(f"user-check: FAILED - {mod.__name__} imported from {where}, not from the fresh venv")
if sqlalchemy.__version__ != want:
    sys.exit(f"user-check: FAILED - SQLAlchemy {sqlalchemy.__version__} installed, {want} asked for")
print(f"user-check: sa_conformance from {Path(sa_conformance.__file__).parent}, SQLAlchemy {sqlalchemy.__version__}")
PY

set +e
"$tmp/venv/bin/sa-conformance" run --backend sqlite-memory,sqlite-file,mysql --require-backend mysql -n 2 "$@"
rc=$?
set -e

"$vpy" - "$tmp/work/sa-conformance-reports/results.json" "$sa_version" <<'PY' || { [ "$rc" != 0 ] || rc=1; }
import json, sys
path, want = sys.argv[1], sys.argv[2]
try:
    doc = json.load(open(path, encoding="utf-8"))
except (OSError, ValueError) as exc:
    sys.exit(f"user-check: FAILED - no readable results.json: {exc}")
problems = []
if doc.get("complete") is not True:
    problems.append("results are not complete")
if doc["run"].get("sqlalchemy") != want:
    problems.append(f"results are for SQLAlchemy {doc['run'].get('sqlalchemy')}, not {want}")
judged = [r for r in doc["results"] if r["backend"] == "mysql" and r["outcome"] in ("pass", "fail", "expected-fail", "unexpected-pass")]
if not judged:
    problems.append("no claim was judged on the mysql backend")
server = doc["run"].get("backends", {}).get("mysql", {})
if not server.get("product") or not server.get("server_version"):
    problems.append(f"mysql server product/version not recorded: {server}")
outcomes = {}
for r in doc["results"]:
    outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
print(f"user-check: results.json: SQLAlchemy {doc['run'].get('sqlalchemy')}, {server.get('product')} "
      f"{server.get('server_version')}, {len(judged)} mysql records judged, records {outcomes}")
if problems:
    sys.exit("user-check: FAILED - " + "; ".join(problems))
PY
# Installing the package changes nothing in the user's own pytest runs: no option, fixture or hook of ours
# is active there (no pytest11 entry point; our plugins load only inside `sa-conformance run`).
own="$tmp/work/own-project"
mkdir -p "$own/tests"
printf '[pytest]\ntestpaths = tests\n' > "$own/pytest.ini"
printf 'def test_own(request):\n    assert "make_scoped" not in request.fixturenames\n' > "$own/tests/test_own.py"
leaked=""
(cd "$own" && "$vpy" -m pytest -q -p no:cacheprovider >"$tmp/own.log" 2>&1) || leaked="its tests fail: $(tail -1 "$tmp/own.log")"
opts="$(cd "$own" && "$vpy" -m pytest --help 2>&1)" || true
fixtures="$(cd "$own" && "$vpy" -m pytest --fixtures -p no:cacheprovider 2>&1)" || true
for opt in --claim --backend --require-backend --mysql-url --results --claims-dump; do
  grep -qE -- "(^|[[:space:]])$opt([=[:space:]]|$)" <<<"$opts" && leaked="$leaked option $opt;"
done
for fx in backend db engine session_factory make_scoped scoped; do
  grep -qE "^$fx( |$)" <<<"$fixtures" && leaked="$leaked fixture $fx;"
done
if [ -n "$leaked" ]; then
  echo "user-check: FAILED - the user's own pytest run sees the suite:$leaked"
  [ "$rc" != 0 ] || rc=1
else
  echo "user-check: the user's own pytest run sees no option, fixture or hook of the suite"
fi
echo "user-check: done in $(( $(date +%s) - start ))s (sa-conformance run exit $rc)"
exit "$rc"
