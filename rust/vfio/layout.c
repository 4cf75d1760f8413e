// SPDX-License-Identifier: GPL-2.0
/* C's view of the structures vfio.ko's Rust code touches; see include/rvfio/layout.h. */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <rvfio/layout.h>

RVFIO_DEFINE_LAYOUT_TABLE(rvfio_core_layout,
	RVFIO_SIZE(device)
	RVFIO_OFFSET(device, class)
	RVFIO_OFFSET(device, devt)
	RVFIO_OFFSET(device, release)
	RVFIO_SIZE(cdev)
	RVFIO_OFFSET(cdev, owner)
	RVFIO_OFFSET(class, name)
	RVFIO_OFFSET(class, devnode)
	RVFIO_OFFSET(inode, i_cdev)
	RVFIO_OFFSET(file, f_op)
	RVFIO_OFFSET(file, private_data)
	RVFIO_SIZE(miscdevice)
	RVFIO_OFFSET(miscdevice, minor)
	RVFIO_OFFSET(miscdevice, nodename)
	RVFIO_OFFSET(miscdevice, mode)
	RVFIO_OFFSET(miscdevice, name)
	RVFIO_OFFSET(miscdevice, fops)
	RVFIO_SIZE(file_operations)
	RVFIO_OFFSET(file_operations, owner)
	RVFIO_OFFSET(file_operations, open)
	RVFIO_OFFSET(file_operations, release)
	RVFIO_OFFSET(file_operations, unlocked_ioctl)
	RVFIO_OFFSET(file_operations, compat_ioctl)
	RVFIO_OFFSET(file_operations, read)
	RVFIO_OFFSET(file_operations, write)
	RVFIO_OFFSET(file_operations, mmap)
)
