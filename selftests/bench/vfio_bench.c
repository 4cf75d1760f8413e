// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_bench: what a VFIO stack costs its users, measured through the uAPI only, so the
 * same binary measures upstream's modules and rvfio's in one guest boot.
 *
 *   vfio_bench [--quick] [--only SUBSTRING] [--small-max N] [--repeat N] [--iommufd]
 *
 * --iommufd measures iommufd instead of a type1 container: edu's cdev bound to /dev/iommu and
 * attached to an IOAS, mapped with IOMMU_IOAS_MAP/UNMAP; only the DMA-mapping groups and
 * open (cdev open, bind and attach) run, the others being the VFIO stack's whatever maps.
 *
 * --repeat N maps and unmaps each buffer N times (first-touch buffers and BAR mmaps are fresh each time). --only runs the groups whose name contains SUBSTRING (or one of a comma-separated list): map_anon4k, map_thp, map_hugetlb2m,
 * map_hugetlb1g, map_firsttouch, small4k, small2m, span, irq, bar, config, barmmap, open.
 *
 * Needs the edu device bound to vfio-pci (RVFIO_EDU_BDF), root, a type1 dma_entry_limit
 * above --small-max, and 2 MiB hugetlb pages reserved (the runner does all of that). Prints
 * one line per measurement:
 *
 *   BENCH <metric> <value> <unit> <higher|lower>
 *
 * and nothing else on stdout; progress and notes go to stderr. The host runner
 * (qemu-test/bench-report.py) turns the lines of several runs on both stacks into medians
 * and ratios.
 *
 * What is measured (every metric is a property of the stack, on the same memory and device):
 * - map_<mem>_<size>, unmap_<mem>_<size> (GiB/s): one MAP_DMA / UNMAP_DMA of a whole buffer.
 *   anon4k: 4 KiB pages faulted in shuffled order, so that physically adjacent pages are
 *   not virtually adjacent; thp: transparent huge pages; hugetlb2m/hugetlb1g: hugetlbfs
 *   pages; firsttouch: anonymous memory never touched, faulted in by the pinning.
 * - small<granule>_{map,unmap}_us_<n>: cost of one MAP_DMA (UNMAP_DMA) of a 4 KiB or 2 MiB
 *   granule when n mappings exist (the mean over a window of calls around n), as
 *   DPDK/SPDK-style users create them; small<granule>_map_flatness: cost at the largest n
 *   over cost at 1k.
 * - unmap_span_us_per_mapping: one UNMAP_DMA covering many adjacent 4 KiB mappings, per
 *   mapping; unmap_each_us_per_mapping: the same mappings unmapped one call each.
 * - msi_latency_{p50,p99}_us: edu raises its MSI (a BAR write) until the eventfd read
 *   returns; loopback_latency_{p50,p99}_us: SET_IRQS DATA_NONE trigger until the read.
 * - bar_read_{mmap,pread}_ns: one 4-byte read of an edu register; bar_write_pwrite_ns: one
 *   4-byte write of one (its liveness register) by pwrite.
 * - config_{read_pread,write_pwrite}_ns: one 4-byte config-space read (the vendor and
 *   device IDs) or write (cache line size to BIST, the value read back), what QEMU does for
 *   each config access of a guest.
 * - {map,unmap}_barmmap_1G (GiB/s): MAP_DMA / UNMAP_DMA of a fresh, untouched mmap of
 *   ivshmem's 1 GiB BAR2 (RVFIO_IVSHMEM_BDF, its group in the same container), as QEMU maps
 *   every mmapped BAR for peer-to-peer DMA; the map faults the mmap in.
 * - open_close_ms: container + group + SET_IOMMU + device fd, then closing all of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/mman.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_cdev_util.h"
#include "vfio_pci_util.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* IOVAs well above the x86 MSI window and below a 48-bit address width. */
#define IOVA_BASE (1ULL << 32)
#define IOVA_BASE_2M (1ULL << 40)

static bool quick;
static const char *only;
static unsigned long small_max = 1000000;
static int repeat = 1;
static const char *bdf;
/* --iommufd: the IOAS every map goes to; the "container" fd is then the iommufd's. */
static bool use_iommufd;
static __u32 ioas_id;

