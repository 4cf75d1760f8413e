// SPDX-License-Identifier: GPL-2.0
/*
 * BAR mmaps as upstream maps them: a large BAR faults in with PMD/PUD leaves where the
 * mapping and the BAR line up (upstream's vfio_pci_mmap_huge_fault), page by page where
 * they do not; such a mapping is revoked whole when memory decode goes off; a MAP_DMA of it
 * maps the BAR for peer-to-peer DMA (another device's DMA engine reads and writes it
 * through the IOMMU); a BAR smaller than a page is mmappable while the rest of its page is
 * reserved ("vfio sub-page reserved" in /proc/iomem, from open to close).
 *
 * On QEMU's ivshmem-plain (RVFIO_IVSHMEM_BDF: BAR2 1 GiB of shared memory, BAR0 a
 * 256-byte register block) and edu (RVFIO_EDU_BDF, its DMA engine) in one container, bound
 * to vfio-pci by with-vfio.sh and sh/with_ivshmem.sh. Faults are counted with getrusage()'s minor faults,
 * one per leaf inserted. Only the uAPI is used, so it runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"
#include "vfio_test_util.h"

#define PG 0x1000UL
#define SZ_2M 0x200000UL
#define SZ_4M 0x400000UL
#define SZ_1G 0x40000000UL
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define SHM_BAR 2
#define REG_BAR 0
#define IVSHMEM_INTRMASK 0x00	/* BAR0: a plain read/write register */

/* IOVAs below edu's 28-bit DMA mask: a window of BAR2, and a page of RAM. */
#define IOVA_BAR 0x8000000UL
#define IOVA_RAM 0x1000000UL

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* Reads a word in each page of [@p, @p + @len): the faults that took. */
static long touch(const volatile __u8 *p, size_t len)
{
	long before = minor_faults();
	size_t off;

	for (off = 0; off < len; off += PG)
		(void)*(const volatile __u32 *)(p + off);
	return minor_faults() - before;
}

/*
 * mmaps @len bytes of region @index of @fd from @offset at an address that is @align
 * aligned plus @skew; MAP_FAILED on failure.
 */
static void *map_at(int fd, int index, size_t len, off_t offset, size_t align, size_t skew)
{
	size_t span = len + align + skew;
	__u8 *area = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			  -1, 0);
	uintptr_t at;
	void *p;

	if (area == MAP_FAILED)
		return MAP_FAILED;
	at = (((uintptr_t)area + align - 1) & ~(uintptr_t)(align - 1)) + skew;
	p = mmap((void *)at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 REGION_OFFSET(index) + offset);
	/* The rest of the reservation goes; the BAR mapping stays. */
	if ((__u8 *)at > area)
		munmap(area, (__u8 *)at - area);
	if (at + len < (uintptr_t)area + span)
		munmap((void *)(at + len), (uintptr_t)area + span - (at + len));
	return p;
}

/* Whether /proc/iomem holds a resource named @name. */
static bool iomem_has(const char *name)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/iomem", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

FIXTURE(bar) {
	struct vfio_pci_dev dev;	/* ivshmem */
	int edu_group, edu;
	const char *bdf;
	struct vfio_region_info shm;
};

FIXTURE_SETUP(bar)
{
	const char *edu = test_bdf("RVFIO_EDU_BDF");

	self->edu = self->edu_group = -1;
	self->bdf = test_bdf("RVFIO_IVSHMEM_BDF");
	ASSERT_NE(NULL, self->bdf);
	ASSERT_NE(NULL, edu);
	ASSERT_EQ(0, vfio_pci_open(&self->dev, self->bdf, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, region_info(self->dev.fd, SHM_BAR, &self->shm));
	ASSERT_EQ(SZ_1G, self->shm.size);
	ASSERT_TRUE(self->shm.flags & VFIO_REGION_INFO_FLAG_MMAP);
	/* edu in the same container, for DMA into the BAR. */
	self->edu_group = open_group(edu);
	ASSERT_LE(0, self->edu_group);
	ASSERT_EQ(0, xioctl(self->edu_group, VFIO_GROUP_SET_CONTAINER, &self->dev.container));
	self->edu = ioctl(self->edu_group, VFIO_GROUP_GET_DEVICE_FD, edu);
	ASSERT_LE(0, self->edu);
	/* Memory decode on (VFIO does not change COMMAND at open), bus mastering for edu. */
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MEMORY, 0));
	ASSERT_EQ(0, cfg_command(self->edu, PCI_COMMAND_MASTER, 0));
}

