/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ABI between vfio.ko (the core) and bus drivers such as vfio-pci.ko.
 *
 * This plays the role of upstream's struct vfio_device_ops: a bus driver registers each
 * device it binds, handing the core a table of callbacks and an opaque cookie; the core owns
 * groups, containers and device file descriptors and calls back into the bus driver for
 * everything device specific. Both sides are Rust; this header is the single definition of
 * the contract, mirrored field for field by rust/kernel_ext/abi/device_abi.rs.
 *
 * Every symbol is exported by vfio.ko in the "RVFIO" symbol namespace.
 */
#ifndef _RVFIO_DEVICE_ABI_H
#define _RVFIO_DEVICE_ABI_H

#include <linux/types.h>

struct device;
struct file;
struct vm_area_struct;
struct module;

/* Bump on any incompatible change: rvfio_register_device() refuses other versions. */
#define RVFIO_DEVICE_ABI_VERSION 3

/**
 * struct rvfio_device_ops - callbacks of a bus driver, all called in process context.
 * @abi_version:  RVFIO_DEVICE_ABI_VERSION.
 * @open_device:  first open of a device fd; prepares the device (e.g. reset, save state).
 * @close_device: last close of a device fd; quiesces the device.
 * @ioctl:        device fd ioctls the core does not handle itself.
 * @read:         pread() on the device fd at @pos (region index << 40 | offset).
 * @write:        pwrite() on the device fd at @pos.
 * @mmap:         mmap() of a device fd region.
 * @request:      the core wants the device back (unbind while open); @count counts asks.
 * @owner:        the bus driver's module, held by the core while a device fd is open.
 * @match_token:  GET_DEVICE_FD's " vf_token=<uuid>" suffix: @uuid is the 16-byte token or
 *                NULL when none was given; 0 allows the open, else an errno as upstream's
 *                match_token_uuid (-EACCES for a missing or wrong token, -EINVAL for a
 *                token where none is taken).
 *
 * A callback left NULL makes the matching operation fail with the errno upstream returns
 * for a driver without it.
 */
struct rvfio_device_ops {
	u32 abi_version;
	int (*open_device)(void *cookie);
	void (*close_device)(void *cookie);
	long (*ioctl)(void *cookie, unsigned int cmd, unsigned long arg);
	ssize_t (*read)(void *cookie, char __user *buf, size_t count, loff_t pos);
	ssize_t (*write)(void *cookie, const char __user *buf, size_t count, loff_t pos);
	int (*mmap)(void *cookie, struct vm_area_struct *vma);
	void (*request)(void *cookie, unsigned int count);
	struct module *owner;
	int (*match_token)(void *cookie, const u8 *uuid);
};

/* Opaque handle for a device registered with the core. */
struct rvfio_device;

/*
 * Register @dev, which must sit in an IOMMU group, with the core. @ops and @cookie must stay
 * valid until rvfio_unregister_device() returns. Returns a handle or an ERR_PTR(). A VMA
 * that @ops->mmap set up keeps its device fd, and so the device, open until it is unmapped.
 */
struct rvfio_device *rvfio_register_device(struct device *dev,
					   const struct rvfio_device_ops *ops,
					   void *cookie);

/*
 * Unregister a device. Blocks until every file descriptor of the device is closed, calling
 * @ops->request meanwhile so the bus driver can ask userspace to let go.
 */
void rvfio_unregister_device(struct rvfio_device *vdev);

/*
 * Zap every user mapping of the device fd offsets [@start, @start + @len) (@len 0: to the
 * end), in every process; later accesses fault back into the bus driver's VMA fault
 * handler. For revoking BAR mmaps while the BARs are unreachable.
 */
void rvfio_device_unmap_mmaps(struct rvfio_device *vdev, u64 start, u64 len);

/*
 * Group files as proof of ownership (upstream's vfio_file_is_group() and
 * vfio_file_has_dev(), for vfio-pci's VFIO_DEVICE_PCI_HOT_RESET). The caller holds a
 * reference to @file (and to @dev) for the call.
 */

/* Whether @file is an open VFIO group file (/dev/vfio/<group>). */
bool rvfio_file_is_group(struct file *file);

/* Whether @file is an open VFIO group file of the group @dev is registered in. */
bool rvfio_file_has_dev(struct file *file, struct device *dev);

/*
 * The device cdev, for VFIO_DEVICE_PCI_HOT_RESET by device id (upstream's
 * vfio_device_cdev_opened() and vfio_iommufd_get_dev_id()). Both handles are live
 * registrations for the call.
 */

/* Whether @vdev is open through its cdev, /dev/vfio/devices/vfioN, bound to an iommufd. */
bool rvfio_device_cdev_opened(struct rvfio_device *vdev);

/*
 * The id of @other (a device, possibly @vdev's own, which the caller holds a reference to)
 * in the iommufd @vdev is bound to: > 0 if @other is registered and bound to it too, -ENOENT
 * if not but a device of @other's IOMMU group is (so the iommufd owns it), -ENODEV otherwise.
 */
int rvfio_device_iommufd_id(struct rvfio_device *vdev, struct device *other);

#endif /* _RVFIO_DEVICE_ABI_H */