static void die(const char *what)
{
	fprintf(stderr, "vfio_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Whether --only (a comma-separated list of substrings) selects @group. */
static bool wanted(const char *group)
{
	char list[256], *tok, *save;

	if (!only)
		return true;
	snprintf(list, sizeof(list), "%s", only);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strstr(group, tok))
			return true;
	return false;
}

static void report(const char *metric, double value, const char *unit, const char *better)
{
	printf("BENCH %s %.6g %s %s\n", metric, value, unit, better);
	fflush(stdout);
}

/* A container holding edu's group with the given IOMMU type, and the device fd if asked. */
struct stack {
	struct vfio_pci_dev dev;
};

/* edu's cdev, /dev/vfio/devices/vfioN, bound to a new iommufd and attached to a new IOAS. */
static void iommufd_open(struct stack *s)
{
	int ioas, err;

	s->dev.group = -1;
	s->dev.fd = open_cdev(bdf);
	s->dev.container = open("/dev/iommu", O_RDWR);
	if (s->dev.fd < 0 || s->dev.container < 0)
		die("open edu's cdev and /dev/iommu");
	ioas = ioas_alloc(s->dev.container);
	err = ioas < 0 ? ioas : cdev_bind(s->dev.fd, s->dev.container, NULL);
	if (!err)
		err = cdev_attach(s->dev.fd, ioas, NULL);
	if (err) {
		errno = -err;
		die("bind edu's cdev to /dev/iommu and attach it to an IOAS");
	}
	ioas_id = ioas;
}

static void stack_open(struct stack *s)
{
	int err;

	if (use_iommufd)
		return iommufd_open(s);
	err = vfio_pci_open(&s->dev, bdf, VFIO_TYPE1v2_IOMMU);
	if (err) {
		errno = -err;
		die("open edu through VFIO");
	}
}

static void stack_close(struct stack *s)
{
	vfio_pci_close(&s->dev);
}

static int map_dma(int container, uint64_t iova, void *vaddr, uint64_t size)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	if (use_iommufd)
		return ioas_map(container, ioas_id, vaddr, size, iova);
	return ioctl(container, VFIO_IOMMU_MAP_DMA, &map) ? -errno : 0;
}

/* UNMAP_DMA of [iova, iova + size); returns the bytes unmapped or -errno. */
static int64_t unmap_dma(int container, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.iova = iova,
		.size = size,
	};

	if (use_iommufd)
		return ioas_unmap(container, ioas_id, iova, size);
	return ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap) ? -errno : (int64_t)unmap.size;
}

static void must_map(int container, uint64_t iova, void *vaddr, uint64_t size)
{
	int err = map_dma(container, iova, vaddr, size);

	if (err) {
		errno = -err;
		fprintf(stderr, "vfio_bench: MAP_DMA iova %#llx size %#llx\n",
			(unsigned long long)iova, (unsigned long long)size);
		die("MAP_DMA");
	}
}

static void must_unmap(int container, uint64_t iova, uint64_t size, uint64_t expect)
{
	int64_t got = unmap_dma(container, iova, size);

	if (got < 0) {
		errno = -got;
		die("UNMAP_DMA");
	}
	if ((uint64_t)got != expect) {
		fprintf(stderr, "vfio_bench: UNMAP_DMA unmapped %lld bytes, expected %llu\n",
			(long long)got, (unsigned long long)expect);
		exit(1);
	}
}

/* ---- memory ---------------------------------------------------------------------------- */

enum mem_kind { MEM_ANON4K, MEM_THP, MEM_HUGETLB2M, MEM_HUGETLB1G, MEM_FIRSTTOUCH };

static const char *const mem_names[] = {
	[MEM_ANON4K] = "anon4k",
	[MEM_THP] = "thp",
	[MEM_HUGETLB2M] = "hugetlb2m",
	[MEM_HUGETLB1G] = "hugetlb1g",
	[MEM_FIRSTTOUCH] = "firsttouch",
};

