// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO_UPDATE_VADDR, what QEMU's cpr-exec and cpr-transfer live update do with the legacy
 * container: UNMAP_DMA with VADDR invalidates the user addresses of mappings, which stay
 * pinned and mapped; the container goes to a new process image (its fds survive exec);
 * MAP_DMA with VADDR gives each mapping its new address, and its locked_vm charge moves to
 * the new address space. Checked: the extension before and after SET_IOMMU, every errno of
 * both calls (ENOENT, EINVAL, EEXIST, EBUSY for an attach while an address is invalid,
 * ENOMEM over RLIMIT_MEMLOCK), that a failed invalidation changes nothing, and, across a
 * real exec, that the device keeps reaching the same memory through the same IOVAs (edu's
 * DMA engine) while the charges move. On edu bound to vfio-pci (RVFIO_EDU_BDF; igb,
 * RVFIO_IGB_BDF, as a second group); only the uAPI is used, so it runs unchanged on
 * upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"
#include "vfio_test_util.h"

#define PG 0x1000ULL
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* Two mappings of a memfd: A is its first half, B its second (below edu's 28-bit mask). */
#define HALF (2 * PG)
#define MEM_SIZE (2 * HALF)
#define IOVA_A 0x100000ULL
#define IOVA_B 0x200000ULL
#define IOVA_NONE 0x400000ULL

/* MAP_DMA with VADDR: [@iova, @iova + @size) is at @vaddr now; 0 or -errno. */
static int map_vaddr(int container, void *vaddr, __u64 iova, __u64 size)
{
	return type1_map(container, vaddr, iova, size, VFIO_DMA_MAP_FLAG_VADDR);
}

/* UNMAP_DMA with VADDR (and @flags): the size invalidated, or -errno. */
static long long invalidate(int container, __u64 iova, __u64 size, __u32 flags)
{
	return type1_unmap_flags(container, iova, size, VFIO_DMA_UNMAP_FLAG_VADDR | flags);
}

/*
 * edu copies the first page of A to the first page of B through its buffer: what the
 * device reaches at those IOVAs.
 */
static int edu_copy_a_to_b(int dev)
{
	if (edu_dma(dev, IOVA_A, EDU_DMA_BUF, PG, 0, 1))
		return -1;
	return edu_dma(dev, EDU_DMA_BUF, IOVA_B, PG, EDU_DMA_TO_RAM, 1);
}

/* VmLck in KiB from @status, an open /proc/self/status (readable after a uid change); -1. */
static long long vmlck_kib(int status)
{
	char buf[4096], *line;
	ssize_t n = pread(status, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	line = strstr(buf, "\nVmLck:");
	return line ? strtoll(line + strlen("\nVmLck:"), NULL, 10) : -1;
}

/*
 * The new process image of the exec tests (argv: --remap CONTAINER DEVICE MEMFD): the
 * memfd mapped anew, both mappings given their new addresses, the device still copying
 * what this image writes. Its exit status says what failed first (0: nothing).
 */
static int remap_main(char **argv)
{
	int container = atoi(argv[2]), dev = atoi(argv[3]), memfd = atoi(argv[4]);
	int status = open("/proc/self/status", O_RDONLY);
	struct rlimit old, tight;
	__u8 *mem;
	int ret;

	/* A new address space: nothing charged to it yet. */
	if (vmlck_kib(status) != 0)
		return 10;
	/* Mapped at an offset from where the old image had it. */
	mem = mmap(NULL, MEM_SIZE + PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 11;
	mem = mmap(mem + PG, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, memfd, 0);
	if (mem == MAP_FAILED)
		return 12;
	/* What the old image wrote is what the device copied into B before the exec. */
	if (!pattern_matches(mem, PG, 1) || !pattern_matches(mem + HALF, PG, 1))
		return 13;

	/* Over RLIMIT_MEMLOCK without CAP_IPC_LOCK: -ENOMEM, and nothing moves. */
	if (getrlimit(RLIMIT_MEMLOCK, &old))
		return 14;
	tight = old;
	tight.rlim_cur = PG;
	if (setrlimit(RLIMIT_MEMLOCK, &tight))
		return 15;
	/* The capability goes with the uid change; the fds stay usable. */
	if (geteuid() == 0 && setresuid(65534, 65534, 65534))
		return 16;
	ret = map_vaddr(container, mem, IOVA_A, HALF);
	if (ret != -ENOMEM || vmlck_kib(status) != 0) {
		fprintf(stderr, "# over RLIMIT_MEMLOCK: MAP_DMA(VADDR) %d, VmLck %lld KiB\n", ret,
			vmlck_kib(status));
		return 17;
	}
	if (setrlimit(RLIMIT_MEMLOCK, &old))
		return 18;

	if (map_vaddr(container, mem, IOVA_A, HALF) ||
	    map_vaddr(container, mem + HALF, IOVA_B, HALF))
		return 19;
	if (vmlck_kib(status) != MEM_SIZE / 1024)
		return 20;
	/* Updated: a second update is refused. */
	if (map_vaddr(container, mem, IOVA_A, HALF) != -EINVAL)
		return 21;

	/* The device reaches the memfd's pages as before: new data, copied by edu. */
	fill_pattern(mem, PG, 2);
	memset(mem + HALF, 0, PG);
	if (edu_copy_a_to_b(dev))
		return 22;
	if (!pattern_matches(mem + HALF, PG, 2))
		return 23;
	return 0;
}

FIXTURE(vaddr) {
	struct vfio_pci_dev dev;
	int memfd;
	__u8 *mem;
	long long pinned;	/* system-wide pins before the mappings */
	long long locked;	/* VmLck before the mappings */
};

FIXTURE_SETUP(vaddr)
{
	const char *bdf = test_bdf("RVFIO_EDU_BDF");

	self->mem = NULL;
	ASSERT_NE(NULL, bdf);
	ASSERT_EQ(0, vfio_pci_open(&self->dev, bdf, VFIO_TYPE1v2_IOMMU));
	/* VFIO leaves bus mastering off; DMA needs it. */
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MASTER, 0));
	ASSERT_EQ(0, edu_dma_wait(self->dev.fd, 5000)) TH_LOG("edu DMA engine busy");
	/* Without CLOEXEC: the exec tests hand it to the new image. */
	self->memfd = memfd_create("guest_ram", 0);
	ASSERT_LE(0, self->memfd);
	ASSERT_EQ(0, ftruncate(self->memfd, MEM_SIZE));
	self->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, self->memfd, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	memset(self->mem, 0, MEM_SIZE);
	self->pinned = pinned_pages();
	self->locked = locked_vm_kib();
	ASSERT_EQ(0, type1_map(self->dev.container, self->mem, IOVA_A, HALF, RW));
	ASSERT_EQ(0, type1_map(self->dev.container, self->mem + HALF, IOVA_B, HALF, RW));
	ASSERT_EQ(self->locked + MEM_SIZE / 1024, locked_vm_kib());
}

FIXTURE_TEARDOWN(vaddr)
{
	vfio_pci_close(&self->dev);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, MEM_SIZE);
	close(self->memfd);
}

