#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: the whole suite on the test kernel, then rvfio's tests on the debug kernel
# ("debug:..."; KASAN, lockdep, kmemleak, UBSAN, clang), with one combined "N passed, N
# failed" at the end; exit status non-zero if either run failed. Both run even when the
# first fails.
#
# On the debug kernel kmemleak scans once, at the end (RVFIO_KMEMLEAK=end): a scan takes more
# than a minute there, and every leak is named after the test that allocated it anyway. `make
# check-debug` (or RVFIO_KMEMLEAK=ours here) scans after each of our tests too, so that a
# leaking test fails itself.
#
# Debian's stock kernel (`make check-debian`) is not part of it yet: its VM boot hung once in
# vm_lifecycle (README: Debian's stock kernel), and it would add about 25 min on a new machine.
#
# A machine without a cached debug kernel builds it (17 min at -j2) while the test kernel's
# suite runs: that guest runs its vCPUs on one TCG thread, so one core is free; the build
# takes it at -j1, niced.
#
#   check.sh [REGEX]      only the tests whose names match REGEX, on both kernels
set -uo pipefail
. "$(dirname "$0")/lib.sh"

outdir=${RVFIO_OUTDIR:-$RVFIO_CACHE/run-tests}
filter=${1:-}
passed=0 failed=0 verdict=0

# run FLAVOUR REGEX: one suite run; adds its summary to the totals.
run() {
	local flavour=$1 regex=$2 sumfile=$outdir/summary p f
	[ "$flavour" = test ] || sumfile=$outdir/$flavour/summary
	RVFIO_KERNEL=$flavour RVFIO_KMEMLEAK=${RVFIO_KMEMLEAK:-end} \
		"$RVFIO_ROOT/qemu-test/run-tests.sh" "$regex" || verdict=1
	if [ -f "$sumfile" ]; then
		read -r p f < "$sumfile"
	else
		# The run stopped before any result (set-up, kernel or module build failed).
		log "no results from the $flavour kernel run"
		p=0 f=1
	fi
	passed=$((passed + p)) failed=$((failed + f))
}

"$RVFIO_ROOT/qemu-test/setup.sh" || log "set-up failed (the runs below report it)"
"$RVFIO_ROOT/qemu-test/build-kernel.sh" test >/dev/null || log "test kernel build failed (its run below reports it)"
debug_build=
if [ ! -f "$(kernel_build_dir debug)/.rvfio-built" ]; then
	log "building the debug kernel in the background (-j1), log: $outdir/debug-kernel.log"
	mkdir -p "$outdir"
	RVFIO_JOBS=1 nice -n 10 "$RVFIO_ROOT/qemu-test/build-kernel.sh" debug \
		>"$outdir/debug-kernel.log" 2>&1 &
	debug_build=$!
fi

run test "$filter"
if [ -n "$debug_build" ]; then
	log "waiting for the debug kernel build"
	wait "$debug_build" || log "the background debug kernel build failed: run-tests.sh retries it"
fi
run debug "$filter"

echo
echo "# both kernels (test, debug):"
echo "$passed passed, $failed failed"
exit $verdict
