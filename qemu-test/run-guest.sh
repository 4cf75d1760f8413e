#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot the test guest once and run one guest script in it.
#
#   run-guest.sh [-t TIMEOUT_S] [-o OUTDIR] SCRIPT [KEY=VALUE...]
#
# SCRIPT is a file name of qemu-test/guest/ without .sh (run-tests, demo, ...); KEY=VALUE
# pairs reach the guest script as environment variables (rvfio_filter=REGEX, ...). The
# console streams to stdout and OUTDIR/console.log; what the guest reports on its second
# serial port lands in OUTDIR/results.log. Exit status: the guest script's, 124 on timeout.
#
# Machine: q35 (split irqchip) with an emulated IOMMU (Intel's, with interrupt remapping, or
# AMD's: RVFIO_GUEST_IOMMU), and edu, igb, nvme and e1000e each behind its own PCIe root
# port, and a multifunction edu + nvme behind a fifth (one IOMMU group). TCG unless
# RVFIO_ACCEL=kvm.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

timeout_s=900
outdir=$RVFIO_CACHE/run
while getopts t:o: opt; do
	case $opt in
	t) timeout_s=$OPTARG ;;
	o) outdir=$OPTARG ;;
	*) die "usage: run-guest.sh [-t TIMEOUT] [-o OUTDIR] SCRIPT [KEY=VALUE...]" ;;
	esac
done
shift $((OPTIND - 1))
script=${1:?guest script name}
shift
extra_env=("$@")

# RVFIO_KERNEL=debug boots the debug kernel (build-kernel.sh debug), debian Debian's stock
# kernel (distro.sh guest), debian-rt its PREEMPT_RT flavour; default: the test kernel.
flavour=${RVFIO_KERNEL:-test}
kbuild=$(kernel_build_dir "$flavour")
case $flavour in
debian) prepare="qemu-test/distro.sh guest" ;;
debian-rt) prepare="qemu-test/distro.sh guest rt-amd64" ;;
*) prepare="qemu-test/build-kernel.sh $flavour" ;;
esac
[ -f "$kbuild/.rvfio-built" ] || die "kernel ($flavour) not built: $prepare"

mkdir -p "$outdir"
initrd=$outdir/initramfs.cpio
# RVFIO_GUEST_VM=1: with QEMU and the inner VM in the initramfs (qemu-test/guest/vm.sh);
# RVFIO_GUEST_DPDK=1: with DPDK's testpmd (selftests/sh/dpdk_testpmd.sh).
"$RVFIO_ROOT/qemu-test/mkinitramfs.sh" "$kbuild" "$initrd" ${RVFIO_GUEST_VM:+--vm} ${RVFIO_GUEST_DPDK:+--dpdk}

# Per output directory, so that guests of side-by-side runs do not share (and lock) it.
# 64 MiB: the layout of the VM tests' data (selftests/vm/vm_blk_check.c) reaches 61 MiB;
# ">" grows an older, smaller image and leaves a larger one alone.
nvme_img=$outdir/nvme.img
nvme_mf_img=$outdir/nvme-mf.img
truncate -s '>64M' "$nvme_img"
truncate -s '>64M' "$nvme_mf_img"

: > "$outdir/results.log"
accel=${RVFIO_ACCEL:-tcg}
# Multi-threaded TCG sometimes leaves a vCPU's timer vector stuck in service (the guest
# then stalls with an RCU warning) while a device resets; one TCG thread for both vCPUs
# never did in the runs we made, at about the same speed.
[ "$accel" = tcg ] && accel=tcg,thread=single
# 4G: the VFIO kselftests' driver test maps 1 GiB + 2 MiB of shared memory while one 1 GiB
# page stays reserved for the hugetlb_1gb variants of vfio_dma_mapping_test. The guest kernel
# cannot allocate gigantic pages at run time (no CONFIG_CONTIG_ALLOC), so that page is
# reserved at boot; RVFIO_GUEST_1G_PAGES=0 goes without (those variants then skip).
mem=${RVFIO_GUEST_MEM:-4G}
# RVFIO_GUEST_CPUS: the guest's vCPUs (2; run-tests.sh boots the VM tests with 1).
cpus=${RVFIO_GUEST_CPUS:-2}
huge1g=${RVFIO_GUEST_1G_PAGES:-1}
# RVFIO_GUEST_IOMMU: intel (the default: VT-d with interrupt remapping, 48-bit addresses),
# amd (AMD-Vi, which the kernel finds by its IVRS table and turns on by itself; run by QEMU
# 11, qemu-test/qemu-trixie.sh says why), or 0 for a machine without an IOMMU (the no-IOMMU
# tests' boot). QEMU 11's amd-iommu translates its devices' DMA only with dma-remap=on
# (without, the NVMe's DMA went untranslated and timed out at boot).
#
# AMD-Vi's interrupt remapping is offered (intremap=on) but the guest kernel declines it:
# QEMU's IVRS puts the I/O APIC at 00:14.0, where AMD's chipsets have their SMBus, and 7.3's
# AMD driver checks for an SMBus or ISA bridge there; q35 has neither at 00:14.0 (its ISA
# bridge is 00:1f.0, and telling the kernel so, ivrs_ioapic=0@0000:00:1f.0, makes QEMU abort
# every I/O APIC interrupt, which it sends as 00:14.0's). So MSIs are not isolated behind
# AMD-Vi here, on either stack: guest/lib.sh allows unsafe interrupts (rvfio_msi_isolation=0,
# run-tests.sh) and iommu_info checks that both stacks refuse the device without that.
qemu_bin=qemu-system-x86_64
case ${RVFIO_GUEST_IOMMU:-intel} in
intel | 1) iommu=(-device intel-iommu,intremap=on,aw-bits=48) iommu_arg=intel_iommu=on ;;
amd)
	iommu=(-device amd-iommu,intremap=on,dma-remap=on) iommu_arg=
	qemu_bin=$("$RVFIO_ROOT/qemu-test/qemu-trixie.sh")
	;;