/* Offered by a type1 container once its IOMMU is set, not before (as upstream). */
TEST_F(vaddr, extension)
{
	int fresh = open("/dev/vfio/vfio", O_RDWR);

	ASSERT_LE(0, fresh);
	EXPECT_EQ(0, ioctl(fresh, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR));
	close(fresh);
	EXPECT_EQ(1, ioctl(self->dev.container, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR));
	EXPECT_EQ(1, ioctl(self->dev.container, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL));
}

/* MAP_DMA with VADDR: only a new address for exactly one invalidated mapping. */
TEST_F(vaddr, map_errnos)
{
	int c = self->dev.container;

	/* Access rights belong to new mappings; a new mapping needs them. */
	EXPECT_EQ(-EINVAL, type1_map(c, self->mem, IOVA_A, HALF,
				     VFIO_DMA_MAP_FLAG_VADDR | VFIO_DMA_MAP_FLAG_READ));
	EXPECT_EQ(-EINVAL, type1_map(c, self->mem, IOVA_NONE, HALF, 0));
	/* Nothing there. */
	EXPECT_EQ(-ENOENT, map_vaddr(c, self->mem, IOVA_NONE, HALF));
	/* A mapping whose address is valid. */
	EXPECT_EQ(-EINVAL, map_vaddr(c, self->mem, IOVA_A, HALF));
	EXPECT_EQ(-EINVAL, map_vaddr(c, self->mem + 1, IOVA_A, HALF));

	ASSERT_EQ(HALF, invalidate(c, IOVA_A, HALF, 0));
	/* Not exactly the invalidated mapping: part of it, or more. */
	EXPECT_EQ(-EINVAL, map_vaddr(c, self->mem, IOVA_A, PG));
	EXPECT_EQ(-EINVAL, map_vaddr(c, self->mem + PG, IOVA_A + PG, PG));
	EXPECT_EQ(-EINVAL, map_vaddr(c, self->mem, IOVA_A, 2 * HALF));
	/* Still mapped: a new mapping there overlaps. */
	EXPECT_EQ(-EEXIST, type1_map(c, self->mem, IOVA_A, HALF, RW));
	EXPECT_EQ(-EINVAL, map_vaddr(c, self->mem + 1, IOVA_A, HALF));

	EXPECT_EQ(0, map_vaddr(c, self->mem, IOVA_A, HALF));
	EXPECT_EQ(-EINVAL, map_vaddr(c, self->mem, IOVA_A, HALF));
	/* Same address space: the charge stays where it was. */
	EXPECT_EQ(self->locked + MEM_SIZE / 1024, locked_vm_kib());
}

