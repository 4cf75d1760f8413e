// SPDX-License-Identifier: GPL-2.0
/* C's view of the structures vfio_iommu_type1.ko's Rust code touches; see include/rvfio/layout.h. */
#include <linux/iommu.h>
#include <rvfio/layout.h>

RVFIO_DEFINE_LAYOUT_TABLE(rvfio_type1_layout,
	RVFIO_OFFSET(iommu_resv_region, start)
	RVFIO_OFFSET(iommu_resv_region, length)
	RVFIO_OFFSET(iommu_resv_region, type)
	RVFIO_OFFSET(iommu_domain, ops)
	RVFIO_OFFSET(iommu_domain, pgsize_bitmap)
	RVFIO_OFFSET(iommu_domain, geometry)
	RVFIO_OFFSET(iommu_domain_ops, enforce_cache_coherency)
)