/* xorshift64*: a fixed sequence, so both stacks see the same scattering. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Touches every 4 KiB page of [buf, buf + size) once, in a shuffled order. */
static void fault_in_shuffled(char *buf, uint64_t size)
{
	uint64_t pages = size / (4 * KiB), i;
	uint32_t *order = malloc(pages * sizeof(*order));

	if (!order)
		die("malloc");
	for (i = 0; i < pages; i++)
		order[i] = i;
	for (i = pages - 1; i > 0; i--) {
		uint64_t j = rng() % (i + 1);
		uint32_t t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (i = 0; i < pages; i++)
		buf[(uint64_t)order[i] * 4 * KiB] = 1;
	free(order);
}

/* Memory for one measurement: what was mmapped, and the aligned part in use. */
struct buffer {
	char *map;
	uint64_t map_len;
	char *data;
	uint64_t size;
};

/* A buffer of @size bytes of @kind; false (with a note) when the guest has no such memory. */
static bool buffer_alloc(struct buffer *b, enum mem_kind kind, uint64_t size)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;

	b->size = size;
	b->map_len = size;
	switch (kind) {
	case MEM_HUGETLB2M:
		flags |= MAP_HUGETLB | MAP_HUGE_2MB;
		break;
	case MEM_HUGETLB1G:
		flags |= MAP_HUGETLB | MAP_HUGE_1GB;
		break;
	case MEM_THP:
		b->map_len = size + 2 * MiB;	/* room to align to a huge page */
		break;
	default:
		break;
	}
	b->map = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (b->map == MAP_FAILED) {
		fprintf(stderr, "vfio_bench: no %s memory of %llu MiB (%s): skipped\n",
			mem_names[kind], (unsigned long long)(size / MiB), strerror(errno));
		return false;
	}
	b->data = b->map;
	switch (kind) {
	case MEM_ANON4K:
		madvise(b->map, b->map_len, MADV_NOHUGEPAGE);
		fault_in_shuffled(b->data, size);
		break;
	case MEM_THP:
		b->data = (char *)(((uintptr_t)b->map + 2 * MiB - 1) & ~(uintptr_t)(2 * MiB - 1));
		if (madvise(b->data, size, MADV_HUGEPAGE))
			die("madvise(MADV_HUGEPAGE)");
		memset(b->data, 1, size);
		break;
	case MEM_HUGETLB2M:
	case MEM_HUGETLB1G:
		/* A short pool fails here with SIGBUS, not at mmap: the runner reserves it. */
		memset(b->data, 1, size);
		break;
	case MEM_FIRSTTOUCH:
		madvise(b->map, b->map_len, MADV_NOHUGEPAGE);
		break;
	}
	return true;
}

static void buffer_free(struct buffer *b)
{
	munmap(b->map, b->map_len);
}

static void size_name(char *out, size_t len, uint64_t size)
{
	if (size >= GiB)
		snprintf(out, len, "%lluG", (unsigned long long)(size / GiB));
	else
		snprintf(out, len, "%lluM", (unsigned long long)(size / MiB));
}

/*
 * MAP_DMA and UNMAP_DMA of a whole fresh buffer of @kind and @size bytes (fresh, so no
 * measurement inherits another's page placement), --repeat times.
 */
static void bench_map_unmap(int container, enum mem_kind kind, uint64_t size)
{
	char metric[64], sz[16];
	struct buffer b;
	double t0, t1, t2;
	int r;

	/*
	 * Warm-up, untimed, on a separate 2 MiB buffer of the same kind: the first pass through
	 * a kernel path costs the emulator its translation (a 2 MiB map then measures QEMU, not
	 * the stack), and both stacks get the same warm-up.
	 */
	/* The guest has one 1 GiB page: 2 MiB pages warm that path up. */
	if (!buffer_alloc(&b, kind == MEM_HUGETLB1G ? MEM_HUGETLB2M : kind, 2 * MiB))
		return;
	if (kind == MEM_FIRSTTOUCH)
		memset(b.data, 1, 2 * MiB);
	must_map(container, IOVA_BASE, b.data, 2 * MiB);
	must_unmap(container, IOVA_BASE, 2 * MiB, 2 * MiB);
	buffer_free(&b);

	if (!buffer_alloc(&b, kind, size))
		return;
	size_name(sz, sizeof(sz), size);
	for (r = 0; r < repeat; r++) {
		/* First touch is first only once: later rounds get fresh memory. */
		if (r && kind == MEM_FIRSTTOUCH) {
			buffer_free(&b);
			if (!buffer_alloc(&b, kind, size))
				return;
		}
		t0 = now_s();
		must_map(container, IOVA_BASE, b.data, size);
		t1 = now_s();
		must_unmap(container, IOVA_BASE, size, size);
		t2 = now_s();

		snprintf(metric, sizeof(metric), "map_%s_%s", mem_names[kind], sz);
		report(metric, size / (double)GiB / (t1 - t0), "GiB/s", "higher");
		snprintf(metric, sizeof(metric), "unmap_%s_%s", mem_names[kind], sz);
		report(metric, size / (double)GiB / (t2 - t1), "GiB/s", "higher");
	}
	buffer_free(&b);
}

