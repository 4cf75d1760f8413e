// SPDX-License-Identifier: GPL-2.0
/*
 * Group files, /dev/vfio/<group>: exclusive open, GET_STATUS, SET/UNSET_CONTAINER with their
 * upstream errnos, several groups in one container, and a device unbound while its group
 * is open. Needs edu and igb bound to vfio-pci (RVFIO_EDU_BDF, RVFIO_IGB_BDF). Uses only
 * the uAPI, so it runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_test_util.h"

static int open_group_of(const char *bdf, char *path, size_t len)
{
	int group = iommu_group_of(bdf);

	if (group < 0)
		return -1;
	snprintf(path, len, "/dev/vfio/%d", group);
	return open(path, O_RDWR);
}

static __u32 group_flags(int fd)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };

	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &status))
		return ~0u;
	return status.flags;
}

FIXTURE(group) {
	const char *bdf;
	char path[64];
	int group;
	int container;
};

FIXTURE_SETUP(group)
{
	self->bdf = test_bdf("RVFIO_EDU_BDF");
	ASSERT_NE(NULL, self->bdf) TH_LOG("RVFIO_EDU_BDF not set");
	self->group = open_group_of(self->bdf, self->path, sizeof(self->path));
	ASSERT_LE(0, self->group) TH_LOG("open group of %s: %s", self->bdf, strerror(errno));
	self->container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, self->container);
}

FIXTURE_TEARDOWN(group)
{
	close(self->container);
	close(self->group);
}

TEST_F(group, node_is_root_only_char_device)
{
	struct stat st;

	ASSERT_EQ(0, stat(self->path, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 0777);
}

TEST_F(group, open_is_exclusive)
{
	int again = open(self->path, O_RDWR);

	EXPECT_EQ(-1, again);
	EXPECT_EQ(EBUSY, errno);
	/* Closing the holder makes the group openable again. */
	close(self->group);
	self->group = open(self->path, O_RDWR);
	ASSERT_LE(0, self->group);
}

TEST_F(group, status_is_exactly_viable)
{
	/* rust-vmm compares the flags with VIABLE for equality. */
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE, group_flags(self->group));
}

TEST_F(group, status_bad_argsz_and_pointer)
{
	struct vfio_group_status status = { .argsz = sizeof(status) - 1 };

	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_GET_STATUS, &status));
	EXPECT_EQ(EINVAL, errno);
	status.argsz = 0;
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_GET_STATUS, &status));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_GET_STATUS, NULL));
	EXPECT_EQ(EFAULT, errno);
	/* A larger argsz is fine: the kernel writes only what it knows. */
	struct { struct vfio_group_status s; __u32 canary; } big = {
		.s.argsz = sizeof(big), .canary = 0xdeadbeef,
	};
	EXPECT_EQ(0, ioctl(self->group, VFIO_GROUP_GET_STATUS, &big));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE, big.s.flags);
	EXPECT_EQ(0xdeadbeef, big.canary);
}

TEST_F(group, set_container_rejects_bad_fds)
{
	int fd = -1;
	int devnull = open("/dev/null", O_RDWR);

	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &fd));
	EXPECT_EQ(EBADF, errno);
	fd = 1000;
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &fd));
	EXPECT_EQ(EBADF, errno);
	/* A file of the wrong kind: not a container (nor an iommufd). */
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &devnull));
	EXPECT_EQ(EBADFD, errno);
	/* Another group is not a container either. */
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->group));
	EXPECT_EQ(EBADFD, errno);
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE, group_flags(self->group));
	close(devnull);
}

TEST_F(group, set_and_unset_container)
{
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_UNSET_CONTAINER));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET, group_flags(self->group));
	/* Already in a container, even the same one. */
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, ioctl(self->group, VFIO_GROUP_UNSET_CONTAINER));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE, group_flags(self->group));
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_UNSET_CONTAINER));
	EXPECT_EQ(EINVAL, errno);
	/* And again: attach/detach leaves nothing behind. */
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	EXPECT_EQ(0, ioctl(self->group, VFIO_GROUP_UNSET_CONTAINER));
}

/* Closing an attached group detaches it; the container lives on. */
TEST_F(group, close_detaches)
{
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	close(self->group);
	self->group = open(self->path, O_RDWR);
	ASSERT_LE(0, self->group);
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE, group_flags(self->group));
	EXPECT_EQ(VFIO_API_VERSION, ioctl(self->container, VFIO_GET_API_VERSION));
}

/* Closing the container fd does not detach: the group holds the container. */
TEST_F(group, group_keeps_container_alive)
{
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	close(self->container);
	self->container = open("/dev/vfio/vfio", O_RDWR);
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET, group_flags(self->group));
	EXPECT_EQ(0, ioctl(self->group, VFIO_GROUP_UNSET_CONTAINER));
}

TEST_F(group, two_groups_one_container)
{
	const char *igb = test_bdf("RVFIO_IGB_BDF");
	char path[64];
	int other;

	ASSERT_NE(NULL, igb);
	other = open_group_of(igb, path, sizeof(path));
	ASSERT_LE(0, other);
	ASSERT_NE(0, strcmp(path, self->path));
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	ASSERT_EQ(0, ioctl(other, VFIO_GROUP_SET_CONTAINER, &self->container));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET, group_flags(other));
	EXPECT_EQ(0, ioctl(self->group, VFIO_GROUP_UNSET_CONTAINER));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET, group_flags(other));
	close(other);
}

TEST_F(group, unknown_ioctl)
{
	EXPECT_EQ(-1, ioctl(self->group, _IO(VFIO_TYPE, VFIO_BASE + 99)));
	EXPECT_EQ(ENOTTY, errno);
	/* Container ioctls are not group ioctls. */
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GET_API_VERSION));
	EXPECT_EQ(ENOTTY, errno);
}

/*
 * Unbinding the only device of an open, attached group removes the node and revokes the
 * group: it answers -ENODEV. Rebinding brings a fresh node back.
 */
TEST_F(group, unbind_while_group_open)
{
	char path[PATH_MAX];

	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", self->bdf);
	ASSERT_EQ(0, sysfs_write(path, self->bdf));
	EXPECT_NE(0, access(self->path, F_OK)) TH_LOG("%s outlived its last device", self->path);
	EXPECT_EQ(~0u, group_flags(self->group));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_UNSET_CONTAINER));
	close(self->group);

	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/drivers_probe", self->bdf));
	self->group = open(self->path, O_RDWR);
	ASSERT_LE(0, self->group) TH_LOG("no node after rebinding: %s", strerror(errno));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE, group_flags(self->group));
}

TEST_HARNESS_MAIN
