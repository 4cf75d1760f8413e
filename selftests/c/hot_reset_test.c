// SPDX-License-Identifier: GPL-2.0
/*
 * Slot and bus resets from userspace: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO and
 * VFIO_DEVICE_PCI_HOT_RESET on device fds opened through their group.
 *
 * INFO lists the functions the reset reaches (each test device sits alone behind its own
 * root port, so just itself), with the address and IOMMU group sysfs shows; a short array is
 * -ENOSPC with the count filled in; bad argsz is -EINVAL. HOT_RESET needs the fd of every
 * affected group: no fds, too many, a non-VFIO fd, a container fd or another group's fd are
 * refused with upstream's errnos. A reset with the right group fd succeeds, really resets the
 * device (igb's registers go back to their defaults), restores its config space (memory
 * decode stays on) and leaves its BAR mmaps working, also for a thread reading them while
 * resets run. Needs edu and igb bound to vfio-pci; only the uAPI is used, so it runs
 * unchanged on upstream's modules.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"

#define PAGE_SZ 4096
#define EDU_ID 0x010000ed

/* Parses "SSSS:BB:DD.F". */
static int parse_bdf(const char *bdf, unsigned int *seg, unsigned int *bus, unsigned int *devfn)
{
	unsigned int dev, fn;

	if (sscanf(bdf, "%x:%x:%x.%x", seg, bus, &dev, &fn) != 4)
		return -1;
	*devfn = dev << 3 | fn;
	return 0;
}

FIXTURE(hot) {
	const char *bdf;
	const char *other_bdf;
	struct vfio_pci_dev dev;
	int other_group;
};

FIXTURE_VARIANT(hot) {
	const char *env;
	const char *other_env;
};

FIXTURE_VARIANT_ADD(hot, edu) {
	.env = "RVFIO_EDU_BDF",
	.other_env = "RVFIO_IGB_BDF",
};

FIXTURE_VARIANT_ADD(hot, igb) {
	.env = "RVFIO_IGB_BDF",
	.other_env = "RVFIO_EDU_BDF",
};

FIXTURE_SETUP(hot)
{
	self->bdf = test_bdf(variant->env);
	self->other_bdf = test_bdf(variant->other_env);
	self->other_group = -1;
	ASSERT_NE(NULL, self->bdf);
	ASSERT_NE(NULL, self->other_bdf);
	ASSERT_EQ(0, vfio_pci_open(&self->dev, self->bdf, VFIO_TYPE1v2_IOMMU));
	self->other_group = open_group(self->other_bdf);
	ASSERT_LE(0, self->other_group);
}

FIXTURE_TEARDOWN(hot)
{
	if (self->other_group >= 0)
		close(self->other_group);
	vfio_pci_close(&self->dev);
}

/* The device alone is affected, with the address and group sysfs shows. */
TEST_F(hot, info)
{
	struct {
		struct vfio_pci_hot_reset_info hdr;
		struct vfio_pci_dependent_device devices[8];
	} buf;
	unsigned int seg, bus, devfn;
	char bdf[32];

	ASSERT_EQ(0, parse_bdf(self->bdf, &seg, &bus, &devfn));
	ASSERT_EQ(0, hot_reset_info(self->dev.fd, &buf.hdr, 8));
	EXPECT_EQ(sizeof(buf.hdr) + 8 * sizeof(buf.devices[0]), buf.hdr.argsz);
	EXPECT_EQ(0, buf.hdr.flags);
	ASSERT_EQ(1, buf.hdr.count);
	EXPECT_EQ(seg, buf.devices[0].segment);
	EXPECT_EQ(bus, buf.devices[0].bus);
	EXPECT_EQ(devfn, buf.devices[0].devfn);
	snprintf(bdf, sizeof(bdf), "%04x:%02x:%02x.%x", buf.devices[0].segment,
		 buf.devices[0].bus, buf.devices[0].devfn >> 3, buf.devices[0].devfn & 7);
	EXPECT_EQ(iommu_group_of(bdf), (int)buf.devices[0].group_id);
	EXPECT_EQ(iommu_group_of(self->bdf), (int)buf.devices[0].group_id);
	/* Exactly enough room. */
	ASSERT_EQ(0, hot_reset_info(self->dev.fd, &buf.hdr, 1));
	EXPECT_EQ(1, buf.hdr.count);
}

