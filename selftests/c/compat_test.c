// SPDX-License-Identifier: GPL-2.0
/*
 * Compatibility with real VFIO clients: the ioctl sequences of DPDK's PCI bus driver
 * (lib/eal/linux/eal_vfio.c, drivers/bus/pci/linux/pci_vfio.c) and of QEMU 10's vfio-pci
 * (hw/vfio/container-legacy.c, device.c, pci.c), replayed step by step against the device
 * of each variant (igb: MSI-X; edu: MSI, INTx and a DMA engine).
 *
 * This program stands in for such a client, so it is written against upstream's uAPI only
 * (<linux/vfio.h>, <linux/pci_regs.h> and libc, no rvfio or project headers) and must pass
 * identically on both stacks. Every step checks what the client relies on: the values it
 * reads back, the mappings it makes (device DMA through them, on edu), the interrupts it
 * wires (loopback-triggered eventfds), and that closing everything releases the group.
 *
 * Devices come from RVFIO_IGB_BDF and RVFIO_EDU_BDF (guest/with-vfio.sh binds both to
 * vfio-pci); a variant whose variable is unset is skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/memfd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"

#define PAGE_SZ 4096UL
#define SZ_1M 0x100000ULL
#define SZ_2M 0x200000ULL
#define SZ_4G 0x100000000ULL
#define MAX_VECTORS 64

/* DPDK's VFIO_GET_REGION_ADDR: the fixed region layout of vfio-pci. */
#define REGION_ADDR(index) ((off_t)(index) << 40)

/* ---- helpers any client has in some form ---- */

/* The IOMMU group number of @bdf from sysfs, as DPDK's vfio_get_group_num(); -1 if none. */
static int group_number(const char *bdf)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t len;
	int group;

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0)
		return -1;
	target[len] = '\0';
	if (sscanf(basename(target), "%d", &group) != 1)
		return -1;
	return group;
}

static int open_group_of(const char *bdf)
{
	char path[64];
	int group = group_number(bdf);

	if (group < 0)
		return -1;
	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	return open(path, O_RDWR);
}

/* A hex attribute of the device in sysfs ("vendor", "device", ...); -1 on error. */
static long sysfs_attr(const char *bdf, const char *attr)
{
	char path[PATH_MAX], line[64];
	long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f))
		value = strtol(line, NULL, 16);
	fclose(f);
	return value;
}

/* The device's config space as the PCI core reads it; bytes read or -1. */
static ssize_t sysfs_config(const char *bdf, void *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, size, 0);
	close(fd);
	return n;
}

/* A whole number from a one-line file; -1 on error. */
static long read_long(const char *path)
{
	long value = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &value) != 1)
		value = -1;
	fclose(f);
	return value;
}

static int write_long(const char *path, long value)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%ld", value) < 0 ? -1 : 0;
	if (fclose(f))
		ret = -1;
	return ret;
}

/* "Key: value" of /proc/meminfo; -1 if absent. */
static long meminfo(const char *key)
{
	char line[256];
	size_t len = strlen(key);
	long value = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, len) && line[len] == ':') {
			value = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return value;
}

/* Lines of /proc/interrupts naming "vfio". */
static int vfio_irq_lines(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "vfio"))
			n++;
	fclose(f);
	return n;
}

/*
 * Walks the capability chain of an info struct QEMU's way (hdr->next until it points back
 * to the start), bounded by @argsz; the header with @id, or NULL.
 */
static struct vfio_info_cap_header *find_cap(void *info, __u32 argsz, __u32 cap_offset, __u16 id)
{
	struct vfio_info_cap_header *hdr;
	__u32 offset = cap_offset;
	int hops = 0;

	while (offset && offset + sizeof(*hdr) <= argsz && hops++ < 32) {
		hdr = (void *)((char *)info + offset);
		if (hdr->id == id)
			return hdr;
		offset = hdr->next;
	}
	return NULL;
}

/*
 * Whether the chain is well formed: every header inside @argsz and the chain ends
 * (next == 0) within a few hops.
 */
static int chain_ok(void *info, __u32 argsz, __u32 cap_offset)
{
	__u32 offset = cap_offset;
	int hops = 0;

	while (offset) {
		struct vfio_info_cap_header *hdr = (void *)((char *)info + offset);

		if (offset + sizeof(*hdr) > argsz || hops++ > 32)
			return 0;
		offset = hdr->next;
	}
	return 1;
}

/*
 * GET_REGION_INFO with the argsz-growth protocol both clients use: the bare struct first,
 * then again with the argsz the kernel asked for. NULL (errno set) on failure.
 */
static struct vfio_region_info *get_region_info(int device, __u32 index)
{
	struct vfio_region_info *info = calloc(1, sizeof(*info));
	__u32 argsz = sizeof(*info);

	if (!info)
		return NULL;
	for (;;) {
		info->argsz = argsz;
		info->index = index;
		if (ioctl(device, VFIO_DEVICE_GET_REGION_INFO, info)) {
			int err = errno;

			free(info);
			errno = err;
			return NULL;
		}
		if (info->argsz <= argsz)
			return info;
		argsz = info->argsz;
		free(info);
		info = calloc(1, argsz);
		if (!info)
			return NULL;
	}
}

static int irq_info(int device, __u32 index, struct vfio_irq_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	return ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, info) ? -errno : 0;
}

/* SET_IRQS @action with @count eventfds (or -1 entries) from @start; 0 or -errno. */
static int set_irq_fds_action(int device, __u32 index, __u32 action, __u32 start, __u32 count,
			      const int *fds)
{
	size_t size = sizeof(struct vfio_irq_set) + count * sizeof(__s32);
	struct vfio_irq_set *set = calloc(1, size);
	int ret;

	if (!set)
		return -ENOMEM;
	set->argsz = size;
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | action;
	set->index = index;
	set->start = start;
	set->count = count;
	memcpy(set->data, fds, count * sizeof(__s32));
	ret = ioctl(device, VFIO_DEVICE_SET_IRQS, set) ? -errno : 0;
	free(set);
	return ret;
}

/* Trigger eventfds for @count vectors from @start. */
static int set_irq_fds(int device, __u32 index, __u32 start, __u32 count, const int *fds)
{
	return set_irq_fds_action(device, index, VFIO_IRQ_SET_ACTION_TRIGGER, start, count, fds);
}

/* SET_IRQS without data: @action on @count vectors from @start (count 0: disable). */
static int set_irq_none(int device, __u32 index, __u32 action, __u32 start, __u32 count)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | action,
		.index = index,
		.start = start,
		.count = count,
	};

	return ioctl(device, VFIO_DEVICE_SET_IRQS, &set) ? -errno : 0;
}

/* The eventfd's count after waiting up to @ms for it, 0 if it never fired. */
static __u64 eventfd_count(int efd, int ms)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	__u64 count = 0;

	if (poll(&pfd, 1, ms) != 1 || read(efd, &count, sizeof(count)) != sizeof(count))
		return 0;
	return count;
}

static int map_dma(int container, void *vaddr, __u64 iova, __u64 size, __u32 flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return ioctl(container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

/* UNMAP_DMA; the size the kernel reports, or -errno. */
static long long unmap_dma(int container, __u64 iova, __u64 size, __u32 flags)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = flags,
		.iova = iova,
		.size = size,
	};

	return ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) ? -errno : (long long)unmap.size;
}

