// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty page tracking of type1v2 (VFIO_IOMMU_DIRTY_PAGES: START, STOP, GET_BITMAP; and
 * UNMAP_DMA's GET_DIRTY_BITMAP), what QEMU's live migration with the legacy container
 * uses. With an IOMMU-backed device every page of every mapping is dirty at each query;
 * the bitmap words are checked exactly as upstream writes them (a mapping's bits in whole
 * words: ORed into a first word it shares, zeros above it in a word of its own), with
 * every errno of the argument checks. On edu bound to vfio-pci
 * (RVFIO_EDU_BDF); only the uAPI is used, so it runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"
#include "vfio_test_util.h"

#define PG 0x1000ULL
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define PATTERN 0xaaaaaaaaaaaaaaaaULL

/* VFIO_IOMMU_DIRTY_PAGES with @flags alone; 0 or -errno. */
static int dirty_flags(int container, __u32 flags)
{
	struct vfio_iommu_type1_dirty_bitmap dirty = { .argsz = sizeof(dirty), .flags = flags };

	return xioctl(container, VFIO_IOMMU_DIRTY_PAGES, &dirty);
}

struct get_bitmap {
	struct vfio_iommu_type1_dirty_bitmap dirty;
	struct vfio_iommu_type1_dirty_bitmap_get range;
};

/* GET_BITMAP of [@iova, @iova + @size) into @bitmap (@bytes long, one bit per @pgsize). */
static int get_bitmap(int container, __u64 iova, __u64 size, __u64 pgsize, void *bitmap,
		      __u64 bytes)
{
	struct get_bitmap get = {
		.dirty = { .argsz = sizeof(get), .flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP },
		.range = { .iova = iova, .size = size,
			   .bitmap = { .pgsize = pgsize, .size = bytes, .data = bitmap } },
	};

	return xioctl(container, VFIO_IOMMU_DIRTY_PAGES, &get);
}

struct unmap_bitmap {
	struct vfio_iommu_type1_dma_unmap unmap;
	struct vfio_bitmap bitmap;
};

/* UNMAP_DMA with GET_DIRTY_BITMAP (and @flags); the size unmapped, or -errno. */
static long long unmap_dirty(int container, __u64 iova, __u64 size, __u32 flags,
			     __u64 pgsize, void *bitmap, __u64 bytes)
{
	struct unmap_bitmap u = {
		.unmap = { .argsz = sizeof(u),
			   .flags = VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP | flags,
			   .iova = iova, .size = size },
		.bitmap = { .pgsize = pgsize, .size = bytes, .data = bitmap },
	};
	int ret = xioctl(container, VFIO_IOMMU_UNMAP_DMA, &u);

	return ret ? ret : (long long)u.unmap.size;
}

FIXTURE(dirty) {
	struct vfio_pci_dev dev;
	void *buf;
	void *none;	/* a page that faults: an unwritable bitmap */
};

FIXTURE_SETUP(dirty)
{
	ASSERT_EQ(0, vfio_pci_open(&self->dev, test_bdf("RVFIO_EDU_BDF"), VFIO_TYPE1v2_IOMMU));
	self->buf = mmap(NULL, 128 * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
	self->none = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->none);
}

FIXTURE_TEARDOWN(dirty)
{
	vfio_pci_close(&self->dev);
	munmap(self->buf, 128 * PG);
	munmap(self->none, PG);
}

/* Mappings A = [0, 16 pages), B = [16, 24) and C = [100, 104). */
static int map_abc(FIXTURE_DATA(dirty) *self)
{
	int c = self->dev.container;

	return type1_map(c, self->buf, 0, 16 * PG, RW) ?:
	       type1_map(c, self->buf + 16 * PG, 16 * PG, 8 * PG, RW) ?:
	       type1_map(c, self->buf + 100 * PG, 100 * PG, 4 * PG, RW);
}

