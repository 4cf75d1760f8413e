// SPDX-License-Identifier: GPL-2.0
/*
 * Lifecycle of containers, groups and device fds across processes, signals and threads:
 *
 * - two_containers: edu's group in one container and igb's in another, the same IOVA
 *   mapped in both to different memory; each mapping is separate (overlap refused in each,
 *   device DMA through the first reads the first buffer, each unmap reports its own size)
 *   and closing one container leaves the other's mapping in place.
 * - kill_during_map: a child is SIGKILLed while pinning a 1 GiB MAP_DMA of 4 KiB pages
 *   (seen inside the ioctl: pinned pages rising, the map never returned) at several points;
 *   once reaped, nothing stays pinned, the group opens again and a new container maps.
 * - kill_during_map_shared: the same in a container the parent keeps (with edu open): the
 *   failed map leaves no pin, no DMA_AVAIL slot, no mapping and no stale IOMMU entry
 *   (device DMA through a new mapping of the same IOVAs reaches the new memory).
 * - kill_during_irq_storm: a child enabling and disabling igb's MSI-X vectors in a loop is
 *   SIGKILLed at several points; no vfio IRQ is left in /proc/interrupts or msi_irqs, and
 *   the device opens and delivers MSI-X again.
 * - fork_after_map: a child inherits the fds, uses them, maps memory of its own and exits;
 *   the parent's mapping still works (device DMA, UNMAP size) and the child's mapping stays
 *   until unmapped, with pins and locked_vm accounted to the right process.
 * - scm_rights: container and device fds sent to another process, which uses them after
 *   the sender closed its copies (and unmaps the sender's mapping, uncharging the sender's
 *   locked_vm); the group stays busy until the receiver closes them.
 * - close_orders: container, group and device fds closed in all six orders with a mapping
 *   and an MSI in place; the IRQ goes with the device fd, the mappings exactly when both
 *   the group and the device fd are closed, and the group is busy until then.
 * - close_with_bar_mmap: a BAR mmap outlives every fd and keeps the device, the group and
 *   the mappings until munmap().
 * - unbind_while_device_open: unbinding blocks on the open device fd and signals the
 *   request interrupt; closing completes it (mappings, group node gone); rebinding works.
 * - unbind_while_mapped: unbinding with only the group fd open completes at once and
 *   revokes the group (-ENODEV), its container's mappings and IOMMU context.
 * - concurrent_map_unmap_v1/v2: threads mapping and unmapping overlapping ranges of one
 *   container (and now and then unmapping all) get only the documented results; UNMAP_ALL
 *   then reports exactly what is left, DMA_AVAIL and the pins are back.
 * - model_map_unmap_v1/v2: a random sequence of maps and unmaps over overlapping ranges,
 *   each result (errno, unmapped size) compared with a model of upstream's type1 rules.
 * - rmmod_while_busy: removing vfio_pci (device fd open) or vfio is refused with
 *   -EWOULDBLOCK and leaves the device, its mapping and its MSI working.
 *
 * Runs on edu (RVFIO_EDU_BDF) and igb (RVFIO_IGB_BDF); only the uAPI is used, so it runs
 * unchanged on upstream's modules, whose behaviour the expectations are.
 */
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"

#define SZ_4K 0x1000ULL
#define SZ_1M 0x100000ULL
#define SZ_2M 0x200000ULL
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define EDU_VENDOR_ID 0x1234

/* MAP_DMA read-write; 0 or -errno. */
static int map(int container, void *vaddr, __u64 iova, __u64 size)
{
	return type1_map(container, vaddr, iova, size, RW);
}

/* UNMAP_DMA: the size the kernel reports as unmapped, or -errno. */
static long long unmap(int container, __u64 iova, __u64 size, __u32 flags)
{
	return type1_unmap_flags(container, iova, size, flags);
}

static long long unmap_all(int container)
{
	return unmap(container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);
}

/* Opens @bdf's group in a new container of @type, without a device fd; 0 or -errno. */
static int open_container(const char *bdf, int type, int *group, int *container)
{
	*container = -1;
	*group = open_group(bdf);
	if (*group < 0)
		return -errno;
	*container = open("/dev/vfio/vfio", O_RDWR);
	if (*container < 0 || ioctl(*group, VFIO_GROUP_SET_CONTAINER, container) ||
	    ioctl(*container, VFIO_SET_IOMMU, type)) {
		int err = -errno;

		if (*container >= 0)
			close(*container);
		close(*group);
		*group = *container = -1;
		return err;
	}
	return 0;
}

/* A fresh container on @bdf maps and unmaps 2 MiB: 0, or a negative step number. */
static int fresh_container_works(const char *bdf)
{
	int group, container, ret = 0;
	void *buf = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (buf == MAP_FAILED)
		return -1;
	if (open_container(bdf, VFIO_TYPE1v2_IOMMU, &group, &container))
		ret = -2;
	else if (map(container, buf, SZ_1M, SZ_2M))
		ret = -3;
	else if (unmap(container, SZ_1M, SZ_2M, 0) != (long long)SZ_2M)
		ret = -4;
	if (group >= 0) {
		close(container);
		close(group);
	}
	munmap(buf, SZ_2M);
	return ret;
}

/* An anonymous, populated, shared-nothing buffer; NULL on failure. */
static void *buffer(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * Keeps @len bytes at @buf in 4 KiB pages; 0 or -1. Without THP (PREEMPT_RT kernels have
 * none) they are anyway, and MADV_NOHUGEPAGE is -EINVAL there.
 */
static int small_pages(void *buf, size_t len)
{
	if (madvise(buf, len, MADV_NOHUGEPAGE) == 0 || errno == EINVAL)
		return 0;
	return -1;
}

/* Fills @size bytes with words derived from @seed. */
static void fill(void *p, size_t size, __u32 seed)
{
	__u32 *w = p;
	size_t i;

	for (i = 0; i < size / 4; i++)
		w[i] = (seed << 24) ^ (__u32)(i * 2654435761U);
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) + (now.tv_nsec - start->tv_nsec) / 1e9;
}

FIXTURE(lifecycle) {
	const char *edu;
	const char *igb;
	long long pinned;	/* system-wide FOLL_PIN pages at the start */
	long long locked;	/* this process's VmLck (KiB) at the start */
};

FIXTURE_SETUP(lifecycle)
{
	self->edu = test_bdf("RVFIO_EDU_BDF");
	self->igb = test_bdf("RVFIO_IGB_BDF");
	if (!self->edu || !self->igb)
		SKIP(return, "RVFIO_EDU_BDF/RVFIO_IGB_BDF not set (devices not bound by the wrapper)");
	ASSERT_EQ(0, vfio_irq_lines());
	self->pinned = pinned_pages();
	self->locked = locked_vm_kib();
	ASSERT_LE(0, self->pinned);
	ASSERT_LE(0, self->locked);
}

