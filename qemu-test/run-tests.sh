#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The whole test suite, from nothing: set up the machine (idempotent, cached), build the
# test kernel, our modules (clippy-clean, rustfmt-checked) and the static tests, boot the
# guest once and run every test in it. Prints TAP and ends with "N passed, N failed".
# Exit status is non-zero on any failed test, build error, missing result, kernel splat or
# guest timeout.
#
#   run-tests.sh [REGEX]      only the tests whose names match REGEX
#
# RVFIO_EXCLUDE=REGEX leaves out the tests whose names match it (listed as not run); it
# defaults to '_distro$|_fault$' on the test kernel, '_upstream$|^hotplug$|^vm_|_distro$|
# _ref_fault$' on the debug kernel, '_fault$' on Debian's.
#
# RVFIO_KERNEL=debug runs the suite on the debug kernel instead (qemu-test/kernel-debug.config:
# KASAN, lockdep, kmemleak, UBSAN...): our modules and upstream's come from that build tree,
# results and logs go to the "debug" subdirectory of the output directory, test names get a
# "debug:" prefix and the time limits are raised (RVFIO_TEST_TIMEOUT per test, RVFIO_TIMEOUT
# for the whole guest run, in seconds). RVFIO_KMEMLEAK=ours|all|end|off: when kmemleak scans
# (guest/run-tests.sh; default ours). OUTDIR/summary holds "PASSED FAILED" for check.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RVFIO_ROOT"

filter=${1:-}
start=$SECONDS
flavour=${RVFIO_KERNEL:-test}
case $flavour in
# Tests named *_distro need a distribution kernel's installed modules (make install's test),
# those named *_fault fault injection (CONFIG_FAIL_FUNCTION), which only the debug kernel has.
test) prefix= test_timeout=300 timeout=2400 exclude=${RVFIO_EXCLUDE-_distro\$|_fault\$} ;;
# The debug kernel runs tests 2-8 times slower (vfio_pci_driver_test: 85 s -> 400-650 s),
# and each kmemleak scan after a test takes a minute or more (docs/testing.md: the debug kernel).
# Upstream's runs are the reference the rvfio ones are checked against; on the debug kernel
# (which is there to catch our bugs) they are left out, which halves its time. So is
# hotplug: 7.3's pciehp itself takes pci_rescan_remove_lock and its reset_lock in both
# orders in pciehp_unconfigure_device() on every removal (no VFIO frame in the report), and
# lockdep, once it has reported that, is off for the rest of the run.
# The VM tests (a second boot) run on the test kernel only, to keep make check within CI's
# 90 minutes on a new machine: on the debug kernel the kvm-vfio and irqbypass paths are
# covered by kvm_vfio, ch_vfio_rust_vmm and irqbypass in its main boot (vm_nvme, vm_intx
# and vm_net passed there too, in 58, 83 and 79 s: RVFIO_EXCLUDE='_upstream$|^hotplug$').
# The allocation-failure walk's reference run on upstream (alloc_walk_ref_fault, 6 min there)
# is left out too, for the same reason as the _upstream runs: RVFIO_EXCLUDE='_upstream$|
# ^hotplug$|^vm_|_distro$' runs it (it passed in make check on 2026-12-03).
debug) prefix=debug: test_timeout=1800 timeout=7200 exclude=${RVFIO_EXCLUDE-_upstream\$|^hotplug\$|^vm_|_distro\$|_ref_fault\$} ;;
# Debian's stock kernel (and its PREEMPT_RT flavour): our modules built with Debian's own
# toolchain (qemu-test/distro.sh), upstream's being Debian's signed modules.
debian | debian-rt) prefix=$flavour: test_timeout=600 timeout=3600 exclude=${RVFIO_EXCLUDE-_fault\$} ;;
*) die "RVFIO_KERNEL must be test, debug, debian or debian-rt, not '$flavour'" ;;
esac
test_timeout=${RVFIO_TEST_TIMEOUT:-$test_timeout}
timeout=${RVFIO_TIMEOUT:-$timeout}
# RVFIO_IOMMU=amd runs the suite behind QEMU's AMD-Vi (amd-iommu) instead of its VT-d
# (intel, the default): results in the "amd" subdirectory, test names prefixed "amd:". The
# no-IOMMU boot has no IOMMU either way.
platform=${RVFIO_IOMMU:-intel} msi_isolation=1
case $platform in
intel) ;;
# No interrupt remapping behind QEMU's AMD-Vi for 7.3 (run-guest.sh says why).
amd) prefix=${prefix}amd: msi_isolation=0 ;;
*) die "RVFIO_IOMMU must be intel or amd, not '$platform'" ;;
esac
# RVFIO_OUTDIR lets several checkouts run suites side by side on one cache.
outdir=${RVFIO_OUTDIR:-$RVFIO_CACHE/run-tests}
[ "$flavour" = test ] || outdir=$outdir/$flavour
[ "$platform" = intel ] || outdir=$outdir/$platform
mkdir -p "$outdir"
rm -f "$outdir/summary"

