#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: the whole suite on the test kernel and on Debian's stock kernel
# ("debian:...", its main boot: see below), rvfio's tests on the debug kernel ("debug:...";
# KASAN, lockdep, kmemleak, UBSAN, clang) and the IOMMU's tests behind AMD-Vi ("amd:...",
# below), with one combined "N passed, N failed" at the end; exit status non-zero if any run
# failed. All run even when one fails.
#
# Two lanes, one guest each (each guest runs its vCPUs on one TCG thread, so the two cores
# are shared one each): the debug kernel's suite, the longest (about 40 min), starts as soon
# as that kernel is built (both cores build it first when it is not cached) and runs from a
# copy of the sources, so that its module and test builds do not meet the other lane's;
# meanwhile the other lane builds the test kernel (one core) and runs the test kernel's
# suite, then Debian's. The debug lane's output is printed when it ends
# (OUTDIR/debug-lane.log while it runs).
#
# On the debug kernel kmemleak scans once, at the end (RVFIO_KMEMLEAK=end): a scan takes more
# than a minute there, and every leak is named after the test that allocated it anyway. `make
# check-debug` (or RVFIO_KMEMLEAK=ours here) scans after each of our tests too, so that a
# leaking test fails itself.
#
# On Debian's kernel the VM tests (a second boot) are left out: they ran there (vm_nvme,
# vm_intx, vm_net on both stacks), but the VMs inside the guest run the test kernel, which
# the test kernel's run covers, and the boot would add about 15 min. `make check-debian` runs
# them too (README: Debian's stock kernel).
#
#   check.sh [REGEX]      only the tests whose names match REGEX, on every kernel
set -uo pipefail
. "$(dirname "$0")/lib.sh"

outdir=${RVFIO_OUTDIR:-$RVFIO_CACHE/run-tests}
filter=${1:-}
passed=0 failed=0 verdict=0
start=$SECONDS
mkdir -p "$outdir"

# add_summary FLAVOUR: adds that kernel's run summary (run-tests.sh's "PASSED FAILED") to the
# totals.
add_summary() {
	local flavour=$1 sumfile=$outdir/summary p f
	[ "$flavour" = test ] || sumfile=$outdir/$flavour/summary
	if [ -f "$sumfile" ]; then
		read -r p f < "$sumfile"
	else
		# The run stopped before any result (set-up, kernel or module build failed).
		log "no results from the $flavour kernel run"
		p=0 f=1
	fi
	passed=$((passed + p)) failed=$((failed + f))
}

# run FLAVOUR REGEX: one suite run, added to the totals.
run() {
	local flavour=$1 regex=$2
	RVFIO_KERNEL=$flavour RVFIO_KMEMLEAK=${RVFIO_KMEMLEAK:-end} RVFIO_OUTDIR=$outdir \
		"$RVFIO_ROOT/qemu-test/run-tests.sh" "$regex" || verdict=1
	add_summary "$flavour"
}

# copy_sources DIR: the sources (tracked and untracked files, not the ignored build output)
# into DIR, afresh.
copy_sources() {
	local dir=$1
	rm -rf "$dir"
	mkdir -p "$dir"
	if git -C "$RVFIO_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$RVFIO_ROOT" && git ls-files -z -co --exclude-standard) |
			rsync -a --from0 --files-from=- "$RVFIO_ROOT/" "$dir/"
	else
		rsync -a --exclude-from="$RVFIO_ROOT/.gitignore" "$RVFIO_ROOT/" "$dir/"
	fi
}

"$RVFIO_ROOT/qemu-test/setup.sh" || log "set-up failed (the runs below report it)"
# Debian's kernel and toolchain (downloads, a chroot, a module build tree: mostly waiting on
# the network) beside the debug kernel's build, at one job.
distro_log=$outdir/distro-prepare.log
RVFIO_JOBS=1 "$RVFIO_ROOT/qemu-test/distro.sh" guest >"$distro_log" 2>&1 &
distro=$!
"$RVFIO_ROOT/qemu-test/build-kernel.sh" debug >/dev/null || log "debug kernel build failed (its run below reports it)"

# The debug lane, in the background; its totals come back through its summary file. After
# the debug kernel's suite it runs the tests of the IOMMU's own work on the test kernel behind
# AMD-Vi (make check-amd runs them all: the main boot alone takes 15 min, more than CI's 90
# minutes leave): the IOMMU driver's report compared with upstream's, type1's ranges and
# errnos, DMA through type1, iommufd and a BAR mmap, a hostile device, the kselftests' DMA
# mapping test, the fuzzer and its replay diffed against upstream. By then the other lane
# has built the test kernel.
amd_tests='^(iommu_info|type1_api|dirty|update_vaddr|bar_mmap|hostile_dma|cdev|edu_dma|kself_dma_mapping|fuzz|fuzz_diff)(_upstream)?$'
lane_log=$outdir/debug-lane.log
lane_src=$RVFIO_CACHE/lane-debug/src
log "debug kernel's suite, then the AMD-Vi tests, in the background (sources copied to $lane_src), log: $lane_log"
copy_sources "$lane_src"
rm -f "$outdir/debug/summary" "$outdir/amd/summary"
{
	RVFIO_KERNEL=debug RVFIO_KMEMLEAK=${RVFIO_KMEMLEAK:-end} RVFIO_OUTDIR=$outdir \
		"$lane_src/qemu-test/run-tests.sh" "$filter" || lane_rc=1
	if [ -z "$filter" ]; then
		RVFIO_IOMMU=amd RVFIO_OUTDIR=$outdir "$lane_src/qemu-test/run-tests.sh" "$amd_tests" || lane_rc=1
	fi
	exit ${lane_rc:-0}
} >"$lane_log" 2>&1 &
lane=$!

# This lane: the test kernel (one core while the debug lane's guest has the other), its
# suite, then Debian's.
RVFIO_JOBS=1 "$RVFIO_ROOT/qemu-test/build-kernel.sh" test >/dev/null ||
	log "test kernel build failed (its run below reports it)"
run test "$filter"
wait "$distro" || log "preparing Debian's kernel failed ($distro_log): its run retries it"
RVFIO_EXCLUDE=${RVFIO_EXCLUDE-^vm_|_fault\$} run debian "$filter"

log "waiting for the debug kernel's suite"
wait "$lane" || verdict=1
echo
echo "# ---- the debug kernel's suite and the AMD-Vi tests ($lane_log):"
cat "$lane_log"
add_summary debug
[ -n "$filter" ] || add_summary amd

echo
log "make check took $((SECONDS - start)) s"
echo "# all kernels (test, debian, debug) and the AMD-Vi tests:"
echo "$passed passed, $failed failed"
exit $verdict
