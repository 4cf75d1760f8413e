// SPDX-License-Identifier: GPL-2.0
/*
 * The device cdev, /dev/vfio/devices/vfioN, with iommufd (/dev/iommu) as the IOMMU context,
 * on edu (RVFIO_EDU_BDF) bound to vfio-pci: the node and its sysfs link, a file that can do
 * nothing before VFIO_DEVICE_BIND_IOMMUFD, the bind's errnos, a device used through its
 * cdev or its group but never both, ATTACH/DETACH_IOMMUFD_PT to IOASes, and edu's DMA
 * through the mappings of the attached IOAS (IOMMU_IOAS_MAP), gone when the device is
 * detached; and hot reset by device id, on igb (RVFIO_IGB_BDF). Only the uAPI and sysfs are
 * used, so it runs unchanged on upstream's modules. On a kernel without iommufd (no
 * /dev/iommu) there is no cdev on either stack: it checks that and skips (upstream's sysfs
 * vfio-dev entries exist there without a node; rvfio makes none).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <signal.h>
#include <dirent.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_cdev_util.h"
#include "vfio_pci_util.h"

#define PAGE_SZ 4096UL
#define IOVA 0x100000ULL

/* A VF token, for the bind's token flag. */
static const __u8 vf_token[16] = { 0x4b, 0x1d, 0x2c, 0x5e };

/*
 * VFIO_DEVICE_BIND_IOMMUFD with @argsz and @flags (the token flag with vf_token, or with no
 * token pointer if @flags also has bit 31, which is then cleared); 0 or -errno, the id in
 * *@devid.
 */
static int bind_args(int fd, int iommufd, __u32 argsz, __u32 flags, __u32 *devid)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = argsz,
		.flags = flags & ~(1U << 31),
		.iommufd = iommufd,
		.token_uuid_ptr = flags & (1U << 31) ? 0 : (uintptr_t)vf_token,
	};
	int ret = xioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind);

	if (!ret && devid)
		*devid = bind.out_devid;
	return ret;
}

/*
 * edu reads page 0 of @buf (at IOVA) into its buffer, then writes it to page 1 (at IOVA +
 * PAGE_SZ); whether page 1 then holds @seed's pattern, which page 0 was filled with.
 */
static bool edu_copies(int fd, __u8 *buf, __u32 seed)
{
	fill_pattern(buf, PAGE_SZ, seed);
	memset(buf + PAGE_SZ, 0, PAGE_SZ);
	if (edu_dma(fd, IOVA, EDU_DMA_BUF, PAGE_SZ, 0, 1) ||
	    edu_dma(fd, EDU_DMA_BUF, IOVA + PAGE_SZ, PAGE_SZ, EDU_DMA_TO_RAM, 1))
		return false;
	return pattern_matches(buf + PAGE_SZ, PAGE_SZ, seed);
}

FIXTURE(cdev)
{
	const char *bdf;
	int iommufd;
};

FIXTURE_SETUP(cdev)
{
	self->bdf = test_bdf("RVFIO_EDU_BDF");
	ASSERT_NE(NULL, self->bdf) TH_LOG("RVFIO_EDU_BDF not set");
	self->iommufd = open("/dev/iommu", O_RDWR);
	if (self->iommufd < 0) {
		ASSERT_EQ(ENOENT, errno);
		/*
		 * No iommufd: no device cdevs on either stack, as upstream without
		 * VFIO_DEVICE_CDEV (whose sysfs vfio-dev entries then have no node).
		 */
		ASSERT_NE(0, access("/dev/vfio/devices", F_OK));
		SKIP(return, "no /dev/iommu (kernel without iommufd): no device cdev either");
	}
}

FIXTURE_TEARDOWN(cdev)
{
	if (self->iommufd >= 0)
		close(self->iommufd);
}