FIXTURE_TEARDOWN(bar)
{
	if (self->edu >= 0)
		close(self->edu);
	if (self->edu_group >= 0)
		close(self->edu_group);
	vfio_pci_close(&self->dev);
}

/* Lined up (the address 1 GiB-aligned, as the BAR is): a leaf covers MiBs at a time. */
TEST_F(bar, huge_faults)
{
	__u8 *p = map_at(self->dev.fd, SHM_BAR, SZ_1G, 0, SZ_1G, 0);
	long faults;
	__u32 v;

	ASSERT_NE(MAP_FAILED, p);
	faults = touch(p, SZ_4M);
	TH_LOG("4 MiB of a 1 GiB-aligned BAR mmap: %ld faults", faults);
	/* A PUD leaf (1) or PMD leaves (2), not 1024 pages. */
	EXPECT_LE(faults, 2);
	faults = touch(p + SZ_1G - SZ_4M, SZ_4M);
	EXPECT_LE(faults, 2);

	/* The same memory as the region's pread/pwrite. */
	fill_pattern(p + SZ_2M + 64, 64, 7);
	ASSERT_EQ(4, xpread(self->dev.fd, &v, 4, REGION_OFFSET(SHM_BAR) + SZ_2M + 64));
	EXPECT_EQ(7 * 0x9e3779b1u, v);
	EXPECT_EQ(0, munmap(p, SZ_1G));
}

/* Not lined up (the BAR from its second page at a 2 MiB-aligned address): pages only. */
TEST_F(bar, unaligned_falls_back)
{
	__u8 *p = map_at(self->dev.fd, SHM_BAR, SZ_4M, PG, SZ_2M, 0);
	long faults;

	ASSERT_NE(MAP_FAILED, p);
	faults = touch(p, SZ_4M);
	TH_LOG("4 MiB of a BAR mmap off by a page: %ld faults", faults);
	EXPECT_GE(faults, SZ_4M / PG);
	EXPECT_EQ(0, munmap(p, SZ_4M));
}

/* Memory decode off revokes the huge leaves as it does pages; back on, they come back. */
TEST_F(bar, huge_revoked)
{
	__u8 *p = map_at(self->dev.fd, SHM_BAR, SZ_1G, 0, SZ_1G, 0);
	__u32 v;

	ASSERT_NE(MAP_FAILED, p);
	fill_pattern(p, 64, 3);
	ASSERT_EQ(0, cfg_command(self->dev.fd, 0, PCI_COMMAND_MEMORY));
	EXPECT_EQ(1, faults((__u32 *)p, &v));
	EXPECT_EQ(1, faults((__u32 *)(p + SZ_1G - PG), &v));
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MEMORY, 0));
	EXPECT_EQ(0, faults((__u32 *)p, &v));
	EXPECT_TRUE(pattern_matches(p, 64, 3));
	EXPECT_LE(touch(p, SZ_4M), 2);
	EXPECT_EQ(0, munmap(p, SZ_1G));
}

/*
 * MAP_DMA of the BAR mmap: all of it, then a window that edu's DMA engine reads and
 * writes through the IOMMU (peer-to-peer), checked through the mmap.
 */
