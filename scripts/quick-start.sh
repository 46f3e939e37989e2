#!/usr/bin/env bash
# quick-start.sh [strato serve options…]
#
# Strato on this machine in one command, as root on Debian: installs what is missing (Node.js 20 or
# later, the build tools for native modules, the KVM host packages), `npm ci` if node_modules is
# absent, then runs `strato serve --all-in-one` on the embedded defaults: SQLite in ./data, this
# machine as its own KVM host (local storage, a flat network with DHCP on the isolated dummy
# interface strato0, the built-in tiny image) and a first VM. It prints the API URL, how to log in
# and the VM's console URL, then keeps serving (Ctrl-C stops the node and its sshd; VMs and agents keep running).
#
# What it changes on the machine: Debian packages; ~/.strato (the node's SSH key and its own sshd,
# listening on 127.0.0.1:2222 only, accepting only that key from 127.0.0.1); the dummy interface
# strato0 and its bridge br_strato0 (192.168.200.1/24); agents and disks under ./data.
# Extra arguments go to `strato serve` (e.g. --port 8081, --image https://…/my.qcow2).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
  echo "quick-start: run as root (sudo bash scripts/quick-start.sh): it installs packages, starts an sshd and makes a network interface" >&2
  exit 1
fi

apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ]; then
  echo "== Node.js (20 or later needed)"
  apt_install nodejs npm ca-certificates || true
  if [ "$(node_major)" -lt 20 ]; then
    echo "quick-start: this Debian's nodejs is $(node --version 2>/dev/null || echo absent); Strato needs Node.js 20 or later." >&2
    echo "  Install it first (e.g. https://github.com/nodesource/distributions, or Debian 13's nodejs), then run this again." >&2
    exit 1
  fi
fi
command -v npm >/dev/null || apt_install npm

if [ ! -d node_modules ]; then
  echo "== npm packages"
  # better-sqlite3 compiles from source when no prebuilt binary can be fetched
  for p in python3 make g++; do command -v "$p" >/dev/null || { apt_install python3 make g++; break; }; done
  npm ci --no-audit --no-fund
fi

echo "== host packages (QEMU, Ansible, sshd, dnsmasq, the tiny guest's tools)"
had_ssh_server=$(dpkg -s openssh-server >/dev/null 2>&1 && echo 1 || true)
STRATO_APT_UPDATE=$([ -n "$apt_updated" ] && echo 0 || echo 1) bash scripts/install-host-packages.sh
if [ -z "$had_ssh_server" ]; then
  # openssh-server came for its sshd program only: Debian starts (and enables) its own sshd on every
  # address, port 22, which this machine did not have. The quick start runs its own on loopback instead.
  systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || { [ -x /etc/init.d/ssh ] && /etc/init.d/ssh stop >/dev/null 2>&1; } || true
fi

echo "== strato serve --all-in-one"
exec node bin/strato.js serve --all-in-one "$@"
