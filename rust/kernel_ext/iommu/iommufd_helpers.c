// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of rust/kernel_ext/iommu/iommufd.rs: iommufd's in-kernel API
 * (include/linux/iommufd.h, namespace IOMMUFD), which 7.3's bindings do not cover. On a
 * kernel without CONFIG_IOMMUFD (Debian's) there is no iommufd to bind to: every call
 * fails with -EOPNOTSUPP and rvfio_iommufd_available() says so, so that no device cdev
 * is made, as upstream without CONFIG_VFIO_DEVICE_CDEV.
 */
#include <linux/err.h>
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/module.h>

bool rvfio_iommufd_available(void);
struct iommufd_ctx *rvfio_iommufd_ctx_from_fd(int fd);
struct iommufd_ctx *rvfio_iommufd_ctx_from_file(struct file *file);
void rvfio_iommufd_ctx_get(struct iommufd_ctx *ictx);
void rvfio_iommufd_ctx_put(struct iommufd_ctx *ictx);
bool rvfio_iommufd_ctx_has_group(struct iommufd_ctx *ictx, struct iommu_group *group);
int rvfio_iommufd_compat_ioas_create(struct iommufd_ctx *ictx);
int rvfio_iommufd_compat_ioas_get_id(struct iommufd_ctx *ictx, u32 *ioas_id);
int rvfio_iommufd_compat_set_no_iommu(struct iommufd_ctx *ictx);
struct iommufd_device *rvfio_iommufd_device_bind(struct iommufd_ctx *ictx,
						 struct device *dev, u32 *id);
void rvfio_iommufd_device_unbind(struct iommufd_device *idev);
int rvfio_iommufd_device_attach(struct iommufd_device *idev, bool pasid_set, u32 pasid,
				u32 *pt_id);
int rvfio_iommufd_device_replace(struct iommufd_device *idev, bool pasid_set, u32 pasid,
				 u32 *pt_id);
void rvfio_iommufd_device_detach(struct iommufd_device *idev, bool pasid_set, u32 pasid);

bool rvfio_iommufd_available(void)
{
	return IS_ENABLED(CONFIG_IOMMUFD);
}

#if IS_ENABLED(CONFIG_IOMMUFD)
MODULE_IMPORT_NS("IOMMUFD");
MODULE_IMPORT_NS("IOMMUFD_VFIO");

/* The whole device (IOMMU_NO_PASID) or one of its PASIDs. */
static ioasid_t rvfio_pasid(bool pasid_set, u32 pasid)
{
	return pasid_set ? pasid : IOMMU_NO_PASID;
}

struct iommufd_ctx *rvfio_iommufd_ctx_from_fd(int fd)
{
	return iommufd_ctx_from_fd(fd);
}

struct iommufd_ctx *rvfio_iommufd_ctx_from_file(struct file *file)
{
	return iommufd_ctx_from_file(file);
}

void rvfio_iommufd_ctx_get(struct iommufd_ctx *ictx)
{
	iommufd_ctx_get(ictx);
}

void rvfio_iommufd_ctx_put(struct iommufd_ctx *ictx)
{
	iommufd_ctx_put(ictx);
}

bool rvfio_iommufd_ctx_has_group(struct iommufd_ctx *ictx, struct iommu_group *group)
{
	return iommufd_ctx_has_group(ictx, group);
}

/* The VFIO compatibility IOAS of a context, for groups given an iommufd as container. */
int rvfio_iommufd_compat_ioas_create(struct iommufd_ctx *ictx)
{
	return iommufd_vfio_compat_ioas_create(ictx);
}

int rvfio_iommufd_compat_ioas_get_id(struct iommufd_ctx *ictx, u32 *ioas_id)
{
	return iommufd_vfio_compat_ioas_get_id(ictx, ioas_id);
}

int rvfio_iommufd_compat_set_no_iommu(struct iommufd_ctx *ictx)
{
	return iommufd_vfio_compat_set_no_iommu(ictx);
}

struct iommufd_device *rvfio_iommufd_device_bind(struct iommufd_ctx *ictx,
						 struct device *dev, u32 *id)
{
	return iommufd_device_bind(ictx, dev, id);
}

void rvfio_iommufd_device_unbind(struct iommufd_device *idev)
{
	iommufd_device_unbind(idev);
}

int rvfio_iommufd_device_attach(struct iommufd_device *idev, bool pasid_set, u32 pasid,
				u32 *pt_id)
{
	return iommufd_device_attach(idev, rvfio_pasid(pasid_set, pasid), pt_id);
}

int rvfio_iommufd_device_replace(struct iommufd_device *idev, bool pasid_set, u32 pasid,
				 u32 *pt_id)
{
	return iommufd_device_replace(idev, rvfio_pasid(pasid_set, pasid), pt_id);
}

void rvfio_iommufd_device_detach(struct iommufd_device *idev, bool pasid_set, u32 pasid)
{
	iommufd_device_detach(idev, rvfio_pasid(pasid_set, pasid));
}
#else
struct iommufd_ctx *rvfio_iommufd_ctx_from_fd(int fd)
{
	return ERR_PTR(-EOPNOTSUPP);
}

struct iommufd_ctx *rvfio_iommufd_ctx_from_file(struct file *file)
{
	return ERR_PTR(-EOPNOTSUPP);
}

void rvfio_iommufd_ctx_get(struct iommufd_ctx *ictx)
{
}

void rvfio_iommufd_ctx_put(struct iommufd_ctx *ictx)
{
}

bool rvfio_iommufd_ctx_has_group(struct iommufd_ctx *ictx, struct iommu_group *group)
{
	return false;
}

int rvfio_iommufd_compat_ioas_create(struct iommufd_ctx *ictx)
{
	return -EOPNOTSUPP;
}

int rvfio_iommufd_compat_ioas_get_id(struct iommufd_ctx *ictx, u32 *ioas_id)
{
	return -EOPNOTSUPP;
}

int rvfio_iommufd_compat_set_no_iommu(struct iommufd_ctx *ictx)
{
	return -EOPNOTSUPP;
}

struct iommufd_device *rvfio_iommufd_device_bind(struct iommufd_ctx *ictx,
						 struct device *dev, u32 *id)
{
	return ERR_PTR(-EOPNOTSUPP);
}

void rvfio_iommufd_device_unbind(struct iommufd_device *idev)
{
}

int rvfio_iommufd_device_attach(struct iommufd_device *idev, bool pasid_set, u32 pasid,
				u32 *pt_id)
{
	return -EOPNOTSUPP;
}

int rvfio_iommufd_device_replace(struct iommufd_device *idev, bool pasid_set, u32 pasid,
				 u32 *pt_id)
{
	return -EOPNOTSUPP;
}

void rvfio_iommufd_device_detach(struct iommufd_device *idev, bool pasid_set, u32 pasid)
{
}
#endif