/* ---- many small mappings --------------------------------------------------------------- */

/*
 * Maps @max granules of @granule bytes at consecutive IOVAs, their memory cycling through
 * a pool of @pool_bytes (the same page may back many mappings, as it may for users), then
 * unmaps them from the last. Reports the mean cost of one call over a window ending at each
 * checkpoint, so the growth of the per-call cost with the number of mappings shows.
 */
static void bench_small(int container, enum mem_kind kind, uint64_t granule, uint64_t pool_bytes,
			uint64_t iova_base, const char *name)
{
	static const unsigned long checkpoints[] = { 1000, 10000, 100000, 1000000 };
	unsigned long ncheck = 0, window, i, c;
	double *map_us, *unmap_us, t;
	uint64_t pool_granules;
	char metric[64];
	struct buffer b;

	while (ncheck < sizeof(checkpoints) / sizeof(*checkpoints) &&
	       checkpoints[ncheck] <= small_max)
		ncheck++;
	if (!ncheck)
		return;
	if (!buffer_alloc(&b, kind, pool_bytes))
		return;
	pool_granules = pool_bytes / granule;
	window = quick ? 200 : 1000;
	map_us = calloc(ncheck, sizeof(*map_us));
	unmap_us = calloc(ncheck, sizeof(*unmap_us));
	if (!map_us || !unmap_us)
		die("calloc");

	/* Mapping number i (0-based) is timed when it falls in the window before a checkpoint. */
	c = 0;
	t = 0;
	for (i = 0; i < checkpoints[ncheck - 1]; i++) {
		bool timed = i + window >= checkpoints[c];
		double t0 = timed ? now_s() : 0;

		must_map(container, iova_base + i * granule, b.data + (i % pool_granules) * granule,
			 granule);
		if (timed) {
			t += now_s() - t0;
			if (i + 1 == checkpoints[c]) {
				map_us[c++] = t / window * 1e6;
				t = 0;
			}
		}
	}
	/* Unmapping from the top: the call that leaves n - 1 mappings is timed near n. */
	c = ncheck;
	t = 0;
	for (i = checkpoints[ncheck - 1]; i-- > 0;) {
		bool timed = c > 0 && i + 1 <= checkpoints[c - 1] && i + 1 + window > checkpoints[c - 1];
		double t0 = timed ? now_s() : 0;

		must_unmap(container, iova_base + i * granule, granule, granule);
		if (timed) {
			t += now_s() - t0;
			if (i + 1 + window == checkpoints[c - 1] + 1) {
				unmap_us[--c] = t / window * 1e6;
				t = 0;
			}
		}
	}
	buffer_free(&b);

	for (c = 0; c < ncheck; c++) {
		char n[16];

		if (checkpoints[c] >= 1000000)
			snprintf(n, sizeof(n), "%luM", checkpoints[c] / 1000000);
		else
			snprintf(n, sizeof(n), "%luk", checkpoints[c] / 1000);
		snprintf(metric, sizeof(metric), "%s_map_us_%s", name, n);
		report(metric, map_us[c], "us", "lower");
		snprintf(metric, sizeof(metric), "%s_unmap_us_%s", name, n);
		report(metric, unmap_us[c], "us", "lower");
	}
	if (ncheck > 1) {
		snprintf(metric, sizeof(metric), "%s_map_flatness", name);
		report(metric, map_us[ncheck - 1] / map_us[0], "x", "lower");
	}
	free(map_us);
	free(unmap_us);
}

/*
 * @n adjacent 4 KiB mappings of scattered pages, removed by one UNMAP_DMA spanning them all,
 * then the same set removed one call each.
 */