/* One vfioN below the device in sysfs; its /dev node has the same device number. */
TEST_F(cdev, node)
{
	char name[64], path[PATH_MAX], dev[32];
	unsigned int major, minor;
	struct stat st;

	ASSERT_EQ(0, cdev_name(self->bdf, name, sizeof(name)));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev/%s/dev", self->bdf, name);
	ASSERT_EQ(0, sysfs_read_str(path, dev, sizeof(dev)));
	ASSERT_EQ(2, sscanf(dev, "%u:%u", &major, &minor));
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(major, major(st.st_rdev));
	EXPECT_EQ(minor, minor(st.st_rdev));
	snprintf(path, sizeof(path), "/sys/class/vfio-dev/%s", name);
	EXPECT_EQ(0, access(path, F_OK));
}

/* Before BIND_IOMMUFD every device ioctl, read, write and mmap is -EINVAL. */
TEST_F(cdev, unbound)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info region = { .argsz = sizeof(region) };
	struct vfio_device_detach_iommufd_pt det = { .argsz = sizeof(det) };
	__u32 val;
	void *p;
	int fd;

	fd = open_cdev(self->bdf);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, xioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_EQ(-EINVAL, xioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &region));
	EXPECT_EQ(-EINVAL, xioctl(fd, VFIO_DEVICE_RESET, NULL));
	EXPECT_EQ(-EINVAL, cdev_attach(fd, 1, NULL));
	EXPECT_EQ(-EINVAL, xioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &det));
	EXPECT_EQ(-EINVAL, xioctl(fd, VFIO_GROUP_GET_STATUS, NULL));
	EXPECT_EQ(-EINVAL, xpread(fd, &val, 4, REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX)));
	EXPECT_EQ(-EINVAL, xpwrite(fd, &val, 4, REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX)));
	p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, fd, REGION_OFFSET(EDU_BAR));
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

/* The bind's argument checks and errnos, then the device's id. */
TEST_F(cdev, bind_errors)
{
	struct {
		struct vfio_device_bind_iommufd bind;
		__u64 tail;
	} big = { .bind = { .argsz = sizeof(big), .iommufd = self->iommufd } };
	int fd, fd2, null_fd, closed_fd;
	__u32 devid = 0, devid2 = 0;

	fd = open_cdev(self->bdf);
	ASSERT_LE(0, fd);
	null_fd = open("/dev/null", O_RDWR);
	ASSERT_LE(0, null_fd);
	closed_fd = dup(null_fd);
	close(closed_fd);

	EXPECT_EQ(-EFAULT, xioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, NULL));
	EXPECT_EQ(-EINVAL, bind_args(fd, self->iommufd,
				     offsetofend(struct vfio_device_bind_iommufd, out_devid) - 1,
				     0, NULL));
	EXPECT_EQ(-EINVAL, bind_args(fd, self->iommufd, sizeof(big.bind), 2, NULL));
	EXPECT_EQ(-EINVAL, bind_args(fd, -1, sizeof(big.bind), 0, NULL));
	EXPECT_EQ(-EBADF, bind_args(fd, closed_fd, sizeof(big.bind), 0, NULL));
	EXPECT_EQ(-EBADFD, bind_args(fd, null_fd, sizeof(big.bind), 0, NULL));
	/* The token is read first; edu is neither a PF nor a VF, so a token is refused. */
	EXPECT_EQ(-EFAULT, bind_args(fd, self->iommufd, sizeof(big.bind),
				     VFIO_DEVICE_BIND_FLAG_TOKEN | 1U << 31, NULL));
	EXPECT_EQ(-EINVAL, bind_args(fd, self->iommufd, sizeof(big.bind),
				     VFIO_DEVICE_BIND_FLAG_TOKEN, NULL));
	/* Bytes past the structure must be zero. */
	big.tail = 1;
	EXPECT_EQ(-E2BIG, xioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &big));
	big.tail = 0;
	ASSERT_EQ(0, xioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &big));
	devid = big.bind.out_devid;
	EXPECT_NE(0, devid);
	/* Bound twice; another file of the same device. */
	EXPECT_EQ(-EINVAL, cdev_bind(fd, self->iommufd, NULL));
	fd2 = open_cdev(self->bdf);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(-EINVAL, cdev_bind(fd2, self->iommufd, NULL));
	close(fd);
	/* Closing the bound file unbinds: the other one binds now. */
	ASSERT_EQ(0, bind_args(fd2, self->iommufd, sizeof(big.bind), 0, &devid2));
	EXPECT_NE(0, devid2);
	close(fd2);
	close(null_fd);
}

