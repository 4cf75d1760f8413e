# SPDX-License-Identifier: GPL-2.0
# noiommu_fuzz_diff.sh [SEED [CALLS [VFIO_FUZZ OPTIONS...]]]: fuzz_diff.sh in no-IOMMU mode,
# for the boot without an IOMMU. The same single-threaded `vfio_fuzz --iommu noiommu` run
# (same seed, so the same calls) on rvfio and on upstream's modules, each inside its own
# sh/noiommu.sh (which loads the stack, switches the mode on, binds the e1000e and the edu to
# vfio-pci, and checks and undoes all that afterwards), each recording every call and its
# result; then the differences between the two records, grouped by call and result pair
# (vfio_fuzz --diff). Exit status: 0 when the records are identical, 2 when they differ, 1
# when a run failed (the records are compared anyway), 4 (skip) on a kernel without
# CONFIG_VFIO_NOIOMMU, where noiommu.sh checks the mode is absent and runs nothing.
seed=${1:-1}
calls=${2:-20000}
[ $# -ge 2 ] && shift 2 || shift $#
failed=0 skipped=0
# Both stacks bound with disable_idle_d3=1, as in fuzz_diff.sh: whether a closed function
# had suspended before the next open is timing, not the uAPI under comparison.
for stack in rvfio upstream; do
	rm -f /tmp/noiommu_fuzz_diff.$stack
	RVFIO_PCI_PARAMS=disable_idle_d3=1 sh /tests/sh/noiommu.sh $stack /tests/c/vfio_fuzz \
		--iommu noiommu --seed "$seed" --calls "$calls" --threads 1 \
		--record /tmp/noiommu_fuzz_diff.$stack "$@" >/tmp/noiommu_fuzz_diff.$stack.log 2>&1
	rc=$?
	grep -E 'calls/s|PASS|FAIL|SKIP|not run' /tmp/noiommu_fuzz_diff.$stack.log | sed "s/^/$stack: /"
	if [ $rc -eq 4 ]; then
		skipped=$((skipped + 1))
	elif [ $rc -ne 0 ]; then
		grep -v '^vfio_fuzz: [a-z]_[a-z_]* *[0-9]* ' /tmp/noiommu_fuzz_diff.$stack.log
		echo "noiommu_fuzz_diff: the $stack run failed ($rc)"
		failed=1
	fi
done
if [ $skipped -eq 2 ]; then
	echo "noiommu_fuzz_diff: no CONFIG_VFIO_NOIOMMU: the mode is absent on both stacks"
	exit 4
fi
[ $skipped -eq 0 ] || { echo "noiommu_fuzz_diff: one stack skipped, the other not"; exit 1; }
/tests/c/vfio_fuzz --diff-context "${FUZZ_DIFF_CONTEXT:-25}" --diff /tmp/noiommu_fuzz_diff.rvfio \
	/tmp/noiommu_fuzz_diff.upstream
rc=$?
[ $failed -eq 0 ] || exit 1
exit $rc