static void bench_unmap_span(int container, unsigned long n)
{
	struct buffer b;
	unsigned long i;
	double t0, span, each;

	if (!buffer_alloc(&b, MEM_ANON4K, n * 4 * KiB))
		return;
	for (i = 0; i < n; i++)
		must_map(container, IOVA_BASE + i * 4 * KiB, b.data + i * 4 * KiB, 4 * KiB);
	t0 = now_s();
	must_unmap(container, IOVA_BASE, n * 4 * KiB, n * 4 * KiB);
	span = now_s() - t0;

	for (i = 0; i < n; i++)
		must_map(container, IOVA_BASE + i * 4 * KiB, b.data + i * 4 * KiB, 4 * KiB);
	t0 = now_s();
	for (i = 0; i < n; i++)
		must_unmap(container, IOVA_BASE + i * 4 * KiB, 4 * KiB, 4 * KiB);
	each = now_s() - t0;
	buffer_free(&b);

	report("unmap_span_us_per_mapping", span / n * 1e6, "us", "lower");
	report("unmap_each_us_per_mapping", each / n * 1e6, "us", "lower");
}

/* ---- interrupts ------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report_percentiles(const char *name, double *us, unsigned long n)
{
	char metric[64];

	qsort(us, n, sizeof(*us), cmp_double);
	snprintf(metric, sizeof(metric), "%s_p50_us", name);
	report(metric, us[n / 2], "us", "lower");
	snprintf(metric, sizeof(metric), "%s_p99_us", name);
	report(metric, us[(n * 99) / 100], "us", "lower");
}

/* Reads one count from @efd, waiting at most a second; exits if nothing came. */
static void eventfd_expect(int efd)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t count;

	if (poll(&pfd, 1, 1000) != 1) {
		fprintf(stderr, "vfio_bench: no interrupt on the eventfd within 1 s\n");
		exit(1);
	}
	if (read(efd, &count, sizeof(count)) != sizeof(count))
		die("read(eventfd)");
}

static void bench_interrupts(struct stack *s)
{
	unsigned long rounds = quick ? 300 : 10000, i;
	int fd = s->dev.fd, efd;
	volatile uint32_t *regs;
	struct vfio_region_info bar;
	double *us, t0;

	us = calloc(rounds, sizeof(*us));
	if (!us)
		die("calloc");
	efd = eventfd(0, 0);
	if (efd < 0)
		die("eventfd");
	if (region_info(fd, EDU_BAR, &bar))
		die("GET_REGION_INFO(BAR0)");
	regs = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, bar.offset);
	if (regs == MAP_FAILED)
		die("mmap(BAR0)");
	/* MSI is a memory write by the device: it needs bus mastering. */
	if (cfg_command(fd, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY, 0))
		die("enable bus master");
	if (set_irq_eventfds(fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd))
		die("SET_IRQS(MSI, eventfd)");

	for (i = 0; i < rounds; i++) {
		t0 = now_s();
		regs[EDU_REG_IRQ_RAISE / 4] = EDU_FACT_IRQ;
		eventfd_expect(efd);
		us[i] = (now_s() - t0) * 1e6;
		regs[EDU_REG_IRQ_ACK / 4] = EDU_FACT_IRQ;
	}
	report_percentiles("msi_latency", us, rounds);

	for (i = 0; i < rounds; i++) {
		t0 = now_s();
		if (trigger_irqs(fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1))
			die("SET_IRQS(MSI, trigger)");
		eventfd_expect(efd);
		us[i] = (now_s() - t0) * 1e6;
	}
	report_percentiles("loopback_latency", us, rounds);

	if (disable_irqs(fd, VFIO_PCI_MSI_IRQ_INDEX))
		die("SET_IRQS(MSI, disable)");
	cfg_command(fd, 0, PCI_COMMAND_MASTER);
	munmap((void *)regs, bar.size);
	close(efd);
	free(us);
}

/* ---- BAR access ------------------------------------------------------------------------ */