TEST_F(bar, map_dma_p2p)
{
	__u8 *p = map_at(self->dev.fd, SHM_BAR, SZ_1G, 0, SZ_1G, 0);
	__u8 *ram = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int c = self->dev.container;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_NE(MAP_FAILED, ram);
	ASSERT_EQ(0, type1_map(c, p, SZ_1G, SZ_1G, RW));
	EXPECT_EQ(SZ_1G, type1_unmap_flags(c, SZ_1G, SZ_1G, 0));

	ASSERT_EQ(0, type1_map(c, p, IOVA_BAR, SZ_4M, RW));
	ASSERT_EQ(0, type1_map(c, ram, IOVA_RAM, PG, RW));
	ASSERT_EQ(0, edu_dma_wait(self->edu, 5000));
	/* BAR -> edu -> RAM. */
	fill_pattern(p + PG, PG, 11);
	memset(ram, 0, PG);
	ASSERT_EQ(0, edu_dma(self->edu, IOVA_BAR + PG, EDU_DMA_BUF, PG, 0, 1));
	ASSERT_EQ(0, edu_dma(self->edu, EDU_DMA_BUF, IOVA_RAM, PG, EDU_DMA_TO_RAM, 1));
	EXPECT_TRUE(pattern_matches(ram, PG, 11));
	/* RAM -> edu -> BAR. */
	fill_pattern(ram, PG, 12);
	ASSERT_EQ(0, edu_dma(self->edu, IOVA_RAM, EDU_DMA_BUF, PG, 0, 1));
	ASSERT_EQ(0, edu_dma(self->edu, EDU_DMA_BUF, IOVA_BAR + 3 * PG, PG, EDU_DMA_TO_RAM, 1));
	EXPECT_TRUE(pattern_matches(p + 3 * PG, PG, 12));
	EXPECT_EQ(SZ_4M, type1_unmap_flags(c, IOVA_BAR, SZ_4M, 0));
	EXPECT_EQ(PG, type1_unmap_flags(c, IOVA_RAM, PG, 0));
	munmap(ram, PG);
	EXPECT_EQ(0, munmap(p, SZ_1G));
}

/*
 * BAR0, 256 bytes: mmappable, its whole page, when it starts a page (PCI BARs are aligned
 * to their size only) and the rest of the page is reserved while the device is open.
 */
TEST_F(bar, sub_page)
{
	struct vfio_region_info info;
	__u64 start, end, flags;
	bool aligned;
	__u32 v, *p;

	ASSERT_EQ(0, region_info(self->dev.fd, REG_BAR, &info));
	ASSERT_EQ(256, info.size);
	ASSERT_EQ(0, sysfs_resource(self->bdf, REG_BAR, &start, &end, &flags));
	aligned = !(start & (PG - 1));
	TH_LOG("BAR0 at %#llx: %s", (unsigned long long)start,
	       aligned ? "starts a page" : "inside a page");
	EXPECT_EQ(aligned, !!(info.flags & VFIO_REGION_INFO_FLAG_MMAP));
	EXPECT_EQ(aligned, iomem_has("vfio sub-page reserved"));
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, self->dev.fd, info.offset);
	if (!aligned) {
		EXPECT_EQ(MAP_FAILED, p);
		return;
	}
	ASSERT_NE(MAP_FAILED, p);
	/* A register through the mapping and through pwrite/pread. */
	p[IVSHMEM_INTRMASK / 4] = 0x5a5a5a5a;
	ASSERT_EQ(4, xpread(self->dev.fd, &v, 4, info.offset + IVSHMEM_INTRMASK));
	EXPECT_EQ(0x5a5a5a5a, v);
	ASSERT_EQ(0, bar_write32(self->dev.fd, REG_BAR, IVSHMEM_INTRMASK, 0));
	EXPECT_EQ(0, p[IVSHMEM_INTRMASK / 4]);
	munmap(p, PG);
	/* One page, no more. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED,
				   self->dev.fd, info.offset));
	/* The reservation goes with the last close. */
	close(self->edu);
	close(self->edu_group);
	self->edu = self->edu_group = -1;
	vfio_pci_close(&self->dev);
	EXPECT_FALSE(iomem_has("vfio sub-page reserved"));
}

TEST_HARNESS_MAIN
