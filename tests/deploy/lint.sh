#!/usr/bin/env bash
# lint.sh [DIR]: yamllint (Debian's package) over the Kubernetes manifests, strict: warnings fail
# too. DIR defaults to this checkout's deploy/kubernetes; selftest.py passes a broken copy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/../../deploy/kubernetes}
command -v yamllint >/dev/null ||
  { echo "lint.sh: yamllint is missing: scripts/install-deps.sh test installs it" >&2; exit 1; }
files=("$dir"/*.yaml)
[[ -e ${files[0]} ]] || { echo "lint.sh: no manifests in $dir" >&2; exit 1; }
yamllint --strict -c "$here/yamllint.yaml" "${files[@]}"
echo "lint.sh: ${#files[@]} manifests clean"
