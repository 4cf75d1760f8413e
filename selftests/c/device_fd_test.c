// SPDX-License-Identifier: GPL-2.0
/*
 * Device fds from VFIO_GROUP_GET_DEVICE_FD: when they may be had and the errnos otherwise,
 * what kind of file they are, and the lifetimes they pin: the group stays attached (and
 * UNSET_CONTAINER is -EBUSY) while one is open, the group file stays busy after close(),
 * the bus driver's module cannot be removed, and unbinding the device blocks until the
 * last device fd is closed. Needs edu and igb bound to vfio-pci; only the uAPI is used, so
 * it runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_test_util.h"

static int get_device_fd(int group, const char *name)
{
	int fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name);

	return fd < 0 ? -errno : fd;
}

FIXTURE(device) {
	const char *bdf;
	const char *other_bdf;
	int group;
	int container;
};

FIXTURE_SETUP(device)
{
	self->bdf = test_bdf("RVFIO_EDU_BDF");
	self->other_bdf = test_bdf("RVFIO_IGB_BDF");
	ASSERT_NE(NULL, self->bdf);
	ASSERT_NE(NULL, self->other_bdf);
	self->group = open_group(self->bdf);
	ASSERT_LE(0, self->group);
	self->container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, self->container);
}

FIXTURE_TEARDOWN(device)
{
	if (self->container >= 0)
		close(self->container);
	if (self->group >= 0)
		close(self->group);
}

static void attach(struct __test_metadata *_metadata, FIXTURE_DATA(device) *self)
{
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	ASSERT_EQ(0, ioctl(self->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
}

TEST_F(device, needs_container_with_iommu)
{
	EXPECT_EQ(-EINVAL, get_device_fd(self->group, self->bdf));
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	EXPECT_EQ(-EINVAL, get_device_fd(self->group, self->bdf));
	ASSERT_EQ(0, ioctl(self->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	int fd = get_device_fd(self->group, self->bdf);

	ASSERT_LE(0, fd);
	close(fd);
}

TEST_F(device, bad_names)
{
	char name[64];
	char *long_name = malloc(8192);

	attach(_metadata, self);
	EXPECT_EQ(-ENODEV, get_device_fd(self->group, "0000:ff:1f.7"));
	EXPECT_EQ(-ENODEV, get_device_fd(self->group, ""));
	/* A device of another group. */
	EXPECT_EQ(-ENODEV, get_device_fd(self->group, self->other_bdf));
	/* A prefix of the name is not the name. */
	snprintf(name, sizeof(name), "%.*s", (int)strlen(self->bdf) - 1, self->bdf);
	EXPECT_EQ(-ENODEV, get_device_fd(self->group, name));
	EXPECT_EQ(-EFAULT, get_device_fd(self->group, NULL));
	/* Not NUL-terminated within a page. */
	memset(long_name, 'a', 8192);
	EXPECT_EQ(-EINVAL, get_device_fd(self->group, long_name));
	/* A malformed VF token, and a well-formed one for a device outside SR-IOV. */
	snprintf(name, sizeof(name), "%s vf_token=not-a-uuid", self->bdf);
	EXPECT_EQ(-EINVAL, get_device_fd(self->group, name));
	snprintf(name, sizeof(name), "%s vf_token=bd8d9d2b-5a5f-4f5a-a211-f591514ba1f3", self->bdf);
	EXPECT_EQ(-EINVAL, get_device_fd(self->group, name));
	free(long_name);
}

TEST_F(device, fd_kind)
{
	char link[64], target[64];
	ssize_t len;
	int fd, fd2;

	attach(_metadata, self);
	fd = get_device_fd(self->group, self->bdf);
	ASSERT_LE(0, fd);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, target, sizeof(target) - 1);
	ASSERT_LT(0, len);
	target[len] = '\0';
	EXPECT_STREQ("anon_inode:[vfio-device]", target);
	/* A device may be opened more than once. */
	fd2 = get_device_fd(self->group, self->bdf);
	EXPECT_LE(0, fd2);
	EXPECT_NE(fd, fd2);
	/* A device fd is not a group or a container. */
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &fd));
	close(fd2);
	close(fd);
}

TEST_F(device, pins_group_and_container)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	int fd, group;

	attach(_metadata, self);
	fd = get_device_fd(self->group, self->bdf);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(self->group, VFIO_GROUP_UNSET_CONTAINER));
	EXPECT_EQ(EBUSY, errno);

	/* Closing the group fd leaves the group open (held by the device fd)... */
	close(self->group);
	self->group = -1;
	EXPECT_EQ(-1, open_group(self->bdf));
	EXPECT_EQ(EBUSY, errno);
	/* ...and the container usable. */
	EXPECT_EQ(1, ioctl(self->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	close(fd);

	/* The last device fd gone, the group is free and detached. */
	group = open_group(self->bdf);
	ASSERT_LE(0, group);
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE, status.flags);
	self->group = group;
}

TEST_F(device, unset_after_close)
{
	int fd;

	attach(_metadata, self);
	fd = get_device_fd(self->group, self->bdf);
	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(0, ioctl(self->group, VFIO_GROUP_UNSET_CONTAINER));
}

TEST_F(device, module_pinned_while_open)
{
	int fd;

	attach(_metadata, self);
	fd = get_device_fd(self->group, self->bdf);
	ASSERT_LE(0, fd);
	EXPECT_NE(0, syscall(SYS_delete_module, "vfio_pci", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	close(fd);
}

/* Unbinding blocks until the device fd is closed, then completes. */
TEST_F(device, unbind_waits_for_close)
{
	char path[128];
	int fd, status;
	pid_t pid;

	attach(_metadata, self);
	fd = get_device_fd(self->group, self->bdf);
	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* fork() duplicated the device fd: this copy must not keep the device open. */
		close(fd);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", self->bdf);
		_exit(sysfs_write(path, self->bdf) ? 1 : 0);
	}
	sleep(2);
	EXPECT_EQ(0, waitpid(pid, &status, WNOHANG)) TH_LOG("unbind returned while the device was open");
	close(fd);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Gone from the group, then back (driver_override still says vfio-pci). */
	EXPECT_EQ(-ENODEV, get_device_fd(self->group, self->bdf));
	close(self->group);
	close(self->container);
	self->group = self->container = -1;
	EXPECT_EQ(0, sysfs_write("/sys/bus/pci/drivers/vfio-pci/bind", self->bdf));
}

TEST_HARNESS_MAIN
