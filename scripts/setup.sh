#!/usr/bin/env bash
# Installs everything sgpods needs on Debian 12, then builds it. Idempotent and non-interactive:
# installed packages are skipped, `npm ci` runs only when package-lock.json changed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*"; }

# Debian packages: the dataplane (nftables and its libnftables binding, iproute2, conntrack), the
# RDS engine (postgresql), python3 (the nft session helper and test probes; psycopg2 for the
# workshop app of the image catalogue),
# tini (the init of every container of the cluster runtime), and tools the tests and users drive
# inside instances (procps for ps/pkill, util-linux for nsenter/unshare, ping, curl for the
# metadata service and httpGet probes, dig, jq), tcpdump (reads the router's NFLOG for the flow
# logs), and chromium (the dashboard's end-to-end test drives it headless through playwright-core).
packages=(nftables python3-nftables iproute2 conntrack postgresql procps util-linux ca-certificates python3
  python3-psycopg2 tini iputils-ping curl dnsutils jq tcpdump chromium)
# The real clients: keep the machine's aws CLI and kubectl when present, else Debian's.
command -v aws >/dev/null 2>&1 || packages+=(awscli)
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]} (run this script as root to install them)" >&2
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js 20 is the machine's; dependencies are pinned in package-lock.json.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  log "Node.js >= 20 is required, found $(node --version)" >&2
  exit 1
fi
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.sgpods-lock-sha256
if [[ ! -f $stamp || $(cat "$stamp") != "$lock_hash" ]]; then
  log 'npm ci'
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >"$stamp"
fi

log 'build'
npm run --silent build

# Put this checkout's `sgpods` on PATH, as an installed tool would be.
if [[ $(id -u) -eq 0 ]]; then
  npm link --no-audit --no-fund --loglevel=error >/dev/null
fi
log 'ready'