"$RVFIO_ROOT/qemu-test/setup.sh"

# build_ours: our modules against $kbuild (clippy-clean, rustfmt-checked) and the test-only
# modules (selftests/kmod).
build_ours() {
	log "building modules (CLIPPY=1) against $kbuild"
	make -s KDIR="$kbuild" CLIPPY=1 modules >"$outdir/modules-build.log" 2>&1 || {
		cat "$outdir/modules-build.log" >&2
		die "module build failed"
	}
	if grep -E '^(warning|error)' "$outdir/modules-build.log" >/dev/null; then
		cat "$outdir/modules-build.log" >&2
		die "module build has warnings (rustc/clippy must be clean)"
	fi
	make -s rustfmtcheck >/dev/null || die "rustfmt: sources are not formatted (make rustfmt)"
	make -s KDIR="$kbuild" test-modules >"$outdir/test-modules-build.log" 2>&1 || {
		cat "$outdir/test-modules-build.log" >&2
		die "test module build failed"
	}
}

case $flavour in
debian | debian-rt)
	# Built with Debian's own toolchain (which has no clippy: that check is the test
	# kernel's). The VM tests' inner VM runs the test kernel.
	dflavour=amd64
	[ "$flavour" = debian ] || dflavour=rt-amd64
	kbuild=$("$RVFIO_ROOT/qemu-test/distro.sh" guest $dflavour)
	"$RVFIO_ROOT/qemu-test/build-kernel.sh" test >/dev/null
	;;
*)
	kbuild=$("$RVFIO_ROOT/qemu-test/build-kernel.sh" "$flavour")
	build_ours
	;;
esac

# Against this kernel's uAPI headers where it has them (Debian's: the test kernel's, the
# default); the Rust tests' cargo output is cached (and shared by checkouts side by side).
log "building static selftests"
khdr=$kbuild/usr-headers/include
[ -f "$khdr/linux/vfio.h" ] || khdr=
make -s -C selftests ${khdr:+KHDR=$khdr} CARGO_TARGET_ROOT="$RVFIO_CACHE/cargo-target" >/dev/null ||
	die "selftest build failed"

# Tests that start VMs inside the guest (KVM on TCG's emulated SVM) run in a second boot with
# one vCPU. QEMU 10.0's TCG leaves the vector of an interrupt that VMRUN injects (EVENTINJ) in
# the vCPU's exception_index; an exit request that reaches that vCPU before the inner VM's
# next exit then delivers the vector a second time, ignoring IF, which deadlocks the inner
# kernel (its interrupt handler re-entered). With two vCPUs the other one's timer ticks
# send those exit requests hundreds of times a second: half of the inner boots hung (no
# console, spinning in queued_spin_lock_slowpath under a nested handle_edge_irq); with one
# vCPU none of 14 did. docs/testing.md: VMs inside the guest.
vm_tests='^vm_'
# The no-IOMMU tests need a machine without an IOMMU: a boot of their own, with DPDK.
noiommu_tests='^noiommu'
# The selected tests (as the guest runner selects them): of the main boot and of the others.
selected_names=$(awk -f selftests/expand-tests.awk selftests/tests.txt |
	awk -F'\t' '$1 !~ /^(#|$)/ { print $1 }' |
	{ grep -E "${filter:-.}" || true; } | { if [ -n "$exclude" ]; then grep -vE "$exclude" || true; else cat; fi })
