#!/usr/bin/env bash
# Regenerate the dacapo-ml 0.3.5 reference outputs for every config in this folder.
# Needs the throwaway venv described in ../../../../shared/tools/dacapo_reference.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tool=${DACAPO_REFERENCE:-$here/../../../../shared/tools/dacapo_reference.py}
python=${DACAPO_PYTHON:-venv-dacapo/bin/python}
for config in "$here"/*.json; do
    "$python" "$tool" "$config" "${config%.json}.pt"
done
