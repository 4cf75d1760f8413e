# SPDX-License-Identifier: GPL-2.0
# Helpers for guest scripts and shell tests. Sourced.

RVFIO_MODDIR=/lib/modules/rvfio
UPSTREAM_MODDIR=/lib/modules/upstream
IOMMUFD_MODDIR=/lib/modules/iommufd

# Kernel log lines that fail a test: any warning, oops, BUG, sanitizer or lockdep report.
# (kmemleak's own "N new suspected memory leaks" line is left to the runner's kmemleak check.)
SPLAT_PATTERN='WARNING:|BUG:|Oops|Call Trace|kernel BUG|general protection|KASAN|UBSAN|kmemleak|possible circular locking|possible recursive locking|inconsistent lock state|lockdep|RCU stall|refcount_t:|list_add corruption|list_del corruption|Kernel panic'

fail() { echo "FAIL: $*" >&2; exit 1; }

# kconfig NAME: whether the guest kernel has CONFIG_NAME (=y or =m); its .config is in the
# initramfs (qemu-test/mkinitramfs.sh).
kconfig() { grep -Eq "^CONFIG_$1=(y|m)\$" /lib/modules/kernel.config; }

# Loaded-module queries that do not depend on lsmod's formatting.
module_loaded() { [ -d "/sys/module/$1" ] && [ "$(cat /sys/module/$1/initstate 2>/dev/null)" = live ]; }

# rvfio_msi_isolation=0 (run-tests.sh, for a platform whose IOMMU does not isolate MSIs here:
# AMD-Vi, run-guest.sh says why): either stack, once loaded, is told to allow unsafe
# interrupts in type1 and in iommufd, as users of such hosts do, so that the suite runs
# there; iommu_info checks that both refuse the devices without it.
allow_unsafe_interrupts() {
	[ "${rvfio_msi_isolation:-1}" = 0 ] || return 0
	local p
	for p in /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts \
		/sys/module/iommufd/parameters/allow_unsafe_interrupts; do
		[ ! -e $p ] || echo Y >$p || fail "cannot set $p"
	done
}

# RVFIO_DMA_ENTRY_LIMIT, when set, becomes the type1 dma_entry_limit of either stack;
# RVFIO_PCI_PARAMS (e.g. "enable_sriov=1") are vfio-pci's module parameters on either stack.
# rvfio's vfio.ko binds device cdevs to the kernel's iommufd.ko (upstream's does too, through
# its load order), where the kernel has it as a module: loaded first, unloaded last.
load_rvfio() {
	module_loaded vfio && fail "a vfio module is already loaded"
	local limit=${RVFIO_DMA_ENTRY_LIMIT:+dma_entry_limit=$RVFIO_DMA_ENTRY_LIMIT}
	local m
	for m in $(cat $IOMMUFD_MODDIR/load-order 2>/dev/null); do
		module_loaded "${m%.ko}" || insmod $IOMMUFD_MODDIR/$m || fail "insmod $m"
	done
	if [ -f $RVFIO_MODDIR/vfio_iommu_type1.ko ]; then
		insmod $RVFIO_MODDIR/vfio.ko || fail "insmod vfio.ko"
		insmod $RVFIO_MODDIR/vfio_iommu_type1.ko $limit || fail "insmod vfio_iommu_type1.ko $limit"
	else
		# A baseline build from before type1 was a module of its own: vfio.ko has it.
		insmod $RVFIO_MODDIR/vfio.ko $limit || fail "insmod vfio.ko $limit"
	fi
	insmod $RVFIO_MODDIR/vfio-pci.ko $RVFIO_PCI_PARAMS || fail "insmod vfio-pci.ko $RVFIO_PCI_PARAMS"
	allow_unsafe_interrupts
	save_module_syms
}

unload_rvfio() {
	local m
	rmmod vfio_pci || fail "rmmod vfio_pci"
	if module_loaded vfio_iommu_type1; then
		rmmod vfio_iommu_type1 || fail "rmmod vfio_iommu_type1"
	fi
	rmmod vfio || fail "rmmod vfio"
	for m in $(sed '1!G;h;$!d' $IOMMUFD_MODDIR/load-order 2>/dev/null); do
		if module_loaded "${m%.ko}"; then rmmod "${m%.ko}" || fail "rmmod ${m%.ko}"; fi
	done
}

# Another build of ours, for before/after benchmarks (bench.sh: RVFIO_BENCH_BASELINE).
load_baseline() {
	RVFIO_MODDIR=/lib/modules/baseline load_rvfio
}

unload_baseline() {
	unload_rvfio
}

# Upstream's modules, in the dependency order the host computed; never with ours.
load_upstream() {
	module_loaded vfio && fail "a vfio module is already loaded"
	local m params
	for m in $(cat $UPSTREAM_MODDIR/load-order); do
		params=
		[ "$m" = vfio-pci.ko ] && params=$RVFIO_PCI_PARAMS
		insmod "$UPSTREAM_MODDIR/$m" $params || fail "insmod upstream $m $params"
	done
	if [ -n "$RVFIO_DMA_ENTRY_LIMIT" ]; then
		echo "$RVFIO_DMA_ENTRY_LIMIT" >/sys/module/vfio_iommu_type1/parameters/dma_entry_limit ||
			fail "set upstream dma_entry_limit"
	fi
	allow_unsafe_interrupts
	save_module_syms
}

unload_upstream() {
	for m in $(sed '1!G;h;$!d' $UPSTREAM_MODDIR/load-order); do
		rmmod "${m%.ko}" || fail "rmmod upstream $m"
	done
}

# bdf_of VENDOR:DEVICE -> the first matching PCI address.
bdf_of() {
	local want=$1 d
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat $d/vendor):$(cat $d/device)" = "0x${want%%:*}:0x${want##*:}" ]; then
			basename "$d"
			return 0
		fi
	done
	return 1
}

