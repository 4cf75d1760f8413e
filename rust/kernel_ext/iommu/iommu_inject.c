// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel calls of vfio_iommu_type1.ko that tests make fail on purpose: each is a thin wrapper that
 * ALLOW_ERROR_INJECTION() opens to the fault-injection framework (CONFIG_FAIL_FUNCTION:
 * /sys/kernel/debug/fail_function), so that the hostile paths behind them run in the
 * guest against the real IOMMU. Without CONFIG_FUNCTION_ERROR_INJECTION they are plain
 * calls.
 */
#include <linux/error-injection.h>
#include <linux/iommu.h>

size_t rvfio_iommu_unmap(struct iommu_domain *domain, unsigned long iova, size_t size);

/*
 * iommu_unmap(): the bytes unmapped. Injected, it returns 0 (EI_ETYPE_NULL) without
 * unmapping anything: a short unmap, after which the IOMMU still maps the whole range.
 */
noinline size_t rvfio_iommu_unmap(struct iommu_domain *domain, unsigned long iova, size_t size)
{
	return iommu_unmap(domain, iova, size);
}
ALLOW_ERROR_INJECTION(rvfio_iommu_unmap, NULL);
