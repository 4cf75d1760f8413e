# SPDX-License-Identifier: GPL-2.0
# fuzz_diff.sh [SEED [CALLS [VFIO_FUZZ OPTIONS...]]]: the same single-threaded vfio_fuzz run
# (same seed, so the same calls) on rvfio and on upstream's modules, each recording every
# call and its result; then the differences between the two records, grouped by call and
# result pair (vfio_fuzz --diff). Exit status: 0 when the records are identical, 2 when they
# differ, 1 when a run failed (the records are compared anyway).
seed=${1:-1}
calls=${2:-20000}
[ $# -ge 2 ] && shift 2 || shift $#
failed=0
# Both stacks bound with disable_idle_d3=1: with idle D3 a closed function suspends from a
# workqueue, and whether that happened before the fuzzer's next open decides what some
# registers read then (igb's PMCSR loses what was written to it in D3hot), which is timing,
# not the uAPI under comparison (seen on PREEMPT_RT). Idle D3 itself is runtime_pm's.
for stack in rvfio upstream; do
	RVFIO_PCI_PARAMS=disable_idle_d3=1 sh /guest/with-vfio.sh $stack /tests/c/vfio_fuzz --seed "$seed" --calls "$calls" \
		--threads 1 --record /tmp/fuzz_diff.$stack "$@" >/tmp/fuzz_diff.$stack.log 2>&1
	rc=$?
	grep -E 'calls/s|PASS|FAIL' /tmp/fuzz_diff.$stack.log | sed "s/^/$stack: /"
	if [ $rc -ne 0 ]; then
		grep -v '^vfio_fuzz: [a-z]_[a-z_]* *[0-9]* ' /tmp/fuzz_diff.$stack.log
		echo "fuzz_diff: the $stack run failed ($rc)"
		failed=1
	fi
done
/tests/c/vfio_fuzz --diff-context "${FUZZ_DIFF_CONTEXT:-25}" --diff /tmp/fuzz_diff.rvfio \
	/tmp/fuzz_diff.upstream
rc=$?
[ $failed -eq 0 ] || exit 1
exit $rc
