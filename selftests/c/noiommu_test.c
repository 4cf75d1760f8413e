// SPDX-License-Identifier: GPL-2.0
/*
 * No-IOMMU mode (vfio.enable_unsafe_noiommu_mode), in a guest booted without an IOMMU, with
 * the e1000e (RVFIO_NIC_BDF) and edu (RVFIO_EDU_BDF) bound to vfio-pci while the mode was
 * on (sh/noiommu.sh): each is in a "vfio-noiommu" group of its own, /dev/vfio/noiommu-N.
 *
 * The container takes only the no-IOMMU backend (VFIO_NOIOMMU_IOMMU), which maps nothing and
 * answers no ioctl but CHECK_EXTENSION; CAP_SYS_RAWIO is needed to open a group, to attach it,
 * to set the backend and to open a device first; the device fd works as with an IOMMU and its
 * open is logged.
 * Without an IOMMU the device's DMA addresses are physical: edu copies between two of our
 * pages at the addresses /proc/self/pagemap gives, as DPDK's and SPDK's noiommu mode do.
 * The mode read at each query: switched off, the backend is no longer offered. Only the
 * uAPI, sysfs and procfs are used, so it runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"

#define NOIOMMU_PARAM "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"

/* Opens /dev/vfio/noiommu-<group of @bdf>; -1 (errno set) on failure. */
static int open_noiommu_group(const char *bdf)
{
	return open_group_node(bdf, "noiommu-");
}

/* VFIO_CHECK_EXTENSION's answer (or -errno). */
static int check_extension(int container, int extension)
{
	int ret = ioctl(container, VFIO_CHECK_EXTENSION, extension);

	return ret < 0 ? -errno : ret;
}

/* VFIO_GROUP_SET_CONTAINER; 0 or -errno. */
static int set_container(int group, int container)
{
	return xioctl(group, VFIO_GROUP_SET_CONTAINER, &container);
}

/* VFIO_SET_IOMMU; 0 or -errno. */
static int set_iommu(int container, int type)
{
	return ioctl(container, VFIO_SET_IOMMU, type) ? -errno : 0;
}

/* Drops CAP_SYS_RAWIO from the effective set of this thread (it stays permitted). */
static int drop_rawio(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[CAP_SYS_RAWIO / 32].effective &= ~(1u << (CAP_SYS_RAWIO % 32));
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/*
 * Runs @fn(@arg) in a child without CAP_SYS_RAWIO in its effective set; returns what it
 * returned (an errno-style int, 0..255 as -value), or -EFAULT if the child failed otherwise.
 */
static int without_rawio(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(drop_rawio() ? 255 : -fn(arg) & 0xff);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == 255)
		return -EFAULT;
	return -WEXITSTATUS(status);
}

/* The physical address of the page at @p (mapped and locked), from /proc/self/pagemap. */
static __u64 phys_addr(const void *p)
{
	long page = sysconf(_SC_PAGESIZE);
	__u64 entry = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	off_t offset = (uintptr_t)p / page * sizeof(entry);

	if (fd < 0)
		return 0;
	if (pread(fd, &entry, sizeof(entry), offset) != sizeof(entry))
		entry = 0;
	close(fd);
	/* Bit 63: present; bits 0-54: the page frame number (0 unless CAP_SYS_ADMIN). */
	if (!(entry >> 63) || !(entry & ((1ULL << 55) - 1)))
		return 0;
	return (entry & ((1ULL << 55) - 1)) * page + (uintptr_t)p % page;
}

/* Whether the kernel log holds @needle (needs CAP_SYSLOG, which root has). */
static bool kernel_log_has(const char *needle)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	bool found;
	int len;

	if (size <= 0)
		return false;
	buf = calloc(1, size + 1);
	if (!buf)
		return false;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	found = len > 0 && memmem(buf, len, needle, strlen(needle));
	free(buf);
	return found;
}

FIXTURE(noiommu) {
	const char *nic;
	const char *edu;
	int nic_group;
	int edu_group;
	int container;
};

