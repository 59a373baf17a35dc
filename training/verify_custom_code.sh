#!/usr/bin/env bash
# Runs `falcon model verify` on every custom-text-code fixture against the
# real Python code (training/custom_code/*.py, real NLTK, real
# scikit-learn), on the fixture's held-out texts and on Falcon's built-in
# sample. Any difference fails (verify exits 1). Used by .ci/run.
#
#   bash training/verify_custom_code.sh target/release/falcon PYTHON NLTK_DATA_DIR
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 FALCON PYTHON NLTK_DATA_DIR" >&2
  exit 2
fi
FALCON=$1
PYTHON=$2
NLTK_DATA_DIR=$3
cd "$(dirname "$0")/.."
FIX=crates/falcon_engine/tests/fixtures/custom
for dir in "$FIX"/*/; do
  name=$(basename "$dir")
  case $name in
    server_clean) module=training/custom_code/app.py ;;
    *) module=training/custom_code/$name.py ;;
  esac
  for texts in "$dir/texts.jsonl" builtin; do
    extra=()
    [ "$texts" = builtin ] || extra=(--texts "$texts")
    echo "== $name ($(basename "$texts"))"
    "$FALCON" model verify "$dir/model.joblib" --callables "$dir/callables.toml" \
      --python "$PYTHON" --module "$module" --nltk-data "$NLTK_DATA_DIR" "${extra[@]}"
  done
done