#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* Config space through the device fd at @base (the config region's offset). */
static long long cfg_read(int device, off_t base, unsigned int offset, unsigned int size)
{
	__u32 val = 0;

	if (pread(device, &val, size, base + offset) != size)
		return -1;
	return val;
}

static int cfg_write16(int device, off_t base, unsigned int offset, __u16 val)
{
	return pwrite(device, &val, 2, base + offset) == 2 ? 0 : -1;
}

/* Offset of standard capability @id, walking the list through the device fd; 0 if none. */
static unsigned int cfg_find_cap(int device, off_t base, __u8 id)
{
	long long status = cfg_read(device, base, PCI_STATUS, 2);
	long long pos;
	int loops = 48;

	if (status < 0 || !(status & PCI_STATUS_CAP_LIST))
		return 0;
	pos = cfg_read(device, base, PCI_CAPABILITY_LIST, 1);
	while (pos >= PCI_STD_HEADER_SIZEOF && loops--) {
		pos &= ~3;
		if (cfg_read(device, base, pos, 1) == id)
			return pos;
		pos = cfg_read(device, base, pos + PCI_CAP_LIST_NEXT, 1);
	}
	return 0;
}

/* Where the MSI-X table lives, from the capability (DPDK's pci_vfio_get_msix_bar()). */
struct msix_table {
	int bar;		/* -1: no MSI-X */
	__u32 offset;
	__u32 size;
};

static struct msix_table msix_table_of(int device, off_t base)
{
	struct msix_table t = { .bar = -1 };
	unsigned int pos = cfg_find_cap(device, base, PCI_CAP_ID_MSIX);
	long long table, flags;

	if (!pos)
		return t;
	table = cfg_read(device, base, pos + PCI_MSIX_TABLE, 4);
	flags = cfg_read(device, base, pos + PCI_MSIX_FLAGS, 2);
	if (table < 0 || flags < 0)
		return t;
	t.bar = table & PCI_MSIX_TABLE_BIR;
	t.offset = table & PCI_MSIX_TABLE_OFFSET;
	t.size = ((flags & PCI_MSIX_FLAGS_QSIZE) + 1) * 16;
	return t;
}

/* Up to this many mmaps per device (whole BARs or their pieces). */
#define MAX_MAPS 16

struct bar_maps {
	int n;
	void *addr[MAX_MAPS];
	size_t size[MAX_MAPS];
	int bar[MAX_MAPS];
	__u64 bar_offset[MAX_MAPS];	/* where in the BAR the map starts */
};

static int add_map(struct bar_maps *maps, int device, int bar, __u64 region_offset,
		   __u64 offset, __u64 size, int prot)
{
	void *addr;

	if (!size)
		return 0;
	if (maps->n == MAX_MAPS)
		return -1;
	addr = mmap(NULL, size, prot, MAP_SHARED, device, region_offset + offset);
	if (addr == MAP_FAILED)
		return -1;
	maps->addr[maps->n] = addr;
	maps->size[maps->n] = size;
	maps->bar[maps->n] = bar;
	maps->bar_offset[maps->n] = offset;
	maps->n++;
	return 0;
}

/*
 * mmaps what the region info allows of BAR @info->index, as both clients do: the areas of
 * a sparse-mmap capability; else around the MSI-X table if @table lies in this BAR and the
 * region has no MSIX_MAPPABLE capability; else the whole BAR. 0, or -1 if an mmap the
 * kernel allowed failed.
 */
static int mmap_bar(struct bar_maps *maps, int device, struct vfio_region_info *info,
		    const struct msix_table *table)
{
	struct vfio_region_info_cap_sparse_mmap *sparse;
	int prot = 0;
	__u32 i;

	if (info->flags & VFIO_REGION_INFO_FLAG_READ)
		prot |= PROT_READ;
	if (info->flags & VFIO_REGION_INFO_FLAG_WRITE)
		prot |= PROT_WRITE;
	sparse = (void *)find_cap(info, info->argsz, info->cap_offset,
				  VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	if (sparse) {
		for (i = 0; i < sparse->nr_areas; i++)
			if (add_map(maps, device, info->index, info->offset,
				    sparse->areas[i].offset, sparse->areas[i].size, prot))
				return -1;
		return 0;
	}
	if (table->bar == (int)info->index &&
	    !find_cap(info, info->argsz, info->cap_offset, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE)) {
		__u64 start = table->offset & ~(PAGE_SZ - 1);
		__u64 end = (table->offset + table->size + PAGE_SZ - 1) & ~(PAGE_SZ - 1);

		if (add_map(maps, device, info->index, info->offset, 0, start, prot))
			return -1;
		if (end < info->size &&
		    add_map(maps, device, info->index, info->offset, end, info->size - end, prot))
			return -1;
		return 0;
	}
	return add_map(maps, device, info->index, info->offset, 0, info->size, prot);
}

static void unmap_bars(struct bar_maps *maps)
{
	int i;

	for (i = 0; i < maps->n; i++)
		munmap(maps->addr[i], maps->size[i]);
	maps->n = 0;
}

/*
 * Checks that a BAR mmap shows what read() of the region shows at the first dword of each
 * map (registers with no read side effects at offset 0 of the BARs used here), outside the
 * MSI-X table. 0 or -1.
 */
static int maps_match_reads(struct bar_maps *maps, int device, const struct msix_table *table)
{
	int i;

	for (i = 0; i < maps->n; i++) {
		__u32 via_read = 0, via_map;

		/* read() does not reach the MSI-X table (the kernel owns it). */
		if (maps->bar[i] == table->bar && maps->bar_offset[i] >= table->offset &&
		    maps->bar_offset[i] < table->offset + table->size)
			continue;

		if (pread(device, &via_read, 4, REGION_ADDR(maps->bar[i]) + maps->bar_offset[i]) != 4)
			return -1;
		via_map = *(volatile __u32 *)maps->addr[i];
		if (via_map != via_read) {
			fprintf(stderr, "# BAR%d+%#llx: mmap reads %#x, read() %#x\n", maps->bar[i],
				(unsigned long long)maps->bar_offset[i], via_map, via_read);
			return -1;
		}
	}
	return 0;
}

/* QEMU's edu device (docs/specs/edu.rst): BAR0 DMA engine and its 4 KiB buffer. */
#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_REG_DMA_SRC 0x80
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_COUNT 0x90
#define EDU_REG_DMA_CMD 0x98
#define EDU_DMA_START 0x1
#define EDU_DMA_TO_RAM 0x2
#define EDU_DMA_BUF 0x40000

static int bar0_write64(int device, off_t offset, __u64 val)
{
	return pwrite(device, &val, 8, REGION_ADDR(VFIO_PCI_BAR0_REGION_INDEX) + offset) == 8 ?
		       0 : -1;
}

/* One edu DMA transfer of @count bytes, waited for (up to 5 s); 0 or -1. */
static int edu_dma(int device, __u64 src, __u64 dst, __u64 count, __u32 to_ram)
{
	struct timespec start, now;
	__u32 cmd;

	if (bar0_write64(device, EDU_REG_DMA_SRC, src) ||
	    bar0_write64(device, EDU_REG_DMA_DST, dst) ||
	    bar0_write64(device, EDU_REG_DMA_COUNT, count) ||
	    bar0_write64(device, EDU_REG_DMA_CMD, EDU_DMA_START | (to_ram ? EDU_DMA_TO_RAM : 0)))
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (pread(device, &cmd, 4, REGION_ADDR(0) + EDU_REG_DMA_CMD) != 4)
			return -1;
		if (!(cmd & EDU_DMA_START))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 5)
			return -1;
		usleep(1000);
	}
}