EDU_ID=1234:11e8
IGB_ID=8086:10c9
NVME_ID=1b36:0010
E1000E_ID=8086:10d3
# virtio-rng (modern), with AER: the device err_irq injects PCIe errors into (QEMU id aer0).
AER_ID=1af4:1044
# ivshmem-plain: a 1 GiB BAR2 and a 256-byte BAR0 (run-guest.sh).
IVSHMEM_ID=1af4:1110

# current_driver BDF -> driver name, or "none".
current_driver() {
	if [ -e /sys/bus/pci/devices/$1/driver ]; then
		basename "$(readlink /sys/bus/pci/devices/$1/driver)"
	else
		echo none
	fi
}

# bind_driver BDF DRIVER: move the device to DRIVER through driver_override, as the
# kernel's VFIO selftests' setup.sh does.
bind_driver() {
	local bdf=$1 drv=$2 dev=/sys/bus/pci/devices/$1
	[ -e $dev/driver ] && echo "$bdf" > $dev/driver/unbind
	echo "$drv" > $dev/driver_override
	echo "$bdf" > /sys/bus/pci/drivers_probe
	[ "$(current_driver $bdf)" = "$drv" ] || fail "$bdf did not bind to $drv (bound: $(current_driver $bdf))"
}

# unbind_driver BDF: leave the device without a driver and clear the override.
unbind_driver() {
	local dev=/sys/bus/pci/devices/$1
	[ -e $dev/driver ] && echo "$1" > $dev/driver/unbind
	echo > $dev/driver_override
	[ "$(current_driver $1)" = none ] || fail "$1 still bound to $(current_driver $1)"
}

# qemu_monitor COMMAND: have the host run a hot-plug COMMAND (device_del ID, device_add
# DRIVER,id=ID,bus=BUS) on QEMU's monitor, through the third serial port and
# qemu-test/monitor-relay.py; asynchronous, as the monitor's device_del is.
qemu_monitor() { printf '%s\n' "$*" > /dev/ttyS2; }

# iommu_group BDF -> group number.
iommu_group() { basename "$(readlink /sys/bus/pci/devices/$1/iommu_group)"; }

# kmemleak, on the debug kernel only (no such file otherwise; rvfio_kmemleak=off skips it).
KMEMLEAK=/sys/kernel/debug/kmemleak
kmemleak_on() { [ "${rvfio_kmemleak:-ours}" != off ] && [ -e $KMEMLEAK ]; }

# kmemleak_scan SINCE: have kmemleak scan so that objects allocated until SINCE (date +%s)
# and leaked are listed in $KMEMLEAK. An object is listed once it is 5 s old at the start of a
# scan and its contents stayed unchanged over a whole scan: so scan once, wait until SINCE is
# 6 s past, and scan again. Prints a line if kmemleak refuses (it disabled itself).
kmemleak_scan() {
	local since=$1 wait
	echo scan > $KMEMLEAK 2>/dev/null || { echo "kmemleak: scan refused (kmemleak disabled itself?)"; return; }
	wait=$((since + 6 - $(date +%s)))
	[ $wait -le 0 ] || sleep $wait
	echo scan > $KMEMLEAK 2>/dev/null || echo "kmemleak: scan refused (kmemleak disabled itself?)"
}

# kmemleak_new SEEN: the objects of the $KMEMLEAK listing not in SEEN (a file of object keys:
# address, size and allocation jiffies), which are then added to it. The listing itself is
# never cleared, so nested runners (the self-check) do not hide anything from this one.
kmemleak_new() {
	/tests/rust/kmemleak_report new "$1" $KMEMLEAK
}

# pid_now: the pid the next process gets (about): pids are handed out in increasing order,
# so the processes of one test have pids between a mark taken before it and one after.
pid_now() { sh -c 'echo $$'; }

# The symbols of the VFIO modules (either stack) loaded by a test are appended to
# $RVFIO_MODSYMS (set by the runner on the debug kernel): kmemleak prints bare addresses for
# code that is unloaded by the time of its scan, and every test unloads its modules.
save_module_syms() {
	[ -n "$RVFIO_MODSYMS" ] || return 0
	echo "# load" >>"$RVFIO_MODSYMS"
	grep -E '\[(vfio|vfio_pci|vfio_pci_core|vfio_iommu_type1|irqbypass)\]$' /proc/kallsyms >>"$RVFIO_MODSYMS"
}

# Objects allocated by pids in a range of this file ("FIRST LAST REASON") are deliberate
# leaks (the runner's self-check): kmemleak_annotate drops them.
KMEMLEAK_IGNORE=/tmp/rvfio-kmemleak-ignore

# kmemleak_annotate PIDMAP SYMDIR CURRENT < listing: the kmemleak listing with, after each
# object's "comm ..., pid N" line, the test whose pid range (PIDMAP lines: "FIRST LAST NAME")
# holds N, and the bare addresses of its backtrace resolved against the module symbols that
# test saved (SYMDIR/NAME; for an object of no test, CURRENT's). Objects of $KMEMLEAK_IGNORE
# are left out (a count goes to stderr). selftests/rust/src/bin/kmemleak_report.rs.
kmemleak_annotate() {
	/tests/rust/kmemleak_report annotate "$1" "$2" "$3" "$KMEMLEAK_IGNORE"
}

# The kernel log since the last clear must hold no splat.
check_dmesg_clean() {
	if dmesg | grep -E "$SPLAT_PATTERN" >/dev/null; then
		dmesg | grep -E -B2 -A20 "$SPLAT_PATTERN" | head -60 >&2
		fail "kernel log shows a warning/oops"
	fi
}