TEST(v1_is_eacces)
{
	struct vfio_pci_dev dev;

	ASSERT_EQ(0, vfio_pci_open(&dev, test_bdf("RVFIO_EDU_BDF"), VFIO_TYPE1_IOMMU));
	EXPECT_EQ(-EACCES, dirty_flags(dev.container, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	EXPECT_EQ(-EACCES, dirty_flags(dev.container, 0));
	vfio_pci_close(&dev);
}

TEST_F(dirty, flag_errors)
{
	struct vfio_iommu_type1_dirty_bitmap short_arg = {
		.argsz = 4, .flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_START
	};
	int c = self->dev.container;

	EXPECT_EQ(-EINVAL, dirty_flags(c, 0));
	EXPECT_EQ(-EINVAL, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START |
					  VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));
	EXPECT_EQ(-EINVAL, dirty_flags(c, 1 << 3));
	EXPECT_EQ(-EINVAL, xioctl(c, VFIO_IOMMU_DIRTY_PAGES, &short_arg));
	EXPECT_EQ(-EFAULT, xioctl(c, VFIO_IOMMU_DIRTY_PAGES, NULL));
	/* START and STOP are idempotent. */
	EXPECT_EQ(0, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	EXPECT_EQ(0, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	EXPECT_EQ(0, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));
	EXPECT_EQ(0, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));
}

/* Without tracking, neither query works, and the failed unmap leaves the mapping. */
TEST_F(dirty, bitmaps_need_tracking)
{
	__u64 bitmap[2] = { 0 };
	int c = self->dev.container;

	ASSERT_EQ(0, map_abc(self));
	EXPECT_EQ(-EINVAL, get_bitmap(c, 0, 24 * PG, PG, bitmap, sizeof(bitmap)));
	EXPECT_EQ(-EINVAL, unmap_dirty(c, 0, 16 * PG, 0, PG, bitmap, sizeof(bitmap)));
	EXPECT_EQ(0, type1_unmap(c, 0, 16 * PG));
	ASSERT_EQ(0, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	ASSERT_EQ(0, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));
	EXPECT_EQ(-EINVAL, get_bitmap(c, 16 * PG, 8 * PG, PG, bitmap, sizeof(bitmap)));
	EXPECT_EQ(0, bitmap[0]);
}

/*
 * The words as upstream writes them into fresh bitmaps (upstream's per-mapping bitmaps
 * carry stale bits into later queries of a mapping that starts inside a word: every query
 * here is of mappings that either start on a word boundary or were not queried since
 * tracking started).
 */
TEST_F(dirty, bitmap_words)
{
	__u64 bitmap[3] = { PATTERN, PATTERN, PATTERN };
	int c = self->dev.container;

	ASSERT_EQ(0, map_abc(self));
	ASSERT_EQ(0, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	/*
	 * A's word written whole (its bits, zeros above); B, inside that word, ORed in; C,
	 * inside the next word, ORed into the user's bits; the gap and what follows untouched.
	 */
	ASSERT_EQ(0, get_bitmap(c, 0, 104 * PG, PG, bitmap, 16));
	EXPECT_EQ(0xffffffULL, bitmap[0]);
	EXPECT_EQ(PATTERN | (0xfULL << 36), bitmap[1]);
	EXPECT_EQ(PATTERN, bitmap[2]);
	/* Still dirty at the next query of A. */
	bitmap[0] = PATTERN;
	ASSERT_EQ(0, get_bitmap(c, 0, 16 * PG, PG, bitmap, 8));
	EXPECT_EQ(0xffffULL, bitmap[0]);
	bitmap[0] = PATTERN;
	ASSERT_EQ(0, get_bitmap(c, 0, 16 * PG, PG, bitmap, 8));
	EXPECT_EQ(0xffffULL, bitmap[0]);
	/* Tracking started afresh; a range from B, with bits from B's first page. */
	ASSERT_EQ(0, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));
	ASSERT_EQ(0, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	bitmap[0] = PATTERN;
	ASSERT_EQ(0, get_bitmap(c, 16 * PG, 8 * PG, PG, bitmap, 8));
	EXPECT_EQ(0xffULL, bitmap[0]);
	/* A range holding no mapping leaves the bitmap alone. */
	bitmap[0] = PATTERN;
	ASSERT_EQ(0, get_bitmap(c, 40 * PG, 8 * PG, PG, bitmap, 8));
	EXPECT_EQ(PATTERN, bitmap[0]);
}

TEST_F(dirty, bitmap_errors)
{
	struct get_bitmap short_get = {
		.dirty = { .argsz = sizeof(short_get) - 1,
			   .flags = VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP },
	};
	__u64 bitmap[2] = { 0 };
	int c = self->dev.container;

	ASSERT_EQ(0, map_abc(self));
	ASSERT_EQ(0, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	EXPECT_EQ(-EINVAL, xioctl(c, VFIO_IOMMU_DIRTY_PAGES, &short_get));
	EXPECT_EQ(-EINVAL, get_bitmap(c, 0, 0, PG, bitmap, 8));
	EXPECT_EQ(-EOVERFLOW, get_bitmap(c, 2 * PG, ~0ULL, PG, bitmap, 8));
	/* Only the IOMMU's smallest page, aligned ranges, a big enough user bitmap. */
	EXPECT_EQ(-EINVAL, get_bitmap(c, 0, 24 * PG, 2 * PG, bitmap, 8));
	EXPECT_EQ(-EINVAL, get_bitmap(c, 0x800, 24 * PG, PG, bitmap, 8));
	EXPECT_EQ(-EINVAL, get_bitmap(c, 0, 24 * PG + 0x800, PG, bitmap, 8));
	EXPECT_EQ(-EINVAL, get_bitmap(c, 0, 104 * PG, PG, bitmap, 8));
	EXPECT_EQ(-EINVAL, get_bitmap(c, 0, 24 * PG, PG, bitmap, 0));
	EXPECT_EQ(-EINVAL, get_bitmap(c, 0, 24 * PG, PG, (void *)0xffff888000000000ULL, 8));
	/* Mappings may not be split at either end. */
	EXPECT_EQ(-EINVAL, get_bitmap(c, 4 * PG, 20 * PG, PG, bitmap, 8));
	EXPECT_EQ(-EINVAL, get_bitmap(c, 0, 8 * PG, PG, bitmap, 8));
	/* A user address that cannot be written. */
	EXPECT_EQ(-EFAULT, get_bitmap(c, 0, 24 * PG, PG, self->none, 8));
	EXPECT_EQ(0, bitmap[0]);
}

TEST_F(dirty, unmap_with_bitmap)
{
	__u64 bitmap[1] = { 0 };
	int c = self->dev.container;

	ASSERT_EQ(0, map_abc(self));
	ASSERT_EQ(0, dirty_flags(c, VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
	EXPECT_EQ(-EINVAL, unmap_dirty(c, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, PG, bitmap, 8));
	EXPECT_EQ(-EINVAL, unmap_dirty(c, 0, 16 * PG, VFIO_DMA_UNMAP_FLAG_VADDR, PG, bitmap, 8));
	EXPECT_EQ(-EINVAL, unmap_dirty(c, 0, 16 * PG, 0, 2 * PG, bitmap, 8));
	EXPECT_EQ(-EINVAL, unmap_dirty(c, 0, 16 * PG, 0, PG, bitmap, 0));
	/* An unwritable bitmap fails the unmap with the mapping left in place. */
	EXPECT_EQ(-EFAULT, unmap_dirty(c, 16 * PG, 8 * PG, 0, PG, self->none, 8));
	EXPECT_EQ((long long)(8 * PG), unmap_dirty(c, 16 * PG, 8 * PG, 0, PG, bitmap, 8));
	EXPECT_EQ(0xffULL, bitmap[0]);
	/* B is gone; A and C remain. */
	EXPECT_EQ(0, type1_unmap_flags(c, 16 * PG, 8 * PG, 0));
	EXPECT_EQ(0, type1_unmap(c, 0, 16 * PG));
	EXPECT_EQ(0, type1_unmap(c, 100 * PG, 4 * PG));
}

TEST_HARNESS_MAIN
