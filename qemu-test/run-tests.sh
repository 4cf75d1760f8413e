#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The whole test suite, from nothing: set up the machine (idempotent, cached), build the
# test kernel, our modules (clippy-clean, rustfmt-checked) and the static tests, boot the
# guest once and run every test in it. Prints TAP and ends with "N passed, N failed".
# Exit status is non-zero on any failed test, build error, missing result, kernel splat or
# guest timeout.
#
#   run-tests.sh [REGEX]      only the tests whose names match REGEX
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$RVFIO_ROOT"

filter=${1:-}
start=$SECONDS
# RVFIO_OUTDIR lets several checkouts run suites side by side on one cache.
outdir=${RVFIO_OUTDIR:-$RVFIO_CACHE/run-tests}
mkdir -p "$outdir"

"$RVFIO_ROOT/qemu-test/setup.sh"
kbuild=$("$RVFIO_ROOT/qemu-test/build-kernel.sh" test)

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

log "building static selftests"
make -s -C selftests >/dev/null || die "selftest build failed"

set +e
"$RVFIO_ROOT/qemu-test/run-guest.sh" -t "${RVFIO_TIMEOUT:-2400}" -o "$outdir" run-tests \
	${filter:+rvfio_filter=$filter}
guest_rc=$?
set -e

results=$outdir/results.log
passed=$(grep -c '^ok ' "$results" || true)
failed=$(grep -c '^not ok ' "$results" || true)
planned=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$results" | head -1)
echo
echo "# results (${outdir}):"
grep -E '^(not )?ok ' "$results" || true
verdict=0
if [ "$guest_rc" -ne 0 ]; then
	log "guest run failed with status $guest_rc"
	verdict=1
fi
if [ -z "$planned" ] || [ $((passed + failed)) -ne "$planned" ]; then
	log "expected ${planned:-?} results, got $((passed + failed)): the guest stopped early"
	failed=$((failed + ${planned:-1} - passed - failed))
	verdict=1
fi
# A splat outside any test (boot, module load in a helper) fails the run too.
if grep -E 'WARNING:|BUG:|Oops|Call Trace|Kernel panic|KASAN|UBSAN' "$outdir/console.log" >/dev/null; then
	log "kernel splat on the console:"
	grep -E -A20 'WARNING:|BUG:|Oops|Call Trace|Kernel panic|KASAN|UBSAN' "$outdir/console.log" | head -60 >&2
	verdict=1
fi
[ "$failed" -eq 0 ] || verdict=1
log "suite took $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
exit $verdict
