#!/usr/bin/env bash
# Build the Dockerfile for real, run the image, and check /healthz. Not part of CI:
# it takes minutes and gigabytes. No docker engine is needed:
#   - the Dockerfile's base (python:3.11-slim-bookworm) is made locally with debootstrap
#     and imported into podman's store under that name (unless it is already there);
#   - buildah builds the image (chroot isolation, no pull, docker format for HEALTHCHECK);
#   - podman runs it (runc, host network) and the script asks /healthz.
#
#   sudo deploy/build-image.sh            # as root; installs buildah, podman, debootstrap, runc
#   PORT=18000 TAG=localhost/authapi:dev deploy/build-image.sh
set -euo pipefail

cd "$(dirname "$0")/.."

BASE=docker.io/library/python:3.11-slim-bookworm
TAG=${TAG:-localhost/authapi:build-check}
PORT=${PORT:-18000}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
CONTAINER=authapi-build-check-$$
WORK=$(mktemp -d)
started=$(date +%s)

say() { printf 'build-image: [%3ss] %s\n' "$(($(date +%s) - started))" "$*"; }

cleanup() {
    podman rm -f "$CONTAINER" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

need_tools() {
    local missing=()
    for tool in buildah podman debootstrap runc; do
        command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
    done
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]} (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

make_base() {
    if podman image exists "$BASE"; then
        say "base $BASE already in podman's store"
        return
    fi
    say "debootstrap $SUITE (minbase + python3.11) from $MIRROR"
    debootstrap --variant=minbase \
        --include=python3.11,python3.11-venv,python3-pip,ca-certificates,passwd \
        "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -20 "$WORK/debootstrap.log"; exit 1; }
    # The official image has its Python at /usr/local/bin/python; the Dockerfile calls `python`.
    ln -sf /usr/bin/python3.11 "$WORK/rootfs/usr/local/bin/python"
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb
    say "importing the root file system as $BASE"
    tar -C "$WORK/rootfs" -c . | podman import - "$BASE" >/dev/null
}

build() {
    say "buildah bud -> $TAG"
    buildah bud --isolation chroot --pull=never --format docker \
        -v "$CA_BUNDLE:$CA_BUNDLE:ro" -t "$TAG" -f Dockerfile . 2>&1 | tail -5
    podman image inspect "$TAG" --format 'image {{.Id}} size {{.Size}} bytes, user {{.Config.User}}'
    podman image inspect "$TAG" --format 'healthcheck {{.Config.Healthcheck.Test}}'
}

port_free() {
    python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', $1))" 2>/dev/null
}

run_and_check() {
    local runtime command=()
    runtime=$(command -v runc || echo /usr/sbin/runc)
    # The image's own command serves on 8000, which its HEALTHCHECK asks: use it when the
    # host's port 8000 is free (host network), else serve on $PORT and skip HEALTHCHECK.
    if port_free 8000; then
        PORT=8000
    else
        command=(authapi serve --host 127.0.0.1 --port "$PORT")
    fi
    say "podman run (runtime $runtime), serving on 127.0.0.1:$PORT"
    podman run -d --name "$CONTAINER" --runtime "$runtime" --network host \
        --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
        -e AUTHAPI_SECRET_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
        -e AUTHAPI_MAIL_URL=smtp://127.0.0.1:25 \
        "$TAG" "${command[@]}" >/dev/null
    for _ in $(seq 1 60); do
        if body=$(python3 -c "import urllib.request,sys; print(urllib.request.urlopen(
                'http://127.0.0.1:$PORT/healthz', timeout=2).read().decode())" 2>/dev/null); then
            say "GET /healthz -> 200 $body"
            if [ ${#command[@]} -eq 0 ]; then
                podman healthcheck run "$CONTAINER" && say "the image's HEALTHCHECK: healthy"
            fi
            podman exec "$CONTAINER" id
            podman logs "$CONTAINER" 2>&1 | tail -3
            return
        fi
        sleep 1
    done
    say "/healthz never answered; the container's log:"
    podman logs "$CONTAINER" 2>&1 | tail -30
    exit 1
}

need_tools
make_base
build
run_and_check
say "image $TAG built, ran, and answered /healthz"