FIXTURE_TEARDOWN(lifecycle)
{
}

/* The device edu reads through @iova (4 KiB into its buffer and back out to @iova_out). */
static int edu_copy(int fd, __u64 iova_in, __u64 iova_out)
{
	if (edu_dma(fd, iova_in, EDU_DMA_BUF, SZ_4K, 0, 1))
		return -1;
	return edu_dma(fd, EDU_DMA_BUF, iova_out, SZ_4K, EDU_DMA_TO_RAM, 1);
}

TEST_F_TIMEOUT(lifecycle, two_containers, 120)
{
	struct vfio_pci_dev a, b;
	const __u64 iova = SZ_1M;
	__u8 *buf_a = buffer(SZ_2M), *buf_b = buffer(SZ_1M);

	ASSERT_NE(NULL, buf_a);
	ASSERT_NE(NULL, buf_b);
	fill(buf_a, SZ_2M, 0xa);
	fill(buf_b, SZ_1M, 0xb);
	memset(buf_a + SZ_1M, 0, SZ_4K);
	ASSERT_EQ(0, vfio_pci_open(&a, self->edu, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, vfio_pci_open(&b, self->igb, VFIO_TYPE1v2_IOMMU));

	/* The same IOVA in both, to different memory of different sizes. */
	ASSERT_EQ(0, map(a.container, buf_a, iova, SZ_2M));
	ASSERT_EQ(0, map(b.container, buf_b, iova, SZ_1M));
	EXPECT_LE(self->pinned + (SZ_2M + SZ_1M) / SZ_4K, pinned_pages());
	/* Each container has its own: an overlap is refused in each. */
	EXPECT_EQ(-EEXIST, map(a.container, buf_b, iova + SZ_1M, SZ_4K));
	EXPECT_EQ(-EEXIST, map(b.container, buf_a, iova, SZ_4K));
	/* What edu reads at the IOVA is A's memory: copy A's page 0 to A's page 256. */
	ASSERT_EQ(0, cfg_command(a.fd, PCI_COMMAND_MASTER, 0));
	ASSERT_EQ(0, edu_copy(a.fd, iova, iova + SZ_1M));
	EXPECT_EQ(0, memcmp(buf_a, buf_a + SZ_1M, SZ_4K)) TH_LOG("edu did not read A's buffer");
	EXPECT_NE(0, memcmp(buf_b, buf_a + SZ_1M, SZ_4K));

	/* Each unmap reports its own mapping. */
	EXPECT_EQ((long long)SZ_2M, unmap(a.container, iova, SZ_2M, 0));
	EXPECT_EQ((long long)SZ_1M, unmap(b.container, iova, SZ_1M, 0));
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));

	/* Closing A takes A's mapping only. */
	ASSERT_EQ(0, map(a.container, buf_a, iova, SZ_2M));
	ASSERT_EQ(0, map(b.container, buf_b, iova, SZ_1M));
	vfio_pci_close(&a);
	EXPECT_EQ(self->pinned + SZ_1M / SZ_4K, pinned_pages_settle(self->pinned + SZ_1M / SZ_4K));
	EXPECT_EQ(self->locked + (long long)(SZ_1M / 1024), locked_vm_kib());
	EXPECT_EQ(-EEXIST, map(b.container, buf_b, iova, SZ_4K));
	EXPECT_EQ((long long)SZ_1M, unmap_all(b.container));
	vfio_pci_close(&b);
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(self->locked, locked_vm_kib());
	munmap(buf_a, SZ_2M);
	munmap(buf_b, SZ_1M);
}

#define BIG_MAP (1ULL << 30)
#define BIG_PAGES (BIG_MAP / SZ_4K)

/*
 * The child of kill_during_map: @container (inherited), or a container of its own on @bdf
 * if -1; 1 GiB of 4 KiB pages populated, "R" on @report, then the map at IOVA 0; "M" (or
 * "E") on @report if it ever returns.
 */