0) iommu=() iommu_arg= ;;
*) die "RVFIO_GUEST_IOMMU=$RVFIO_GUEST_IOMMU: intel, amd or 0" ;;
esac
cmdline="console=ttyS0 $iommu_arg panic=-1 oops=panic loglevel=5 hugepagesz=1G hugepages=$huge1g"
cmdline="$cmdline rvfio_run=$script ${extra_env[*]}"

# The guest's third serial port (/dev/ttyS2) asks qemu-test/monitor-relay.py for hot-plug
# commands on the devices named in $hotplug_ids and AER error injection into those of
# $aer_ids, which it passes to QEMU's monitor (log: OUTDIR/monitor.log). Native PCIe
# hot-plug (pciehp), as on real root ports: no ACPI hot-plug for them.
hotplug_ids="nic1" aer_ids="aer0"
# A free UDP port on loopback for the e1000e's looped-back wire.
nic_port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
control_sock=$outdir/guestctl.sock monitor_sock=$outdir/monitor.sock
rm -f "$control_sock" "$monitor_sock" "$outdir/gdb.sock"
: > "$outdir/monitor.log"
qemu=("$qemu_bin" -machine q35,kernel-irqchip=split -accel "$accel" -cpu max
	-smp "$cpus" -m "$mem" -nodefaults -no-reboot -display none
	-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off
	-monitor "unix:$monitor_sock,server=on,wait=off"
	# For a frozen guest: gdb -batch -ex "target remote OUTDIR/gdb.sock" -ex "info registers rip"
	-gdb "unix:$outdir/gdb.sock,server=on,wait=off"
	-chardev "socket,id=guestctl,path=$control_sock,server=on,wait=off"
	-serial stdio -serial "file:$outdir/results.log" -serial chardev:guestctl
	-kernel "$(kernel_image "$kbuild")" -initrd "$initrd" -append "$cmdline"
	# The IOMMU must come before the devices it translates for.
	${iommu[@]+"${iommu[@]}"}
	# edu's DMA reaches all 64 bits (its default is 28) so that hostile_dma can aim it
	# anywhere, such as other devices' BARs above 4 GiB.
	-device pcie-root-port,id=rp0,chassis=1,bus=pcie.0,addr=0x4 -device edu,bus=rp0,dma_mask=0xffffffffffffffff
	# igb's port links at 5 GT/s: after a secondary bus reset (hot reset) the kernel waits
	# for Data Link Layer Link Active on faster ports, which QEMU never reports there, and
	# the reset fails with -ENOTTY on either stack; up to 5 GT/s it polls the device.
	-device pcie-root-port,id=rp1,chassis=2,bus=pcie.0,addr=0x5,x-speed=5 -device igb,bus=rp1
	-device pcie-root-port,id=rp2,chassis=3,bus=pcie.0,addr=0x6
	-drive "file=$nvme_img,if=none,id=nvm,format=raw" -device nvme,serial=rvfio0,drive=nvm,bus=rp2
	# The e1000e's wire loops back to the e1000e (a UDP socket on loopback sending to
	# itself): the frames it transmits, it receives, so that a VM using it has traffic
	# (vm_net). Nothing leaves this machine's loopback.
	-netdev "dgram,id=nicnet,local.type=inet,local.host=127.0.0.1,local.port=$nic_port,remote.type=inet,remote.host=127.0.0.1,remote.port=$nic_port"
	-device pcie-root-port,id=rp3,chassis=4,bus=pcie.0,addr=0x7 -device e1000e,id=nic1,bus=rp3,netdev=nicnet
	# One multifunction device, edu (function 0) and nvme (function 1), neither with ACS:
	# a single IOMMU group holding a device of a kernel driver (nvme) beside one for VFIO.
	-device pcie-root-port,id=rp4,chassis=5,bus=pcie.0,addr=0x8
	-device edu,bus=rp4,addr=0.0,multifunction=on
	-drive "file=$nvme_mf_img,if=none,id=nvm_mf,format=raw"
	-device nvme,serial=rvfio1,drive=nvm_mf,bus=rp4,addr=0.1
	# A device that reports PCIe errors through AER, for err_irq's injected errors: QEMU's
	# igb cannot (its Device Control error enables are read-only zero), virtio with aer=on
	# can. The test kernel has no driver for it.
	-device pcie-root-port,id=rp5,chassis=6,bus=pcie.0,addr=0x9
	-device virtio-rng-pci,id=aer0,aer=on,bus=rp5
	# A device with a large BAR and one smaller than a page: ivshmem's BAR2 is its 1 GiB of
	# shared memory (host memory, touched only where the tests touch it), its BAR0 a
	# 256-byte register block (bar_mmap's huge faults and sub-page mmaps).
	-object memory-backend-memfd,id=ivmem,size=1G,share=on
	-device pcie-root-port,id=rp6,chassis=7,bus=pcie.0,addr=0xa
	-device ivshmem-plain,memdev=ivmem,bus=rp6)
