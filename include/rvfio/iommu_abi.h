/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ABI between vfio.ko (the core) and IOMMU backend modules such as vfio_iommu_type1.ko.
 *
 * This plays the role of upstream's struct vfio_iommu_driver_ops and
 * vfio_register_iommu_driver(): a backend module registers a table of callbacks; a
 * container's VFIO_SET_IOMMU opens a backend of the first registered driver that offers
 * the type, holding the driver's module until the backend is released, and hands it the
 * container's groups and every container ioctl it does not answer itself. Both sides are
 * Rust; this header is the single definition of the contract, mirrored field for field by
 * rust/kernel_ext/abi/iommu_abi.rs.
 *
 * Every symbol is exported by vfio.ko in the "RVFIO" symbol namespace.
 */
#ifndef _RVFIO_IOMMU_ABI_H
#define _RVFIO_IOMMU_ABI_H

#include <linux/types.h>

struct device;
struct iommu_group;
struct module;

/* Bump on any incompatible change: rvfio_register_iommu_driver() refuses other versions. */
#define RVFIO_IOMMU_ABI_VERSION 1

/**
 * struct rvfio_iommu_driver_ops - an IOMMU backend driver, all called in process context.
 * @abi_version:     RVFIO_IOMMU_ABI_VERSION.
 * @owner:           the backend's module, held by the core while a backend of it is open
 *                   and around every call.
 * @offers:          VFIO_CHECK_EXTENSION of a container without a backend.
 * @open:            VFIO_SET_IOMMU with a type @offers claims: a new backend without groups
 *                   (an opaque pointer), or an ERR_PTR (-EINVAL for an extension that is
 *                   not a type, such as VFIO_UNMAP_ALL).
 * @release:         drops a backend @open returned, once every group has been detached.
 * @check_extension: VFIO_CHECK_EXTENSION of a container set to @backend.
 * @attach_group:    adds @group, whose DMA ownership the core holds; @dev is one of its
 *                   devices. 0 or an errno.
 * @detach_group:    removes a group @attach_group added.
 * @ioctl:           a container ioctl the core does not answer (-ENOTTY for one the
 *                   backend does not know).
 *
 * The core serialises @attach_group, @detach_group and @release of one backend; @ioctl and
 * @check_extension may run concurrently with everything but @release.
 */
struct rvfio_iommu_driver_ops {
	u32 abi_version;
	struct module *owner;
	bool (*offers)(unsigned long extension);
	void *(*open)(unsigned long iommu_type);
	void (*release)(void *backend);
	bool (*check_extension)(void *backend, unsigned long extension);
	int (*attach_group)(void *backend, struct iommu_group *group, struct device *dev);
	void (*detach_group)(void *backend, struct iommu_group *group);
	long (*ioctl)(void *backend, unsigned int cmd, unsigned long arg);
};

/*
 * Adds @ops (static, valid until unregistered) to the drivers VFIO_SET_IOMMU tries, the
 * newest first as upstream. -EINVAL for another ABI version or a table registered twice.
 */
int rvfio_register_iommu_driver(const struct rvfio_iommu_driver_ops *ops);

/* Removes @ops; backends still open keep its module loaded, so none can be left. */
void rvfio_unregister_iommu_driver(const struct rvfio_iommu_driver_ops *ops);

#endif /* _RVFIO_IOMMU_ABI_H */
