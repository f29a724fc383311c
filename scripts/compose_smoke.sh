#!/usr/bin/env bash
# Smoke test of the container stack (`make compose-smoke`): build the image, start
# docker-compose.yml, wait for every service to be healthy, run one assessment through the
# `smoke` service (encounter -> Celery worker -> the four domain services), and always tear
# the stack down again (containers, network and the Redis volume).
#
# The engine, credentials and health wait live in scripts/compose_lib.sh. Knobs:
#   SMOKE_TIMEOUT=180            seconds to wait for the stack to become healthy
#   COMPOSE_PROJECT_NAME=...     defaults to footcdssmoke, apart from a developer's stack
#   REDIS_PASSWORD=...           defaults to a random one for this run
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOG_TAG=compose-smoke
# shellcheck source=scripts/compose_lib.sh
source "$ROOT/scripts/compose_lib.sh"
TIMEOUT=${SMOKE_TIMEOUT:-180}
SERVICES=(redis intake differential workup treatment encounter worker)

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-footcdssmoke}
export REDIS_PASSWORD=${REDIS_PASSWORD:-smoke${RANDOM}${RANDOM}${RANDOM}}
make_credentials smoke assess "${FOOTCDS_SMOKE_TOKEN:-}"
export FOOTCDS_SMOKE_TOKEN=$CLIENT_TOKEN

start_engine
cd "$ROOT"
dc() { docker-compose "$@"; }

LOG_TAIL=60
install_teardown

log "building the image (one build: every service shares it)"
dc build encounter
log "starting the stack"
dc up -d --no-build "${SERVICES[@]}"
wait_healthy "$TIMEOUT" "${SERVICES[@]}"

out=$(mktemp)
log "running: docker-compose --profile smoke run --rm smoke"
if ! dc --profile smoke run --rm -T smoke >"$out"; then
  cat "$out"
  log "the smoke assessment failed"
  exit 1
fi
cat "$out"
if ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$out"; then
  log "the smoke assessment did not print JSON"
  exit 1
fi
rm -f "$out"
log "OK: one assessment end to end through the container stack"
