// SPDX-License-Identifier: GPL-2.0
/*
 * A short IOMMU unmap must not unpin what the IOMMU still maps. Fault injection
 * (CONFIG_FAIL_FUNCTION, /sys/kernel/debug/fail_function) makes vfio.ko's
 * rvfio_iommu_unmap() (rust/kernel_ext/iommu/iommu_inject.c) return 0 without unmapping anything, once.
 * UNMAP_DMA then reports the mapping gone, as upstream's does when its IOMMU fails it,
 * but no page of it is unpinned: the FOLL_PIN counters of /proc/vmstat do not come back,
 * and edu's DMA engine still reaches the user's own pages through the IOVA the IOMMU
 * kept, so they were neither freed nor reused. The kernel log names the leak.
 *
 * rvfio only (the wrapper is ours), on a kernel with CONFIG_FAIL_FUNCTION (the debug
 * kernel): tests.txt names it *_fault, which run-tests.sh runs nowhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"
#include "vfio_test_util.h"

#define PAGE_SZ 4096UL
#define NPAGES 16
#define IOVA 0x100000ULL
#define FAIL_DIR "/sys/kernel/debug/fail_function/"
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* Writes @value to fail_function's attribute @name; 0 or -errno. */
static int fail_attr(const char *name, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), FAIL_DIR "%s", name);
	return sysfs_write(path, value);
}

/* fail_function's remaining failures ("times"), or -1. */
static long fail_times_left(void)
{
	return sysfs_long(FAIL_DIR "times");
}

/* Makes the next call of rvfio_iommu_unmap() (only) come up short. */
static int arm_short_unmap(void)
{
	if (fail_attr("inject", "rvfio_iommu_unmap") || fail_attr("probability", "100") ||
	    fail_attr("interval", "1") || fail_attr("verbose", "0") || fail_attr("times", "1"))
		return -1;
	return 0;
}

static void disarm(void)
{
	fail_attr("inject", "");
}

/* Fills @p with a pattern of @seed. */
static void fill(__u8 *p, size_t size, __u8 seed)
{
	size_t i;

	for (i = 0; i < size; i++)
		p[i] = (__u8)(seed * 37 + i * 11);
}

/* Copies IOVA @from to IOVA @to through edu's buffer; 0 or -1. */
static int device_copy(int fd, __u64 from, __u64 to)
{
	if (edu_dma(fd, from, EDU_DMA_BUF, PAGE_SZ, 0, 1))
		return -1;
	return edu_dma(fd, EDU_DMA_BUF, to, PAGE_SZ, EDU_DMA_TO_RAM, 1);
}

FIXTURE(fault) {
	struct vfio_pci_dev dev;
	__u8 *buf;
};

FIXTURE_SETUP(fault)
{
	const char *bdf = test_bdf("RVFIO_EDU_BDF");

	ASSERT_NE(NULL, bdf);
	ASSERT_EQ(0, access(FAIL_DIR "inject", W_OK))
		TH_LOG("no fail_function (CONFIG_FAIL_FUNCTION) in debugfs");
	ASSERT_EQ(0, vfio_pci_open(&self->dev, bdf, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0));
	self->buf = mmap(NULL, NPAGES * PAGE_SZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	fill(self->buf, NPAGES * PAGE_SZ, 1);
}

FIXTURE_TEARDOWN(fault)
{
	disarm();
	vfio_pci_close(&self->dev);
}

TEST_F(fault, short_unmap_keeps_pages_pinned)
{
	int fd = self->dev.fd, container = self->dev.container;
	long long pins0 = pinned_pages(), pins;

	ASSERT_LE(0, pins0);
	ASSERT_EQ(0, type1_map(container, self->buf, IOVA, NPAGES * PAGE_SZ, RW));
	pins = pinned_pages();
	ASSERT_EQ(pins0 + NPAGES, pins);
	/* The mapping works: page 0 copied to page 1 by the device. */
	ASSERT_EQ(0, device_copy(fd, IOVA, IOVA + PAGE_SZ));
	ASSERT_EQ(0, memcmp(self->buf, self->buf + PAGE_SZ, PAGE_SZ));

	ASSERT_EQ(0, arm_short_unmap());
	EXPECT_EQ(0, type1_unmap(container, IOVA, NPAGES * PAGE_SZ));
	EXPECT_EQ(0, fail_times_left()) TH_LOG("the injected failure did not happen");
	disarm();

	/* Not one page unpinned: the IOMMU still maps all of them. */
	EXPECT_EQ(pins, pinned_pages_settle(pins));
	/* And the device still reaches the user's own pages through the IOVA. */
	fill(self->buf + 2 * PAGE_SZ, PAGE_SZ, 2);
	ASSERT_EQ(0, device_copy(fd, IOVA + 2 * PAGE_SZ, IOVA + 3 * PAGE_SZ));
	EXPECT_EQ(0, memcmp(self->buf + 2 * PAGE_SZ, self->buf + 3 * PAGE_SZ, PAGE_SZ));

	/*
	 * The IOVA range is free again for the user, as upstream's: a new mapping over it
	 * fails where the IOMMU refuses to map over what it still maps, and then releases
	 * what it pinned; none of the leaked pages comes back either way.
	 */
	if (type1_map(container, self->buf, IOVA, NPAGES * PAGE_SZ, RW) == 0) {
		TH_LOG("the IOMMU mapped over the leaked range");
		EXPECT_EQ(pins + NPAGES, pinned_pages());
		EXPECT_EQ(0, type1_unmap(container, IOVA, NPAGES * PAGE_SZ));
	}
	EXPECT_EQ(pins, pinned_pages_settle(pins));
	vfio_pci_close(&self->dev);
	EXPECT_EQ(pins, pinned_pages_settle(pins));
}

/* Without the injection, the same unmap gives every pin back: the test can tell. */
TEST_F(fault, full_unmap_unpins)
{
	long long pins0 = pinned_pages();

	ASSERT_EQ(0, type1_map(self->dev.container, self->buf, IOVA, NPAGES * PAGE_SZ, RW));
	EXPECT_EQ(pins0 + NPAGES, pinned_pages());
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA, NPAGES * PAGE_SZ));
	EXPECT_EQ(pins0, pinned_pages_settle(pins0));
	/* Unmapped: the device's DMA no longer reaches the pages (it faults). */
	memset(self->buf + PAGE_SZ, 0, PAGE_SZ);
	device_copy(self->dev.fd, IOVA, IOVA + PAGE_SZ);
	EXPECT_FALSE(memcmp(self->buf + PAGE_SZ, self->buf, PAGE_SZ) == 0);
}

TEST_HARNESS_MAIN