/* ---- the fixture: one device per variant ---- */

FIXTURE(compat) {
	const char *bdf;
	const char *other_bdf;	/* the other test device, for QEMU's shared container */
	int is_edu;
	int efds[MAX_VECTORS];
	/* 2 MiB hugepages this test reserved (to be handed back), or 0. */
	long reserved_hugepages;
};

FIXTURE_VARIANT(compat) {
	const char *env;
	const char *other_env;
};

FIXTURE_VARIANT_ADD(compat, igb) { .env = "RVFIO_IGB_BDF", .other_env = "RVFIO_EDU_BDF" };
FIXTURE_VARIANT_ADD(compat, edu) { .env = "RVFIO_EDU_BDF", .other_env = "RVFIO_IGB_BDF" };

FIXTURE_SETUP(compat)
{
	int i;

	for (i = 0; i < MAX_VECTORS; i++)
		self->efds[i] = -1;
	self->reserved_hugepages = 0;
	self->bdf = getenv(variant->env);
	self->other_bdf = getenv(variant->other_env);
	if (!self->bdf || !*self->bdf)
		SKIP(return, "%s not set (device not bound by the wrapper)", variant->env);
	if (self->other_bdf && !*self->other_bdf)
		self->other_bdf = NULL;
	self->is_edu = sysfs_attr(self->bdf, "vendor") == EDU_VENDOR &&
		       sysfs_attr(self->bdf, "device") == EDU_DEVICE;
	for (i = 0; i < MAX_VECTORS; i++) {
		self->efds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		ASSERT_LE(0, self->efds[i]);
	}
	ASSERT_EQ(0, vfio_irq_lines());
}

#define HUGEPAGES_2M "/sys/kernel/mm/hugepages/hugepages-2048kB"

FIXTURE_TEARDOWN(compat)
{
	int i;

	for (i = 0; i < MAX_VECTORS; i++)
		if (self->efds[i] >= 0)
			close(self->efds[i]);
	if (self->reserved_hugepages) {
		long now = read_long(HUGEPAGES_2M "/nr_hugepages");

		write_long(HUGEPAGES_2M "/nr_hugepages", now - self->reserved_hugepages);
	}
}

/* ---- DPDK ---- */

#define DPDK_SEGS 4	/* 2 MiB memory segments */

/*
 * DPDK's memory: 2 MiB hugetlb pages when the system has them (reserving a few as the
 * administrator's dpdk-hugepages.py would), else anonymous memory (--no-huge). Returns the
 * mapping; *huge says which.
 */
static void *dpdk_memory(struct __test_metadata *_metadata, FIXTURE_DATA(compat) *self,
			 size_t size, int *huge)
{
	long total = read_long(HUGEPAGES_2M "/nr_hugepages");
	long free_pages = read_long(HUGEPAGES_2M "/free_hugepages");
	long need = size / SZ_2M;
	void *mem;
	int fd;

	*huge = 0;
	TH_LOG("2 MiB hugepages: %ld total, %ld free; /proc/meminfo: Hugepagesize %ld kB, "
	       "HugePages_Free %ld", total, free_pages, meminfo("Hugepagesize"),
	       meminfo("HugePages_Free"));
	if (total >= 0 && free_pages >= 0 && free_pages < need &&
	    !write_long(HUGEPAGES_2M "/nr_hugepages", total + need - free_pages))
		self->reserved_hugepages = read_long(HUGEPAGES_2M "/nr_hugepages") - total;
	fd = memfd_create("dpdk_seg", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	if (fd >= 0) {
		if (!ftruncate(fd, size)) {
			mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
				   fd, 0);
			if (mem != MAP_FAILED) {
				close(fd);
				*huge = 1;
				return mem;
			}
		}
		close(fd);
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		   -1, 0);
	return mem == MAP_FAILED ? NULL : mem;
}

/*
 * DPDK's sequence: rte_vfio_get_container_fd() (API version, supported extensions),
 * rte_vfio_setup_device() (group from sysfs, viability, container, type1, DMA maps of the
 * memory segments with IOVA = VA, device fd, device info), pci_vfio_map_resource_primary()
 * (MSI-X table location, region info of each BAR, I/O BARs skipped, mmaps honouring
 * sparse/MSIX_MAPPABLE), pci_rte_vfio_setup_device() (interrupt type, bus master, reset),
 * the request notifier, rte_intr_enable()/disable(), then the hot-unplug path (unmaps
 * page by page, checking the size cleared, closes).
 */
