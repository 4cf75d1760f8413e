// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_iommu_type1's module parameters, with upstream's names, types, permissions and
 * descriptions (drivers/vfio/vfio_iommu_type1.c). They are defined in C because 7.3's Rust
 * module! makes only parameters that are neither visible in sysfs nor writable there;
 * rust/kernel_ext/iommu/type1_params.rs reads them.
 */
#include <linux/compiler.h>
#include <linux/limits.h>
#include <linux/moduleparam.h>

/* Read at each group attach. */
static bool allow_unsafe_interrupts;
module_param_named(allow_unsafe_interrupts, allow_unsafe_interrupts, bool, S_IRUGO | S_IWUSR);
MODULE_PARM_DESC(allow_unsafe_interrupts,
		 "Enable VFIO IOMMU support for on platforms without interrupt remapping support.");

/* Read at each VFIO_IOMMU_MAP_DMA. */
static bool disable_hugepages;
module_param_named(disable_hugepages, disable_hugepages, bool, S_IRUGO | S_IWUSR);
MODULE_PARM_DESC(disable_hugepages,
		 "Disable VFIO IOMMU support for IOMMU hugepages.");

/* Read when a container's backend is opened (VFIO_SET_IOMMU). */
static unsigned int dma_entry_limit __read_mostly = U16_MAX;
module_param_named(dma_entry_limit, dma_entry_limit, uint, 0644);
MODULE_PARM_DESC(dma_entry_limit,
		 "Maximum number of user DMA mappings per container (65535).");

bool rvfio_type1_param_allow_unsafe_interrupts(void);
bool rvfio_type1_param_disable_hugepages(void);
unsigned int rvfio_type1_param_dma_entry_limit(void);

/* They may change through sysfs at any time: read each once. */
bool rvfio_type1_param_allow_unsafe_interrupts(void)
{
	return READ_ONCE(allow_unsafe_interrupts);
}

bool rvfio_type1_param_disable_hugepages(void)
{
	return READ_ONCE(disable_hugepages);
}

unsigned int rvfio_type1_param_dma_entry_limit(void)
{
	return READ_ONCE(dma_entry_limit);
}
