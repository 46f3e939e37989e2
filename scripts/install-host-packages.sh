#!/usr/bin/env bash
# Debian packages a KVM host needs (the agent's QEMU, qemu-img, bridges, dnsmasq, firewall) and those
# the test bed needs to make pretend hosts (sshd in network namespaces, Ansible, sshpass for password
# logins) and the built-in guest image (busybox, cpio, syslinux/mtools to make it bootable).
# Pretend hosts have no route to the mirrors, so CI installs these on the machine before the tests;
# the deployment playbook then finds them present. Idempotent; run as root. Refreshes the package lists
# (`apt-get update`) only when something is missing and no lists are there yet, or with STRATO_APT_UPDATE=1.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PACKAGES=(
  qemu-system-x86 qemu-utils qemu-block-extra          # hypervisor and disk images
  iproute2 iptables dnsmasq-base socat                   # bridges, taps, firewall, DHCP
  openssh-server sshpass ansible-core                    # deployment over SSH
  busybox-static cpio syslinux syslinux-common mtools dosfstools   # the built-in tiny guest
  iputils-ping netcat-openbsd                            # reachability checks in tests
  openvswitch-switch                                     # VLAN L2s on hosts whose kernel has no 802.1Q (agent's userspace OVS)
  tcpdump                                                # tests read 802.1Q tags on a VLAN trunk
)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if [ "${STRATO_APT_UPDATE:-}" = 1 ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' -e '^auxfiles$')" ]; then
    apt-get update -qq
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "host packages present: ${PACKAGES[*]}"
