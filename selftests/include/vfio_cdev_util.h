/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the tests that use a device through its cdev, /dev/vfio/devices/vfioN, bound to
 * an iommufd (/dev/iommu): finding the node, the bind, IOAS allocation and mapping, attach
 * and detach. Each returns 0 (or an id) or -errno.
 */
#ifndef RVFIO_VFIO_CDEV_UTIL_H
#define RVFIO_VFIO_CDEV_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

/* The name of @bdf's cdev (vfioN) into @name: 0, or -ENOENT without exactly one. */
static inline int cdev_name(const char *bdf, char *name, size_t size)
{
	char path[PATH_MAX];
	struct dirent *e;
	int found = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return -ENOENT;
	while ((e = readdir(dir))) {
		if (strncmp(e->d_name, "vfio", 4))
			continue;
		snprintf(name, size, "%.63s", e->d_name);
		found++;
	}
	closedir(dir);
	return found == 1 ? 0 : -ENOENT;
}

/* Opens @bdf's cdev; -1 (errno set) on failure. */
static inline int open_cdev(const char *bdf)
{
	char name[64], path[PATH_MAX];

	if (cdev_name(bdf, name, sizeof(name))) {
		errno = ENOENT;
		return -1;
	}
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	return open(path, O_RDWR);
}

/* VFIO_DEVICE_BIND_IOMMUFD of the cdev file @fd to @iommufd; its device id in *@devid. */
static inline int cdev_bind(int fd, int iommufd, __u32 *devid)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind),
		.iommufd = iommufd,
	};

	if (ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return -errno;
	if (devid)
		*devid = bind.out_devid;
	return 0;
}

/* IOMMU_IOAS_ALLOC: the new IOAS's id, or -errno. */
static inline int ioas_alloc(int iommufd)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	return ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc) ? -errno : (int)alloc.out_ioas_id;
}

/* IOMMU_IOAS_MAP of @len bytes at @va to @iova, readable and writeable. */
static inline int ioas_map(int iommufd, __u32 ioas, void *va, __u64 len, __u64 iova)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};

	return ioctl(iommufd, IOMMU_IOAS_MAP, &map) ? -errno : 0;
}

/* IOMMU_IOAS_UNMAP of [@iova, @iova + @len): the bytes unmapped, or -errno. */
static inline long long ioas_unmap(int iommufd, __u32 ioas, __u64 iova, __u64 len)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = ioas,
		.iova = iova,
		.length = len,
	};

	return ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap) ? -errno : (long long)unmap.length;
}

/* VFIO_DEVICE_ATTACH_IOMMUFD_PT of the whole device to @pt_id; what was attached in *@out. */
static inline int cdev_attach(int fd, __u32 pt_id, __u32 *out)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.pt_id = pt_id,
	};

	if (ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	if (out)
		*out = attach.pt_id;
	return 0;
}

/* VFIO_DEVICE_DETACH_IOMMUFD_PT of the whole device. */
static inline int cdev_detach(int fd)
{
	struct vfio_device_detach_iommufd_pt detach = { .argsz = sizeof(detach) };

	return ioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &detach) ? -errno : 0;
}

#endif /* RVFIO_VFIO_CDEV_UTIL_H */
