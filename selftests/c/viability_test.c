// SPDX-License-Identifier: GPL-2.0
/*
 * Group viability: an IOMMU group is only safe to hand to a user when no device in it is
 * driven by a kernel driver, since the user's DMA domain would also translate for that
 * device. The guest's multifunction device puts edu (function 0, on vfio-pci) and nvme
 * (function 1, on the kernel's nvme driver) in one group (RVFIO_MF_EDU_BDF,
 * RVFIO_MF_NVME_BDF). While nvme drives function 1 the group is not viable: GET_STATUS
 * says so, SET_CONTAINER fails and no device fd can be had. With function 1 on no driver,
 * or on vfio-pci, the group attaches and edu's DMA goes through the user's mappings; while
 * the user holds the group the nvme driver cannot take function 1 back. Every case ends
 * with nvme on function 1 again and the group not viable. Only the uAPI and sysfs are used,
 * so it runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"

#define IOVA 0x100000

/* The flags of VFIO_GROUP_GET_STATUS, or ~0 if it failed. */
static __u32 group_flags(int group)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };

	return ioctl(group, VFIO_GROUP_GET_STATUS, &status) ? ~0u : status.flags;
}

/*
 * Moves @bdf from its driver to @driver (NULL: to none) by driver_override, as the guest's
 * bind_driver/unbind_driver do. Returns whether @bdf ended up on @driver; a probe that
 * fails (as the nvme driver's must while a user owns the group) leaves it on none.
 */
static bool rebind(const char *bdf, const char *driver)
{
	char path[PATH_MAX], now[64];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	if (access(path, F_OK) == 0)
		sysfs_write(path, bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	sysfs_write(path, driver ? driver : "\n");
	if (driver)
		sysfs_write("/sys/bus/pci/drivers_probe", bdf);
	return strcmp(driver_of(bdf, now, sizeof(now)), driver ? driver : "none") == 0;
}

FIXTURE(viability) {
	const char *edu;
	const char *nvme;
	int group;
	int container;
	int device;
};

FIXTURE_SETUP(viability)
{
	char drv[64];

	self->device = -1;
	self->edu = test_bdf("RVFIO_MF_EDU_BDF");
	self->nvme = test_bdf("RVFIO_MF_NVME_BDF");
	ASSERT_NE(NULL, self->edu);
	ASSERT_NE(NULL, self->nvme);
	/* The premise: one group, a kernel driver on one of its devices. */
	ASSERT_LE(0, iommu_group_of(self->edu));
	ASSERT_EQ(iommu_group_of(self->edu), iommu_group_of(self->nvme));
	ASSERT_STREQ("nvme", driver_of(self->nvme, drv, sizeof(drv)));
	ASSERT_STREQ("vfio-pci", driver_of(self->edu, drv, sizeof(drv)));
	self->group = open_group(self->edu);
	ASSERT_LE(0, self->group) TH_LOG("open group of %s: %s", self->edu, strerror(errno));
	self->container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, self->container);
}

FIXTURE_TEARDOWN(viability)
{
	char drv[64];

	if (self->device >= 0)
		close(self->device);
	close(self->group);
	close(self->container);
	/* The user is gone: the kernel driver may have its device back. */
	EXPECT_TRUE(rebind(self->nvme, "nvme"))
		TH_LOG("nvme driver could not rebind %s: on %s", self->nvme,
		       driver_of(self->nvme, drv, sizeof(drv)));
}