static void bench_bar(struct stack *s)
{
	unsigned long reads = quick ? 5000 : 100000, i;
	struct vfio_region_info bar;
	volatile uint32_t *regs;
	int fd = s->dev.fd;
	uint32_t id, v;
	double t0;

	if (region_info(fd, EDU_BAR, &bar))
		die("GET_REGION_INFO(BAR0)");
	regs = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, bar.offset);
	if (regs == MAP_FAILED)
		die("mmap(BAR0)");
	if (cfg_command(fd, PCI_COMMAND_MEMORY, 0))
		die("enable memory decode");
	id = regs[EDU_REG_ID / 4];
	if ((id & 0xff) != 0xed) {
		fprintf(stderr, "vfio_bench: edu ID register reads %#x\n", id);
		exit(1);
	}

	t0 = now_s();
	for (i = 0; i < reads; i++)
		if (regs[EDU_REG_ID / 4] != id)
			die("BAR read through mmap changed");
	report("bar_read_mmap_ns", (now_s() - t0) / reads * 1e9, "ns", "lower");

	t0 = now_s();
	for (i = 0; i < reads; i++)
		if (pread(fd, &v, sizeof(v), bar.offset + EDU_REG_ID) != sizeof(v) || v != id)
			die("BAR read through pread");
	report("bar_read_pread_ns", (now_s() - t0) / reads * 1e9, "ns", "lower");

	t0 = now_s();
	for (i = 0; i < reads; i++) {
		v = i;
		if (pwrite(fd, &v, sizeof(v), bar.offset + EDU_REG_LIVENESS) != sizeof(v))
			die("BAR write through pwrite");
	}
	report("bar_write_pwrite_ns", (now_s() - t0) / reads * 1e9, "ns", "lower");
	if (regs[EDU_REG_LIVENESS / 4] != ~(uint32_t)(reads - 1))
		die("BAR writes through pwrite did not reach the device");
	munmap((void *)regs, bar.size);
}

/* ---- config space access --------------------------------------------------------------- */

static void bench_config(struct stack *s)
{
	unsigned long accesses = quick ? 5000 : 100000, i;
	struct vfio_region_info cfg;
	int fd = s->dev.fd;
	uint32_t ids, dword, v;
	double t0;

	if (region_info(fd, VFIO_PCI_CONFIG_REGION_INDEX, &cfg))
		die("GET_REGION_INFO(config)");
	if (pread(fd, &ids, sizeof(ids), cfg.offset + PCI_VENDOR_ID) != sizeof(ids) ||
	    (ids & 0xffff) != 0x1234)
		die("config read of the IDs");
	t0 = now_s();
	for (i = 0; i < accesses; i++)
		if (pread(fd, &v, sizeof(v), cfg.offset + PCI_VENDOR_ID) != sizeof(v) || v != ids)
			die("config read through pread");
	report("config_read_pread_ns", (now_s() - t0) / accesses * 1e9, "ns", "lower");

	if (pread(fd, &dword, sizeof(dword), cfg.offset + PCI_CACHE_LINE_SIZE) != sizeof(dword))
		die("config read of cache line size to BIST");
	t0 = now_s();
	for (i = 0; i < accesses; i++)
		if (pwrite(fd, &dword, sizeof(dword), cfg.offset + PCI_CACHE_LINE_SIZE) !=
		    sizeof(dword))
			die("config write through pwrite");
	report("config_write_pwrite_ns", (now_s() - t0) / accesses * 1e9, "ns", "lower");
	if (pread(fd, &v, sizeof(v), cfg.offset + PCI_CACHE_LINE_SIZE) != sizeof(v) || v != dword)
		die("config writes changed cache line size to BIST");
}

/* ---- MAP_DMA of a BAR mmap (peer-to-peer) ------------------------------------------------ */

/*
 * ivshmem's 1 GiB BAR2 (RVFIO_IVSHMEM_BDF), its group in the container: each round mmaps it
 * afresh at a 1 GiB-aligned address, maps it for DMA (which faults it in: huge leaves where
 * the stack makes them) and unmaps it.
 */
