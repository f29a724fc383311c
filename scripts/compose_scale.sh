#!/usr/bin/env bash
# Scale-out proof on a real container engine (`make compose-scale`): build the image, start
# docker-compose.yml (+ deploy/compose.scale.yml) with two replicas of each domain service
# and three workers, wait until every replica is healthy, run scripts/compose_scale_check.py
# (Assess calls and two 2,000-athlete rosters; every replica must serve calls; one replica
# is stopped mid-roster and every athlete must still be screened exactly once), and always
# tear the stack down (`docker-compose down -v`).
#
# Not part of `make test`: it needs a container engine (scripts/compose_lib.sh sets up podman
# here) and takes minutes. Knobs:
#   SCALE_TIMEOUT=300            seconds to wait for every replica to become healthy
#   SCALE_REPLICAS=2 SCALE_WORKERS=3
#   SCALE_ARGS="..."             extra arguments for the checker (e.g. --assess 500 --stop workup)
#   SCALE_JSON=path              also write the figures as JSON there
#   COMPOSE_PROJECT_NAME=...     defaults to footcdsscale
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOG_TAG=compose-scale
# shellcheck source=scripts/compose_lib.sh
source "$ROOT/scripts/compose_lib.sh"
TIMEOUT=${SCALE_TIMEOUT:-300}
REPLICAS=${SCALE_REPLICAS:-2}
WORKERS=${SCALE_WORKERS:-3}
PY=${PY:-$ROOT/.venv/bin/python}
DOMAIN=(intake differential workup treatment)
COMPOSE=(docker-compose -f docker-compose.yml -f deploy/compose.scale.yml)

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-footcdsscale}
export REDIS_PASSWORD=${REDIS_PASSWORD:-scale${RANDOM}${RANDOM}${RANDOM}}
make_credentials compose-scale "assess, screen, results:read"

[ -x "$PY" ] || { log "no project venv at $PY: run 'make install' first"; exit 1; }
if (exec 3<>/dev/tcp/127.0.0.1/50050) 2>/dev/null; then
  log "127.0.0.1:50050 is already in use (another stack?): the encounter port cannot be published"
  exit 1
fi

start_engine
cd "$ROOT"
dc() { "${COMPOSE[@]}" "$@"; }

LOG_TAIL=30
install_teardown

scale=(); specs=(redis encounter "worker=$WORKERS")
for svc in "${DOMAIN[@]}"; do scale+=(--scale "$svc=$REPLICAS"); specs+=("$svc=$REPLICAS"); done
scale+=(--scale "worker=$WORKERS")

log "building the image (one build: every service shares it)"
dc build encounter
log "starting the stack: ${scale[*]}"
dc up -d --no-build "${scale[@]}" redis encounter "${DOMAIN[@]}" worker
wait_healthy "$TIMEOUT" "${specs[@]}"

log "running scripts/compose_scale_check.py"
checker=("$PY" scripts/compose_scale_check.py --compose "${COMPOSE[*]}" --engine "$(engine_cli)"
         --replicas "$REPLICAS" --workers "$WORKERS")
[ -n "${SCALE_JSON:-}" ] && checker+=(--json "$SCALE_JSON")
# shellcheck disable=SC2206  # SCALE_ARGS is a word list on purpose
checker+=(${SCALE_ARGS:-})
FOOTCDS_TOKEN=$CLIENT_TOKEN FOOTCDS_ENCOUNTER_ADDR=127.0.0.1:50050 "${checker[@]}"
log "OK: replicas shared the load and every athlete was screened exactly once"