/* Attaches the group to the container with type1v2 and gets edu's device fd. */
static void attach_and_open(struct __test_metadata *_metadata, FIXTURE_DATA(viability) *self)
{
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	ASSERT_EQ(0, ioctl(self->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	self->device = ioctl(self->group, VFIO_GROUP_GET_DEVICE_FD, self->edu);
	ASSERT_LE(0, self->device) TH_LOG("GET_DEVICE_FD %s: %s", self->edu, strerror(errno));
}

/* edu copies a pattern from one mapped page to another: the domain is the user's. */
static void dma_works(struct __test_metadata *_metadata, FIXTURE_DATA(viability) *self)
{
	size_t page = getpagesize();
	unsigned char *buf = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, buf);
	for (size_t i = 0; i < page; i++)
		buf[i] = i * 7 + 3;
	memset(buf + page, 0, page);
	ASSERT_EQ(0, type1_map(self->container, buf, IOVA, 2 * page,
			       VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(0, cfg_command(self->device, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0));
	ASSERT_EQ(0, edu_dma(self->device, IOVA, EDU_DMA_BUF, 256, 0, 1));
	ASSERT_EQ(0, edu_dma(self->device, EDU_DMA_BUF, IOVA + page, 256, EDU_DMA_TO_RAM, 1));
	EXPECT_EQ(0, memcmp(buf, buf + page, 256));
	EXPECT_EQ(0, type1_unmap(self->container, IOVA, 2 * page));
	munmap(buf, 2 * page);
}

TEST_F(viability, kernel_driver_makes_group_not_viable)
{
	/* Neither viable nor in a container: rust-vmm and QEMU test VIABLE first. */
	EXPECT_EQ(0, group_flags(self->group));
	/* The IOMMU core refuses to give the group's DMA to a user. */
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, group_flags(self->group));
	/* So there is no IOMMU behind the group and no device fd. */
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_GET_DEVICE_FD, self->edu));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_UNSET_CONTAINER));
	EXPECT_EQ(EINVAL, errno);
	/* The container is untouched: no group, so no IOMMU can be set. */
	EXPECT_EQ(-1, ioctl(self->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(EINVAL, errno);
	/* nvme kept its device throughout. */
	char drv[64];

	EXPECT_STREQ("nvme", driver_of(self->nvme, drv, sizeof(drv)));
}

TEST_F(viability, viable_once_kernel_driver_unbound)
{
	char drv[64];

	ASSERT_TRUE(rebind(self->nvme, NULL));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE, group_flags(self->group));
	attach_and_open(_metadata, self);
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET,
		  group_flags(self->group));
	dma_works(_metadata, self);
	/*
	 * The user owns the group's DMA now: the nvme driver's probe is refused (-EBUSY from
	 * the IOMMU core) and the device stays on no driver.
	 */
	EXPECT_FALSE(rebind(self->nvme, "nvme"));
	EXPECT_STREQ("none", driver_of(self->nvme, drv, sizeof(drv)));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET,
		  group_flags(self->group));
	dma_works(_metadata, self);
	/* Detached again (device closed, group out of the container): nvme may probe. */
	close(self->device);
	self->device = -1;
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_UNSET_CONTAINER));
	ASSERT_TRUE(rebind(self->nvme, "nvme"));
	EXPECT_EQ(0, group_flags(self->group));
}

/* A kernel driver taking a device of an open but unattached group makes it not viable. */
TEST_F(viability, kernel_driver_bound_while_group_open)
{
	ASSERT_TRUE(rebind(self->nvme, NULL));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE, group_flags(self->group));
	ASSERT_TRUE(rebind(self->nvme, "nvme"));
	EXPECT_EQ(0, group_flags(self->group));
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	EXPECT_EQ(EPERM, errno);
}

/* Both functions on vfio-pci: viable, and both devices can be opened. */
TEST_F(viability, all_functions_on_vfio_pci)
{
	int nvme_fd;

	ASSERT_TRUE(rebind(self->nvme, "vfio-pci"));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE, group_flags(self->group));
	attach_and_open(_metadata, self);
	nvme_fd = ioctl(self->group, VFIO_GROUP_GET_DEVICE_FD, self->nvme);
	ASSERT_LE(0, nvme_fd) TH_LOG("GET_DEVICE_FD %s: %s", self->nvme, strerror(errno));
	/* Each fd is its own device: the vendor IDs differ. */
	EXPECT_EQ(0x1234, cfg_read(self->device, PCI_VENDOR_ID, 2));
	EXPECT_EQ(0x1b36, cfg_read(nvme_fd, PCI_VENDOR_ID, 2));
	dma_works(_metadata, self);
	close(nvme_fd);
	/* nvme's device is not free while the group is attached. */
	EXPECT_FALSE(rebind(self->nvme, "nvme"));
}

TEST_HARNESS_MAIN