static void bench_bar_dma(struct stack *s, const char *ivshmem)
{
	unsigned int rounds = (quick ? 2 : 5) * repeat, i;
	int group = open_group(ivshmem), fd, c = s->dev.container;
	struct vfio_region_info bar;
	double map = 0, unmap = 0;

	if (group < 0 || ioctl(group, VFIO_GROUP_SET_CONTAINER, &c))
		die("ivshmem's group into the container");
	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, ivshmem);
	if (fd < 0 || region_info(fd, 2, &bar) || bar.size != GiB)
		die("ivshmem's 1 GiB BAR2");
	if (cfg_command(fd, PCI_COMMAND_MEMORY, 0))
		die("enable ivshmem's memory decode");
	for (i = 0; i < rounds; i++) {
		uint8_t *area = mmap(NULL, 2 * GiB, PROT_NONE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		uint8_t *p;
		double t0;

		if (area == MAP_FAILED)
			die("reserve 2 GiB of address space");
		p = (uint8_t *)(((uintptr_t)area + GiB - 1) & ~(uintptr_t)(GiB - 1));
		munmap(area, 2 * GiB);
		p = mmap(p, GiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd,
			 bar.offset);
		if (p == MAP_FAILED)
			die("mmap(ivshmem BAR2)");
		t0 = now_s();
		if (map_dma(c, IOVA_BASE, p, GiB))
			die("MAP_DMA of the BAR mmap");
		map += now_s() - t0;
		t0 = now_s();
		if (unmap_dma(c, IOVA_BASE, GiB) != (int64_t)GiB)
			die("UNMAP_DMA of the BAR mmap");
		unmap += now_s() - t0;
		munmap(p, GiB);
	}
	report("map_barmmap_1G", rounds / map, "GiB/s", "higher");
	report("unmap_barmmap_1G", rounds / unmap, "GiB/s", "higher");
	close(fd);
	if (ioctl(group, VFIO_GROUP_UNSET_CONTAINER))
		die("ivshmem's group out of the container");
	close(group);
}

/* ---- device open/close ----------------------------------------------------------------- */

static void bench_open_close(void)
{
	unsigned long cycles = quick ? 3 : 20, i;
	double t0 = now_s();

	for (i = 0; i < cycles; i++) {
		struct stack s;

		stack_open(&s);
		stack_close(&s);
	}
	report("open_close_ms", (now_s() - t0) / cycles * 1e3, "ms", "lower");
}

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "only", required_argument, NULL, 'o' },
		{ "small-max", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "iommufd", no_argument, NULL, 'i' },
		{}
	};
	static const uint64_t sizes[] = { 2 * MiB, 64 * MiB, 1 * GiB };
	unsigned int nsizes;
	struct stack s;
	int opt, k;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'q':
			quick = true;
			break;
		case 'o':
			only = optarg;
			break;
		case 's':
			small_max = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			repeat = atoi(optarg);
			break;
		case 'i':
			use_iommufd = true;
			break;
		default:
			fprintf(stderr, "usage: vfio_bench [--quick] [--only SUBSTRING] [--small-max N] [--repeat N] [--iommufd]\n");
			return 2;
		}
	}
	bdf = test_bdf("RVFIO_EDU_BDF");
	if (!bdf) {
		fprintf(stderr, "vfio_bench: RVFIO_EDU_BDF is not set\n");
		return 2;
	}
	nsizes = quick ? 2 : 3;

	stack_open(&s);
	for (k = MEM_ANON4K; k <= MEM_FIRSTTOUCH; k++) {
		char group[32];
		unsigned int i;

		snprintf(group, sizeof(group), "map_%s", mem_names[k]);
		if (wanted(group)) {
			for (i = 0; i < nsizes; i++) {
				/* The guest reserves exactly one 1 GiB page. */
				if (k == MEM_HUGETLB1G && sizes[i] != GiB)
					continue;
				bench_map_unmap(s.dev.container, k, sizes[i]);
			}
		}
	}
	if (wanted("small4k"))
		bench_small(s.dev.container, MEM_ANON4K, 4 * KiB, 64 * MiB, IOVA_BASE, "small4k");
	if (wanted("small2m"))
		bench_small(s.dev.container, MEM_HUGETLB2M, 2 * MiB, 32 * MiB, IOVA_BASE_2M,
			    "small2m");
	if (wanted("span"))
		bench_unmap_span(s.dev.container, quick ? 2048 : 16384);
	if (wanted("irq") && !use_iommufd)
		bench_interrupts(&s);
	if (wanted("bar") && !use_iommufd)
		bench_bar(&s);
	if (wanted("config") && !use_iommufd)
		bench_config(&s);
	/* iommufd does not map VM_PFNMAP memory (its DMA-buf path replaces that). */
	if (wanted("barmmap") && test_bdf("RVFIO_IVSHMEM_BDF") && !use_iommufd)
		bench_bar_dma(&s, test_bdf("RVFIO_IVSHMEM_BDF"));
	stack_close(&s);
	if (wanted("open"))
		bench_open_close();
	return 0;
}
