// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile device under a hostile user: edu's DMA engine, programmed by this test through
 * its own container, tries to reach what its user never mapped. Another user (a second
 * container) holds ivshmem's 1 GiB BAR with data in it and igb with MSI-X vectors on
 * eventfds. edu reads and writes the BAR at its bus address, which only the other container
 * could map. Nothing may land: the BAR keeps its data and edu reads none of it, and both
 * users' own DMA and interrupts keep working. The IOMMU's faults (VT-d's DMAR lines or
 * AMD-Vi's IO_PAGE_FAULT events in the kernel log, rate-limited) are counted for the log only.
 *
 * Not tested here: forged MSI messages written by DMA into the interrupt window
 * (0xfee00000). This guest cannot stop them, on either stack: QEMU's IOMMU delivers
 * compatibility-format messages (tried: every vector to both CPUs raised spurious and
 * system interrupts and a scheduler WARNING), and checks the source ID of a device's MSIs
 * but not of remappable-format messages it writes by DMA (tried: they reached all of igb's
 * vectors). Hardware interrupt remapping blocks both, which QEMU does not emulate.
 *
 * On edu (RVFIO_EDU_BDF, its DMA mask widened to 64 bits by run-guest.sh), igb
 * (RVFIO_IGB_BDF) and ivshmem (RVFIO_IVSHMEM_BDF), bound to vfio-pci by with-vfio.sh and
 * sh/with_ivshmem.sh; only the uAPI is used, so it runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"
#include "vfio_test_util.h"

#define PG 0x1000UL
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define IGB_VECTORS 10
#define IOVA_RAM 0x100000UL

/* Lines of the kernel log containing @what. */
static int klog_count(const char *what)
{
	static char buf[1 << 20];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1), count = 0;
	char *p = buf;

	if (n < 0)
		return -1;
	buf[n] = '\0';
	while ((p = strstr(p, what))) {
		count++;
		p += strlen(what);
	}
	return count;
}

/* The DMA faults the IOMMU driver logged: VT-d's and AMD-Vi's. */
static int iommu_faults(void)
{
	return klog_count("DMAR: [DMA ") + klog_count("[IO_PAGE_FAULT ");
}

FIXTURE(hostile) {
	struct vfio_pci_dev edu;	/* the attacker's */
	struct vfio_pci_dev shm;	/* the victim's: ivshmem */
	int igb_group, igb;		/* the victim's too, in shm's container */
	int efd[IGB_VECTORS];
	__u8 *ram, *bar;
	__u64 bar_bus;			/* ivshmem BAR2's bus address */
};

FIXTURE_SETUP(hostile)
{
	const char *edu = test_bdf("RVFIO_EDU_BDF"), *igb = test_bdf("RVFIO_IGB_BDF");
	const char *ivshmem = test_bdf("RVFIO_IVSHMEM_BDF");
	struct vfio_region_info info;
	__u64 end, flags;
	int i;

	self->igb = self->igb_group = -1;
	self->ram = self->bar = MAP_FAILED;
	for (i = 0; i < IGB_VECTORS; i++)
		self->efd[i] = -1;
	ASSERT_NE(NULL, edu);
	ASSERT_NE(NULL, igb);
	ASSERT_NE(NULL, ivshmem);
	/* The attacker: edu, bus mastering, one page of RAM mapped. */
	ASSERT_EQ(0, vfio_pci_open(&self->edu, edu, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, cfg_command(self->edu.fd, PCI_COMMAND_MASTER, 0));
	ASSERT_EQ(0, edu_dma_wait(self->edu.fd, 5000));
	self->ram = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->ram);
	ASSERT_EQ(0, type1_map(self->edu.container, self->ram, IOVA_RAM, PG, RW));

	/* The victim: ivshmem's BAR with data, and igb's vectors, in another container. */
	ASSERT_EQ(0, vfio_pci_open(&self->shm, ivshmem, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, region_info(self->shm.fd, 2, &info));
	ASSERT_EQ(0, cfg_command(self->shm.fd, PCI_COMMAND_MEMORY, 0));
	self->bar = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, self->shm.fd, info.offset);
	ASSERT_NE(MAP_FAILED, self->bar);
	fill_pattern(self->bar, PG, 42);
	ASSERT_EQ(0, sysfs_resource(ivshmem, 2, &self->bar_bus, &end, &flags));
	self->igb_group = open_group(igb);
	ASSERT_LE(0, self->igb_group);
	ASSERT_EQ(0, xioctl(self->igb_group, VFIO_GROUP_SET_CONTAINER, &self->shm.container));
	self->igb = ioctl(self->igb_group, VFIO_GROUP_GET_DEVICE_FD, igb);
	ASSERT_LE(0, self->igb);
	for (i = 0; i < IGB_VECTORS; i++) {
		self->efd[i] = new_eventfd();
		ASSERT_LE(0, self->efd[i]);
	}
	ASSERT_EQ(0, set_irq_eventfds(self->igb, VFIO_PCI_MSIX_IRQ_INDEX, 0, IGB_VECTORS,
				      self->efd));
}