/* UNMAP_DMA with VADDR: the v2 unmap rules, and all or nothing. */
TEST_F(vaddr, invalidate_errnos)
{
	int c = self->dev.container;

	/* Splitting a mapping, and with a dirty bitmap: refused. */
	EXPECT_EQ(-EINVAL, invalidate(c, IOVA_A, PG, 0));
	EXPECT_EQ(-EINVAL, invalidate(c, IOVA_A + PG, PG, 0));
	EXPECT_EQ(-EINVAL, invalidate(c, 0, 0, VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP));
	/* Nothing there: nothing invalidated. */
	EXPECT_EQ(0, invalidate(c, IOVA_NONE, HALF, 0));

	/* B invalid: a range over A and B fails, and leaves A valid. */
	ASSERT_EQ(HALF, invalidate(c, IOVA_B, HALF, 0));
	EXPECT_EQ(-EINVAL, invalidate(c, IOVA_B, HALF, 0));
	EXPECT_EQ(-EINVAL, invalidate(c, IOVA_A, IOVA_B + HALF - IOVA_A, 0));
	EXPECT_EQ(-EINVAL, invalidate(c, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL));
	EXPECT_EQ(-EINVAL, map_vaddr(c, self->mem, IOVA_A, HALF));
	EXPECT_EQ(HALF, invalidate(c, IOVA_A, HALF, 0));
	EXPECT_EQ(0, map_vaddr(c, self->mem, IOVA_A, HALF));
	EXPECT_EQ(0, map_vaddr(c, self->mem + HALF, IOVA_B, HALF));

	/* UNMAP_ALL with VADDR: every mapping. */
	EXPECT_EQ(MEM_SIZE, invalidate(c, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL));
	EXPECT_EQ(0, map_vaddr(c, self->mem, IOVA_A, HALF));
	EXPECT_EQ(0, map_vaddr(c, self->mem + HALF, IOVA_B, HALF));
}