/* No room for the devices: -ENOSPC, with the count (and flags 0) written back. */
TEST_F(hot, info_enospc)
{
	struct {
		struct vfio_pci_hot_reset_info hdr;
		struct vfio_pci_dependent_device devices[1];
	} buf;

	memset(&buf, 0xa5, sizeof(buf));
	buf.hdr.argsz = sizeof(buf.hdr);
	buf.hdr.flags = 0x5a;
	buf.hdr.count = 77;
	EXPECT_EQ(-ENOSPC, xioctl(self->dev.fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &buf));
	EXPECT_EQ(sizeof(buf.hdr), buf.hdr.argsz);
	EXPECT_EQ(0, buf.hdr.flags);
	EXPECT_EQ(1, buf.hdr.count);
	/* The array was not touched. */
	EXPECT_EQ(0xa5a5, buf.devices[0].segment);
	/* Room for less than one record is no room. */
	buf.hdr.argsz = sizeof(buf.hdr) + sizeof(buf.devices[0]) - 1;
	EXPECT_EQ(-ENOSPC, xioctl(self->dev.fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &buf));
	EXPECT_EQ(1, buf.hdr.count);
}

TEST_F(hot, info_bad_argsz)
{
	struct {
		struct vfio_pci_hot_reset_info hdr;
		struct vfio_pci_dependent_device devices[8];
	} buf;

	memset(&buf, 0, sizeof(buf));
	buf.hdr.argsz = offsetofend(struct vfio_pci_hot_reset_info, count) - 1;
	EXPECT_EQ(-EINVAL, xioctl(self->dev.fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &buf));
	buf.hdr.argsz = 0;
	EXPECT_EQ(-EINVAL, xioctl(self->dev.fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &buf));
	EXPECT_EQ(-EFAULT, xioctl(self->dev.fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, NULL));
}

/* Every way of not proving ownership, and malformed calls. */
TEST_F(hot, reset_errors)
{
	struct vfio_pci_hot_reset hdr;
	__s32 fds[2];
	int efd = new_eventfd();

	ASSERT_LE(0, efd);
	/* No group fds: an empty array is only for cdev-opened devices. */
	EXPECT_EQ(-EINVAL, hot_reset(self->dev.fd, NULL, 0));
	/* More fds than functions affected. */
	fds[0] = fds[1] = self->dev.group;
	EXPECT_EQ(-EINVAL, hot_reset(self->dev.fd, fds, 2));
	/* Not a file, not a VFIO group, not our group. */
	fds[0] = -1;
	EXPECT_EQ(-EBADF, hot_reset(self->dev.fd, fds, 1));
	fds[0] = 1000;
	EXPECT_EQ(-EBADF, hot_reset(self->dev.fd, fds, 1));
	fds[0] = efd;
	EXPECT_EQ(-EINVAL, hot_reset(self->dev.fd, fds, 1));
	fds[0] = self->dev.container;
	EXPECT_EQ(-EINVAL, hot_reset(self->dev.fd, fds, 1));
	fds[0] = self->dev.fd;
	EXPECT_EQ(-EINVAL, hot_reset(self->dev.fd, fds, 1));
	fds[0] = self->other_group;
	EXPECT_EQ(-EINVAL, hot_reset(self->dev.fd, fds, 1));
	/* Flags, argsz. */
	memset(&hdr, 0, sizeof(hdr));
	hdr.argsz = sizeof(hdr) + 4;
	hdr.flags = 1;
	hdr.count = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->dev.fd, VFIO_DEVICE_PCI_HOT_RESET, &hdr));
	hdr.flags = 0;
	hdr.argsz = sizeof(hdr) - 1;
	EXPECT_EQ(-EINVAL, xioctl(self->dev.fd, VFIO_DEVICE_PCI_HOT_RESET, &hdr));
	EXPECT_EQ(-EFAULT, xioctl(self->dev.fd, VFIO_DEVICE_PCI_HOT_RESET, NULL));
	close(efd);
	/* Nothing was left behind: the right fd works. */
	fds[0] = self->dev.group;
	EXPECT_EQ(0, hot_reset(self->dev.fd, fds, 1));
}

/*
 * A reset with the right group: config space comes back (memory decode on, as the user set
 * it), and so does every BAR mapping.
 */