static void __attribute__((noreturn)) big_map_child(const char *bdf, int container, int report)
{
	int group;
	__u8 *buf;

	if (container < 0 && open_container(bdf, VFIO_TYPE1v2_IOMMU, &group, &container))
		_exit(2);
	buf = mmap(NULL, BIG_MAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		_exit(3);
	/* 4 KiB pages: the most work per byte for the pinning and the IOMMU. */
	if (small_pages(buf, BIG_MAP) || madvise(buf, BIG_MAP, MADV_POPULATE_WRITE))
		_exit(4);
	if (write(report, "R", 1) != 1)
		_exit(5);
	if (map(container, buf, 0, BIG_MAP) == 0) {
		if (write(report, "M", 1) != 1)
			_exit(6);
	} else if (write(report, "E", 1) != 1) {
		_exit(7);
	}
	pause();
	_exit(0);
}

/*
 * Forks big_map_child() on @container (-1: its own) and SIGKILLs it once the pinned-page
 * count has risen by @sixteenths/16 of the map (at least one page). Returns whether the
 * kill landed inside the map (the ioctl never returned); then it checks that pins were
 * rising and that every pin is gone once the child is reaped. A map fast enough to finish
 * before the kill arrives makes the attempt inconclusive (false): the map then stands, in
 * the shared container until the caller unmaps it.
 */
static bool kill_big_map(struct __test_metadata *_metadata, const char *bdf, int container,
			 int sixteenths)
{
	long long base = pinned_pages(), now = base, want;
	int report[2], status;
	struct timespec start;
	char c = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe2(report, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(report[0]);
		big_map_child(bdf, container, report[1]);
	}
	close(report[1]);
	/* The child is about to map. */
	ASSERT_EQ(1, read(report[0], &c, 1)) TH_LOG("child died before mapping");
	ASSERT_EQ('R', c);
	clock_gettime(CLOCK_MONOTONIC, &start);
	/* Wait for pinning to be under way and past the kill point. */
	want = base + 1 + BIG_PAGES * sixteenths / 16;
	while (now < want && seconds_since(&start) < 120) {
		struct pollfd pfd = { .fd = report[0], .events = POLLIN };

		if (poll(&pfd, 1, 0) == 1)
			break;
		now = pinned_pages();
	}
	ASSERT_EQ(0, kill(pid, SIGKILL));
	TH_LOG("%s container, kill point %d/16: killed %.3f s into the map, %lld of %llu pages "
	       "pinned", container < 0 ? "own" : "shared", sixteenths, seconds_since(&start),
	       now - base, BIG_PAGES);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("child status %#x", status);
	if (read(report[0], &c, 1) != 0) {
		TH_LOG("inconclusive: the map returned ('%c') before the kill arrived", c);
		close(report[0]);
		/* In its own container the map went with the child. */
		if (container < 0)
			EXPECT_EQ(base, pinned_pages_settle(base));
		return false;
	}
	close(report[0]);
	/* It was inside the map: pins were rising and the ioctl never returned. */
	EXPECT_LE(want, now) TH_LOG("pinning never reached the kill point");
	/* Nothing of the map stays pinned, even where the container lives on. */
	EXPECT_EQ(base, pinned_pages_settle(base));
	return true;
}

/*
 * SIGKILL while inside a large MAP_DMA into the child's own container, at several points of
 * the pinning; then the group is free again and a new container maps.
 */
TEST_F_TIMEOUT(lifecycle, kill_during_map, 200)
{
	static const int sixteenths[] = { 0, 4, 10 };
	unsigned int round, landed = 0;
	int group;

	for (round = 0; round < sizeof(sixteenths) / sizeof(sixteenths[0]); round++) {
		landed += kill_big_map(_metadata, self->edu, -1, sixteenths[round]);
		group = open_group(self->edu);
		EXPECT_LE(0, group) TH_LOG("group re-open: %s", strerror(errno));
		if (group >= 0)
			close(group);
		EXPECT_EQ(0, fresh_container_works(self->edu));
	}
	/* A stack that maps too fast for every kill point would prove nothing here. */
	EXPECT_LT(0, landed) TH_LOG("no kill landed inside the map");
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
}

/* DMA_AVAIL of @container, or -1. */
static long dma_avail(int container)
{
	union {
		struct vfio_iommu_type1_info info;
		__u8 raw[4096];
	} u = { .info.argsz = sizeof(u) };
	__u32 offset;
	int hops = 0;

	if (ioctl(container, VFIO_IOMMU_GET_INFO, &u.info) || !(u.info.flags & VFIO_IOMMU_INFO_CAPS))
		return -1;
	for (offset = u.info.cap_offset; offset && offset < sizeof(u) - 16 && hops++ < 16;) {
		struct vfio_info_cap_header *hdr = (void *)(u.raw + offset);

		if (hdr->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL)
			return ((struct vfio_iommu_type1_info_dma_avail *)hdr)->avail;
		offset = hdr->next;
	}
	return -1;
}

/*
 * The same with the container shared: the parent holds it (and edu) while a child using
 * the inherited fd is killed mid-map. The failed map must be undone completely in the live
 * container: no pins, no mapping record or DMA_AVAIL slot, and no IOMMU entry left behind
 * (a new mapping over the same IOVAs carries device DMA to the new memory).
 */
TEST_F_TIMEOUT(lifecycle, kill_during_map_shared, 200)
{
	static const int sixteenths[] = { 0, 1, 8 };
	struct vfio_pci_dev dev;
	unsigned int round, landed = 0;
	long avail;
	__u8 *buf = buffer(SZ_2M);

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, vfio_pci_open(&dev, self->edu, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, cfg_command(dev.fd, PCI_COMMAND_MASTER, 0));
	avail = dma_avail(dev.container);
	ASSERT_LT(0, avail);
	for (round = 0; round < sizeof(sixteenths) / sizeof(sixteenths[0]); round++) {
		if (kill_big_map(_metadata, self->edu, dev.container, sixteenths[round])) {
			landed++;
			EXPECT_EQ(avail, dma_avail(dev.container));
			EXPECT_EQ(0, unmap_all(dev.container));
		} else {
			/* The map completed: it is an ordinary mapping of the container. */
			EXPECT_EQ((long long)BIG_MAP, unmap_all(dev.container));
			EXPECT_EQ(avail, dma_avail(dev.container));
		}
		/* IOVA 2 MiB was inside what the killed map had reached. */
		fill(buf, SZ_2M, 0x30 + round);
		memset(buf + SZ_1M, 0, SZ_4K);
		ASSERT_EQ(0, map(dev.container, buf, SZ_2M, SZ_2M));
		ASSERT_EQ(0, edu_copy(dev.fd, SZ_2M, SZ_2M + SZ_1M));
		EXPECT_EQ(0, memcmp(buf, buf + SZ_1M, SZ_4K)) TH_LOG("DMA went to stale pages");
		EXPECT_EQ((long long)SZ_2M, unmap_all(dev.container));
	}
	EXPECT_LT(0, landed) TH_LOG("no kill landed inside the map");
	vfio_pci_close(&dev);
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	munmap(buf, SZ_2M);
}

/*
 * The child of kill_during_irq_storm: MSI-X on igb with 1..n vectors, fired, disabled, in
 * a loop, counting rounds in @rounds.
 */
static void __attribute__((noreturn)) irq_storm_child(const char *bdf, atomic_long *rounds)
{
	struct vfio_pci_dev dev;
	struct vfio_irq_info info;
	__s32 fds[64];
	int n, k, i;

	if (vfio_pci_open(&dev, bdf, VFIO_TYPE1v2_IOMMU))
		_exit(2);
	if (irq_info(dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, &info) || !info.count)
		_exit(3);
	n = info.count < 64 ? info.count : 64;
	for (i = 0; i < n; i++)
		fds[i] = new_eventfd();
	for (;;) {
		for (k = 1; k <= n; k++) {
			if (set_irq_eventfds(dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, k, fds))
				_exit(4);
			if (trigger_irqs(dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, k))
				_exit(5);
			/* Grow one vector at a time too, where the index allows it. */
			if (k < n && !(info.flags & VFIO_IRQ_INFO_NORESIZE) &&
			    set_irq_eventfds(dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, k, 1, &fds[k]))
				_exit(6);
			if (disable_irqs(dev.fd, VFIO_PCI_MSIX_IRQ_INDEX))
				_exit(7);
			atomic_fetch_add(rounds, 1);
		}
	}
}

TEST_F_TIMEOUT(lifecycle, kill_during_irq_storm, 200)
{
	static const int delay_ms[] = { 0, 30, 200, 700 };
	atomic_long *rounds = mmap(NULL, sizeof(*rounds), PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct vfio_pci_dev dev;
	struct vfio_irq_info info;
	unsigned int round;
	__s32 fds[64];
	int n, i;

	ASSERT_NE(MAP_FAILED, rounds);
	for (round = 0; round < sizeof(delay_ms) / sizeof(delay_ms[0]); round++) {
		struct timespec start;
		long before;
		int status;
		pid_t pid;

		atomic_store(rounds, 0);
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			irq_storm_child(self->igb, rounds);
		/* Storming (a round done), then the delay, then the kill. */
		clock_gettime(CLOCK_MONOTONIC, &start);
		while (!atomic_load(rounds) && seconds_since(&start) < 60 &&
		       waitpid(pid, &status, WNOHANG) == 0)
			usleep(1000);
		ASSERT_LT(0, atomic_load(rounds)) TH_LOG("the storm never got going");
		usleep(delay_ms[round] * 1000);
		before = atomic_load(rounds);
		ASSERT_EQ(0, kill(pid, SIGKILL));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			TH_LOG("child status %#x", status);
		TH_LOG("round %u: killed after %ld storm rounds", round, before);

		/* No vector is left behind. */
		EXPECT_EQ(0, vfio_irq_lines());
		EXPECT_EQ(0, msi_irqs(self->igb));
	}

	/* The device opens and MSI-X works again, every vector to its own eventfd. */
	ASSERT_EQ(0, vfio_pci_open(&dev, self->igb, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, irq_info(dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, &info));
	n = info.count < 64 ? info.count : 64;
	ASSERT_LT(0, n);
	for (i = 0; i < n; i++) {
		fds[i] = new_eventfd();
		ASSERT_LE(0, fds[i]);
	}
	ASSERT_EQ(0, set_irq_eventfds(dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, n, fds));
	EXPECT_EQ(n, msi_irqs(self->igb));
	ASSERT_EQ(0, trigger_irqs(dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, n));
	for (i = 0; i < n; i++)
		EXPECT_EQ(1, eventfd_wait(fds[i], 1000)) TH_LOG("vector %d", i);
	EXPECT_EQ(0, disable_irqs(dev.fd, VFIO_PCI_MSIX_IRQ_INDEX));
	vfio_pci_close(&dev);
	for (i = 0; i < n; i++)
		close(fds[i]);
	EXPECT_EQ(0, vfio_irq_lines());
	EXPECT_EQ(0, msi_irqs(self->igb));
	munmap(rounds, sizeof(*rounds));
}

TEST_F_TIMEOUT(lifecycle, fork_after_map, 120)
{
	struct vfio_pci_dev dev;
	const __u64 iova = SZ_1M, child_iova = 16 * SZ_1M;
	__u8 *buf = buffer(SZ_2M);
	int status;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	fill(buf, SZ_2M, 0xf);
	memset(buf + SZ_1M, 0, SZ_4K);
	ASSERT_EQ(0, vfio_pci_open(&dev, self->edu, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, map(dev.container, buf, iova, SZ_2M));
	EXPECT_LE(self->pinned + SZ_2M / SZ_4K, pinned_pages());
	EXPECT_EQ(self->locked + (long long)(SZ_2M / 1024), locked_vm_kib());

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
		struct vfio_device_info dinfo = { .argsz = sizeof(dinfo) };
		__u8 *mine = buffer(SZ_1M);

		/* The inherited fds work in the child; it sees the parent's mapping. */
		if (ioctl(dev.container, VFIO_IOMMU_GET_INFO, &info))
			_exit(10);
		if (ioctl(dev.fd, VFIO_DEVICE_GET_INFO, &dinfo) ||
		    !(dinfo.flags & VFIO_DEVICE_FLAGS_PCI))
			_exit(11);
		if (map(dev.container, buf, iova, SZ_4K) != -EEXIST)
			_exit(12);
		/* A mapping of the child's own memory, left in place at exit. */
		if (!mine || map(dev.container, mine, child_iova, SZ_1M))
			_exit(13);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status %#x", status);

	/* The child's exit closed its copies only: both mappings are there, pinned. */
	EXPECT_LE(self->pinned + (SZ_2M + SZ_1M) / SZ_4K, pinned_pages());
	/* The child's pages were charged to the child, not to us. */
	EXPECT_EQ(self->locked + (long long)(SZ_2M / 1024), locked_vm_kib());
	/* The parent's mapping still works for the device. */
	ASSERT_EQ(0, cfg_command(dev.fd, PCI_COMMAND_MASTER, 0));
	ASSERT_EQ(0, edu_copy(dev.fd, iova, iova + SZ_1M));
	EXPECT_EQ(0, memcmp(buf, buf + SZ_1M, SZ_4K)) TH_LOG("edu DMA after fork");
	EXPECT_EQ(-EEXIST, map(dev.container, buf, child_iova, SZ_4K));
	/* The dead child's mapping unmaps (its address space is gone), then ours. */
	EXPECT_EQ((long long)SZ_1M, unmap(dev.container, child_iova, SZ_1M, 0));
	EXPECT_EQ(self->pinned + SZ_2M / SZ_4K, pinned_pages_settle(self->pinned + SZ_2M / SZ_4K));
	EXPECT_EQ((long long)SZ_2M, unmap(dev.container, iova, SZ_2M, 0));
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(self->locked, locked_vm_kib());
	EXPECT_EQ(0, unmap_all(dev.container));
	vfio_pci_close(&dev);
	munmap(buf, SZ_2M);
}

/* Sends @n fds over @sock; 0 or -1. */
static int send_fds(int sock, const int *fds, int n)
{
	char data = 'F';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cmsg), fds, n * sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fds(int sock, int *fds, int n)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cmsg;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(n * sizeof(int)))
		return -1;
	memcpy(fds, CMSG_DATA(cmsg), n * sizeof(int));
	return 0;
}

/* The receiver of scm_rights: uses the container and device fds it is sent. */
static void __attribute__((noreturn)) fd_receiver(int sock, const char *bdf)
{
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	struct vfio_device_info dinfo = { .argsz = sizeof(dinfo) };
	struct vfio_region_info rinfo;
	int fds[2], container, device;
	__u8 *buf = buffer(SZ_1M);
	char c;

	if (!buf || recv_fds(sock, fds, 2))
		_exit(10);
	container = fds[0];
	device = fds[1];
	if (ioctl(device, VFIO_DEVICE_GET_INFO, &dinfo) || !(dinfo.flags & VFIO_DEVICE_FLAGS_PCI))
		_exit(11);
	if (region_info(device, VFIO_PCI_CONFIG_REGION_INDEX, &rinfo) || !rinfo.size)
		_exit(12);
	if (cfg_read(device, PCI_VENDOR_ID, 2) != EDU_VENDOR_ID)
		_exit(13);
	if (ioctl(container, VFIO_IOMMU_GET_INFO, &info) || !(info.flags & VFIO_IOMMU_INFO_PGSIZES))
		_exit(14);
	if (map(container, buf, SZ_1M, SZ_1M))
		_exit(15);
	/* The sender's mapping, unmapped here. */
	if (unmap(container, 8 * SZ_1M, SZ_2M, 0) != (long long)SZ_2M)
		_exit(19);
	/* Tell the sender we hold everything; wait for it to look. */
	if (write(sock, "U", 1) != 1 || read(sock, &c, 1) != 1)
		_exit(16);
	if (unmap(container, SZ_1M, SZ_1M, 0) != (long long)SZ_1M)
		_exit(17);
	/* Map again and leave it to the close. */
	if (map(container, buf, SZ_1M, SZ_1M))
		_exit(18);
	close(device);
	close(container);
	_exit(0);
}

TEST_F_TIMEOUT(lifecycle, scm_rights, 120)
{
	__u8 *buf = buffer(SZ_2M);
	struct vfio_pci_dev dev;
	int sock[2], fds[2], status, group;
	char c;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock));
	/* The receiver exists before anything is open: it can only get the fds by message. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(sock[0]);
		fd_receiver(sock[1], self->edu);
	}
	close(sock[1]);

	ASSERT_EQ(0, vfio_pci_open(&dev, self->edu, VFIO_TYPE1v2_IOMMU));
	/* A mapping of ours, which the receiver will unmap. */
	ASSERT_EQ(0, map(dev.container, buf, 8 * SZ_1M, SZ_2M));
	EXPECT_EQ(self->locked + (long long)(SZ_2M / 1024), locked_vm_kib());
	fds[0] = dev.container;
	fds[1] = dev.fd;
	ASSERT_EQ(0, send_fds(sock[0], fds, 2));
	/* Our copies go, the group fd with them. */
	vfio_pci_close(&dev);

	ASSERT_EQ(1, read(sock[0], &c, 1)) TH_LOG("receiver failed early");
	/* The receiver's device fd holds the group: it is still busy, the mapping pinned. */
	group = open_group(self->edu);
	EXPECT_EQ(-1, group);
	EXPECT_EQ(EBUSY, errno);
	if (group >= 0)
		close(group);
	EXPECT_LE(self->pinned + SZ_1M / SZ_4K, pinned_pages());
	/* Our mapping, unmapped by the receiver, was uncharged from our address space. */
	EXPECT_EQ(self->locked, locked_vm_kib());
	ASSERT_EQ(1, write(sock[0], "G", 1));

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("receiver status %#x (exit code = failed step)", status);
	close(sock[0]);

	/* Baseline: nothing pinned, the group is free again. */
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	group = open_group(self->edu);
	EXPECT_LE(0, group) TH_LOG("group re-open: %s", strerror(errno));
	if (group >= 0)
		close(group);
	EXPECT_EQ(0, fresh_container_works(self->edu));
	munmap(buf, SZ_2M);
}