TEST_F(compat, dpdk)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct vfio_device_info dev_info = { .argsz = sizeof(dev_info) };
	struct vfio_irq_info irq;
	struct msix_table table;
	struct bar_maps maps = { 0 };
	int container, group, device, huge, i, n_ext = 0, intr_index = -1, nvec;
	__u8 *mem;
	__u64 iova;
	long long cmd;

	/* rte_vfio_get_container_fd() */
	container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, container);
	ASSERT_EQ(VFIO_API_VERSION, ioctl(container, VFIO_GET_API_VERSION));
	/* vfio_has_supported_extensions(): type1, sPAPR, no-IOMMU in that order */
	EXPECT_EQ(1, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU));
	n_ext += ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) == 1;
	EXPECT_EQ(0, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_v2_IOMMU));
	EXPECT_EQ(0, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU));
	ASSERT_EQ(1, n_ext);

	/* rte_vfio_setup_device(): the group */
	ASSERT_LE(0, group_number(self->bdf));
	group = open_group_of(self->bdf);
	ASSERT_LE(0, group);
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_TRUE(status.flags & VFIO_GROUP_FLAGS_VIABLE);
	ASSERT_FALSE(status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET);
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_GET_STATUS, &status));
	EXPECT_EQ(VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET, status.flags);
	/* vfio_set_iommu_type(): the first type that works, type1 */
	ASSERT_EQ(0, ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));

	/* vfio_type1_dma_map(): every 2 MiB segment on its own, IOVA = VA (IOVA as VA mode) */
	mem = dpdk_memory(_metadata, self, DPDK_SEGS * SZ_2M, &huge);
	ASSERT_NE(NULL, mem);
	TH_LOG("DPDK memory: %s", huge ? "2 MiB hugetlb pages (memfd, MFD_HUGETLB)" :
					 "anonymous memory (no free 2 MiB hugepages: --no-huge)");
	printf("# compat.dpdk: memory is %s\n", huge ? "2 MiB hugetlb" : "anonymous (fallback)");
	memset(mem, 0x5a, DPDK_SEGS * SZ_2M);
	for (i = 0; i < DPDK_SEGS; i++) {
		iova = (uintptr_t)mem + i * SZ_2M;
		ASSERT_EQ(0, map_dma(container, mem + i * SZ_2M, iova, SZ_2M, RW))
			TH_LOG("segment %d at %#llx", i, (unsigned long long)iova);
	}
	/* A segment mapped twice: DPDK takes EEXIST as "already mapped, skipping". */
	EXPECT_EQ(-EEXIST, map_dma(container, mem, (uintptr_t)mem, SZ_2M, RW));

	/* the device */
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, self->bdf);
	ASSERT_LE(0, device);
	ASSERT_EQ(0, ioctl(device, VFIO_DEVICE_GET_INFO, &dev_info));
	EXPECT_TRUE(dev_info.flags & VFIO_DEVICE_FLAGS_PCI);
	ASSERT_LE(VFIO_PCI_CONFIG_REGION_INDEX + 1, dev_info.num_regions);
	ASSERT_LE(VFIO_PCI_MSIX_IRQ_INDEX + 1, dev_info.num_irqs);

	/* Config space reads at DPDK's fixed region address: the IDs sysfs shows. */
	EXPECT_EQ(sysfs_attr(self->bdf, "vendor"),
		  cfg_read(device, REGION_ADDR(VFIO_PCI_CONFIG_REGION_INDEX), PCI_VENDOR_ID, 2));
	EXPECT_EQ(sysfs_attr(self->bdf, "device"),
		  cfg_read(device, REGION_ADDR(VFIO_PCI_CONFIG_REGION_INDEX), PCI_DEVICE_ID, 2));

	/* pci_vfio_map_resource_primary(): MSI-X table, then each BAR up to BAR5 */
	table = msix_table_of(device, REGION_ADDR(VFIO_PCI_CONFIG_REGION_INDEX));
	TH_LOG("MSI-X table: BAR %d offset %#x size %#x", table.bar, table.offset, table.size);
	for (i = 0; i < (int)dev_info.num_regions && i <= VFIO_PCI_BAR5_REGION_INDEX; i++) {
		struct vfio_region_info *info = get_region_info(device, i);
		long long bar;

		ASSERT_NE(NULL, info) TH_LOG("region %d: %s", i, strerror(errno));
		EXPECT_EQ(REGION_ADDR(i), info->offset);
		/* pci_vfio_is_ioport_bar() */
		bar = cfg_read(device, REGION_ADDR(VFIO_PCI_CONFIG_REGION_INDEX),
			       PCI_BASE_ADDRESS_0 + 4 * i, 4);
		ASSERT_LE(0, bar);
		if (bar & PCI_BASE_ADDRESS_SPACE_IO) {
			EXPECT_FALSE(info->flags & VFIO_REGION_INFO_FLAG_MMAP);
			free(info);
			continue;
		}
		if (!(info->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
			free(info);
			continue;
		}
		ASSERT_EQ(0, mmap_bar(&maps, device, info, &table))
			TH_LOG("BAR%d mmap: %s", i, strerror(errno));
		free(info);
	}
	ASSERT_LT(0, maps.n) TH_LOG("no BAR could be mmapped");

	/* pci_vfio_setup_interrupts(): the first of MSI-X, MSI, INTx the device has */
	for (i = VFIO_PCI_MSIX_IRQ_INDEX; i >= VFIO_PCI_INTX_IRQ_INDEX; i--) {
		ASSERT_EQ(0, irq_info(device, i, &irq));
		if (irq.count) {
			ASSERT_TRUE(irq.flags & VFIO_IRQ_INFO_EVENTFD);
			intr_index = i;
			break;
		}
	}
	ASSERT_LE(0, intr_index);
	nvec = intr_index == VFIO_PCI_MSIX_IRQ_INDEX ? irq.count : 1;
	ASSERT_GE(MAX_VECTORS, nvec);
	/* pci_vfio_set_bus_master() */
	cmd = cfg_read(device, REGION_ADDR(VFIO_PCI_CONFIG_REGION_INDEX), PCI_COMMAND, 2);
	ASSERT_LE(0, cmd);
	ASSERT_EQ(0, cfg_write16(device, REGION_ADDR(VFIO_PCI_CONFIG_REGION_INDEX), PCI_COMMAND,
				 cmd | PCI_COMMAND_MASTER));
	EXPECT_TRUE(cfg_read(device, REGION_ADDR(VFIO_PCI_CONFIG_REGION_INDEX), PCI_COMMAND, 2) &
		    PCI_COMMAND_MASTER);
	/* The BAR maps read what read() of the region reads. */
	EXPECT_EQ(0, maps_match_reads(&maps, device, &table));

	/* pci_vfio_enable_notifier(): the request interrupt */
	ASSERT_EQ(0, irq_info(device, VFIO_PCI_REQ_IRQ_INDEX, &irq));
	ASSERT_EQ(1, irq.count);
	ASSERT_EQ(0, set_irq_fds(device, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, &self->efds[MAX_VECTORS - 1]));

	/* rte_intr_enable(): every vector to its eventfd (INTx then unmasked) */
	ASSERT_EQ(0, set_irq_fds(device, intr_index, 0, nvec, self->efds));
	if (intr_index == VFIO_PCI_INTX_IRQ_INDEX)
		ASSERT_EQ(0, set_irq_none(device, intr_index, VFIO_IRQ_SET_ACTION_UNMASK, 0, 1));
	EXPECT_LE(1, vfio_irq_lines());
	/* Each vector reaches its own eventfd (loopback through the kernel). */
	ASSERT_EQ(0, set_irq_none(device, intr_index, VFIO_IRQ_SET_ACTION_TRIGGER, 0, nvec));
	for (i = 0; i < nvec; i++)
		EXPECT_EQ(1, eventfd_count(self->efds[i], 1000)) TH_LOG("vector %d", i);
	/* rte_intr_disable() */
	ASSERT_EQ(0, set_irq_none(device, intr_index, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));

	/* Reset: DPDK ignores a device that cannot reset, but one that says it can must. */
	if (dev_info.flags & VFIO_DEVICE_FLAGS_RESET) {
		EXPECT_EQ(0, ioctl(device, VFIO_DEVICE_RESET));
	} else {
		EXPECT_EQ(-1, ioctl(device, VFIO_DEVICE_RESET));
	}

	/* Memory hot-unplug: one segment at a time, the size cleared must be the segment's. */
	for (i = 0; i < DPDK_SEGS; i++) {
		iova = (uintptr_t)mem + i * SZ_2M;
		EXPECT_EQ((long long)SZ_2M, unmap_dma(container, iova, SZ_2M, 0));
	}
	/* Nothing is left: unmapping again clears nothing. */
	EXPECT_EQ(0, unmap_dma(container, (uintptr_t)mem, DPDK_SEGS * SZ_2M, 0));

	/* pci_vfio_disable_notifier(), bus master off, rte_vfio_release_device(), clear group */
	EXPECT_EQ(0, set_irq_none(device, VFIO_PCI_REQ_IRQ_INDEX, VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	cmd = cfg_read(device, REGION_ADDR(VFIO_PCI_CONFIG_REGION_INDEX), PCI_COMMAND, 2);
	EXPECT_EQ(0, cfg_write16(device, REGION_ADDR(VFIO_PCI_CONFIG_REGION_INDEX), PCI_COMMAND,
				 cmd & ~PCI_COMMAND_MASTER));
	unmap_bars(&maps);
	EXPECT_EQ(0, close(device));
	EXPECT_EQ(0, close(group));
	EXPECT_EQ(0, close(container));
	munmap(mem, DPDK_SEGS * SZ_2M);
	EXPECT_EQ(0, vfio_irq_lines());

	/* Everything went with the fds: a new process finds the group free. */
	group = open_group_of(self->bdf);
	EXPECT_LE(0, group) TH_LOG("group re-open: %s", strerror(errno));
	close(group);
}

/* ---- QEMU ---- */

/* The chain of GET_INFO once grown, with the argsz it settled at. */
struct iommu_info {
	struct vfio_iommu_type1_info *info;
	__u32 first_argsz;	/* what the first (bare-struct) call asked for */
};

/* QEMU's vfio_get_iommu_info(): the bare struct, then again with the argsz returned. */
static int qemu_get_iommu_info(int container, struct iommu_info *out)
{
	size_t argsz = sizeof(struct vfio_iommu_type1_info);
	struct vfio_iommu_type1_info *info = calloc(1, argsz);
	int calls = 0;

	out->first_argsz = 0;
	for (;;) {
		if (!info)
			return -ENOMEM;
		info->argsz = argsz;
		if (ioctl(container, VFIO_IOMMU_GET_INFO, info)) {
			free(info);
			return -errno;
		}
		if (!calls++)
			out->first_argsz = info->argsz;
		if (info->argsz <= argsz)
			break;
		argsz = info->argsz;
		info = realloc(info, argsz);
		if (info)
			memset(info, 0, argsz);
	}
	out->info = info;
	return 0;
}

/* Whether [start, start + size) lies in one valid IOVA range of @ranges. */
static int iova_valid(const struct vfio_iommu_type1_info_cap_iova_range *ranges, __u64 start,
		      __u64 size)
{
	__u32 i;

	for (i = 0; i < ranges->nr_iovas; i++)
		if (ranges->iova_ranges[i].start <= start &&
		    start + size - 1 <= ranges->iova_ranges[i].end)
			return 1;
	return 0;
}

/* Guest physical memory, as QEMU's memory listener hands it to the container. */
struct section {
	__u64 gpa;
	__u64 size;
	__u64 ram_offset;	/* in the RAM block, or ~0: the ROM block */
	int readonly;
};

/*
 * A small q35 layout: RAM below the legacy VGA hole, the option-ROM shadow (read-only),
 * RAM up to the 32-bit PCI hole, the BIOS just below 4 GiB (read-only), RAM above 4 GiB.
 */
#define LOWMEM (24 * SZ_1M)
#define HIGHMEM (8 * SZ_1M)
#define RAM_SIZE (LOWMEM + HIGHMEM)
#define ROM_SIZE (256 * 1024)
static const struct section guest_ram[] = {
	{ 0, 0xa0000, 0, 0 },
	{ 0xc0000, 0x20000, ~0ULL, 1 },
	{ SZ_1M, LOWMEM - SZ_1M, SZ_1M, 0 },
	{ SZ_4G - ROM_SIZE, ROM_SIZE, ~0ULL, 1 },
	{ SZ_4G, HIGHMEM, LOWMEM, 0 },
};
#define NSECTIONS (sizeof(guest_ram) / sizeof(guest_ram[0]))
/* Where the guest put the device's first memory BAR (mapped for peer-to-peer). */
#define GUEST_BAR_GPA 0xfd000000ULL

/* What the device's guest driver does on edu: DMA out of guest RAM and back in. */
static void edu_dma_roundtrip(struct __test_metadata *_metadata, int device, __u8 *ram)
{
	__u64 src = 0x200000, dst = SZ_1M * 3;	/* RAM sections below 4G, 28-bit DMA */
	long long cmd = cfg_read(device, REGION_ADDR(VFIO_PCI_CONFIG_REGION_INDEX), PCI_COMMAND, 2);
	size_t i;

	ASSERT_LE(0, cmd);
	ASSERT_EQ(0, cfg_write16(device, REGION_ADDR(VFIO_PCI_CONFIG_REGION_INDEX), PCI_COMMAND,
				 cmd | PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY));
	for (i = 0; i < PAGE_SZ; i++) {
		ram[src + i] = (__u8)(i * 7 + 3);
		ram[dst + i] = 0;
	}
	ASSERT_EQ(0, edu_dma(device, src, EDU_DMA_BUF, PAGE_SZ, 0));
	ASSERT_EQ(0, edu_dma(device, EDU_DMA_BUF, dst, PAGE_SZ, 1));
	EXPECT_EQ(0, memcmp(ram + src, ram + dst, PAGE_SZ)) TH_LOG("edu DMA did not round-trip");
}

/* QEMU's vfio_get_device_info(): DEVICE_GET_INFO grown to its chain; NULL, errno set. */
static struct vfio_device_info *get_device_info(int device)
{
	__u32 argsz = sizeof(struct vfio_device_info);
	struct vfio_device_info *info = calloc(1, argsz);

	for (;;) {
		if (!info)
			return NULL;
		info->argsz = argsz;
		if (ioctl(device, VFIO_DEVICE_GET_INFO, info)) {
			int err = errno;

			free(info);
			errno = err;
			return NULL;
		}
		if (info->argsz <= argsz)
			return info;
		argsz = info->argsz;
		free(info);
		info = calloc(1, argsz);
	}
}

/*
 * vfio_pci_size_rom(): all ones written to the ROM BAR, read back, the original restored;
 * the size that encodes (0: no ROM), or -1 if an access failed.
 */
static long long rom_size_by_config(int device, off_t cfg_offset)
{
	off_t rom_bar = cfg_offset + PCI_ROM_ADDRESS;
	__u32 orig = 0, size = PCI_ROM_ADDRESS_MASK;

	if (pread(device, &orig, 4, rom_bar) != 4 || pwrite(device, &size, 4, rom_bar) != 4 ||
	    pread(device, &size, 4, rom_bar) != 4 || pwrite(device, &orig, 4, rom_bar) != 4)
		return -1;
	return (__u32)(~(size & PCI_ROM_ADDRESS_MASK) + 1);
}

/* VFIO_DEVICE_FEATURE with @flags and @data_size bytes of (zeroed) data; 0 or -errno. */
static int feature(int device, __u32 flags, size_t data_size)
{
	struct vfio_device_feature *f = calloc(1, sizeof(*f) + data_size);
	int ret;

	if (!f)
		return -ENOMEM;
	f->argsz = sizeof(*f) + data_size;
	f->flags = flags;
	ret = ioctl(device, VFIO_DEVICE_FEATURE, f) ? -errno : 0;
	free(f);
	return ret;
}

/* One assigned device as QEMU keeps it. */
struct qemu_dev {
	int group;
	int device;
	struct vfio_device_info *info;
	struct bar_maps maps;
};

/*
 * vfio_attach_device() for the legacy backend: group open and viability, reuse of an
 * existing container (VFIO_GROUP_SET_CONTAINER on it) or a new one, then the device fd and
 * its info (argsz growth), as vfio_device_get()/vfio_get_device_info() do.
 */
static int qemu_attach(struct __test_metadata *_metadata, struct qemu_dev *d, const char *bdf,
		       int container)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };

	d->group = open_group_of(bdf);
	if (d->group < 0)
		return -errno;
	if (ioctl(d->group, VFIO_GROUP_GET_STATUS, &status))
		return -errno;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return -EPERM;
	if (ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &container))
		return -errno;
	d->device = ioctl(d->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (d->device < 0)
		return -errno;
	d->info = get_device_info(d->device);
	if (!d->info)
		return -errno;
	EXPECT_TRUE(chain_ok(d->info, d->info->argsz,
			     d->info->flags & VFIO_DEVICE_FLAGS_CAPS ? d->info->cap_offset : 0));
	return 0;
}

