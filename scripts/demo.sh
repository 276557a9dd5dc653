#!/usr/bin/env bash
# make demo: render the default project as a user would, install it into its own fresh virtual
# environment with its own `make install`, train it with `python train.py`, and print the result.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
build=build/demo

rm -rf "$build"
mkdir -p "$build"
echo "== rendering the default project into $build"
"$PYTHON" -m venv "$build/cookiecutter-venv"
"$build/cookiecutter-venv/bin/pip" install --quiet "cookiecutter>=2.6"
"$build/cookiecutter-venv/bin/cookiecutter" --no-input --output-dir "$build" .
project=$(find "$build" -mindepth 2 -maxdepth 2 -name pyproject.toml -printf '%h\n')
cd "$project"

echo "== make install (fresh .venv in $project)"
make install

echo "== python train.py"
start=$EPOCHREALTIME
.venv/bin/python train.py
end=$EPOCHREALTIME

.venv/bin/python - "$start" "$end" <<'PY'
import json, pathlib, sys
from digits_classifier.data import DigitsDataModule
result = json.loads(next(pathlib.Path("logs").glob("version_*/test_metrics.json")).read_text())
seconds = float(sys.argv[2]) - float(sys.argv[1])
data = DigitsDataModule()
data.setup()
print(f"\ndemo: test accuracy {result['metrics']['test/acc']:.4f} on the {len(data.splits['test'])} held-out digits"
      f" (best checkpoint {result['checkpoint']}); python train.py took {seconds:.1f} s")
PY
