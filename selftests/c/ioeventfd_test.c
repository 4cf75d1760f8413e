// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO_DEVICE_IOEVENTFD: a BAR write done by the kernel each time an eventfd is signalled.
 * On edu: the write lands (32 bits on the liveness register, 64 bits on the DMA source
 * register) only when signalled, not while memory decode is off, and no more once removed
 * or once the device is closed; duplicates are -EEXIST, removing an unknown one -ENODEV,
 * 1000 per device then -ENOSPC; bad flags, widths, fds, argsz, regions, ranges and igb's
 * MSI-X table are refused with upstream's errnos. Needs edu and igb bound to vfio-pci; only
 * the uAPI is used, so it runs unchanged on upstream's modules.
 */
#include "kselftest_harness.h"
#include "vfio_pci_util.h"

#define EDU_ID 0x010000ed

/* IOEVENTFD with @flags (width) for @fd at region @index, @offset; 0 or -errno. */
static int ioeventfd(int dev, __u32 flags, int index, __u64 offset, __u64 data, __s32 fd)
{
	struct vfio_device_ioeventfd io = {
		.argsz = sizeof(io),
		.flags = flags,
		.offset = REGION_OFFSET(index) + offset,
		.data = data,
		.fd = fd,
	};

	return xioctl(dev, VFIO_DEVICE_IOEVENTFD, &io);
}

static void signal_efd(int efd)
{
	__u64 one = 1;

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		abort();
}

/* Polls BAR0 register @reg of @dev (width 4 or 8) until it reads @want; 0, or -1 after 2 s. */
static int wait_reg(int dev, off_t reg, int width, __u64 want)
{
	__u64 end = now_ms() + 2000, v;

	do {
		v = 0;
		if (pread(dev, &v, width, REGION_OFFSET(0) + reg) == width && v == want)
			return 0;
		usleep(1000);
	} while (now_ms() < end);
	return -1;
}

FIXTURE(edu) {
	const char *bdf;
	struct vfio_pci_dev dev;
	int efd;
};

FIXTURE_SETUP(edu)
{
	self->bdf = test_bdf("RVFIO_EDU_BDF");
	ASSERT_NE(NULL, self->bdf);
	ASSERT_EQ(0, vfio_pci_open(&self->dev, self->bdf, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MEMORY, 0));
	self->efd = new_eventfd();
	ASSERT_LE(0, self->efd);
}

FIXTURE_TEARDOWN(edu)
{
	vfio_pci_close(&self->dev);
	if (self->efd >= 0)
		close(self->efd);
}

TEST_F(edu, write_on_signal)
{
	int fd = self->dev.fd;
	__u64 v = 0;

	ASSERT_EQ(EDU_ID, bar_read32(fd, 0, EDU_REG_ID));
	ASSERT_EQ(0, bar_write32(fd, 0, EDU_REG_LIVENESS, 0));
	ASSERT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 0x1234abcd,
			       self->efd));
	/* Nothing until signalled. */
	usleep(100000);
	EXPECT_EQ(~0U, bar_read32(fd, 0, EDU_REG_LIVENESS));
	signal_efd(self->efd);
	EXPECT_EQ(0, wait_reg(fd, EDU_REG_LIVENESS, 4, ~0x1234abcdU));
	/* Again, after the register changed. */
	ASSERT_EQ(0, bar_write32(fd, 0, EDU_REG_LIVENESS, 7));
	signal_efd(self->efd);
	EXPECT_EQ(0, wait_reg(fd, EDU_REG_LIVENESS, 4, ~0x1234abcdU));

	/* 64 bits: edu's DMA source address register. */
	ASSERT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_64, 0, EDU_REG_DMA_SRC,
			       0x0000123456789000ULL, self->efd));
	signal_efd(self->efd);
	EXPECT_EQ(0, wait_reg(fd, EDU_REG_DMA_SRC, 8, 0x0000123456789000ULL));
	ASSERT_EQ(8, pread(fd, &v, 8, REGION_OFFSET(0) + EDU_REG_DMA_SRC));
	EXPECT_EQ(0x0000123456789000ULL, v);

	/* Removed: no more writes. */
	ASSERT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 0x1234abcd, -1));
	ASSERT_EQ(0, bar_write32(fd, 0, EDU_REG_LIVENESS, 5));
	signal_efd(self->efd);
	usleep(200000);
	EXPECT_EQ(~5U, bar_read32(fd, 0, EDU_REG_LIVENESS));
}

