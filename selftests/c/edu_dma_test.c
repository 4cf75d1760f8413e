// SPDX-License-Identifier: GPL-2.0
/*
 * Device DMA through the IOMMU with QEMU's edu device: its DMA engine copies between its
 * 4 KiB buffer (device address 0x40000) and IOVAs, which the emulated IOMMU (VT-d or AMD-Vi)
 * translates with the mappings this test makes through the type1 container. Data must
 * arrive at the pages mapped at the IOVA (page by page, across page boundaries), and
 * nowhere when the IOVA is not mapped, no longer mapped, or mapped without the access the
 * device makes (read-only mappings block device writes). Completion is also signalled by
 * MSI through VFIO. Runs with TYPE1 and TYPE1v2 on edu (RVFIO_EDU_BDF); only the uAPI is
 * used, so it runs unchanged on upstream's modules.
 *
 * Blocked DMA shows as IOMMU faults in the guest's kernel log ("DMAR: [DMA Write NO_PASID]
 * Request device [01:00.0] fault addr ..." or "Event logged [IO_PAGE_FAULT ..."), which the
 * runner's splat check ignores.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"

#define PAGE_SZ 4096UL
#define NPAGES 16
/* IOVAs below edu's 28-bit DMA mask. */
#define IOVA_SRC 0x100000ULL
#define IOVA_DST 0x200000ULL
#define IOVA_NEVER 0x300000ULL
#define IOVA_HIGH (EDU_DMA_MASK + 1 - NPAGES * PAGE_SZ)

#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* A recognisable pattern for page @seed: no two seeds agree on any 4-byte word. */
static void fill(void *p, size_t size, __u32 seed)
{
	__u32 *w = p;
	size_t i;

	for (i = 0; i < size / 4; i++)
		w[i] = (seed << 20) ^ (__u32)(i * 2654435761U) ^ 0x5a000000;
}

static int matches(const void *p, size_t size, __u32 seed, size_t offset)
{
	__u8 want[PAGE_SZ * 2];

	fill(want, sizeof(want), seed);
	return !memcmp(p, want + offset, size);
}

static int all_bytes(const void *p, size_t size, __u8 val)
{
	const __u8 *b = p;
	size_t i;

	for (i = 0; i < size; i++)
		if (b[i] != val)
			return 0;
	return 1;
}

FIXTURE(dma) {
	struct vfio_pci_dev dev;
	__u8 *src;	/* NPAGES pages each */
	__u8 *dst;
	__u8 *spare;
	int efd;
};

FIXTURE_VARIANT(dma) {
	int iommu_type;
};

FIXTURE_VARIANT_ADD(dma, type1) { .iommu_type = VFIO_TYPE1_IOMMU };
FIXTURE_VARIANT_ADD(dma, type1v2) { .iommu_type = VFIO_TYPE1v2_IOMMU };

static __u8 *anon(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

FIXTURE_SETUP(dma)
{
	const char *bdf = test_bdf("RVFIO_EDU_BDF");

	self->efd = -1;
	self->src = self->dst = self->spare = NULL;
	ASSERT_NE(NULL, bdf);
	ASSERT_EQ(0, vfio_pci_open(&self->dev, bdf, variant->iommu_type));
	/* VFIO leaves bus mastering off; DMA needs it. */
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MASTER, 0));
	ASSERT_EQ(0, bar_write32(self->dev.fd, EDU_BAR, EDU_REG_IRQ_ACK, ~0U));
	ASSERT_EQ(0, edu_dma_wait(self->dev.fd, 5000)) TH_LOG("edu DMA engine busy");
	self->src = anon(NPAGES * PAGE_SZ);
	self->dst = anon(NPAGES * PAGE_SZ);
	self->spare = anon(NPAGES * PAGE_SZ);
	ASSERT_NE(NULL, self->src);
	ASSERT_NE(NULL, self->dst);
	ASSERT_NE(NULL, self->spare);
	self->efd = new_eventfd();
	ASSERT_LE(0, self->efd);
}

