#!/usr/bin/env bash
# Smoke test of the container stack (`make compose-smoke`): build the image, start
# docker-compose.yml, wait for every service to be healthy, run one assessment through the
# `smoke` service (encounter -> Celery worker -> the four domain services), and always tear
# the stack down again (containers, network and the Redis volume).
#
# Uses ../shared/tools/container-engine.sh (podman behind a Docker-compatible socket, plus
# Debian's docker-compose 1.29) on machines without a Docker engine. Needs root the first
# time (it installs packages). Knobs:
#   SMOKE_TIMEOUT=180            seconds to wait for the stack to become healthy
#   COMPOSE_PROJECT_NAME=...     defaults to footcdssmoke, apart from a developer's stack
#   REDIS_PASSWORD=...           defaults to a random one for this run
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ENGINE_SH=$(dirname "$0")/../../shared/tools/container-engine.sh
TIMEOUT=${SMOKE_TIMEOUT:-180}
SERVICES=(redis intake differential workup treatment encounter worker)

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-footcdssmoke}
export REDIS_PASSWORD=${REDIS_PASSWORD:-smoke${RANDOM}${RANDOM}${RANDOM}}
# Credentials for this run only (README "Security"): the worker's service identity and the
# smoke client's token; the services get only their sha256 hashes.
sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
export FOOTCDS_SERVICE_TOKEN=${FOOTCDS_SERVICE_TOKEN:-$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)}
export FOOTCDS_SMOKE_TOKEN=${FOOTCDS_SMOKE_TOKEN:-$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)}
service_hash=$(sha256 "$FOOTCDS_SERVICE_TOKEN")
smoke_hash=$(sha256 "$FOOTCDS_SMOKE_TOKEN")
FOOTCDS_TOKENS="{tokens: {$service_hash: {client_id: worker, scopes: [assess, screen], max_concurrent: 1000}, $smoke_hash: {client_id: smoke, scopes: [assess]}}}"
export FOOTCDS_TOKENS
# docker-compose 1.29 must not try to use a docker CLI that is not there.
export COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0

log() { printf '[compose-smoke] %s\n' "$*" >&2; }

source_engine() {
  # The engine script is written to be sourced; it manages its own error handling.
  set +eu
  # shellcheck source=/dev/null
  source "$ENGINE_SH"
  local rc=$?
  set -eu
  return "$rc"
}

# container-engine.sh picks its Debian mirror with a grep that can match a commented-out
# URL in /etc/apt/sources.list.d/*.sources (seen here: a snapshot.debian.org comment), and
# then debootstrap fails. If the base image is still missing after a first try, build it
# here from the first active mirror and let the engine script carry on from there.
ensure_base_image() {
  command -v podman >/dev/null && command -v debootstrap >/dev/null || return 1
  podman image exists localhost/debian:bookworm && return 0
  local mirror dir
  mirror=$(grep -rhE '^[[:space:]]*(URIs:|deb[[:space:]])' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian/?' | grep -v -- '-security' | head -n1 || true)
  dir=$(mktemp -d)
  log "building localhost/debian:bookworm with debootstrap from ${mirror:-http://deb.debian.org/debian}"
  debootstrap --variant=minbase bookworm "$dir/rootfs" "${mirror:-http://deb.debian.org/debian}" >"$dir/debootstrap.log" 2>&1 \
    || { tail -n 20 "$dir/debootstrap.log" >&2; return 1; }
  tar -C "$dir/rootfs" -c . | podman import - localhost/debian:bookworm >/dev/null
  rm -rf "$dir"
}

[ -f "$ENGINE_SH" ] || { log "missing $ENGINE_SH (the shared/ folder sits beside the repo)"; exit 1; }
if ! source_engine; then
  log "container-engine.sh failed; retrying after building its base image here"
  ensure_base_image
  source_engine
fi
[ -n "${DOCKER_HOST:-}" ] || { log "DOCKER_HOST is not set: no container engine"; exit 1; }
command -v docker-compose >/dev/null || { log "docker-compose is not installed"; exit 1; }

cd "$ROOT"
dc() { docker-compose "$@"; }

health_of() { # container id -> healthy | unhealthy | starting | <state>
  local id=$1 status
  if command -v podman >/dev/null; then
    status=$(podman inspect --format '{{.State.Status}} {{.State.Health.Status}}' "$id" 2>/dev/null || echo "gone -")
  else
    status=$(docker inspect --format '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null || echo "gone -")
  fi
  local state=${status%% *} health=${status#* }
  if [ "$state" = running ] && [ -n "$health" ] && [ "$health" != "$status" ]; then echo "$health"; else echo "$state"; fi
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ]; then
    log "FAILED (exit $rc); state and recent logs follow"
    dc ps >&2 || true
    dc logs --no-color --tail=60 >&2 || true
  fi
  log "tearing down (docker-compose down -v)"
  dc down -v --remove-orphans >&2 || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building the image (one build: every service shares it)"
dc build encounter
log "starting the stack"
dc up -d --no-build "${SERVICES[@]}"

log "waiting up to ${TIMEOUT}s for ${SERVICES[*]} to be healthy"
deadline=$((SECONDS + TIMEOUT))
while :; do
  pending=()
  for svc in "${SERVICES[@]}"; do
    id=$(dc ps -q "$svc" 2>/dev/null | head -n1 || true)
    state=$([ -n "$id" ] && health_of "$id" || echo missing)
    [ "$state" = healthy ] || pending+=("$svc=$state")
  done
  [ "${#pending[@]}" -eq 0 ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "not healthy after ${TIMEOUT}s: ${pending[*]}"
    exit 1
  fi
  sleep 3
done
log "all healthy after $((SECONDS - deadline + TIMEOUT))s"

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