# RVFIO_QEMU_ARGS: more QEMU options for investigations (e.g. "-icount shift=0", which makes
# guest time count instructions).
[ -n "${RVFIO_QEMU_ARGS:-}" ] && read -r -a extra_qemu <<<"$RVFIO_QEMU_ARGS" && qemu+=("${extra_qemu[@]}")

log "booting guest ($accel, $script, timeout ${timeout_s}s)"
# The relay serves one QEMU (it ends when QEMU closes the control socket): each boot,
# including one again after an early splat, gets its own.
relay=
start_relay() {
	python3 "$RVFIO_ROOT/qemu-test/monitor-relay.py" "$control_sock" "$monitor_sock" \
		"$outdir/monitor.log" ${aer_ids:+--aer $aer_ids} $hotplug_ids </dev/null \
		>>"$outdir/monitor.log" 2>&1 &
	relay=$!
}
stop_relay() {
	[ -n "$relay" ] || return 0
	kill "$relay" 2>/dev/null || true
	wait "$relay" 2>/dev/null || true
	relay=
	rm -f "$control_sock" "$monitor_sock"
}
# boot: one run of the guest, its console to stdout and OUTDIR/console.log; QEMU's exit
# status in qemu_rc. With EARLY_CHECK set it returns 3 instead, QEMU killed, if the kernel
# reports a splat before it starts init (guest/init's first line) (before any module, ours or upstream's, is loaded:
# the report is the kernel's own, such as the debug kernel's rare KASAN report of an
# interrupt during identify_cpu() at 0.003 s); the console is kept as console-early.log.
early_splat=${RVFIO_EARLY_SPLAT:-'BUG:|WARNING:|Oops|KASAN|UBSAN|Kernel panic'}
# What guest/init prints first.
init_marker='rvfio-guest: init'

boot() {
	local pipeline t=0
	: >"$outdir/console.log"
	rm -f "$outdir/qemu.rc"
	start_relay
	{
		timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null 2>&1 | tee "$outdir/console.log"
		echo "${PIPESTATUS[0]}" >"$outdir/qemu.rc"
	} &
	pipeline=$!
	if [ -n "${EARLY_CHECK:-}" ]; then
		while kill -0 "$pipeline" 2>/dev/null && [ $t -lt 1200 ] &&
			! grep -q "$init_marker" "$outdir/console.log"; do
			sleep 0.1
			t=$((t + 1))
		done
		if grep -q "$init_marker" "$outdir/console.log" &&
			sed "/$init_marker/q" "$outdir/console.log" | grep -Eq "$early_splat"; then
			pkill -KILL -f -- "-initrd $initrd" 2>/dev/null
			wait "$pipeline" 2>/dev/null
			stop_relay
			cp "$outdir/console.log" "$outdir/console-early.log"
			return 3
		fi
	fi
	wait "$pipeline"
	stop_relay
	qemu_rc=$(cat "$outdir/qemu.rc" 2>/dev/null || echo 125)
	return 0
}
# A splat before init (the debug kernel's own, docs/testing.md) boots the guest again, up to
# twice; the last boot is not checked early, so a third such splat fails the run.
set +e
for retry in 1 2 3; do
	if [ $retry -lt 3 ]; then EARLY_CHECK=1 boot; else boot; fi
	[ $? -eq 3 ] || break
	log "the kernel reported a splat before init started (no module loaded yet; console: $outdir/console-early.log): booting again ($retry of 2)"
	: >"$outdir/results.log"
done
set -e

if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
	log "guest timed out after ${timeout_s}s (console: $outdir/console.log)"
	exit 124
fi
status=$(sed -n 's/^RVFIO-EXIT \([0-9]*\).*/\1/p' "$outdir/results.log" | tail -1)
if [ -z "$status" ]; then
	log "guest ended without reporting an exit status (qemu exit $qemu_rc; kernel panic?)"
	exit 125
fi
exit "$status"