FIXTURE_TEARDOWN(dma)
{
	vfio_pci_close(&self->dev);
	if (self->src)
		munmap(self->src, NPAGES * PAGE_SZ);
	if (self->dst)
		munmap(self->dst, NPAGES * PAGE_SZ);
	if (self->spare)
		munmap(self->spare, NPAGES * PAGE_SZ);
	if (self->efd >= 0)
		close(self->efd);
}

/* RAM -> edu: @count bytes from @iova into the device buffer at @buf_off. */
static int to_edu(FIXTURE_DATA(dma) *self, __u64 iova, __u64 buf_off, __u64 count)
{
	return edu_dma(self->dev.fd, iova, EDU_DMA_BUF + buf_off, count, 0, 1);
}

/* edu -> RAM: @count bytes from the device buffer at @buf_off to @iova. */
static int from_edu(FIXTURE_DATA(dma) *self, __u64 buf_off, __u64 iova, __u64 count)
{
	return edu_dma(self->dev.fd, EDU_DMA_BUF + buf_off, iova, count, EDU_DMA_TO_RAM, 1);
}

/* Loads the device buffer with pattern @seed through a scratch mapping of spare. */
static int load_edu(FIXTURE_DATA(dma) *self, __u32 seed)
{
	const __u64 iova = 0x7000000;
	int ret;

	fill(self->spare, PAGE_SZ, seed);
	ret = type1_map(self->dev.container, self->spare, iova, PAGE_SZ, RW);
	if (ret)
		return ret;
	ret = to_edu(self, iova, 0, PAGE_SZ);
	if (type1_unmap(self->dev.container, iova, PAGE_SZ))
		return -1;
	return ret;
}

/* Reads the device buffer into spare (through a scratch mapping). */
static int read_edu(FIXTURE_DATA(dma) *self)
{
	const __u64 iova = 0x7000000;
	int ret;

	memset(self->spare, 0, PAGE_SZ);
	ret = type1_map(self->dev.container, self->spare, iova, PAGE_SZ, RW);
	if (ret)
		return ret;
	ret = from_edu(self, 0, iova, PAGE_SZ);
	if (type1_unmap(self->dev.container, iova, PAGE_SZ))
		return -1;
	return ret;
}

/* RAM -> device -> RAM through two mappings: the data comes back intact. */
TEST_F(dma, round_trip)
{
	fill(self->src, PAGE_SZ, 1);
	memset(self->dst, 0, PAGE_SZ);
	ASSERT_EQ(0, type1_map(self->dev.container, self->src, IOVA_SRC, PAGE_SZ, RW));
	ASSERT_EQ(0, type1_map(self->dev.container, self->dst, IOVA_DST, PAGE_SZ, RW));
	ASSERT_EQ(0, to_edu(self, IOVA_SRC, 0, PAGE_SZ));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST, PAGE_SZ));
	EXPECT_TRUE(matches(self->dst, PAGE_SZ, 1, 0));
	/* The source was only read. */
	EXPECT_TRUE(matches(self->src, PAGE_SZ, 1, 0));

	/* A piece in the middle lands exactly there, nothing around it moves. */
	memset(self->dst, 0xee, PAGE_SZ);
	ASSERT_EQ(0, from_edu(self, 0x100, IOVA_DST + 0x800, 0x80));
	EXPECT_TRUE(all_bytes(self->dst, 0x800, 0xee));
	EXPECT_TRUE(matches(self->dst + 0x800, 0x80, 1, 0x100));
	EXPECT_TRUE(all_bytes(self->dst + 0x880, PAGE_SZ - 0x880, 0xee));
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA_SRC, PAGE_SZ));
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA_DST, PAGE_SZ));
}

/*
 * A multi-page mapping is translated page by page: each page of the IOVA range reaches
 * the matching page of the buffer (whatever physical pages back it), also for a transfer
 * crossing a page boundary, and at the top of the device's 28-bit DMA range.
 */