/* A device is used through its group or its cdev, never both at once. */
TEST_F(cdev, group_exclusion)
{
	int fd, group;

	group = open_group(self->bdf);
	ASSERT_LE(0, group);
	fd = open_cdev(self->bdf);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBUSY, cdev_bind(fd, self->iommufd, NULL));
	close(group);
	ASSERT_EQ(0, cdev_bind(fd, self->iommufd, NULL));
	EXPECT_EQ(-1, open_group(self->bdf));
	EXPECT_EQ(EBUSY, errno);
	close(fd);
	group = open_group(self->bdf);
	EXPECT_LE(0, group);
	close(group);
}

/* Attach, replace and detach; edu's DMA goes through the attached IOAS's mappings. */
TEST_F(cdev, attach_dma)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int fd, ioas, ioas2;
	__u32 pt = 0, pt2 = 0;
	__u8 *buf;

	buf = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	fd = open_cdev(self->bdf);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cdev_bind(fd, self->iommufd, NULL));
	ioas = ioas_alloc(self->iommufd);
	ASSERT_LT(0, ioas);
	ioas2 = ioas_alloc(self->iommufd);
	ASSERT_LT(0, ioas2);
	ASSERT_EQ(0, ioas_map(self->iommufd, ioas, buf, 2 * PAGE_SZ, IOVA));

	/* Device access works once bound, attached or not. */
	ASSERT_EQ(0, xioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	EXPECT_EQ(-ENOENT, cdev_attach(fd, 0x7fffff, NULL));
	ASSERT_EQ(0, cdev_attach(fd, ioas, &pt));
	EXPECT_NE(0, pt);
	ASSERT_EQ(0, cfg_command(fd, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0));
	EXPECT_TRUE(edu_copies(fd, buf, 7));

	/* Replaced by an IOAS without the mappings: nothing arrives. */
	ASSERT_EQ(0, cdev_attach(fd, ioas2, &pt2));
	EXPECT_NE(0, pt2);
	EXPECT_FALSE(edu_copies(fd, buf, 8));

	/* Back, then detached (twice: the second does nothing): blocked again. */
	ASSERT_EQ(0, cdev_attach(fd, ioas, &pt));
	EXPECT_TRUE(edu_copies(fd, buf, 9));
	EXPECT_EQ(0, cdev_detach(fd));
	EXPECT_EQ(0, cdev_detach(fd));
	EXPECT_FALSE(edu_copies(fd, buf, 10));
	close(fd);
	munmap(buf, 2 * PAGE_SZ);
}

/* The PASID forms: argsz must cover the PASID, unknown flags are refused. */
TEST_F(cdev, pasid_args)
{
	struct vfio_device_attach_iommufd_pt att = {
		.argsz = offsetofend(struct vfio_device_attach_iommufd_pt, pt_id),
		.flags = VFIO_DEVICE_ATTACH_PASID,
		.pasid = 1,
	};
	struct vfio_device_detach_iommufd_pt det = {
		.argsz = offsetofend(struct vfio_device_detach_iommufd_pt, flags),
		.flags = VFIO_DEVICE_DETACH_PASID,
		.pasid = 1,
	};
	int fd, ioas;

	fd = open_cdev(self->bdf);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cdev_bind(fd, self->iommufd, NULL));
	ioas = ioas_alloc(self->iommufd);
	ASSERT_LT(0, ioas);
	att.pt_id = ioas;
	EXPECT_EQ(-EINVAL, xioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &att));
	EXPECT_EQ(-EINVAL, xioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &det));
	att.flags = 2;
	att.argsz = sizeof(att);
	EXPECT_EQ(-EINVAL, xioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &att));
	det.flags = 2;
	det.argsz = sizeof(det);
	EXPECT_EQ(-EINVAL, xioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &det));
	/* edu has no PASID capability: iommufd refuses. */
	att.flags = VFIO_DEVICE_ATTACH_PASID;
	EXPECT_EQ(-EINVAL, xioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &att));
	/* Detaching a PASID never attached does nothing. */
	det.flags = VFIO_DEVICE_DETACH_PASID;
	EXPECT_EQ(0, xioctl(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &det));
	close(fd);
}