FIXTURE_TEARDOWN(hostile)
{
	int i;

	if (self->igb >= 0)
		close(self->igb);
	if (self->igb_group >= 0)
		close(self->igb_group);
	if (self->bar != MAP_FAILED)
		munmap(self->bar, PG);
	vfio_pci_close(&self->shm);
	vfio_pci_close(&self->edu);
	if (self->ram != MAP_FAILED)
		munmap(self->ram, PG);
	for (i = 0; i < IGB_VECTORS; i++)
		if (self->efd[i] >= 0)
			close(self->efd[i]);
}

/* How many of igb's vectors fired within @ms; each is drained. */
static int igb_fired(FIXTURE_DATA(hostile) *self, int ms)
{
	int i, fired = 0;

	usleep(ms * 1000);
	for (i = 0; i < IGB_VECTORS; i++)
		fired += eventfd_wait(self->efd[i], 0) != 0;
	return fired;
}

/* Both users' own DMA and interrupts still work. */
static void still_working(struct __test_metadata *_metadata, FIXTURE_DATA(hostile) *self)
{
	fill_pattern(self->ram, PG, 5);
	ASSERT_EQ(0, edu_dma(self->edu.fd, IOVA_RAM, EDU_DMA_BUF, PG, 0, 1));
	memset(self->ram, 0, PG);
	ASSERT_EQ(0, edu_dma(self->edu.fd, EDU_DMA_BUF, IOVA_RAM, PG, EDU_DMA_TO_RAM, 1));
	EXPECT_TRUE(pattern_matches(self->ram, PG, 5));
	ASSERT_EQ(0, trigger_irqs(self->igb, VFIO_PCI_MSIX_IRQ_INDEX, 0, IGB_VECTORS));
	EXPECT_EQ(IGB_VECTORS, igb_fired(self, 100));
	EXPECT_TRUE(pattern_matches(self->bar, PG, 42));
}

/* The other user's BAR at its bus address: not in edu's container, so not reachable. */
TEST_F(hostile, other_users_bar)
{
	int faults = iommu_faults();

	TH_LOG("ivshmem BAR2 at bus address %#llx", (unsigned long long)self->bar_bus);
	/* Read it: edu's buffer must not get the victim's data. */
	fill_pattern(self->ram, PG, 9);
	ASSERT_EQ(0, edu_dma(self->edu.fd, IOVA_RAM, EDU_DMA_BUF, PG, 0, 1));
	ASSERT_EQ(0, edu_dma(self->edu.fd, self->bar_bus, EDU_DMA_BUF, PG, 0, 1));
	memset(self->ram, 0, PG);
	ASSERT_EQ(0, edu_dma(self->edu.fd, EDU_DMA_BUF, IOVA_RAM, PG, EDU_DMA_TO_RAM, 1));
	EXPECT_FALSE(pattern_matches(self->ram, PG, 42));
	/* Write it: the victim's data stays. */
	fill_pattern(self->ram, PG, 13);
	ASSERT_EQ(0, edu_dma(self->edu.fd, IOVA_RAM, EDU_DMA_BUF, PG, 0, 1));
	ASSERT_EQ(0, edu_dma(self->edu.fd, EDU_DMA_BUF, self->bar_bus, PG, EDU_DMA_TO_RAM, 1));
	EXPECT_TRUE(pattern_matches(self->bar, PG, 42));
	/* Nor did the other user hear of it. */
	EXPECT_EQ(0, igb_fired(self, 0));
	TH_LOG("IOMMU faults logged: %d", iommu_faults() - faults);
	still_working(_metadata, self);
}

TEST_HARNESS_MAIN