/*
 * All six orders of closing the container, group and device fds, with a mapping in place:
 * the mapping (pins and locked_vm) goes exactly when the group is released, which is when
 * both the group fd and the device fd (which holds the group) are closed; the container
 * fd alone keeps nothing.
 */
TEST_F_TIMEOUT(lifecycle, close_orders, 120)
{
	static const char *const orders[] = { "CGD", "CDG", "GCD", "GDC", "DCG", "DGC" };
	const long long npages = 4 * SZ_1M / SZ_4K;
	__u8 *buf = buffer(4 * SZ_1M);
	unsigned int o, i;
	int efd = new_eventfd();

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, efd);
	for (o = 0; o < sizeof(orders) / sizeof(orders[0]); o++) {
		struct vfio_pci_dev dev;
		int group_closed = 0, device_closed = 0, group;

		ASSERT_EQ(0, vfio_pci_open(&dev, self->edu, VFIO_TYPE1v2_IOMMU));
		ASSERT_EQ(0, map(dev.container, buf, SZ_1M, 4 * SZ_1M));
		/* An interrupt in use too, which only the device fd holds. */
		ASSERT_EQ(0, set_irq_eventfds(dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd));
		for (i = 0; i < 3; i++) {
			switch (orders[o][i]) {
			case 'C':
				ASSERT_EQ(0, close(dev.container));
				break;
			case 'G':
				ASSERT_EQ(0, close(dev.group));
				group_closed = 1;
				break;
			case 'D':
				ASSERT_EQ(0, close(dev.fd));
				device_closed = 1;
				break;
			}
			EXPECT_EQ(device_closed ? 0 : 1, vfio_irq_lines_log(device_closed ? 0 : 1))
				TH_LOG("order %s, after %c", orders[o], orders[o][i]);
			if (group_closed && device_closed) {
				EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned))
					TH_LOG("order %s, after %c", orders[o], orders[o][i]);
				EXPECT_EQ(self->locked, locked_vm_kib());
			} else {
				EXPECT_LE(self->pinned + npages, pinned_pages())
					TH_LOG("order %s, after %c", orders[o], orders[o][i]);
				EXPECT_EQ(self->locked + npages * 4, locked_vm_kib());
				/* The group file is still open (its fd or the device's hold). */
				group = open_group(self->edu);
				EXPECT_EQ(-1, group);
				EXPECT_EQ(EBUSY, errno);
				if (group >= 0)
					close(group);
			}
		}
		group = open_group(self->edu);
		EXPECT_LE(0, group) TH_LOG("order %s: group re-open: %s", orders[o], strerror(errno));
		if (group >= 0)
			close(group);
	}
	EXPECT_EQ(0, fresh_container_works(self->edu));
	munmap(buf, 4 * SZ_1M);
	close(efd);
}

