#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# QEMU 11 from trixie-backports, for the guest behind AMD's IOMMU (run-guest.sh with
# RVFIO_GUEST_IOMMU=amd): prints the path of a qemu-system-x86_64 that runs it.
#
# The build machine's QEMU 10.0 (bookworm-backports) cannot serve that guest: its amd-iommu
# names a device by the bus number its bus had when QEMU created the device's address space,
# which is 0 for every device behind a root port (the firmware numbers the buses later), so
# their DMA is translated through the wrong device table entries (measured: the NVMe behind a
# root port timed out at boot, its DMA looked up as devid 00:00.0). QEMU 11.1 looks the bus
# number up when it translates. It is installed, with what it needs, into a trixie root of
# its own in the cache (mmdebstrap, about 20 s, 260 MB), never on this machine, and runs
# there through that root's dynamic loader, so it needs no chroot and sees the same files.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir=$RVFIO_CACHE/qemu-trixie
root=$dir/root
wrapper=$dir/qemu-system-x86_64
packages=qemu-system-x86/trixie-backports,qemu-system-common/trixie-backports
packages=$packages,qemu-system-data/trixie-backports,seabios/trixie-backports,ipxe-qemu

if [ ! -f "$dir/.rvfio-done" ]; then
	command -v mmdebstrap >/dev/null || "$RVFIO_ROOT/qemu-test/setup.sh" install mmdebstrap
	log "installing QEMU 11 from trixie-backports into $root (for the AMD-Vi guest)"
	rm -rf "$dir"
	mkdir -p "$dir"
	mmdebstrap --quiet --variant=minbase --include="$packages" trixie "$root" \
		"deb http://deb.debian.org/debian trixie main" \
		"deb http://deb.debian.org/debian trixie-backports main" >&2
	lib=$root/usr/lib/x86_64-linux-gnu
	cat >"$wrapper" <<WRAPPER
#!/bin/sh
# QEMU of $root, through that root's loader and libraries, with its modules and firmware.
QEMU_MODULE_DIR=$lib/qemu exec $root/usr/lib64/ld-linux-x86-64.so.2 --library-path $lib \\
	$root/usr/bin/qemu-system-x86_64 -L $root/usr/share/qemu -L $root/usr/share/seabios "\$@"
WRAPPER
	chmod +x "$wrapper"
	"$wrapper" --version | head -1 >&2
	touch "$dir/.rvfio-done"
fi
echo "$wrapper"