main_tests=$(echo "$selected_names" | { grep -vE "$vm_tests|$noiommu_tests" || true; })
vm_boot_tests=$(echo "$selected_names" | { grep -E "$vm_tests" || true; })
noiommu_boot_tests=$(echo "$selected_names" | { grep -E "$noiommu_tests" || true; })

# guest_boot DIR CPUS PART: one guest run of the selected tests of PART (main; vm: with QEMU
# and the inner VM in its initramfs; noiommu: no IOMMU, DPDK in the initramfs), its output in
# DIR; adds to passed/failed, sets verdict=1 on a run-level failure.
passed=0 failed=0 verdict=0
guest_boot() {
	local dir=$1 cpus=$2 part=$3 rc p f planned results with_vm= iommu=$platform dpdk= boot_tests=
	case $part in
	vm) with_vm=1 boot_tests=$vm_tests ;;
	noiommu) iommu=0 dpdk=1 boot_tests=$noiommu_tests ;;
	esac
	mkdir -p "$dir"
	set +e
	RVFIO_KERNEL=$flavour RVFIO_GUEST_CPUS=$cpus RVFIO_GUEST_VM=$with_vm RVFIO_GUEST_IOMMU=$iommu \
		RVFIO_GUEST_DPDK=$dpdk "$RVFIO_ROOT/qemu-test/run-guest.sh" -t "$timeout" -o "$dir" run-tests \
		rvfio_kernel="$flavour" rvfio_msi_isolation=$msi_isolation \
		rvfio_test_timeout="$test_timeout" ${filter:+rvfio_filter=$filter} \
		${exclude:+rvfio_exclude=$exclude} rvfio_boot="$part" rvfio_boot_tests="$boot_tests" \
		rvfio_other_boots="$vm_tests|$noiommu_tests" ${RVFIO_KMEMLEAK:+rvfio_kmemleak=$RVFIO_KMEMLEAK}
	rc=$?
	set -e
	results=$dir/results.log
	p=$(grep -c '^ok ' "$results" || true)
	f=$(grep -c '^not ok ' "$results" || true)
	planned=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$results" | head -1)
	echo
	echo "# results (${dir}${part:+, $part boot}):"
	grep -E '^(not )?ok ' "$results" | sed -E "s/^((not )?ok [0-9]+ )/\1$prefix/" || true
	if [ "$rc" -ne 0 ]; then
		log "guest run ($part) failed with status $rc"
		verdict=1
	fi
	if [ -z "$planned" ] || [ $((p + f)) -ne "$planned" ]; then
		log "expected ${planned:-?} results, got $((p + f)): the guest stopped early"
		f=$((f + ${planned:-1} - p - f))
		verdict=1
	fi
	# A splat outside any test (boot, module load in a helper) fails the run too.
	if grep -E 'WARNING:|BUG:|Oops|Call Trace|Kernel panic|KASAN|UBSAN' "$dir/console.log" >/dev/null; then
		log "kernel splat on the console ($part boot):"
		grep -E -A20 'WARNING:|BUG:|Oops|Call Trace|Kernel panic|KASAN|UBSAN' "$dir/console.log" | head -60 >&2
		verdict=1
	fi
	passed=$((passed + p)) failed=$((failed + f))
}

if [ -n "$main_tests" ] || [ -z "$vm_boot_tests$noiommu_boot_tests" ]; then
	guest_boot "$outdir" 2 main
fi
if [ -n "$vm_boot_tests" ]; then
	guest_boot "$outdir/vm" 1 vm
fi
if [ -n "$noiommu_boot_tests" ]; then
	guest_boot "$outdir/noiommu" 2 noiommu
fi
[ "$failed" -eq 0 ] || verdict=1
log "suite${prefix:+ ($flavour kernel)} took $((SECONDS - start)) s"
[ $verdict -eq 0 ] || [ "$failed" -gt 0 ] || failed=1	# a run-level failure counts once
echo "$passed $failed" > "$outdir/summary"
echo "$passed passed, $failed failed"
exit $verdict
