# Sourced by the scripts (VENV_EXTRAS=test for the test extras): make .venv (Python 3.11+) and install the project into it,
# again only when pyproject.toml has changed since the last install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras=${VENV_EXTRAS:-}
py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "eadrcc needs Python 3.11 or newer ($py is $("$py" -V 2>&1))" >&2; exit 1; }
  "$py" -m venv .venv
fi
stamp=".venv/.installed${extras:+-$extras}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}"
  touch "$stamp"
fi