TEST_F(dma, pages)
{
	__u64 bases[2] = { IOVA_DST, IOVA_HIGH };
	int b, i;

	for (b = 0; b < 2; b++) {
		__u64 base = bases[b];

		TH_LOG("IOVA base %#llx", (unsigned long long)base);
		ASSERT_EQ(0, load_edu(self, 7));
		memset(self->dst, 0, NPAGES * PAGE_SZ);
		ASSERT_EQ(0, type1_map(self->dev.container, self->dst, base, NPAGES * PAGE_SZ, RW));
		for (i = 0; i < NPAGES; i++)
			ASSERT_EQ(0, from_edu(self, i * 64, base + i * PAGE_SZ + i * 64, 64));
		for (i = 0; i < NPAGES; i++) {
			EXPECT_TRUE(all_bytes(self->dst + i * PAGE_SZ, i * 64, 0)) TH_LOG("page %d", i);
			EXPECT_TRUE(matches(self->dst + i * PAGE_SZ + i * 64, 64, 7, i * 64))
				TH_LOG("page %d", i);
		}
		/* A whole buffer's worth across the boundary between pages 3 and 4. */
		memset(self->dst, 0, NPAGES * PAGE_SZ);
		ASSERT_EQ(0, from_edu(self, 0, base + 3 * PAGE_SZ + 0x800, PAGE_SZ));
		EXPECT_TRUE(all_bytes(self->dst, 3 * PAGE_SZ + 0x800, 0));
		EXPECT_TRUE(matches(self->dst + 3 * PAGE_SZ + 0x800, PAGE_SZ, 7, 0));
		EXPECT_TRUE(all_bytes(self->dst + 4 * PAGE_SZ + 0x800, 0x800, 0));
		/* And device reads from the last page. */
		fill(self->dst + (NPAGES - 1) * PAGE_SZ, PAGE_SZ, 8);
		ASSERT_EQ(0, to_edu(self, base + (NPAGES - 1) * PAGE_SZ, 0, PAGE_SZ));
		ASSERT_EQ(0, read_edu(self));
		EXPECT_TRUE(matches(self->spare, PAGE_SZ, 8, 0));
		EXPECT_EQ(0, type1_unmap(self->dev.container, base, NPAGES * PAGE_SZ));
	}
}

/* DMA to an IOVA nobody mapped goes nowhere: the mapped buffers are untouched. */
TEST_F(dma, never_mapped)
{
	fill(self->src, PAGE_SZ, 2);
	memset(self->dst, 0x5a, PAGE_SZ);
	ASSERT_EQ(0, type1_map(self->dev.container, self->src, IOVA_SRC, PAGE_SZ, RW));
	ASSERT_EQ(0, type1_map(self->dev.container, self->dst, IOVA_DST, PAGE_SZ, RW));
	ASSERT_EQ(0, load_edu(self, 3));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_NEVER, PAGE_SZ));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST + PAGE_SZ, PAGE_SZ));
	EXPECT_TRUE(all_bytes(self->dst, PAGE_SZ, 0x5a));
	EXPECT_TRUE(matches(self->src, PAGE_SZ, 2, 0));
	/* The engine still works afterwards. */
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST, PAGE_SZ));
	EXPECT_TRUE(matches(self->dst, PAGE_SZ, 3, 0));
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA_SRC, PAGE_SZ));
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA_DST, PAGE_SZ));
}