/*
 * A BAR mmap holds the device file: with every fd closed but the mmap in place, the device
 * stays open (the BAR still reads), its group busy and the mappings pinned; munmap() is the
 * last close.
 */
TEST_F_TIMEOUT(lifecycle, close_with_bar_mmap, 120)
{
	struct vfio_region_info info;
	struct vfio_pci_dev dev;
	__u8 *buf = buffer(SZ_1M);
	volatile __u32 *bar;
	__u32 id;
	int group;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, vfio_pci_open(&dev, self->edu, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, map(dev.container, buf, SZ_1M, SZ_1M));
	ASSERT_EQ(0, region_info(dev.fd, EDU_BAR, &info));
	ASSERT_TRUE(info.flags & VFIO_REGION_INFO_FLAG_MMAP);
	bar = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev.fd, info.offset);
	ASSERT_NE(MAP_FAILED, bar);
	id = bar_read32(dev.fd, EDU_BAR, EDU_REG_ID);
	ASSERT_EQ(0xed, id & 0xff);
	vfio_pci_close(&dev);

	EXPECT_EQ(id, bar[EDU_REG_ID / 4]);
	EXPECT_LE(self->pinned + SZ_1M / SZ_4K, pinned_pages());
	group = open_group(self->edu);
	EXPECT_EQ(-1, group);
	EXPECT_EQ(EBUSY, errno);
	if (group >= 0)
		close(group);

	ASSERT_EQ(0, munmap((void *)bar, info.size));
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(self->locked, locked_vm_kib());
	group = open_group(self->edu);
	EXPECT_LE(0, group) TH_LOG("group re-open: %s", strerror(errno));
	if (group >= 0)
		close(group);
	munmap(buf, SZ_1M);
}

