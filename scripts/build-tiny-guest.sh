#!/bin/sh
# build-tiny-guest.sh OUTDIR
#
# Builds Strato's built-in image, a tiny bootable x86_64 guest, from Debian 12 packages only:
#   OUTDIR/tiny-guest.qcow2 - a bootable disk (a normal RootVolumeTemplate): a FAT "superfloppy"
#                             (no partition table) holding kernel + initramfs, made bootable by
#                             syslinux; SeaBIOS boots it from a virtio-blk disk. No mount, no loop device.
#   OUTDIR/vmlinuz     - Debian cloud kernel (linux-image-cloud-amd64), unpacked with dpkg-deb -x
#   OUTDIR/initrd.img  - gzip'd cpio initramfs: busybox-static + a few virtio/acpi modules + /init
#   OUTDIR/cmdline     - suggested kernel command line
#
# The guest's /init prints marker lines on the serial console (ttyS0):
#   TINYGUEST-BOOTED kernel=<ver> uptime=<s>        as soon as userspace runs
#   TINYGUEST-DISK <vdX> sectors=<n>                for every virtio disk, also hot-plugged ones
#   TINYGUEST-IP <ifname> <addr>/<prefix> [gw]      when udhcpc gets a lease (or a static address is set)
#   TINYGUEST-POWERDOWN                             on ACPI power button (QMP system_powerdown), then powers off
# then keeps a root shell on the console (type commands through -serial unix:... or stdio).
# It also serves HTTP on tcp/80 and tcp/8080 (busybox httpd) for security-group tests.
#
# Kernel command line options understood by /init:
#   tiny.ip=dhcp                 (default) udhcpc on every ethX
#   tiny.ip=none                 do not configure networking
#   tiny.ip=ADDR/PREFIX[,GW]     static address on eth0, e.g. tiny.ip=192.168.100.5/24,192.168.100.1
#   tiny.hostname=NAME
#
# Boot example (TCG; on a host with working hardware KVM use -accel kvm -cpu host instead).
# Give the guest >= 128 MiB (64 MiB does not boot this kernel+initramfs):
#   qemu-system-x86_64 -accel tcg -machine pc -m 256 -smp 1 -nodefaults -no-user-config \
#     -display none -serial stdio -kernel OUTDIR/vmlinuz -initrd OUTDIR/initrd.img \
#     -append "$(cat OUTDIR/cmdline)"
#
# Or, from the disk image (what Strato's VMs do):
#   qemu-system-x86_64 -accel tcg -machine pc -m 256 -nodefaults -display none -serial stdio \
#     -drive file=OUTDIR/tiny-guest.qcow2,if=virtio,format=qcow2
#
# Needs: mtools, dosfstools, syslinux, qemu-utils (scripts/install-host-packages.sh); apt-get update done; root only for apt-get install (busybox-static, cpio) if they are missing.
# Takes ~5 s (27 MB kernel .deb download + unpack + cpio/gzip); output ~14 MB vmlinuz + ~1.2 MB initrd.
set -eu

