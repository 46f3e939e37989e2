#!/usr/bin/env bash
# Debian packages a KVM host needs (the agent's QEMU, qemu-img, bridges, dnsmasq, firewall) and those
# the test bed needs to make pretend hosts (sshd in network namespaces, Ansible, sshpass for password
# logins) and the built-in guest image (busybox, cpio, syslinux/mtools to make it bootable).
# Pretend hosts have no route to the mirrors, so CI installs these on the machine before the tests;
# the deployment playbook then finds them present. Idempotent; run as root after `apt-get update`.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PACKAGES=(
  qemu-system-x86 qemu-utils qemu-block-extra          # hypervisor and disk images
  iproute2 iptables dnsmasq-base socat                   # bridges, taps, firewall, DHCP
  openssh-server sshpass ansible-core                    # deployment over SSH
  busybox-static cpio syslinux syslinux-common mtools dosfstools   # the built-in tiny guest
  iputils-ping netcat-openbsd                            # reachability checks in tests
)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "host packages present: ${PACKAGES[*]}"