FIXTURE_SETUP(noiommu)
{
	char name[64] = "", mode[8] = "";
	char path[PATH_MAX];

	self->nic = test_bdf("RVFIO_NIC_BDF");
	self->edu = test_bdf("RVFIO_EDU_BDF");
	ASSERT_TRUE(self->nic && self->edu);
	/* The mode is on (the wrapper switched it on before binding). */
	ASSERT_EQ(0, sysfs_read_str(NOIOMMU_PARAM, mode, sizeof(mode)));
	ASSERT_STREQ("Y", mode);
	/* Each device is in a group of its own that VFIO made and named. */
	ASSERT_NE(iommu_group_of(self->nic), iommu_group_of(self->edu));
	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/name", iommu_group_of(self->nic));
	ASSERT_EQ(0, sysfs_read_str(path, name, sizeof(name)));
	ASSERT_STREQ("vfio-noiommu", name);
	self->nic_group = open_noiommu_group(self->nic);
	ASSERT_LE(0, self->nic_group) TH_LOG("open noiommu group of %s: %s", self->nic,
					      strerror(errno));
	self->edu_group = open_noiommu_group(self->edu);
	ASSERT_LE(0, self->edu_group);
	self->container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, self->container);
}

FIXTURE_TEARDOWN(noiommu)
{
	/* A test that switched the mode off switches it on again. */
	sysfs_write(NOIOMMU_PARAM, "Y");
	close(self->container);
	close(self->edu_group);
	close(self->nic_group);
}

/* The nodes: noiommu-N only, exclusive, viable (no kernel driver shares the group). */
TEST_F(noiommu, group_node)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[64];

	snprintf(path, sizeof(path), "/dev/vfio/%d", iommu_group_of(self->nic));
	EXPECT_EQ(-1, open(path, O_RDWR));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, open_noiommu_group(self->nic));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, ioctl(self->nic_group, VFIO_GROUP_GET_STATUS, &status));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE, status.flags);
	ASSERT_EQ(0, set_container(self->nic_group, self->container));
	ASSERT_EQ(0, ioctl(self->nic_group, VFIO_GROUP_GET_STATUS, &status));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET, status.flags);
	EXPECT_EQ(-EINVAL, set_container(self->nic_group, self->container));
	EXPECT_EQ(0, xioctl(self->nic_group, VFIO_GROUP_UNSET_CONTAINER, NULL));
	EXPECT_EQ(-EINVAL, xioctl(self->nic_group, VFIO_GROUP_UNSET_CONTAINER, NULL));
}

/*
 * Extensions: an empty container offers no-IOMMU and type1 (vfio_iommu_type1 is loaded); one
 * with a no-IOMMU group offers no-IOMMU only, and sets no other backend.
 */