/*
 * Unbinding a device whose fd is open blocks, and asks the user to let go through the
 * request interrupt (what DPDK's and QEMU's request notifiers act on); closing the fds
 * completes the unbind, and the device's mappings, group node and group go with it. The
 * device is bound back to vfio-pci (driver_override) and works again.
 */
TEST_F_TIMEOUT(lifecycle, unbind_while_device_open, 120)
{
	struct vfio_pci_dev dev;
	__u8 *buf = buffer(SZ_1M);
	char drv[64];
	int req = new_eventfd(), status, group;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, req);
	ASSERT_EQ(0, vfio_pci_open(&dev, self->igb, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, set_irq_eventfds(dev.fd, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, &req));
	ASSERT_EQ(0, map(dev.container, buf, SZ_1M, SZ_1M));

	pid = unbind_async(self->igb);
	ASSERT_LE(0, pid);
	/* The request comes at once; the unbind waits for us. */
	EXPECT_LE(1, eventfd_wait(req, 5000)) TH_LOG("no device request");
	EXPECT_EQ(-1, wait_for(pid, 300)) TH_LOG("unbind did not wait for the open device");
	/* The device still works meanwhile. */
	EXPECT_EQ(0x8086, cfg_read(dev.fd, PCI_VENDOR_ID, 2));
	EXPECT_EQ(-EEXIST, map(dev.container, buf, SZ_1M, SZ_4K));

	vfio_pci_close(&dev);
	status = wait_for(pid, 10000);
	if (status == -1)
		kill(pid, SIGKILL);
	EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("unbind status %#x", status);
	EXPECT_STREQ("none", driver_of(self->igb, drv, sizeof(drv)));
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(-1, open_group(self->igb));
	EXPECT_EQ(ENOENT, errno);

	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/drivers_probe", self->igb));
	ASSERT_STREQ("vfio-pci", driver_of(self->igb, drv, sizeof(drv)));
	group = open_group(self->igb);
	EXPECT_LE(0, group) TH_LOG("group re-open: %s", strerror(errno));
	if (group >= 0)
		close(group);
	EXPECT_EQ(0, fresh_container_works(self->igb));
	close(req);
	munmap(buf, SZ_1M);
}

/*
 * Unbinding the only device of a group whose fd is open (no device fd) completes at once
 * and revokes the group: it leaves its container, whose mappings are unpinned and whose
 * IOMMU context is gone; the group fd answers -ENODEV until closed.
 */
TEST_F_TIMEOUT(lifecycle, unbind_while_mapped, 120)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	__u8 *buf = buffer(SZ_1M);
	int group, container, status;
	char drv[64];
	pid_t pid;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, open_container(self->igb, VFIO_TYPE1v2_IOMMU, &group, &container));
	ASSERT_EQ(0, map(container, buf, SZ_1M, SZ_1M));
	EXPECT_LE(self->pinned + SZ_1M / SZ_4K, pinned_pages());

	pid = unbind_async(self->igb);
	ASSERT_LE(0, pid);
	status = wait_for(pid, 10000);
	if (status == -1)
		kill(pid, SIGKILL);
	ASSERT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("unbind status %#x", status);
	EXPECT_STREQ("none", driver_of(self->igb, drv, sizeof(drv)));
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(self->locked, locked_vm_kib());
	EXPECT_EQ(-1, ioctl(group, VFIO_GROUP_GET_STATUS, &st));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, ioctl(container, VFIO_IOMMU_GET_INFO, &info));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, map(container, buf, SZ_1M, SZ_1M));
	close(group);
	close(container);

	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/drivers_probe", self->igb));
	ASSERT_STREQ("vfio-pci", driver_of(self->igb, drv, sizeof(drv)));
	EXPECT_EQ(0, fresh_container_works(self->igb));
	munmap(buf, SZ_1M);
}

/* Concurrent MAP/UNMAP on overlapping ranges: what each thread saw. */
#define STORM_THREADS 4
#define STORM_OPS 300
#define STORM_SLOTS 48
#define STORM_BASE (4 * SZ_1M)

struct storm {
	int container;
	int v2;
	__u8 *buf;
	atomic_llong mapped;	/* bytes of successful maps */
	atomic_llong unmapped;	/* bytes unmaps reported */
	atomic_int unexpected;
	atomic_int maps_ok, map_eexist, unmaps_ok, unmap_einval;
};

struct storm_thread {
	struct storm *storm;
	unsigned int seed;
};

static void *storm_thread(void *arg)
{
	struct storm_thread *t = arg;
	struct storm *s = t->storm;
	int i;

	for (i = 0; i < STORM_OPS; i++) {
		unsigned int r = rand_r(&t->seed);
		__u64 slot = r % STORM_SLOTS, len = 1 + (r >> 8) % 4;

		if (slot + len > STORM_SLOTS)
			len = STORM_SLOTS - slot;
		if (!((r >> 20) & 63)) {
			long long ret = unmap_all(s->container);

			if (ret >= 0) {
				atomic_fetch_add(&s->unmapped, ret);
			} else {
				fprintf(stderr, "# unmap all: %lld\n", ret);
				atomic_fetch_add(&s->unexpected, 1);
			}
		} else if ((r >> 16) & 1) {
			int ret = map(s->container, s->buf + slot * SZ_4K,
				      STORM_BASE + slot * SZ_4K, len * SZ_4K);

			if (!ret) {
				atomic_fetch_add(&s->mapped, len * SZ_4K);
				atomic_fetch_add(&s->maps_ok, 1);
			} else if (ret == -EEXIST) {
				atomic_fetch_add(&s->map_eexist, 1);
			} else {
				fprintf(stderr, "# map slot %llu+%llu: %d\n",
					(unsigned long long)slot, (unsigned long long)len, ret);
				atomic_fetch_add(&s->unexpected, 1);
			}
		} else {
			long long ret = unmap(s->container, STORM_BASE + slot * SZ_4K,
					      len * SZ_4K, 0);

			if (ret >= 0) {
				atomic_fetch_add(&s->unmapped, ret);
				atomic_fetch_add(&s->unmaps_ok, 1);
			} else if (ret == -EINVAL && s->v2) {
				/* v2 refuses to split a mapping */
				atomic_fetch_add(&s->unmap_einval, 1);
			} else {
				fprintf(stderr, "# unmap slot %llu+%llu: %lld\n",
					(unsigned long long)slot, (unsigned long long)len, ret);
				atomic_fetch_add(&s->unexpected, 1);
			}
		}
	}
	return NULL;
}