/*
 * Close orders: the iommufd closed before the bound cdev file (the binding keeps its context:
 * the device keeps working and its DMA keeps its IOAS), and the IOAS destroyed while the
 * device is attached (-EBUSY); the cdev file closed last unbinds.
 */
TEST_F(cdev, close_orders)
{
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int fd, iommufd, ioas;
	__u8 *buf;

	buf = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	fd = open_cdev(self->bdf);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cdev_bind(fd, iommufd, NULL));
	ioas = ioas_alloc(iommufd);
	ASSERT_LT(0, ioas);
	ASSERT_EQ(0, ioas_map(iommufd, ioas, buf, 2 * PAGE_SZ, IOVA));
	ASSERT_EQ(0, cdev_attach(fd, ioas, NULL));
	destroy.id = ioas;
	EXPECT_EQ(-EBUSY, xioctl(iommufd, IOMMU_DESTROY, &destroy));
	ASSERT_EQ(0, cfg_command(fd, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0));
	close(iommufd);
	EXPECT_EQ(0, xioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_TRUE(edu_copies(fd, buf, 11));
	close(fd);
	/* Unbound with its context gone: free for a new user. */
	fd = open_cdev(self->bdf);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, cdev_bind(fd, self->iommufd, NULL));
	close(fd);
	munmap(buf, 2 * PAGE_SZ);
}

/*
 * SIGKILL of a process with the device bound and 16 MiB mapped through its IOAS: its files'
 * release unbinds the device and iommufd unpins everything; the device binds afresh.
 */
TEST_F(cdev, killed_while_bound)
{
	const size_t len = 16 << 20;
	long long pinned = pinned_pages();
	int ready[2], status;
	char c = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int iommufd = open("/dev/iommu", O_RDWR), fd = open_cdev(self->bdf), ioas;
		void *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (iommufd < 0 || fd < 0 || buf == MAP_FAILED || cdev_bind(fd, iommufd, NULL))
			_exit(1);
		ioas = ioas_alloc(iommufd);
		if (ioas < 0 || cdev_attach(fd, ioas, NULL) || ioas_map(iommufd, ioas, buf, len, IOVA))
			_exit(2);
		if (write(ready[1], &c, 1) != 1)
			_exit(3);
		pause();
		_exit(4);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1)) TH_LOG("the child did not get its device mapped");
	close(ready[0]);
	EXPECT_LE(pinned + (long long)(len / PAGE_SZ), pinned_pages());
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(pinned, pinned_pages_settle(pinned));
	pid = open_cdev(self->bdf);
	ASSERT_LE(0, pid);
	EXPECT_EQ(0, cdev_bind(pid, self->iommufd, NULL));
	close(pid);
}

/*
 * Unbinding vfio-pci from the device waits while a file of its cdev is open, bound (asked to
 * let go through the request eventfd) or not; when the file closes the unbind completes
 * and the node goes. Bound to vfio-pci again, the device has a cdev again.
 */