OUT=${1:?usage: $0 OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

need_pkgs=""
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx udhcpc && dpkg -s busybox-static >/dev/null 2>&1 || need_pkgs="$need_pkgs busybox-static"
command -v cpio >/dev/null 2>&1 || need_pkgs="$need_pkgs cpio"
if [ -n "$need_pkgs" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need_pkgs
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT INT TERM

# 1. kernel: resolve the versioned package behind the linux-image-cloud-amd64 metapackage, download
#    it (not installed!) and unpack it. TINY_KERNEL_DEB=/path/to/linux-image-*.deb skips the download.
if [ -n "${TINY_KERNEL_DEB:-}" ]; then
  KPKG=$(basename "$TINY_KERNEL_DEB" | cut -d_ -f1)
  dpkg-deb -x "$TINY_KERNEL_DEB" "$WORK/k"
else
  KPKG=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$KPKG" ] || { echo "cannot resolve linux-image-cloud-amd64 (run apt-get update first)" >&2; exit 1; }
  mkdir -p "$WORK/dl" && chmod 1777 "$WORK" "$WORK/dl"   # lets apt's _apt user write there (no 'unsandboxed' warning)
  ( cd "$WORK/dl" && apt-get download -q "$KPKG" >/dev/null )
  dpkg-deb -x "$WORK"/dl/"$KPKG"_*.deb "$WORK/k"
fi
KVER=$(ls "$WORK/k/lib/modules")
cp "$WORK/k/boot/vmlinuz-$KVER" "$OUT/vmlinuz"

# 2. initramfs root
R="$WORK/root"
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/etc/acpi/PWRF" "$R/proc" "$R/sys" "$R/dev" \
         "$R/run" "$R/tmp" "$R/root" "$R/www" "$R/lib/modules/$KVER"
cp /bin/busybox "$R/bin/busybox"
for a in $(/bin/busybox --list); do
  [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"
done

# modules (Debian 6.1 cloud kernel ships them uncompressed; order matters for insmod-free modprobe via depmod)
MODS="drivers/virtio/virtio.ko drivers/virtio/virtio_ring.ko drivers/virtio/virtio_pci_modern_dev.ko
      drivers/virtio/virtio_pci_legacy_dev.ko drivers/virtio/virtio_pci.ko drivers/virtio/virtio_balloon.ko
      net/core/failover.ko drivers/net/net_failover.ko drivers/net/virtio_net.ko drivers/block/virtio_blk.ko
      drivers/char/virtio_console.ko drivers/char/hw_random/virtio-rng.ko drivers/input/evdev.ko drivers/acpi/button.ko"
for m in $MODS; do
  src="$WORK/k/lib/modules/$KVER/kernel/$m"
  if [ -f "$src" ]; then
    mkdir -p "$R/lib/modules/$KVER/kernel/$(dirname "$m")"
    cp "$src" "$R/lib/modules/$KVER/kernel/$m"
  elif [ -f "$src.xz" ]; then
    mkdir -p "$R/lib/modules/$KVER/kernel/$(dirname "$m")"
    xz -dc "$src.xz" > "$R/lib/modules/$KVER/kernel/$m"
  fi
done
/bin/busybox depmod -b "$R" "$KVER" 2>/dev/null || true
echo "$MODS" | tr ' ' '\n' | sed -n 's#.*/\([^/]*\)\.ko$#\1#p' | tr '-' '_' > "$R/etc/modules"

cat > "$R/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "TINYGUEST-POWERDOWN" > /dev/console
sync
poweroff -f
EOF
chmod +x "$R/etc/acpi/PWRF/00000080"

cat > "$R/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# busybox udhcpc hook: $1 = deconfig|bound|renew|nak, env: interface ip subnet mask router dns
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip -4 addr add "$ip/${mask:-24}" dev "$interface"
    gw=""
    if [ -n "${router:-}" ]; then
      set -- $router; gw=$1
      ip route replace default via "$gw" dev "$interface"
    fi
    : > /etc/resolv.conf
    for d in ${dns:-}; do echo "nameserver $d" >> /etc/resolv.conf; done
    echo "TINYGUEST-IP $interface $ip/${mask:-24} $gw" > /dev/console ;;
esac
exit 0
EOF
chmod +x "$R/etc/udhcpc.script"

cat > "$R/init" <<'EOF'
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
exec </dev/console >/dev/console 2>&1
for m in $(cat /etc/modules); do modprobe "$m" 2>/dev/null; done
echo "TINYGUEST-BOOTED kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime)"

arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}"; return;; esac; done; echo "$2"; }
hostname "$(arg tiny.hostname tinyguest)"
ip link set lo up
acpid -c /etc/acpi -l /tmp/acpid.log 2>/dev/null

# disk watcher: report every virtio disk once (covers hot-plug)
( known=" "
  while :; do
    for d in /sys/block/vd*; do
      [ -e "$d" ] || continue; n=${d##*/}
      case "$known" in *" $n "*) ;; *) known="$known$n "; echo "TINYGUEST-DISK $n sectors=$(cat "$d/size")";; esac
    done
    sleep 1
  done ) &

# network
NET=$(arg tiny.ip dhcp)
case "$NET" in
  none) ;;
  dhcp)
    for i in $(ls /sys/class/net); do
      case "$i" in lo) continue;; esac
      ip link set "$i" up
      udhcpc -i "$i" -s /etc/udhcpc.script -T 1 -t 20 -b -x hostname:"$(hostname)" >/dev/null 2>&1
    done ;;
  *)
    addr=${NET%%,*}; gw=""; case "$NET" in *,*) gw=${NET#*,};; esac
    ip link set eth0 up; ip addr add "$addr" dev eth0
    [ -n "$gw" ] && ip route add default via "$gw"
    echo "TINYGUEST-IP eth0 $addr $gw" ;;
esac

echo "hello from $(hostname)" > /www/index.html
httpd -p 80 -h /www
httpd -p 8080 -h /www

# root shell on the console, respawned forever (PID 1 must never exit)
while :; do setsid cttyhack sh -l; sleep 1; done
EOF
chmod +x "$R/init"

( cd "$R" && find . | cpio -o -H newc --quiet ) | gzip -6 > "$OUT/initrd.img"
echo "console=ttyS0 panic=-1 quiet" > "$OUT/cmdline"

# 3. the bootable disk: a FAT superfloppy sized for kernel + initrd + slack; syslinux's boot sector and
#    ldlinux.sys are written by `syslinux --install` straight into the image file (mtools: no mount).
KB=$(( ( $(stat -c %s "$OUT/vmlinuz") + $(stat -c %s "$OUT/initrd.img") ) / 1024 + 4096 ))
RAW="$WORK/disk.raw"
mkfs.vfat -C -n TINYGUEST "$RAW" "$KB" >/dev/null
{ echo "DEFAULT tiny"; echo "PROMPT 0"; echo "TIMEOUT 0"
  echo "LABEL tiny"; echo "  KERNEL vmlinuz"; echo "  INITRD initrd.img"; echo "  APPEND $(cat "$OUT/cmdline")"; } > "$WORK/syslinux.cfg"
MTOOLS_SKIP_CHECK=1 mcopy -i "$RAW" "$OUT/vmlinuz" "$OUT/initrd.img" "$WORK/syslinux.cfg" ::/
syslinux --install "$RAW"
qemu-img convert -f raw -O qcow2 "$RAW" "$OUT/tiny-guest.qcow2"
echo "built $OUT/tiny-guest.qcow2 ($(du -h "$OUT/tiny-guest.qcow2" | cut -f1)) from $KPKG; initrd $(du -h "$OUT/initrd.img" | cut -f1)"