static void concurrent_map_unmap(struct __test_metadata *_metadata,
				 FIXTURE_DATA(lifecycle) *self, int type)
{
	struct storm s = { .v2 = type == VFIO_TYPE1v2_IOMMU };
	struct storm_thread t[STORM_THREADS];
	pthread_t tid[STORM_THREADS];
	long long left;
	long avail;
	int group, i;

	s.buf = buffer(STORM_SLOTS * SZ_4K);
	ASSERT_NE(NULL, s.buf);
	ASSERT_EQ(0, open_container(self->edu, type, &group, &s.container));
	avail = dma_avail(s.container);
	ASSERT_LT(0, avail);
	for (i = 0; i < STORM_THREADS; i++) {
		t[i].storm = &s;
		t[i].seed = 0x5eed + i * 7919;
		ASSERT_EQ(0, pthread_create(&tid[i], NULL, storm_thread, &t[i]));
	}
	for (i = 0; i < STORM_THREADS; i++)
		ASSERT_EQ(0, pthread_join(tid[i], NULL));
	TH_LOG("%s: %d maps, %d EEXIST, %d unmaps, %d EINVAL",
	       s.v2 ? "v2" : "v1", atomic_load(&s.maps_ok), atomic_load(&s.map_eexist),
	       atomic_load(&s.unmaps_ok), atomic_load(&s.unmap_einval));
	EXPECT_EQ(0, atomic_load(&s.unexpected));
	/* Both outcomes happened: the ranges did overlap. */
	EXPECT_LT(0, atomic_load(&s.maps_ok));
	EXPECT_LT(0, atomic_load(&s.map_eexist));
	/* What is left is exactly what was mapped and not reported unmapped. */
	left = atomic_load(&s.mapped) - atomic_load(&s.unmapped);
	EXPECT_LE(0, left);
	EXPECT_EQ(left, unmap_all(s.container));
	EXPECT_EQ(0, unmap_all(s.container));
	EXPECT_EQ(avail, dma_avail(s.container));
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(self->locked, locked_vm_kib());
	close(s.container);
	close(group);
	munmap(s.buf, STORM_SLOTS * SZ_4K);
}

TEST_F_TIMEOUT(lifecycle, concurrent_map_unmap_v2, 200)
{
	concurrent_map_unmap(_metadata, self, VFIO_TYPE1v2_IOMMU);
}

TEST_F_TIMEOUT(lifecycle, concurrent_map_unmap_v1, 200)
{
	concurrent_map_unmap(_metadata, self, VFIO_TYPE1_IOMMU);
}

/*
 * The type1 unmap rules of upstream's vfio_dma_do_unmap() on a page-slot model: mappings
 * never overlap; v2 refuses a range that splits a mapping at either end; v1 unmaps nothing
 * when the range starts inside a mapping, else every mapping starting in the range, whole.
 */
struct model {
	int owner[STORM_SLOTS];		/* first slot of the mapping covering a slot, or -1 */
	int len[STORM_SLOTS];		/* slots of the mapping starting at a slot */
};

static int model_map(struct model *m, int slot, int len)
{
	int i;

	for (i = slot; i < slot + len; i++)
		if (m->owner[i] >= 0)
			return -EEXIST;
	for (i = slot; i < slot + len; i++)
		m->owner[i] = slot;
	m->len[slot] = len;
	return 0;
}

static long long model_unmap(struct model *m, int v2, int slot, int len)
{
	int last = slot + len - 1, i, j;
	long long bytes = 0;

	if (v2 && ((m->owner[slot] >= 0 && m->owner[slot] != slot) ||
		   (m->owner[last] >= 0 && m->owner[last] + m->len[m->owner[last]] - 1 != last)))
		return -EINVAL;
	if (m->owner[slot] >= 0 && m->owner[slot] < slot)
		return 0;
	for (i = slot; i <= last; i++) {
		if (m->owner[i] != i)
			continue;
		bytes += m->len[i] * SZ_4K;
		for (j = i; j < i + m->len[i]; j++)
			m->owner[j] = -1;
	}
	return bytes;
}

/*
 * One thread, random maps and unmaps over the same slots as the concurrent test: every
 * result, errno and unmapped size must be exactly the model's (upstream's rules).
 */
static void model_map_unmap(struct __test_metadata *_metadata, FIXTURE_DATA(lifecycle) *self,
			    int type)
{
	int v2 = type == VFIO_TYPE1v2_IOMMU, group, container, i, mismatches = 0;
	unsigned int seed = 0x11d + type;
	__u8 *buf = buffer(STORM_SLOTS * SZ_4K);
	struct model m;
	long long left = 0;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < STORM_SLOTS; i++)
		m.owner[i] = -1;
	ASSERT_EQ(0, open_container(self->edu, type, &group, &container));
	for (i = 0; i < 3000; i++) {
		unsigned int r = rand_r(&seed);
		int slot = r % STORM_SLOTS, len = 1 + (r >> 8) % 6;
		long long got, want;

		if (slot + len > STORM_SLOTS)
			len = STORM_SLOTS - slot;
		if ((r >> 16) % 3 == 0) {
			got = map(container, buf + slot * SZ_4K, STORM_BASE + slot * SZ_4K,
				  len * SZ_4K);
			want = model_map(&m, slot, len);
		} else {
			got = unmap(container, STORM_BASE + slot * SZ_4K, len * SZ_4K, 0);
			want = model_unmap(&m, v2, slot, len);
		}
		if (got != want && mismatches++ < 10)
			TH_LOG("op %d: %s slots %d+%d: got %lld, want %lld", i,
			       (r >> 16) % 3 == 0 ? "map" : "unmap", slot, len, got, want);
	}
	EXPECT_EQ(0, mismatches);
	for (i = 0; i < STORM_SLOTS; i++)
		if (m.owner[i] >= 0)
			left += SZ_4K;
	EXPECT_EQ(left, unmap_all(container));
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	close(container);
	close(group);
	munmap(buf, STORM_SLOTS * SZ_4K);
}

TEST_F_TIMEOUT(lifecycle, model_map_unmap_v2, 120)
{
	model_map_unmap(_metadata, self, VFIO_TYPE1v2_IOMMU);
}

TEST_F_TIMEOUT(lifecycle, model_map_unmap_v1, 120)
{
	model_map_unmap(_metadata, self, VFIO_TYPE1_IOMMU);
}

/* A MAP_DMA of BIG_MAP (4 KiB pages) at IOVA 0, run by big_map_thread(). */
struct big_map {
	int container;
	__u8 *buf;
	int ret;
	atomic_int done;
};

static void *big_map_thread(void *arg)
{
	struct big_map *m = arg;

	m->ret = map(m->container, m->buf, 0, BIG_MAP);
	atomic_store(&m->done, 1);
	return NULL;
}

