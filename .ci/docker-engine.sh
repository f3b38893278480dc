#!/usr/bin/env bash
# Makes a Docker engine and the debian:bookworm-slim base image available on a
# machine that has neither (see docs/testing.md, "Skips and CI"). Does nothing
# where an engine already answers.
set -euo pipefail

log() { printf '[docker-engine] %s\n' "$*"; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

if ! engine_answers; then
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    log "installing docker.io and debootstrap from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io debootstrap >/dev/null
  fi
  mkdir -p /var/log
  if ! pgrep -x containerd >/dev/null; then
    log "starting containerd"
    nohup containerd >/var/log/containerd.log 2>&1 &
  fi
  sleep 1
  log "starting dockerd (networks in 198.18.0.0/15)"
  nohup dockerd --bip=198.18.0.1/24 \
    --default-address-pool base=198.18.0.0/15,size=24 \
    >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    engine_answers && break
    sleep 1
  done
  engine_answers || { log "dockerd did not come up:"; tail -n 30 /var/log/dockerd.log; exit 1; }
fi
log "engine answers: $(docker version --format '{{.Server.Version}}')"

if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq; apt-get install -y -qq debootstrap >/dev/null; }
  # The machine's own apt mirror (deb822 "URIs:" or one-line "deb URL").
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}' \
           | grep -v security | head -n 1 || true)
  [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2}' /etc/apt/sources.list 2>/dev/null \
           | grep -v security | head -n 1 || true)
  [ -n "$mirror" ] || { log "no Debian mirror found in /etc/apt"; exit 1; }
  root=$(mktemp -d /tmp/bookworm.XXXXXX)
  log "building debian:bookworm-slim with debootstrap from $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >/tmp/debootstrap.log 2>&1 \
    || { tail -n 30 /tmp/debootstrap.log; exit 1; }
  tar -C "$root" -c . | docker import - debian:bookworm-slim >/dev/null
  rm -rf "$root"
fi
log "base image debian:bookworm-slim present"