/*
 * QEMU's sequence: vfio_connect_container() (API version, vfio_get_iommu_type() probing
 * TYPE1v2, TYPE1, sPAPR v2, sPAPR in that order, SET_CONTAINER, SET_IOMMU),
 * vfio_legacy_setup() (GET_INFO grown to fit its capability chain: page sizes, DMA_AVAIL,
 * IOVA_RANGE, MIGRATION), the memory listener mapping guest RAM and ROMs (inside the valid
 * IOVA ranges), vfio_populate_device() (device info, region info with capabilities for
 * every region, IRQ info for every index), the realize reading all of config space and
 * sizing the ROM BAR through it, the migration and dirty-tracking feature probes, the BAR
 * mmaps and their ram_device mapping for peer-to-peer, a second assigned device joining
 * the same container (device DMA through guest RAM), INTx (TCG: trigger + unmask; KVM:
 * masked, resample eventfd, unmasked), MSI and MSI-X (QEMU's "no vector" enable, then
 * vectors as the guest unmasks them) to eventfds and back off,
 * the device reset, vfio_listener_release()'s unmap-all (two halves) and the UNMAP_ALL
 * extension, and the teardown (device fds, UNSET_CONTAINER, container).
 */
TEST_F(compat, qemu)
{
	static const int probe[] = { VFIO_TYPE1v2_IOMMU, VFIO_TYPE1_IOMMU, VFIO_SPAPR_TCE_v2_IOMMU,
				     VFIO_SPAPR_TCE_IOMMU };
	struct vfio_iommu_type1_info_cap_iova_range *ranges;
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info_cap_migration *mig;
	struct vfio_iommu_type1_info *info;
	struct iommu_info ii;
	struct vfio_group_status status = { .argsz = sizeof(status) };
	struct qemu_dev dev = { .group = -1, .device = -1 }, other = { .group = -1, .device = -1 };
	struct vfio_region_info *cfg_info, *ri;
	struct vfio_irq_info irqs[VFIO_PCI_NUM_IRQS + 8];
	struct msix_table table;
	int container, iommu_type = -1, edu_fd = -1, j, nvec, fd_none = -1;
	__u32 i, dma_avail0, nmaps = 0;
	__u64 mapped = 0;
	__u8 *ram, *rom, *config, sysfs_cfg[4096];
	long long cfg_size, pin;
	void *bar_map = NULL;
	size_t bar_size = 0;

	container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, container);
	ASSERT_EQ(VFIO_API_VERSION, ioctl(container, VFIO_GET_API_VERSION));
	for (i = 0; i < sizeof(probe) / sizeof(probe[0]); i++) {
		if (ioctl(container, VFIO_CHECK_EXTENSION, probe[i])) {
			iommu_type = probe[i];
			break;
		}
	}
	ASSERT_EQ(VFIO_TYPE1v2_IOMMU, iommu_type);

	/* The first device creates the container's IOMMU context. */
	dev.group = open_group_of(self->bdf);
	ASSERT_LE(0, dev.group);
	ASSERT_EQ(0, ioctl(dev.group, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_TRUE(status.flags & VFIO_GROUP_FLAGS_VIABLE);
	ASSERT_EQ(0, ioctl(dev.group, VFIO_GROUP_SET_CONTAINER, &container));
	ASSERT_EQ(0, ioctl(container, VFIO_SET_IOMMU, iommu_type));

	/* vfio_legacy_setup() */
	ASSERT_EQ(0, qemu_get_iommu_info(container, &ii));
	info = ii.info;
	EXPECT_LT(sizeof(*info), ii.first_argsz) TH_LOG("no capability chain offered");
	EXPECT_EQ(ii.first_argsz, info->argsz);
	ASSERT_TRUE(info->flags & VFIO_IOMMU_INFO_CAPS);
	EXPECT_TRUE(info->flags & VFIO_IOMMU_INFO_PGSIZES);
	EXPECT_TRUE(info->iova_pgsizes & PAGE_SZ);
	ASSERT_TRUE(chain_ok(info, info->argsz, info->cap_offset));
	avail = (void *)find_cap(info, info->argsz, info->cap_offset,
				 VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	ranges = (void *)find_cap(info, info->argsz, info->cap_offset,
				  VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	mig = (void *)find_cap(info, info->argsz, info->cap_offset,
			       VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
	ASSERT_NE(NULL, avail);
	ASSERT_NE(NULL, ranges);
	ASSERT_LT(0, ranges->nr_iovas);
	ASSERT_LE((char *)&ranges->iova_ranges[ranges->nr_iovas] - (char *)info, info->argsz);
	/* vfio_get_iommu_info_migration(): dirty tracking in host pages */
	ASSERT_NE(NULL, mig);
	EXPECT_TRUE(mig->pgsize_bitmap & PAGE_SZ);
	dma_avail0 = avail->avail;
	EXPECT_LT(NSECTIONS + 2, dma_avail0);
	for (i = 0; i < ranges->nr_iovas; i++)
		TH_LOG("valid IOVA range %#llx-%#llx",
		       (unsigned long long)ranges->iova_ranges[i].start,
		       (unsigned long long)ranges->iova_ranges[i].end);

	/* The memory listener: RAM and ROM sections, each inside a valid IOVA range. */
	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rom = mmap(NULL, ROM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ram);
	ASSERT_NE(MAP_FAILED, rom);
	memset(ram, 0, RAM_SIZE);
	memset(rom, 0xf4, ROM_SIZE);
	for (i = 0; i < NSECTIONS; i++) {
		const struct section *s = &guest_ram[i];
		void *vaddr = s->ram_offset == ~0ULL ? (void *)rom : (void *)(ram + s->ram_offset);

		ASSERT_TRUE(iova_valid(ranges, s->gpa, s->size))
			TH_LOG("section %#llx+%#llx is outside the valid IOVA ranges",
			       (unsigned long long)s->gpa, (unsigned long long)s->size);
		ASSERT_EQ(0, map_dma(container, vaddr, s->gpa, s->size,
				     VFIO_DMA_MAP_FLAG_READ |
				     (s->readonly ? 0 : VFIO_DMA_MAP_FLAG_WRITE)))
			TH_LOG("section %#llx+%#llx", (unsigned long long)s->gpa,
			       (unsigned long long)s->size);
		nmaps++;
		mapped += s->size;
	}

	/* vfio_attach_device() of the first device, now that its group is in. */
	dev.device = ioctl(dev.group, VFIO_GROUP_GET_DEVICE_FD, self->bdf);
	ASSERT_LE(0, dev.device);
	dev.info = get_device_info(dev.device);
	ASSERT_NE(NULL, dev.info) TH_LOG("DEVICE_GET_INFO: %s", strerror(errno));
	EXPECT_TRUE(chain_ok(dev.info, dev.info->argsz,
			     dev.info->flags & VFIO_DEVICE_FLAGS_CAPS ? dev.info->cap_offset : 0));
	/* vfio_populate_device() */
	ASSERT_TRUE(dev.info->flags & VFIO_DEVICE_FLAGS_PCI);
	ASSERT_LE(VFIO_PCI_CONFIG_REGION_INDEX + 1, dev.info->num_regions);
	ASSERT_LE(VFIO_PCI_MSIX_IRQ_INDEX + 1, dev.info->num_irqs);
	ASSERT_GE(sizeof(irqs) / sizeof(irqs[0]), dev.info->num_irqs);

	cfg_info = get_region_info(dev.device, VFIO_PCI_CONFIG_REGION_INDEX);
	ASSERT_NE(NULL, cfg_info);
	cfg_size = cfg_info->size;
	ASSERT_TRUE(cfg_size == 256 || cfg_size == 4096) TH_LOG("config size %lld", cfg_size);
	ASSERT_EQ(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE,
		  cfg_info->flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE));

	/* The realize: all of config space in one read, its identity as the host sees it. */
	config = calloc(1, cfg_size);
	ASSERT_NE(NULL, config);
	ASSERT_EQ(cfg_size, pread(dev.device, config, cfg_size, cfg_info->offset));
	ASSERT_EQ(cfg_size, sysfs_config(self->bdf, sysfs_cfg, cfg_size));
	EXPECT_EQ(0, memcmp(config + PCI_VENDOR_ID, sysfs_cfg + PCI_VENDOR_ID, 4));
	EXPECT_EQ(0, memcmp(config + PCI_REVISION_ID, sysfs_cfg + PCI_REVISION_ID, 4));
	EXPECT_EQ(0, memcmp(config + PCI_SUBSYSTEM_VENDOR_ID, sysfs_cfg + PCI_SUBSYSTEM_VENDOR_ID, 4));
	EXPECT_EQ(sysfs_cfg[PCI_HEADER_TYPE] & 0x7f, config[PCI_HEADER_TYPE] & 0x7f);
	EXPECT_EQ(sysfs_cfg[PCI_INTERRUPT_PIN], config[PCI_INTERRUPT_PIN]);

	/* vfio_pci_size_rom(): the ROM BAR sized through config space agrees with its region. */
	ri = get_region_info(dev.device, VFIO_PCI_ROM_REGION_INDEX);
	ASSERT_NE(NULL, ri);
	EXPECT_EQ((long long)ri->size, rom_size_by_config(dev.device, cfg_info->offset));
	free(ri);

	/* vfio_migration_realize(), dirty tracking probe: neither is offered for vfio-pci. */
	EXPECT_EQ(-ENOTTY, feature(dev.device, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
				   sizeof(struct vfio_device_feature_migration)));
	EXPECT_EQ(-ENOTTY, feature(dev.device, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
					       VFIO_DEVICE_FEATURE_DMA_LOGGING_START, 0));

	/* Region info of every region, capability chains followed. */
	table = msix_table_of(dev.device, cfg_info->offset);
	for (i = 0; i < dev.info->num_regions; i++) {
		ri = get_region_info(dev.device, i);
		if (!ri) {
			/* Only the VGA region may be absent (this is no VGA device). */
			EXPECT_EQ(VFIO_PCI_VGA_REGION_INDEX, i);
			EXPECT_EQ(EINVAL, errno);
			continue;
		}
		EXPECT_EQ(i, ri->index);
		if (ri->flags & VFIO_REGION_INFO_FLAG_CAPS) {
			EXPECT_LT(0, ri->cap_offset);
			EXPECT_TRUE(chain_ok(ri, ri->argsz, ri->cap_offset));
		}
		if ((int)i == table.bar)
			EXPECT_NE(NULL, find_cap(ri, ri->argsz, ri->cap_offset,
						 VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) ?:
					find_cap(ri, ri->argsz, ri->cap_offset,
						 VFIO_REGION_INFO_CAP_SPARSE_MMAP));
		/* vfio_region_mmap() of BARs */
		if (i <= VFIO_PCI_BAR5_REGION_INDEX && (ri->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
			int before = dev.maps.n;

			ASSERT_EQ(0, mmap_bar(&dev.maps, dev.device, ri, &table))
				TH_LOG("BAR%u mmap: %s", i, strerror(errno));
			if (!bar_map && dev.maps.n > before && dev.maps.bar_offset[before] == 0) {
				bar_map = dev.maps.addr[before];
				bar_size = dev.maps.size[before];
			}
		}
		free(ri);
	}
	EXPECT_EQ(0, maps_match_reads(&dev.maps, dev.device, &table));

	/* IRQ info of every index: INTx as the pin says, eventfd-capable when present. */
	for (i = 0; i < dev.info->num_irqs; i++) {
		ASSERT_EQ(0, irq_info(dev.device, i, &irqs[i])) TH_LOG("IRQ index %u", i);
		EXPECT_EQ(i, irqs[i].index);
		if (irqs[i].count)
			EXPECT_TRUE(irqs[i].flags & VFIO_IRQ_INFO_EVENTFD) TH_LOG("IRQ index %u", i);
	}
	EXPECT_EQ(!!config[PCI_INTERRUPT_PIN], irqs[VFIO_PCI_INTX_IRQ_INDEX].count);
	if (irqs[VFIO_PCI_INTX_IRQ_INDEX].count)
		EXPECT_TRUE(irqs[VFIO_PCI_INTX_IRQ_INDEX].flags & VFIO_IRQ_INFO_MASKABLE);
	EXPECT_EQ(1, irqs[VFIO_PCI_REQ_IRQ_INDEX].count);

	/* The guest placed a memory BAR: its mmap becomes a ram_device section (p2p DMA). */
	ASSERT_NE(NULL, bar_map);
	ASSERT_TRUE(iova_valid(ranges, GUEST_BAR_GPA, bar_size));
	ASSERT_EQ(0, map_dma(container, bar_map, GUEST_BAR_GPA, bar_size, RW))
		TH_LOG("ram_device mapping of %zu bytes", bar_size);
	nmaps++;
	mapped += bar_size;
	free(info);
	ASSERT_EQ(0, qemu_get_iommu_info(container, &ii));
	info = ii.info;
	avail = (void *)find_cap(info, info->argsz, info->cap_offset,
				 VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	ASSERT_NE(NULL, avail);
	EXPECT_EQ(dma_avail0 - nmaps, avail->avail);

	/* A second assigned device in the same address space shares the container. */
	if (self->other_bdf) {
		ASSERT_EQ(0, qemu_attach(_metadata, &other, self->other_bdf, container));
		EXPECT_TRUE(other.info->flags & VFIO_DEVICE_FLAGS_PCI);
	}
	if (self->is_edu)
		edu_fd = dev.device;
	else if (other.device >= 0 && sysfs_attr(self->other_bdf, "vendor") == EDU_VENDOR)
		edu_fd = other.device;
	/* Guest RAM is reachable by the device that joined last as by the first. */
	if (edu_fd >= 0)
		edu_dma_roundtrip(_metadata, edu_fd, ram);

	/* vfio_intx_enable(): trigger eventfd, then unmask (no KVM resampler here). */
	if (irqs[VFIO_PCI_INTX_IRQ_INDEX].count) {
		ASSERT_EQ(0, set_irq_fds(dev.device, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, self->efds));
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_INTX_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_UNMASK, 0, 1));
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_INTX_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
		EXPECT_EQ(1, eventfd_count(self->efds[0], 1000));
		/* vfio_intx_disable() */
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_INTX_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));

		/*
		 * vfio_intx_enable_kvm(): with KVM, INTx is masked while the irqfd is wired,
		 * a resample eventfd unmasks it, then it is unmasked; then
		 * vfio_intx_disable_kvm() undoes it in the reverse order.
		 */
		ASSERT_EQ(0, set_irq_fds(dev.device, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &self->efds[1]));
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_INTX_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_MASK, 0, 1));
		ASSERT_EQ(0, set_irq_fds_action(dev.device, VFIO_PCI_INTX_IRQ_INDEX,
						VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, &self->efds[2]));
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_INTX_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_UNMASK, 0, 1));
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_INTX_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
		EXPECT_EQ(1, eventfd_count(self->efds[1], 1000));
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_INTX_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_MASK, 0, 1));
		ASSERT_EQ(0, set_irq_fds_action(dev.device, VFIO_PCI_INTX_IRQ_INDEX,
						VFIO_IRQ_SET_ACTION_UNMASK, 0, 1, &fd_none));
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_INTX_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	}
	/* vfio_msi_enable(): the vectors the guest enabled (one), then off again. */
	if (irqs[VFIO_PCI_MSI_IRQ_INDEX].count) {
		ASSERT_EQ(0, set_irq_fds(dev.device, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, self->efds));
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_MSI_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 1));
		EXPECT_EQ(1, eventfd_count(self->efds[0], 1000));
		EXPECT_LE(1, vfio_irq_lines());
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_MSI_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	}
	/*
	 * vfio_msix_enable(): vector 0 with fd -1 puts the device in MSI-X mode with no
	 * vector live; then vfio_msix_vector_do_use() as the guest unmasks vectors: one at a
	 * time when the index can grow (no NORESIZE), else everything again.
	 */
	nvec = irqs[VFIO_PCI_MSIX_IRQ_INDEX].count;
	if (nvec) {
		int use[3] = { 0, nvec > 3 ? 3 : nvec - 1, nvec - 1 }, fds[MAX_VECTORS];

		ASSERT_GE(MAX_VECTORS, nvec);
		ASSERT_EQ(0, set_irq_fds(dev.device, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &fd_none));
		for (j = 0; j < nvec; j++)
			fds[j] = -1;
		for (j = 0; j < 3; j++) {
			int v = use[j];

			fds[v] = self->efds[v];
			if (!(irqs[VFIO_PCI_MSIX_IRQ_INDEX].flags & VFIO_IRQ_INFO_NORESIZE)) {
				ASSERT_EQ(0, set_irq_fds(dev.device, VFIO_PCI_MSIX_IRQ_INDEX, v, 1,
							 &fds[v])) TH_LOG("vector %d", v);
			} else {
				ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_MSIX_IRQ_INDEX,
							  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
				ASSERT_EQ(0, set_irq_fds(dev.device, VFIO_PCI_MSIX_IRQ_INDEX, 0,
							 v + 1, fds));
			}
		}
		/* Only the vectors in use signal; the rest have no eventfd. */
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_MSIX_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_TRIGGER, 0, nvec));
		for (j = 0; j < nvec; j++)
			EXPECT_EQ(fds[j] >= 0 ? 1 : 0,
				  eventfd_count(self->efds[j], fds[j] >= 0 ? 1000 : 0))
				TH_LOG("MSI-X vector %d", j);
		/* vfio_msix_disable() */
		ASSERT_EQ(0, set_irq_none(dev.device, VFIO_PCI_MSIX_IRQ_INDEX,
					  VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0));
	}
	EXPECT_EQ(0, vfio_irq_lines());

	/* vfio_pci_reset() */
	if (dev.info->flags & VFIO_DEVICE_FLAGS_RESET)
		EXPECT_EQ(0, ioctl(dev.device, VFIO_DEVICE_RESET));

	/* vfio_listener_release() of a vIOMMU-less guest: unmap all, in two halves. */
	pin = unmap_dma(container, 0, 1ULL << 63, 0);
	EXPECT_EQ((long long)mapped, pin);
	EXPECT_EQ(0, unmap_dma(container, 1ULL << 63, 1ULL << 63, 0));
	/* Mapped again and taken in one call where the UNMAP_ALL extension is offered. */
	ASSERT_EQ(1, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL));
	for (i = 0; i < NSECTIONS; i++) {
		const struct section *s = &guest_ram[i];
		void *vaddr = s->ram_offset == ~0ULL ? (void *)rom : (void *)(ram + s->ram_offset);

		ASSERT_EQ(0, map_dma(container, vaddr, s->gpa, s->size,
				     VFIO_DMA_MAP_FLAG_READ |
				     (s->readonly ? 0 : VFIO_DMA_MAP_FLAG_WRITE)));
	}
	ASSERT_EQ(0, map_dma(container, bar_map, GUEST_BAR_GPA, bar_size, RW));
	EXPECT_EQ((long long)mapped, unmap_dma(container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL));
	EXPECT_EQ(0, unmap_dma(container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL));
	free(info);
	ASSERT_EQ(0, qemu_get_iommu_info(container, &ii));
	info = ii.info;
	avail = (void *)find_cap(info, info->argsz, info->cap_offset,
				 VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	ASSERT_NE(NULL, avail);
	EXPECT_EQ(dma_avail0, avail->avail);
	free(info);

	/* vfio_detach_device(), vfio_disconnect_container(), vfio_put_group() */
	unmap_bars(&dev.maps);
	EXPECT_EQ(0, close(dev.device));
	EXPECT_EQ(0, ioctl(dev.group, VFIO_GROUP_UNSET_CONTAINER, &container));
	EXPECT_EQ(0, close(dev.group));
	if (other.device >= 0) {
		EXPECT_EQ(0, close(other.device));
		/* The last group out: the container has no IOMMU context any more. */
		EXPECT_EQ(0, ioctl(other.group, VFIO_GROUP_UNSET_CONTAINER, &container));
		struct vfio_iommu_type1_info bare = { .argsz = sizeof(bare) };

		EXPECT_EQ(-1, ioctl(container, VFIO_IOMMU_GET_INFO, &bare));
		EXPECT_EQ(EINVAL, errno);
		EXPECT_EQ(0, close(other.group));
	}
	EXPECT_EQ(0, close(container));
	free(dev.info);
	free(other.info);
	free(cfg_info);
	free(config);
	munmap(ram, RAM_SIZE);
	munmap(rom, ROM_SIZE);

	dev.group = open_group_of(self->bdf);
	EXPECT_LE(0, dev.group) TH_LOG("group re-open: %s", strerror(errno));
	close(dev.group);
}

TEST_HARNESS_MAIN
