# SPDX-License-Identifier: GPL-2.0
# iommu_info.sh: c/iommu_info_test on rvfio and on upstream's modules in turn, each writing
# its report of what the platform's IOMMU driver gave the uAPI (reserved regions, IOVA ranges,
# page sizes, extensions, the IOAS's ranges and hardware type) for edu's and igb's groups;
# then the two reports compared line by line. Upstream's is the reference: on VT-d and on
# AMD-Vi alike, rvfio must report the same. Exit status: 0 when both runs pass and the
# reports are identical, 1 otherwise.
failed=0
for stack in rvfio upstream; do
	rm -f /tmp/iommu_info.$stack
	RVFIO_IOMMU_REPORT=/tmp/iommu_info.$stack sh /guest/with-vfio.sh $stack /tests/c/iommu_info_test \
		>/tmp/iommu_info.$stack.log 2>&1 || {
		cat /tmp/iommu_info.$stack.log
		echo "iommu_info: the $stack run failed"
		failed=1
	}
	[ -s /tmp/iommu_info.$stack ] || { echo "iommu_info: the $stack run reported nothing"; failed=1; }
done
echo "# upstream's report:"
sed 's/^/#   /' /tmp/iommu_info.upstream
if ! diff -u /tmp/iommu_info.upstream /tmp/iommu_info.rvfio; then
	echo "iommu_info: rvfio's report differs from upstream's (above: - upstream, + rvfio)"
	failed=1
fi
exit $failed