TEST_F_TIMEOUT(cdev, unbind_while_open, 60)
{
	int fd, req = new_eventfd(), status;
	char drv[64], name[64];
	pid_t pid;

	ASSERT_LE(0, req);
	/* Open, not bound. */
	fd = open_cdev(self->bdf);
	ASSERT_LE(0, fd);
	pid = unbind_async(self->bdf);
	ASSERT_LE(0, pid);
	EXPECT_EQ(-1, wait_for(pid, 300)) TH_LOG("unbind did not wait for the open cdev file");
	close(fd);
	status = wait_for(pid, 10000);
	EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_STREQ("none", driver_of(self->bdf, drv, sizeof(drv)));
	EXPECT_EQ(-ENOENT, cdev_name(self->bdf, name, sizeof(name)));
	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/drivers_probe", self->bdf));
	ASSERT_STREQ("vfio-pci", driver_of(self->bdf, drv, sizeof(drv)));

	/* Bound, with a request eventfd. */
	fd = open_cdev(self->bdf);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cdev_bind(fd, self->iommufd, NULL));
	ASSERT_EQ(0, set_irq_eventfds(fd, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, &req));
	pid = unbind_async(self->bdf);
	ASSERT_LE(0, pid);
	EXPECT_LE(1, eventfd_wait(req, 5000)) TH_LOG("no device request");
	EXPECT_EQ(-1, wait_for(pid, 300)) TH_LOG("unbind did not wait for the bound device");
	EXPECT_EQ(0x1234, cfg_read(fd, PCI_VENDOR_ID, 2));
	close(fd);
	status = wait_for(pid, 10000);
	if (status == -1)
		kill(pid, SIGKILL);
	EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/drivers_probe", self->bdf));
	ASSERT_STREQ("vfio-pci", driver_of(self->bdf, drv, sizeof(drv)));
	EXPECT_EQ(0, cdev_name(self->bdf, name, sizeof(name)));
	close(req);
}

/*
 * Hot reset of igb (RVFIO_IGB_BDF) open through its cdev: INFO reports device ids (its own,
 * the one its bind returned) and that the iommufd owns everything the reset reaches; the
 * reset takes no group fds (an fd is -EINVAL) and really resets igb (RDBAL0 back to 0).
 * The device opened through its group gets group ids, and an empty array is -EINVAL there.
 */
TEST_F(cdev, hot_reset_devid)
{
	struct {
		struct vfio_pci_hot_reset_info hdr;
		struct vfio_pci_dependent_device devices[4];
	} info;
	const char *igb = test_bdf("RVFIO_IGB_BDF");
	struct vfio_pci_dev dev;
	__u32 devid = 0, val;
	__s32 fds[1];
	int fd;

	ASSERT_NE(NULL, igb);
	fd = open_cdev(igb);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, bind_args(fd, self->iommufd, sizeof(struct vfio_device_bind_iommufd), 0,
			       &devid));
	ASSERT_EQ(0, hot_reset_info(fd, &info.hdr, 4));
	EXPECT_EQ(VFIO_PCI_HOT_RESET_FLAG_DEV_ID | VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED,
		  info.hdr.flags);
	ASSERT_EQ(1, info.hdr.count);
	EXPECT_EQ(devid, info.hdr.devices[0].devid);
	/* A group fd where none is taken; then the cdev form. */
	fds[0] = open_group(self->bdf);
	ASSERT_LE(0, fds[0]);
	EXPECT_EQ(-EINVAL, hot_reset(fd, fds, 1));
	close(fds[0]);
	ASSERT_EQ(0, cfg_command(fd, PCI_COMMAND_MEMORY, 0));
	val = 0x12345000;
	ASSERT_EQ(4, xpwrite(fd, &val, 4, REGION_OFFSET(0) + 0xc000));
	ASSERT_EQ(4, xpread(fd, &val, 4, REGION_OFFSET(0) + 0xc000));
	ASSERT_EQ(0x12345000, val);
	ASSERT_EQ(0, hot_reset(fd, NULL, 0));
	ASSERT_EQ(4, xpread(fd, &val, 4, REGION_OFFSET(0) + 0xc000));
	EXPECT_EQ(0, val);
	close(fd);

	/* Through the group: group ids, and the empty array refused. */
	ASSERT_EQ(0, vfio_pci_open(&dev, igb, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, hot_reset_info(dev.fd, &info.hdr, 4));
	EXPECT_EQ(0, info.hdr.flags);
	EXPECT_EQ(iommu_group_of(igb), (int)info.hdr.devices[0].group_id);
	EXPECT_EQ(-EINVAL, hot_reset(dev.fd, NULL, 0));
	vfio_pci_close(&dev);
}

TEST_HARNESS_MAIN
