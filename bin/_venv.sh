# Sourced by the bin/ scripts: create .venv and install requirements.txt when it changed.
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # This machine's pip config names local mirrors that may be absent: drop that noise only.
  if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt \
      2> >(grep -v "^WARNING: Location" >&2); then
    echo "Installing requirements.txt failed." >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