TEST_F(hot, reset_restores)
{
	struct vfio_region_info info;
	__u8 before[64], after[64];
	volatile __u32 *bar0;
	__s32 fds[1] = { self->dev.group };
	int i;

	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MEMORY, 0));
	ASSERT_EQ(0, region_info(self->dev.fd, 0, &info));
	ASSERT_TRUE(info.flags & VFIO_REGION_INFO_FLAG_MMAP);
	bar0 = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, self->dev.fd,
		    REGION_OFFSET(0));
	ASSERT_NE(MAP_FAILED, bar0);
	(void)bar0[0];
	ASSERT_EQ(64, sysfs_config(self->bdf, before, sizeof(before)));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, hot_reset(self->dev.fd, fds, 1));
	ASSERT_EQ(64, sysfs_config(self->bdf, after, sizeof(after)));
	/* The header as the hardware has it, BARs and COMMAND included. */
	EXPECT_EQ(0, memcmp(before, after, sizeof(before)));
	EXPECT_TRUE(after[PCI_COMMAND] & PCI_COMMAND_MEMORY);
	EXPECT_TRUE(cfg_read(self->dev.fd, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY);
	if (!strcmp(self->bdf, test_bdf("RVFIO_EDU_BDF"))) {
		EXPECT_EQ(EDU_ID, bar0[EDU_REG_ID / 4]);
		bar0[EDU_REG_LIVENESS / 4] = 0x12345678;
		EXPECT_EQ(~0x12345678U, bar0[EDU_REG_LIVENESS / 4]);
	} else {
		/* igb STATUS (0x8) through the mapping and through read(). */
		EXPECT_EQ(bar_read32(self->dev.fd, 0, 0x8), bar0[0x8 / 4]);
	}
	munmap((void *)bar0, PAGE_SZ);
}

/* igb: a hot reset really resets the device: RDBAL0 (0xc000) goes back to 0. */
TEST_F(hot, reset_resets_device)
{
	__s32 fds[1] = { self->dev.group };
	const off_t rdbal0 = 0xc000;

	if (strcmp(self->bdf, test_bdf("RVFIO_IGB_BDF")))
		SKIP(return, "igb only (edu keeps its registers across resets)");
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MEMORY, 0));
	ASSERT_EQ(0, bar_write32(self->dev.fd, 0, rdbal0, 0x12345000));
	ASSERT_EQ(0x12345000, bar_read32(self->dev.fd, 0, rdbal0));
	ASSERT_EQ(0, hot_reset(self->dev.fd, fds, 1));
	EXPECT_EQ(0, bar_read32(self->dev.fd, 0, rdbal0));
}

/* A thread reading through the mapping while resets run sees the device every time. */
struct reader {
	volatile __u32 *reg;
	__u32 expect;
	atomic_int stop;
	atomic_long reads;
	atomic_long wrong;
};

static void *read_loop(void *arg)
{
	struct reader *r = arg;

	while (!atomic_load(&r->stop)) {
		if (*r->reg != r->expect)
			atomic_fetch_add(&r->wrong, 1);
		atomic_fetch_add(&r->reads, 1);
	}
	return NULL;
}

TEST_F(hot, reset_under_mmap_reader)
{
	__s32 fds[1] = { self->dev.group };
	struct reader r = { 0 };
	volatile __u32 *bar0;
	pthread_t thread;
	long before;
	int i;

	if (strcmp(self->bdf, test_bdf("RVFIO_EDU_BDF")))
		SKIP(return, "edu only (a constant register to read)");
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MEMORY, 0));
	bar0 = mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd, REGION_OFFSET(0));
	ASSERT_NE(MAP_FAILED, bar0);
	r.reg = &bar0[EDU_REG_ID / 4];
	r.expect = EDU_ID;
	ASSERT_EQ(0, pthread_create(&thread, NULL, read_loop, &r));
	for (i = 0; i < 20; i++) {
		int ret, tries = 0;

		before = atomic_load(&r.reads);
		/*
		 * Upstream takes each device's memory_lock with a trylock and answers -EBUSY
		 * while a fault on the BAR holds it (vfio_pci_dev_set_hot_reset()): a user
		 * retries. rvfio waits for the calling device's own locks instead.
		 */
		while ((ret = hot_reset(self->dev.fd, fds, 1)) == -EBUSY && ++tries < 1000)
			usleep(100);
		ASSERT_EQ(0, ret);
		/* Let the reader fault the mapping back in before the next one. */
		while (atomic_load(&r.reads) < before + 10)
			usleep(100);
	}
	atomic_store(&r.stop, 1);
	pthread_join(thread, NULL);
	EXPECT_EQ(0, atomic_load(&r.wrong));
	EXPECT_LT(200, atomic_load(&r.reads));
	munmap((void *)bar0, PAGE_SZ);
}

TEST_HARNESS_MAIN