/* After UNMAP_DMA the device can no longer reach the buffer; a new map makes it again. */
TEST_F(dma, unmapped)
{
	ASSERT_EQ(0, type1_map(self->dev.container, self->dst, IOVA_DST, PAGE_SZ, RW));
	ASSERT_EQ(0, load_edu(self, 4));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST, PAGE_SZ));
	ASSERT_TRUE(matches(self->dst, PAGE_SZ, 4, 0));

	ASSERT_EQ(0, load_edu(self, 5));
	ASSERT_EQ(0, type1_unmap(self->dev.container, IOVA_DST, PAGE_SZ));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST, PAGE_SZ));
	EXPECT_TRUE(matches(self->dst, PAGE_SZ, 4, 0)) TH_LOG("DMA reached an unmapped buffer");

	/* The same IOVA, now another buffer. */
	memset(self->src, 0, PAGE_SZ);
	ASSERT_EQ(0, type1_map(self->dev.container, self->src, IOVA_DST, PAGE_SZ, RW));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST, PAGE_SZ));
	EXPECT_TRUE(matches(self->src, PAGE_SZ, 5, 0));
	EXPECT_TRUE(matches(self->dst, PAGE_SZ, 4, 0));
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA_DST, PAGE_SZ));

	/* Unmapping one page of a two-page range (v1 splits; v2 unmaps whole mappings only). */
	memset(self->dst, 0x11, 2 * PAGE_SZ);
	ASSERT_EQ(0, type1_map(self->dev.container, self->dst, IOVA_DST, PAGE_SZ, RW));
	ASSERT_EQ(0, type1_map(self->dev.container, self->dst + PAGE_SZ, IOVA_DST + PAGE_SZ, PAGE_SZ, RW));
	ASSERT_EQ(0, type1_unmap(self->dev.container, IOVA_DST + PAGE_SZ, PAGE_SZ));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST + 0x800, PAGE_SZ));
	EXPECT_TRUE(matches(self->dst + 0x800, 0x800, 5, 0));
	EXPECT_TRUE(all_bytes(self->dst + PAGE_SZ, PAGE_SZ, 0x11));
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA_DST, PAGE_SZ));
}

/* Mapping permissions hold for the device: no writes through a read-only mapping. */
TEST_F(dma, read_only_mapping)
{
	ASSERT_EQ(0, load_edu(self, 6));
	memset(self->dst, 0x77, PAGE_SZ);
	ASSERT_EQ(0, type1_map(self->dev.container, self->dst, IOVA_DST, PAGE_SZ,
			     VFIO_DMA_MAP_FLAG_READ));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST, PAGE_SZ));
	EXPECT_TRUE(all_bytes(self->dst, PAGE_SZ, 0x77)) TH_LOG("device wrote a read-only mapping");
	/* Reading through it works. */
	fill(self->dst, PAGE_SZ, 9);
	ASSERT_EQ(0, to_edu(self, IOVA_DST, 0, PAGE_SZ));
	ASSERT_EQ(0, read_edu(self));
	EXPECT_TRUE(matches(self->spare, PAGE_SZ, 9, 0));
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA_DST, PAGE_SZ));
}

/* Device reads through a write-only mapping do not get the data. */
TEST_F(dma, write_only_mapping)
{
	ASSERT_EQ(0, load_edu(self, 10));
	fill(self->src, PAGE_SZ, 11);
	ASSERT_EQ(0, type1_map(self->dev.container, self->src, IOVA_SRC, PAGE_SZ,
			     VFIO_DMA_MAP_FLAG_WRITE));
	ASSERT_EQ(0, to_edu(self, IOVA_SRC, 0, PAGE_SZ));
	ASSERT_EQ(0, read_edu(self));
	EXPECT_FALSE(matches(self->spare, PAGE_SZ, 11, 0)) TH_LOG("device read a write-only mapping");
	/* Writing through it works. */
	ASSERT_EQ(0, load_edu(self, 12));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_SRC, PAGE_SZ));
	EXPECT_TRUE(matches(self->src, PAGE_SZ, 12, 0));
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA_SRC, PAGE_SZ));
}