/* While memory decode is off the write is dropped, not deferred. */
TEST_F(edu, memory_off)
{
	int fd = self->dev.fd;

	ASSERT_EQ(0, bar_write32(fd, 0, EDU_REG_LIVENESS, 3));
	ASSERT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 9, self->efd));
	ASSERT_EQ(0, cfg_command(fd, 0, PCI_COMMAND_MEMORY));
	signal_efd(self->efd);
	usleep(200000);
	ASSERT_EQ(0, cfg_command(fd, PCI_COMMAND_MEMORY, 0));
	usleep(100000);
	EXPECT_EQ(~3U, bar_read32(fd, 0, EDU_REG_LIVENESS));
	signal_efd(self->efd);
	EXPECT_EQ(0, wait_reg(fd, EDU_REG_LIVENESS, 4, ~9U));
}

/* Closing the device frees its ioeventfds: a signal after reopening writes nothing. */
TEST_F(edu, freed_at_close)
{
	ASSERT_EQ(0, ioeventfd(self->dev.fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 9,
			       self->efd));
	vfio_pci_close(&self->dev);
	ASSERT_EQ(0, vfio_pci_open(&self->dev, self->bdf, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MEMORY, 0));
	ASSERT_EQ(0, bar_write32(self->dev.fd, 0, EDU_REG_LIVENESS, 4));
	signal_efd(self->efd);
	usleep(200000);
	EXPECT_EQ(~4U, bar_read32(self->dev.fd, 0, EDU_REG_LIVENESS));
	/* And the same one can be registered again. */
	EXPECT_EQ(0, ioeventfd(self->dev.fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 9,
			       self->efd));
}

TEST_F(edu, duplicates_and_removal)
{
	int fd = self->dev.fd, efd2 = new_eventfd();

	ASSERT_LE(0, efd2);
	ASSERT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 1, self->efd));
	/* Same BAR, offset, width and data: taken, whatever the eventfd. */
	EXPECT_EQ(-EEXIST, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 1, efd2));
	EXPECT_EQ(-EEXIST, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 1,
				     self->efd));
	/* Any other data or width is another one. */
	EXPECT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 2, self->efd));
	EXPECT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_16, 0, EDU_REG_LIVENESS, 1, self->efd));
	/* Removal matches all four; unknown ones are -ENODEV. */
	EXPECT_EQ(-ENODEV, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 3, -1));
	EXPECT_EQ(-ENODEV, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_8, 0, EDU_REG_LIVENESS, 1, -1));
	EXPECT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 1, -1));
	EXPECT_EQ(-ENODEV, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 1, -1));
	EXPECT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 1, efd2));
	close(efd2);
}

/* 1000 per device, then -ENOSPC; removing one makes room. */
TEST_F(edu, limit)
{
	int fd = self->dev.fd, i;

	for (i = 0; i < 1000; i++)
		ASSERT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, 0x1000, i, self->efd))
			TH_LOG("ioeventfd %d", i);
	EXPECT_EQ(-ENOSPC, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, 0x1000, i, self->efd));
	/* Duplicates and removals are checked before the limit. */
	EXPECT_EQ(-EEXIST, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, 0x1000, 5, self->efd));
	EXPECT_EQ(-ENODEV, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, 0x1000, i, -1));
	EXPECT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, 0x1000, 5, -1));
	EXPECT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, 0x1000, i, self->efd));
}