TEST_F(noiommu, backend)
{
	ASSERT_EQ(1, check_extension(self->container, VFIO_NOIOMMU_IOMMU));
	EXPECT_EQ(1, check_extension(self->container, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(-EINVAL, set_iommu(self->container, VFIO_NOIOMMU_IOMMU));
	ASSERT_EQ(0, set_container(self->nic_group, self->container));
	EXPECT_EQ(1, check_extension(self->container, VFIO_NOIOMMU_IOMMU));
	EXPECT_EQ(0, check_extension(self->container, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(0, check_extension(self->container, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(-ENODEV, set_iommu(self->container, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(-ENODEV, set_iommu(self->container, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(-ENODEV, set_iommu(self->container, 1234));
	ASSERT_EQ(0, set_iommu(self->container, VFIO_NOIOMMU_IOMMU));
	EXPECT_EQ(-EINVAL, set_iommu(self->container, VFIO_NOIOMMU_IOMMU));
	EXPECT_EQ(1, check_extension(self->container, VFIO_NOIOMMU_IOMMU));
	EXPECT_EQ(0, check_extension(self->container, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(0, check_extension(self->container, VFIO_UNMAP_ALL));
}

/* The backend maps nothing: every type1 ioctl is unknown to it. */
TEST_F(noiommu, no_dma_mapping)
{
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	struct vfio_iommu_type1_dirty_bitmap dirty = { .argsz = sizeof(dirty),
						       .flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START };
	void *buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, buf);
	/* Before a backend: -EINVAL, as for any container without one. */
	EXPECT_EQ(-EINVAL, type1_map(self->container, buf, 0x100000, 4096,
				     VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(0, set_container(self->nic_group, self->container));
	ASSERT_EQ(0, set_iommu(self->container, VFIO_NOIOMMU_IOMMU));
	EXPECT_EQ(-ENOTTY, type1_map(self->container, buf, 0x100000, 4096,
				     VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE));
	EXPECT_EQ(-ENOTTY, type1_unmap_flags(self->container, 0x100000, 4096, 0));
	EXPECT_EQ(-ENOTTY, type1_unmap_flags(self->container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL));
	EXPECT_EQ(-ENOTTY, xioctl(self->container, VFIO_IOMMU_GET_INFO, &info));
	EXPECT_EQ(-ENOTTY, xioctl(self->container, VFIO_IOMMU_DIRTY_PAGES, &dirty));
	munmap(buf, 4096);
}

/*
 * The device fd: only with the backend set, then as with an IOMMU (config space, BAR0 by
 * pread and mmap); its open is logged with the opener's name and pid.
 */
TEST_F(noiommu, device_fd)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info bar0;
	char line[128], sysfs_cfg[4];
	volatile __u32 *regs;
	__u32 status;
	int fd;

	ASSERT_EQ(0, set_container(self->nic_group, self->container));
	EXPECT_EQ(-1, ioctl(self->nic_group, VFIO_GROUP_GET_DEVICE_FD, self->nic));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, set_iommu(self->container, VFIO_NOIOMMU_IOMMU));
	fd = ioctl(self->nic_group, VFIO_GROUP_GET_DEVICE_FD, self->nic);
	ASSERT_LE(0, fd) TH_LOG("GET_DEVICE_FD %s: %s", self->nic, strerror(errno));
	snprintf(line, sizeof(line), "vfio-noiommu device opened by user (noiommu_test:%d)",
		 getpid());
	EXPECT_TRUE(kernel_log_has(line)) TH_LOG("no \"%s\" in the kernel log", line);
	/* The edu is in another group: not through this one. */
	EXPECT_EQ(-1, ioctl(self->nic_group, VFIO_GROUP_GET_DEVICE_FD, self->edu));
	EXPECT_EQ(ENODEV, errno);

	ASSERT_EQ(0, ioctl(fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	EXPECT_EQ(VFIO_PCI_NUM_REGIONS, info.num_regions);
	ASSERT_EQ(4, sysfs_config(self->nic, sysfs_cfg, 4));
	EXPECT_EQ(*(__u32 *)sysfs_cfg, cfg_read(fd, 0, 4));
	ASSERT_EQ(0, region_info(fd, VFIO_PCI_BAR0_REGION_INDEX, &bar0));
	ASSERT_TRUE(bar0.flags & VFIO_REGION_INFO_FLAG_MMAP);
	/* The e1000e's STATUS register (0x8), through pread and through the mapping. */
	ASSERT_EQ(0, cfg_command(fd, PCI_COMMAND_MEMORY, 0));
	status = bar_read32(fd, 0, 0x8);
	EXPECT_NE(~0u, status);
	regs = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, bar0.offset);
	ASSERT_NE(MAP_FAILED, regs);
	EXPECT_EQ(status, regs[0x8 / 4]);
	munmap((void *)regs, bar0.size);
	close(fd);
}

/* Two no-IOMMU groups share a container and its backend. */
TEST_F(noiommu, two_groups)
{
	int nic, edu;

	ASSERT_EQ(0, set_container(self->nic_group, self->container));
	ASSERT_EQ(0, set_container(self->edu_group, self->container));
	ASSERT_EQ(0, set_iommu(self->container, VFIO_NOIOMMU_IOMMU));
	nic = ioctl(self->nic_group, VFIO_GROUP_GET_DEVICE_FD, self->nic);
	edu = ioctl(self->edu_group, VFIO_GROUP_GET_DEVICE_FD, self->edu);
	ASSERT_LE(0, nic);
	ASSERT_LE(0, edu);
	EXPECT_EQ(0x11e8, cfg_read(edu, PCI_DEVICE_ID, 2));
	/* With a device open the group stays in the container. */
	EXPECT_EQ(-EBUSY, xioctl(self->edu_group, VFIO_GROUP_UNSET_CONTAINER, NULL));
	close(edu);
	EXPECT_EQ(0, xioctl(self->edu_group, VFIO_GROUP_UNSET_CONTAINER, NULL));
	/* The last group out takes the backend; the nic's device keeps its fd meanwhile. */
	EXPECT_EQ(0x10d3, cfg_read(nic, PCI_DEVICE_ID, 2));
	close(nic);
	EXPECT_EQ(0, xioctl(self->nic_group, VFIO_GROUP_UNSET_CONTAINER, NULL));
	EXPECT_EQ(-EINVAL, set_iommu(self->container, VFIO_NOIOMMU_IOMMU));
}

/*
 * Without an IOMMU, DMA addresses are physical: edu copies a page of ours into its buffer
 * and back into another page, at the addresses pagemap gives.
 */
TEST_F(noiommu, physical_dma)
{
	long page = sysconf(_SC_PAGESIZE);
	__u8 *buf;
	__u64 src, dst;
	int edu;

	ASSERT_EQ(0, set_container(self->edu_group, self->container));
	ASSERT_EQ(0, set_iommu(self->container, VFIO_NOIOMMU_IOMMU));
	edu = ioctl(self->edu_group, VFIO_GROUP_GET_DEVICE_FD, self->edu);
	ASSERT_LE(0, edu);
	buf = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	fill_pattern(buf, page, 0x5eed);
	memset(buf + page, 0, page);
	src = phys_addr(buf);
	dst = phys_addr(buf + page);
	ASSERT_NE(0, src);
	ASSERT_NE(0, dst);
	ASSERT_EQ(0, cfg_command(edu, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0));
	ASSERT_EQ(0, edu_dma(edu, src, EDU_DMA_BUF, EDU_DMA_BUF_SIZE, 0, 1));
	ASSERT_EQ(0, edu_dma(edu, EDU_DMA_BUF, dst, EDU_DMA_BUF_SIZE, EDU_DMA_TO_RAM, 1));
	EXPECT_TRUE(pattern_matches(buf + page, EDU_DMA_BUF_SIZE, 0x5eed));
	cfg_command(edu, 0, PCI_COMMAND_MASTER);
	munmap(buf, 2 * page);
	close(edu);
}

static int open_group_of(void *arg)
{
	int fd = open_noiommu_group(arg);

	if (fd >= 0)
		close(fd);
	return fd < 0 ? -errno : 0;
}

struct fds {
	int group;
	int container;
	const char *bdf;
};

static int attach(void *arg)
{
	struct fds *fds = arg;

	return set_container(fds->group, fds->container);
}

static int set_noiommu(void *arg)
{
	struct fds *fds = arg;

	return set_iommu(fds->container, VFIO_NOIOMMU_IOMMU);
}

static int get_device(void *arg)
{
	struct fds *fds = arg;
	int fd = ioctl(fds->group, VFIO_GROUP_GET_DEVICE_FD, fds->bdf);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/*
 * CAP_SYS_RAWIO: needed to open a no-IOMMU group, to attach one, to set the backend and for
 * a device's first open; not for another fd of a device that is open already.
 */
TEST_F(noiommu, rawio)
{
	struct fds fds = { .group = self->nic_group, .container = self->container,
			   .bdf = self->nic };
	int fd;

	/* Our own group file is closed first: open is exclusive. */
	close(self->edu_group);
	EXPECT_EQ(-EPERM, without_rawio(open_group_of, (void *)self->edu));
	self->edu_group = open_noiommu_group(self->edu);
	ASSERT_LE(0, self->edu_group);

	EXPECT_EQ(-EPERM, without_rawio(attach, &fds));
	ASSERT_EQ(0, set_container(self->nic_group, self->container));
	EXPECT_EQ(-EPERM, without_rawio(set_noiommu, &fds));
	EXPECT_EQ(0, check_extension(self->container, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, set_iommu(self->container, VFIO_NOIOMMU_IOMMU));
	EXPECT_EQ(-EPERM, without_rawio(get_device, &fds));
	fd = ioctl(self->nic_group, VFIO_GROUP_GET_DEVICE_FD, self->nic);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, without_rawio(get_device, &fds));
	close(fd);
	/* Closed again, the next open is a first one. */
	EXPECT_EQ(-EPERM, without_rawio(get_device, &fds));
}

/*
 * The mode is read at each query: switched off, the backend is no longer offered (an empty
 * container's CHECK_EXTENSION, SET_IOMMU of one with a no-IOMMU group), while what was set
 * up keeps working; devices bound meanwhile get no group.
 */
TEST_F(noiommu, mode_off)
{
	int other = open("/dev/vfio/vfio", O_RDWR), fd;

	ASSERT_LE(0, other);
	ASSERT_EQ(0, set_container(self->nic_group, self->container));
	ASSERT_EQ(0, set_iommu(self->container, VFIO_NOIOMMU_IOMMU));
	ASSERT_EQ(0, sysfs_write(NOIOMMU_PARAM, "N"));
	EXPECT_EQ(0, check_extension(other, VFIO_NOIOMMU_IOMMU));
	EXPECT_EQ(0, check_extension(self->container, VFIO_NOIOMMU_IOMMU));
	ASSERT_EQ(0, set_container(self->edu_group, other));
	EXPECT_EQ(-ENODEV, set_iommu(other, VFIO_NOIOMMU_IOMMU));
	fd = ioctl(self->nic_group, VFIO_GROUP_GET_DEVICE_FD, self->nic);
	EXPECT_LE(0, fd);
	EXPECT_EQ(0x10d3, cfg_read(fd, PCI_DEVICE_ID, 2));
	close(fd);
	ASSERT_EQ(0, sysfs_write(NOIOMMU_PARAM, "Y"));
	EXPECT_EQ(0, set_iommu(other, VFIO_NOIOMMU_IOMMU));
	close(other);
}

TEST_HARNESS_MAIN
