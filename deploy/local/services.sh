#!/usr/bin/env bash
# Start, stop or report the local stack: deploy/local/services.sh up|down|status [service...]
# Services: postgres redis kafka neo4j chroma (default: all, started in that order).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ALL=(postgres redis kafka neo4j chroma)
verb=${1:-status}
shift || true
names=("$@")
[ "${#names[@]}" -eq 0 ] && names=("${ALL[@]}")
for s in "${names[@]}"; do
  [ -x "$here/$s.sh" ] || { echo "[services] error: no launcher deploy/local/$s.sh" >&2; exit 1; }
done
case "$verb" in
  up)
    for s in "${names[@]}"; do "$here/$s.sh" install; done
    for s in "${names[@]}"; do "$here/$s.sh" start; done ;;
  down)
    for ((i=${#names[@]}-1; i>=0; i--)); do "$here/${names[$i]}.sh" stop; done ;;
  status)
    rc=0
    for s in "${names[@]}"; do "$here/$s.sh" status || rc=1; done
    exit $rc ;;
  *) echo "usage: $0 up|down|status [service...]" >&2; exit 2 ;;
esac