TEST_F(edu, errors)
{
	struct vfio_device_ioeventfd io;
	int fd = self->dev.fd;

	/* Width: exactly one of 1, 2, 4, 8; no other flag. */
	EXPECT_EQ(-EINVAL, ioeventfd(fd, 0, 0, EDU_REG_LIVENESS, 1, self->efd));
	EXPECT_EQ(-EINVAL, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32 | VFIO_DEVICE_IOEVENTFD_16, 0,
				     EDU_REG_LIVENESS, 1, self->efd));
	EXPECT_EQ(-EINVAL, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32 | 0x10, 0, EDU_REG_LIVENESS, 1,
				     self->efd));
	/* fd below -1, not a file, not an eventfd. */
	EXPECT_EQ(-EINVAL, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 1, -2));
	EXPECT_EQ(-EBADF, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 1, 1000));
	EXPECT_EQ(-EINVAL, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, EDU_REG_LIVENESS, 1, fd));
	/* BARs only, within the BAR; edu has no BAR1. */
	EXPECT_EQ(-EINVAL, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, VFIO_PCI_CONFIG_REGION_INDEX,
				     0, 1, self->efd));
	EXPECT_EQ(-EINVAL, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, VFIO_PCI_ROM_REGION_INDEX, 0,
				     1, self->efd));
	EXPECT_EQ(-EINVAL, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 1, 0, 1, self->efd));
	EXPECT_EQ(-EINVAL, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, (1 << 20) - 2, 1,
				     self->efd));
	EXPECT_EQ(-EINVAL, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_64, 0, (1 << 20) - 4, 1,
				     self->efd));
	EXPECT_EQ(0, ioeventfd(fd, VFIO_DEVICE_IOEVENTFD_32, 0, (1 << 20) - 4, 1, self->efd));
	/* argsz must cover fd, not the reserved field after it. */
	memset(&io, 0, sizeof(io));
	io.flags = VFIO_DEVICE_IOEVENTFD_32;
	io.offset = EDU_REG_LIVENESS;
	io.fd = self->efd;
	io.argsz = offsetofend(struct vfio_device_ioeventfd, fd) - 1;
	EXPECT_EQ(-EINVAL, xioctl(fd, VFIO_DEVICE_IOEVENTFD, &io));
	io.argsz = offsetofend(struct vfio_device_ioeventfd, fd);
	EXPECT_EQ(0, xioctl(fd, VFIO_DEVICE_IOEVENTFD, &io));
	EXPECT_EQ(-EFAULT, xioctl(fd, VFIO_DEVICE_IOEVENTFD, NULL));
}

/* igb: never on its MSI-X table (BAR3, 10 entries at 0), anywhere else on BAR3 is fine. */
TEST(igb_msix_table)
{
	const char *bdf = test_bdf("RVFIO_IGB_BDF");
	struct vfio_pci_dev dev;
	int efd = new_eventfd();

	ASSERT_NE(NULL, bdf);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfio_pci_open(&dev, bdf, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(-EINVAL, ioeventfd(dev.fd, VFIO_DEVICE_IOEVENTFD_32, 3, 0, 1, efd));
	EXPECT_EQ(-EINVAL, ioeventfd(dev.fd, VFIO_DEVICE_IOEVENTFD_32, 3, 10 * 16 - 4, 1, efd));
	EXPECT_EQ(-EINVAL, ioeventfd(dev.fd, VFIO_DEVICE_IOEVENTFD_64, 3, 10 * 16 - 4, 1, efd));
	EXPECT_EQ(0, ioeventfd(dev.fd, VFIO_DEVICE_IOEVENTFD_32, 3, 10 * 16, 1, efd));
	/* The I/O port BAR too (BAR2). */
	EXPECT_EQ(0, ioeventfd(dev.fd, VFIO_DEVICE_IOEVENTFD_32, 2, 0, 8, efd));
	vfio_pci_close(&dev);
	close(efd);
}

TEST_HARNESS_MAIN