/* No group joins while an address is invalid (upstream: -EBUSY); it can once updated. */
TEST_F(vaddr, attach_while_invalid)
{
	const char *igb = test_bdf("RVFIO_IGB_BDF");
	int c = self->dev.container, group;

	ASSERT_NE(NULL, igb);
	group = open_group(igb);
	ASSERT_LE(0, group);
	ASSERT_EQ(HALF, invalidate(c, IOVA_B, HALF, 0));
	EXPECT_EQ(-EBUSY, xioctl(group, VFIO_GROUP_SET_CONTAINER, &c));
	ASSERT_EQ(0, map_vaddr(c, self->mem + HALF, IOVA_B, HALF));
	EXPECT_EQ(0, xioctl(group, VFIO_GROUP_SET_CONTAINER, &c));
	EXPECT_EQ(0, xioctl(group, VFIO_GROUP_UNSET_CONTAINER, NULL));
	close(group);
}

/* An invalidated mapping unmaps, and a container closes, as any other: nothing leaks. */
TEST_F(vaddr, unmap_invalidated)
{
	int c = self->dev.container;

	ASSERT_EQ(MEM_SIZE, invalidate(c, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL));
	EXPECT_EQ(HALF, type1_unmap_flags(c, IOVA_A, HALF, 0));
	EXPECT_EQ(-ENOENT, map_vaddr(c, self->mem, IOVA_A, HALF));
	EXPECT_EQ(self->locked + HALF / 1024, locked_vm_kib());
	vfio_pci_close(&self->dev);
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(self->locked, locked_vm_kib());
}

/* Clears FD_CLOEXEC (the device fd has it from GET_DEVICE_FD) and execs --remap. */
static void exec_remap(FIXTURE_DATA(vaddr) *self)
{
	char container[16], dev[16], memfd[16];

	fcntl(self->dev.fd, F_SETFD, 0);
	fcntl(self->dev.container, F_SETFD, 0);
	snprintf(container, sizeof(container), "%d", self->dev.container);
	snprintf(dev, sizeof(dev), "%d", self->dev.fd);
	snprintf(memfd, sizeof(memfd), "%d", self->memfd);
	execl("/proc/self/exe", "update_vaddr_test", "--remap", container, dev, memfd, NULL);
}

/* Before the exec: edu copies A's first page (pattern 1) into B's, and both go invalid. */
static int prepare_handover(FIXTURE_DATA(vaddr) *self)
{
	fill_pattern(self->mem, PG, 1);
	if (edu_copy_a_to_b(self->dev.fd) || !pattern_matches(self->mem + HALF, PG, 1))
		return -1;
	return invalidate(self->dev.container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL) == MEM_SIZE ? 0 : -1;
}

/*
 * cpr-exec: this process execs itself with the container, the device and the memfd; the
 * new image (remap_main) updates the addresses and drives the device. Its exit status is
 * this test's.
 */
TEST_F(vaddr, exec_handover)
{
	ASSERT_EQ(0, prepare_handover(self));
	exec_remap(self);
	ASSERT_TRUE(false) TH_LOG("exec: %s", strerror(errno));
}

/*
 * The same from a child while the old address space lives on: the charge leaves it (this
 * process's VmLck drops) for the child's, which goes with the child. The mappings stay
 * and unmap as any other.
 */
TEST_F(vaddr, child_handover_moves_charge)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, prepare_handover(self));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		exec_remap(self);
		_exit(99);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("the new image failed at step %d",
						 WEXITSTATUS(status));
	EXPECT_EQ(self->locked, locked_vm_kib());
	/* What the child had edu copy is in the memory this process maps too. */
	EXPECT_TRUE(pattern_matches(self->mem + HALF, PG, 2));
	EXPECT_EQ(-EINVAL, map_vaddr(self->dev.container, self->mem, IOVA_A, HALF));
	EXPECT_EQ(MEM_SIZE, type1_unmap_flags(self->dev.container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL));
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(self->locked, locked_vm_kib());
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--remap"))
		return remap_main(argv);
	return test_harness_run(argc, argv);
}