/* With bus mastering off (as VFIO leaves a device at open) the device cannot DMA. */
TEST_F(dma, bus_master_off)
{
	ASSERT_EQ(0, load_edu(self, 13));
	memset(self->dst, 0x33, PAGE_SZ);
	ASSERT_EQ(0, type1_map(self->dev.container, self->dst, IOVA_DST, PAGE_SZ, RW));
	ASSERT_EQ(0, cfg_command(self->dev.fd, 0, PCI_COMMAND_MASTER));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST, PAGE_SZ));
	EXPECT_TRUE(all_bytes(self->dst, PAGE_SZ, 0x33));
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MASTER, 0));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST, PAGE_SZ));
	EXPECT_TRUE(matches(self->dst, PAGE_SZ, 13, 0));
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA_DST, PAGE_SZ));
}

/* DMA completion signalled by MSI (command bit 2) through a VFIO eventfd. */
TEST_F(dma, completion_msi)
{
	__s32 fd = self->efd;

	fill(self->src, PAGE_SZ, 14);
	memset(self->dst, 0, PAGE_SZ);
	ASSERT_EQ(0, type1_map(self->dev.container, self->src, IOVA_SRC, PAGE_SZ, RW));
	ASSERT_EQ(0, type1_map(self->dev.container, self->dst, IOVA_DST, PAGE_SZ, RW));
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &fd));

	ASSERT_EQ(0, edu_dma(self->dev.fd, IOVA_SRC, EDU_DMA_BUF, PAGE_SZ, EDU_DMA_IRQ, 0));
	EXPECT_EQ(1, eventfd_wait(self->efd, 5000));
	EXPECT_EQ(0, edu_dma_wait(self->dev.fd, 1000));
	EXPECT_EQ(EDU_DMA_DONE_IRQ, bar_read32(self->dev.fd, EDU_BAR, EDU_REG_IRQ_STATUS));
	ASSERT_EQ(0, bar_write32(self->dev.fd, EDU_BAR, EDU_REG_IRQ_ACK, EDU_DMA_DONE_IRQ));

	ASSERT_EQ(0, edu_dma(self->dev.fd, EDU_DMA_BUF, IOVA_DST, PAGE_SZ,
			     EDU_DMA_TO_RAM | EDU_DMA_IRQ, 0));
	EXPECT_EQ(1, eventfd_wait(self->efd, 5000));
	/* The interrupt comes after the data. */
	EXPECT_TRUE(matches(self->dst, PAGE_SZ, 14, 0));
	ASSERT_EQ(0, bar_write32(self->dev.fd, EDU_BAR, EDU_REG_IRQ_ACK, EDU_DMA_DONE_IRQ));

	/* Without the IRQ bit, no interrupt. */
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST, PAGE_SZ));
	EXPECT_EQ(0, eventfd_wait(self->efd, 200));
	EXPECT_EQ(0, bar_read32(self->dev.fd, EDU_BAR, EDU_REG_IRQ_STATUS));

	EXPECT_EQ(0, disable_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX));
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA_SRC, PAGE_SZ));
	EXPECT_EQ(0, type1_unmap(self->dev.container, IOVA_DST, PAGE_SZ));
}

/* Closing the container's last group drops the mappings: the device reaches nothing. */
TEST_F(dma, mappings_gone_with_container)
{
	const char *bdf = test_bdf("RVFIO_EDU_BDF");

	ASSERT_EQ(0, load_edu(self, 15));
	memset(self->dst, 0x44, PAGE_SZ);
	ASSERT_EQ(0, type1_map(self->dev.container, self->dst, IOVA_DST, PAGE_SZ, RW));
	vfio_pci_close(&self->dev);
	/* A new container without that mapping: the same IOVA leads nowhere. */
	ASSERT_EQ(0, vfio_pci_open(&self->dev, bdf, variant->iommu_type));
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MASTER, 0));
	ASSERT_EQ(0, from_edu(self, 0, IOVA_DST, PAGE_SZ));
	EXPECT_TRUE(all_bytes(self->dst, PAGE_SZ, 0x44));
}

TEST_HARNESS_MAIN
