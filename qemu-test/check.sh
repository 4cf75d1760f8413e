#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make check`: the whole suite on the test kernel, then again on the debug kernel (KASAN,
# lockdep, kmemleak, UBSAN; its results are named "debug:..."). Both run even when the first
# fails. The last line combines both: "N passed, N failed"; exit status non-zero if either
# run failed.
#
# On the debug kernel kmemleak scans once, at the end (RVFIO_KMEMLEAK=end): a scan takes more
# than a minute there, and every leak is named after the test that allocated it anyway. `make
# check-debug` (or RVFIO_KMEMLEAK=ours here) scans after each of our tests too, so that a
# leaking test fails itself.
#
#   check.sh [REGEX]      only the tests whose names match REGEX, on both kernels
set -uo pipefail
. "$(dirname "$0")/lib.sh"

outdir=${RVFIO_OUTDIR:-$RVFIO_CACHE/run-tests}
passed=0 failed=0 verdict=0
for flavour in test debug; do
	sumfile=$outdir/summary
	[ "$flavour" = test ] || sumfile=$outdir/$flavour/summary
	RVFIO_KERNEL=$flavour RVFIO_KMEMLEAK=${RVFIO_KMEMLEAK:-end} \
		"$RVFIO_ROOT/qemu-test/run-tests.sh" "$@" || verdict=1
	if [ -f "$sumfile" ]; then
		read -r p f < "$sumfile"
	else
		# The run stopped before any result (set-up, kernel or module build failed).
		log "no results from the $flavour kernel run"
		p=0 f=1
	fi
	passed=$((passed + p)) failed=$((failed + f))
done
echo
echo "# both kernels (test, debug):"
echo "$passed passed, $failed failed"
exit $verdict
