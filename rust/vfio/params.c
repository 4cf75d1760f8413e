// SPDX-License-Identifier: GPL-2.0
/*
 * vfio.ko's module parameter: upstream's enable_unsafe_noiommu_mode (drivers/vfio/
 * vfio_main.c), with its name, type, permissions and description, and like upstream's only
 * on kernels built with CONFIG_VFIO_NOIOMMU. In C because 7.3's Rust module! makes only
 * parameters that are neither visible in sysfs nor writable there;
 * rust/kernel_ext/iommu/noiommu.rs reads it.
 */
#include <linux/compiler.h>
#include <linux/moduleparam.h>

bool rvfio_param_enable_unsafe_noiommu_mode(void);

#ifdef CONFIG_VFIO_NOIOMMU
/* Read at each device registration and each VFIO_CHECK_EXTENSION of VFIO_NOIOMMU_IOMMU. */
static bool noiommu;
module_param_named(enable_unsafe_noiommu_mode, noiommu, bool, S_IRUGO | S_IWUSR);
MODULE_PARM_DESC(enable_unsafe_noiommu_mode,
		 "Enable UNSAFE, no-IOMMU mode.  This mode provides no device isolation, no DMA translation, no host kernel protection, cannot be used for device assignment to virtual machines, requires RAWIO permissions, and will taint the kernel.  If you do not know what this is for, step away. (default: false)");

/* It may change through sysfs at any time: read it once per decision. */
bool rvfio_param_enable_unsafe_noiommu_mode(void)
{
	return READ_ONCE(noiommu);
}
#else
/* Without CONFIG_VFIO_NOIOMMU the mode does not exist, as upstream. */
bool rvfio_param_enable_unsafe_noiommu_mode(void)
{
	return false;
}
#endif
