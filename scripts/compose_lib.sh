# Shared by scripts/compose_smoke.sh and scripts/compose_scale.sh (sourced, not run): the
# container engine, per-run credentials, and waiting for a stack to become healthy.
#
# Uses ../shared/tools/container-engine.sh (podman behind a Docker-compatible socket, plus
# Debian's docker-compose 1.29) on machines without a Docker engine; it needs root the first
# time (it installs packages). Callers set LOG_TAG and ROOT before sourcing.
# shellcheck shell=bash

# ../shared beside the repository; from a git worktree, beside its main checkout.
engine_script() {
  local common
  [ -f "$ROOT/../shared/tools/container-engine.sh" ] && { echo "$ROOT/../shared/tools/container-engine.sh"; return; }
  common=$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  echo "${common:+$(dirname "$common")/}../shared/tools/container-engine.sh"
}
ENGINE_SH=${ENGINE_SH:-$(engine_script)}
# docker-compose 1.29 must not try to use a docker CLI that is not there.
export COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0

log() { printf '[%s] %s\n' "${LOG_TAG:-compose}" "$*" >&2; }

sha256() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
random_token() { head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1; }

# Credentials for this run only (README "Security"): the worker's service identity
# (FOOTCDS_SERVICE_TOKEN) and one client token, CLIENT_TOKEN ($3, else random), for the client
# named $1 with the scopes $2; the services get only their sha256 hashes, in FOOTCDS_TOKENS.
make_credentials() {
  local client=$1 scopes=$2
  export FOOTCDS_SERVICE_TOKEN=${FOOTCDS_SERVICE_TOKEN:-$(random_token)}
  CLIENT_TOKEN=${3:-$(random_token)}
  FOOTCDS_TOKENS="{tokens: {$(sha256 "$FOOTCDS_SERVICE_TOKEN"): {client_id: worker, scopes: [assess, screen], max_concurrent: 1000}, $(sha256 "$CLIENT_TOKEN"): {client_id: $client, scopes: [$scopes], max_concurrent: 1000}}}"
  export FOOTCDS_TOKENS CLIENT_TOKEN
}

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

# A Docker engine, or podman set up by container-engine.sh; exits when there is neither.
start_engine() {
  [ -f "$ENGINE_SH" ] || { log "missing $ENGINE_SH (the shared/ folder sits beside the repo)"; exit 1; }
  if ! source_engine; then
    log "container-engine.sh failed; retrying after building its base image here"
    ensure_base_image
    source_engine
  fi
  [ -n "${DOCKER_HOST:-}" ] || { log "DOCKER_HOST is not set: no container engine"; exit 1; }
  command -v docker-compose >/dev/null || { log "docker-compose is not installed"; exit 1; }
}

engine_cli() { if command -v podman >/dev/null; then echo podman; else echo docker; fi; }

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

# wait_healthy TIMEOUT SERVICE[=REPLICAS] ...: every replica of every service healthy, or exit 1.
# Runs `dc` (the caller's docker-compose function).
wait_healthy() {
  local timeout=$1; shift
  local deadline=$((SECONDS + timeout)) started=$SECONDS spec svc want ids id state pending
  log "waiting up to ${timeout}s for $* to be healthy"
  while :; do
    pending=()
    for spec in "$@"; do
      svc=${spec%%=*}; want=1; [ "$spec" != "$svc" ] && want=${spec#*=}
      mapfile -t ids < <(dc ps -q "$svc" 2>/dev/null || true)
      [ "${#ids[@]}" -eq "$want" ] || pending+=("$svc=${#ids[@]}/$want containers")
      for id in "${ids[@]}"; do
        state=$(health_of "$id")
        [ "$state" = healthy ] || pending+=("$svc/${id:0:12}=$state")
      done
    done
    [ "${#pending[@]}" -eq 0 ] && break
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "not healthy after ${timeout}s: ${pending[*]}"
      exit 1
    fi
    sleep 3
  done
  log "all healthy after $((SECONDS - started))s"
}

# Always tear the stack down (containers, network, volumes), on success, failure or Ctrl-C; on
# failure print its state and the last LOG_TAIL lines of every service first. Needs dc().
teardown_on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$rc" -ne 0 ]; then
    log "FAILED (exit $rc); state and recent logs follow"
    dc ps >&2 || true
    dc logs --no-color --tail="${LOG_TAIL:-40}" >&2 || true
  fi
  log "tearing down (docker-compose down -v)"
  dc down -v --remove-orphans >&2 || true
  exit "$rc"
}

install_teardown() {
  trap teardown_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