/* BIG_MAP of 4 KiB pages, populated; NULL on failure. */
static __u8 *big_buffer(void)
{
	__u8 *buf = mmap(NULL, BIG_MAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		return NULL;
	if (small_pages(buf, BIG_MAP) || madvise(buf, BIG_MAP, MADV_POPULATE_WRITE)) {
		munmap(buf, BIG_MAP);
		return NULL;
	}
	return buf;
}

/* Starts @m's map in a thread and waits until it has pinned a sixteenth of it. */
static void start_big_map(struct __test_metadata *_metadata, struct big_map *m, pthread_t *tid)
{
	long long base = pinned_pages();
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	ASSERT_EQ(0, pthread_create(tid, NULL, big_map_thread, m));
	while (pinned_pages() < base + BIG_PAGES / 16 && !atomic_load(&m->done) &&
	       seconds_since(&start) < 60)
		;
}

/*
 * The container stays usable while a large MAP_DMA pins: rvfio holds its backend lock for
 * one pinning batch at a time, where upstream holds it across the whole pin. Other maps,
 * unmaps and GET_INFO complete meanwhile; a map into the range being pinned is -EEXIST
 * (as upstream's, which answers once the big map is done); the big map is complete and
 * carries device DMA afterwards.
 */
TEST_F_TIMEOUT(lifecycle, container_usable_during_big_map, 200)
{
	const char *stack = getenv("RVFIO_STACK");
	struct vfio_pci_dev dev;
	struct big_map m = { .buf = big_buffer() };
	__u8 *small = buffer(SZ_4K);
	int during = 0, rounds = 0;
	pthread_t tid;

	ASSERT_NE(NULL, stack) TH_LOG("RVFIO_STACK not set (run through with-vfio.sh)");
	ASSERT_NE(NULL, m.buf);
	ASSERT_NE(NULL, small);
	ASSERT_EQ(0, vfio_pci_open(&dev, self->edu, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, cfg_command(dev.fd, PCI_COMMAND_MASTER, 0));
	m.container = dev.container;
	start_big_map(_metadata, &m, &tid);
	while (!atomic_load(&m.done)) {
		/* Beside the big map (edu reaches 256 MiB; the map starts at 0): allowed. */
		EXPECT_EQ(0, map(dev.container, small, 4 * BIG_MAP, SZ_4K));
		EXPECT_LT(0, dma_avail(dev.container));
		EXPECT_EQ((long long)SZ_4K, unmap(dev.container, 4 * BIG_MAP, SZ_4K, 0));
		/* Into it: taken. */
		EXPECT_EQ(-EEXIST, map(dev.container, small, BIG_MAP / 2, SZ_4K));
		rounds++;
		if (!atomic_load(&m.done))
			during++;
	}
	ASSERT_EQ(0, pthread_join(tid, NULL));
	ASSERT_EQ(0, m.ret);
	TH_LOG("%s: %d of %d rounds of map, GET_INFO, unmap and map-into-the-pin completed "
	       "while the big map was pinning", stack, during, rounds);
	if (!strcmp(stack, "rvfio")) {
		EXPECT_LE(20, during);
	} else {
		/* Upstream's first round waits for the lock; at most it ends before done is set. */
		EXPECT_GE(2, during);
	}
	/* The big map is whole: the device copies between its first and last 128 MiB. */
	fill(m.buf + SZ_1M, SZ_4K, 0x77);
	memset(m.buf + 200 * SZ_1M, 0, SZ_4K);
	ASSERT_EQ(0, edu_copy(dev.fd, SZ_1M, 200 * SZ_1M));
	EXPECT_EQ(0, memcmp(m.buf + SZ_1M, m.buf + 200 * SZ_1M, SZ_4K));
	EXPECT_EQ((long long)BIG_MAP, unmap_all(dev.container));
	vfio_pci_close(&dev);
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(self->locked, locked_vm_kib());
	munmap(m.buf, BIG_MAP);
	munmap(small, SZ_4K);
}

/*
 * The last group leaves the container while a large MAP_DMA into it pins. The map succeeds
 * (upstream's completes before the detach, rvfio's is published into a released backend
 * and undone), nothing stays pinned or charged, and the group attaches and maps afresh.
 */
TEST_F_TIMEOUT(lifecycle, detach_during_big_map, 200)
{
	struct big_map m = { .buf = big_buffer() };
	int group, in_flight;
	pthread_t tid;

	ASSERT_NE(NULL, m.buf);
	ASSERT_EQ(0, open_container(self->edu, VFIO_TYPE1v2_IOMMU, &group, &m.container));
	start_big_map(_metadata, &m, &tid);
	in_flight = !atomic_load(&m.done);
	EXPECT_EQ(0, ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	TH_LOG("group detached %s the map returned", in_flight && !atomic_load(&m.done) ?
	       "before" : "after");
	ASSERT_EQ(0, pthread_join(tid, NULL));
	EXPECT_EQ(0, m.ret);
	/* No backend any more: the container answers as a fresh one. */
	EXPECT_EQ(-EINVAL, map(m.container, m.buf, 0, SZ_4K));
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(self->locked, locked_vm_kib());
	close(m.container);
	close(group);
	EXPECT_EQ(0, fresh_container_works(self->edu));
	munmap(m.buf, BIG_MAP);
}

/* delete_module(2) without waiting: 0 or -errno. */
static int try_rmmod(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

/*
 * rmmod while busy is refused and changes nothing: vfio_pci while a device fd is open
 * (the open device holds its driver's module), vfio while vfio_pci and open fds use it;
 * the device, its mapping and its MSI keep working.
 */
TEST_F_TIMEOUT(lifecycle, rmmod_while_busy, 60)
{
	struct vfio_pci_dev dev;
	__u8 *buf = buffer(SZ_1M);
	int efd = new_eventfd();

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfio_pci_open(&dev, self->edu, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, map(dev.container, buf, SZ_1M, SZ_1M));
	ASSERT_EQ(0, set_irq_eventfds(dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd));

	EXPECT_EQ(-EWOULDBLOCK, try_rmmod("vfio_pci"));
	EXPECT_EQ(-EWOULDBLOCK, try_rmmod("vfio"));

	EXPECT_EQ(EDU_VENDOR_ID, cfg_read(dev.fd, PCI_VENDOR_ID, 2));
	EXPECT_EQ(0, trigger_irqs(dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1));
	EXPECT_LE(1, eventfd_wait(efd, 2000));
	EXPECT_EQ((long long)SZ_1M, unmap(dev.container, SZ_1M, SZ_1M, 0));
	vfio_pci_close(&dev);
	close(efd);
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(0, vfio_irq_lines());
	munmap(buf, SZ_1M);
}

TEST_HARNESS_MAIN
