#!/usr/bin/env bash
# The Python package as its users get it: the wheel built with maturin (abi3, every
# CPython from 3.9), installed in a fresh virtual environment (no Rust needed there),
# its tests (pytest) and `mypy --strict` on a script that uses the whole API.
# Usage: python/test.sh [PYTEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/build"
"$work/build/bin/pip" install -q "maturin>=1.5,<2"
(cd python && "$work/build/bin/maturin" build --release --locked --quiet -o "$work/wheels")
wheel=$(ls "$work"/wheels/portreg-*.whl)
echo "wheel: $(basename "$wheel"), $(du -k "$wheel" | cut -f1) KiB"
python3 -m venv "$work/test"
"$work/test/bin/pip" install -q "$wheel"
"$work/test/bin/pip" install -q pytest pyarrow polars pandas numpy mypy pandas-stubs pyarrow-stubs
# Outside the source tree, so that the installed package is the one imported.
(cd "$work" && "$work/test/bin/python" -m pytest -q -p no:cacheprovider "$root/python/tests" "$@")
"$work/test/bin/mypy" --strict --cache-dir "$work/mypy" python/examples/typed_use.py
