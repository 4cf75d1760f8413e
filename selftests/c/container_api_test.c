// SPDX-License-Identifier: GPL-2.0
/*
 * The container, /dev/vfio/vfio, before any group is attached: node identity, API
 * version, extension queries and the errno of everything that needs a group or backend.
 * Written against the uAPI header only, so it runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"

FIXTURE(container) {
	int fd;
};

FIXTURE_SETUP(container)
{
	self->fd = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("open /dev/vfio/vfio: %s", strerror(errno));
}

FIXTURE_TEARDOWN(container)
{
	close(self->fd);
}

TEST(node_is_misc_196_mode_0666)
{
	struct stat st;

	ASSERT_EQ(0, stat("/dev/vfio/vfio", &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(10, major(st.st_rdev));
	EXPECT_EQ(196, minor(st.st_rdev));
	EXPECT_EQ(0666, st.st_mode & 0777);
}

TEST_F(container, api_version)
{
	EXPECT_EQ(VFIO_API_VERSION, ioctl(self->fd, VFIO_GET_API_VERSION));
}

/* Opens are independent: each open is its own container. */
TEST_F(container, second_open_is_independent)
{
	int fd2 = open("/dev/vfio/vfio", O_RDWR);

	ASSERT_LE(0, fd2);
	EXPECT_EQ(VFIO_API_VERSION, ioctl(fd2, VFIO_GET_API_VERSION));
	EXPECT_EQ(VFIO_API_VERSION, ioctl(self->fd, VFIO_GET_API_VERSION));
	close(fd2);
}

/* Every extension query answers 0 or 1, never an error (DPDK and rust-vmm test == 1). */
TEST_F(container, extension_answers_are_boolean)
{
	for (unsigned long ext = 0; ext <= 16; ext++) {
		int ret = ioctl(self->fd, VFIO_CHECK_EXTENSION, ext);

		EXPECT_TRUE(ret == 0 || ret == 1) TH_LOG("extension %lu -> %d", ext, ret);
	}
}

/* Extensions that exist only on other platforms or need iommufd are never reported. */
TEST_F(container, foreign_extensions_are_zero)
{
	static const unsigned long foreign[] = {
		VFIO_SPAPR_TCE_IOMMU, VFIO_EEH, VFIO_SPAPR_TCE_v2_IOMMU,
		VFIO_NOIOMMU_IOMMU, 6 /* reserved nesting */, 11, 12, 1000, ~0UL,
	};

	for (unsigned int i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
		EXPECT_EQ(0, ioctl(self->fd, VFIO_CHECK_EXTENSION, foreign[i]))
			TH_LOG("extension %lu", foreign[i]);
	}
}

/* SET_IOMMU needs a group in the container: -EINVAL, for every type. */
TEST_F(container, set_iommu_without_group)
{
	static const unsigned long types[] = { VFIO_TYPE1_IOMMU, VFIO_TYPE1v2_IOMMU, 0, 99 };

	for (unsigned int i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		EXPECT_EQ(-1, ioctl(self->fd, VFIO_SET_IOMMU, types[i]));
		EXPECT_EQ(EINVAL, errno);
	}
}

/* Without a backend every other container ioctl is -EINVAL, as upstream. */
TEST_F(container, backend_ioctls_without_backend)
{
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	struct vfio_iommu_type1_dma_map map = { .argsz = sizeof(map) };
	struct vfio_iommu_type1_dma_unmap unmap = { .argsz = sizeof(unmap) };

	EXPECT_EQ(-1, ioctl(self->fd, VFIO_IOMMU_GET_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VFIO_IOMMU_MAP_DMA, &map));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VFIO_IOMMU_UNMAP_DMA, &unmap));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO(VFIO_TYPE, VFIO_BASE + 99)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->fd, _IO('x', 1)));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
