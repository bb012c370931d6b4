#!/usr/bin/env bash
# Debian packages the tests and the quick start use; installs only what is missing (idempotent).
# Needs root (or passwordless sudo); without it, prints what is missing and exits 0 so that
# `npm start` can still run with what is there.
set -euo pipefail

PACKAGES=(
  nats-server        # control plane, when no NATS is running
  docker-compose     # validates docker-compose.yml (v1 syntax) in the tests
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${PACKAGES[*]})"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    echo "system packages missing: ${missing[*]} (run as root to install them)"; exit 0
  fi
else
  SUDO=()
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
