// SPDX-License-Identifier: GPL-2.0
/* C's view of the structures vfio.ko's Rust code touches; see include/rvfio/layout.h. */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/iommu.h>
#include <linux/miscdevice.h>
#include <rvfio/layout.h>

RVFIO_DEFINE_LAYOUT_TABLE(rvfio_core_layout, RVFIO_LAYOUT_CORE)
