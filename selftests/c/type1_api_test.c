// SPDX-License-Identifier: GPL-2.0
/*
 * The type1 IOMMU backend through the container: CHECK_EXTENSION before and after
 * SET_IOMMU, SET_IOMMU errors, IOMMU_GET_INFO with its argsz-growth protocol and
 * capability chain, MAP_DMA/UNMAP_DMA argument checking, v1 and v2 unmap rules, UNMAP_ALL,
 * locked_vm and pinned-page accounting, RLIMIT_MEMLOCK, the mapping limit, and type1 as a
 * module: the reference a backend holds, dma_entry_limit written at run time, and a
 * container without it (sh/type1_module.sh). Runs in both type1 flavours, on edu bound to
 * vfio-pci (RVFIO_EDU_BDF); only the uAPI and sysfs are used, so it runs unchanged on
 * upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"
#include "vfio_test_util.h"

#define SZ_4K 0x1000UL
#define SZ_2M 0x200000UL
#define SZ_1M 0x100000UL
/* x86's MSI window, which the IOMMU reserves. */
#define MSI_BASE 0xfee00000UL

static int map(int container, __u64 vaddr, __u64 iova, __u64 size, __u32 flags)
{
	return type1_map(container, (void *)(uintptr_t)vaddr, iova, size, flags);
}

#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)

/* Unmaps and returns 0 or -errno; *unmapped gets the size the kernel reports. */
static int unmap(int container, __u64 iova, __u64 size, __u32 flags, __u64 *unmapped)
{
	long long ret = type1_unmap_flags(container, iova, size, flags);

	if (unmapped)
		*unmapped = ret < 0 ? ~0ULL : (__u64)ret;
	return ret < 0 ? (int)ret : 0;
}

/* The last valid IOVA of the container (the end of its last IOVA range; the IOMMU driver's
 * aperture: 2^48 - 1 on VT-d here, more on AMD-Vi), or 0 if GET_INFO fails. */
static __u64 last_iova(int container)
{
	struct vfio_iommu_type1_info *info = type1_info(container);
	struct vfio_iommu_type1_info_cap_iova_range *cap;
	__u64 last = 0;

	if (!info)
		return 0;
	cap = (void *)type1_info_cap(info, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	if (cap && cap->nr_iovas)
		last = cap->iova_ranges[cap->nr_iovas - 1].end;
	free(info);
	return last;
}

/* DMA_AVAIL of the container, or -1. */
static long dma_avail(int container)
{
	struct vfio_iommu_type1_info *info = type1_info(container);
	struct vfio_iommu_type1_info_dma_avail *cap;
	long avail = -1;

	if (!info)
		return -1;
	cap = (void *)type1_info_cap(info, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	if (cap)
		avail = cap->avail;
	free(info);
	return avail;
}

FIXTURE(type1) {
	int group;
	int container;
	void *buf;
	size_t buf_size;
};

FIXTURE_VARIANT(type1) {
	int iommu_type;
	/* Whether unmap may refuse to split a mapping (v2). */
	int v2;
};

FIXTURE_VARIANT_ADD(type1, v1) { .iommu_type = VFIO_TYPE1_IOMMU, .v2 = 0 };
FIXTURE_VARIANT_ADD(type1, v2) { .iommu_type = VFIO_TYPE1v2_IOMMU, .v2 = 1 };

FIXTURE_SETUP(type1)
{
	const char *bdf = test_bdf("RVFIO_EDU_BDF");
	struct vfio_group_status status = { .argsz = sizeof(status) };

	ASSERT_NE(NULL, bdf) TH_LOG("RVFIO_EDU_BDF not set");
	self->group = open_group(bdf);
	ASSERT_LE(0, self->group);
	self->container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, self->container);
	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_GET_STATUS, &status));
	ASSERT_EQ(VFIO_GROUP_FLAGS_VIABLE, status.flags);

	/* Nothing is possible before a group is in the container. */
	EXPECT_EQ(-1, ioctl(self->container, VFIO_SET_IOMMU, variant->iommu_type));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->container, VFIO_IOMMU_GET_INFO, NULL));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, ioctl(self->group, VFIO_GROUP_SET_CONTAINER, &self->container));
	ASSERT_EQ(0, ioctl(self->container, VFIO_SET_IOMMU, variant->iommu_type));

	self->buf_size = 16 * SZ_2M;
	self->buf = mmap(NULL, self->buf_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->buf);
}

FIXTURE_TEARDOWN(type1)
{
	munmap(self->buf, self->buf_size);
	close(self->container);
	close(self->group);
}

/* Extensions on a fresh container, and SET_IOMMU's errors, before this fixture's set-up. */
TEST(extensions_and_set_iommu)
{
	const char *bdf = test_bdf("RVFIO_EDU_BDF");
	int container = open("/dev/vfio/vfio", O_RDWR);
	int group = open_group(bdf);

	ASSERT_LE(0, container);
	ASSERT_LE(0, group);
	EXPECT_EQ(1, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(1, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(1, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL));
	EXPECT_EQ(0, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_DMA_CC_IOMMU));
	EXPECT_EQ(0, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU));
	EXPECT_EQ(0, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_NOIOMMU_IOMMU));
	EXPECT_EQ(0, ioctl(container, VFIO_CHECK_EXTENSION, 6));

	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	/* Types no backend offers, and an extension that is not an IOMMU type. */
	EXPECT_EQ(-1, ioctl(container, VFIO_SET_IOMMU, VFIO_SPAPR_TCE_IOMMU));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, ioctl(container, VFIO_SET_IOMMU, 12345));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, ioctl(container, VFIO_SET_IOMMU, VFIO_UNMAP_ALL));
	EXPECT_EQ(EINVAL, errno);
	/* Backend ioctls without a backend. */
	EXPECT_EQ(-1, ioctl(container, VFIO_IOMMU_MAP_DMA, NULL));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(-1, ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(1, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(1, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(1, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL));
	EXPECT_EQ(0, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_SPAPR_TCE_IOMMU));
	/* An ioctl the backend does not know. */
	EXPECT_EQ(-1, ioctl(container, VFIO_IOMMU_ENABLE));
	EXPECT_EQ(ENOTTY, errno);

	/* The last group leaving drops the backend: the container is unset again. */
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	EXPECT_EQ(-1, ioctl(container, VFIO_IOMMU_GET_INFO, NULL));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	EXPECT_EQ(0, ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	close(group);
	close(container);
}

TEST_F(type1, get_info)
{
	struct vfio_iommu_type1_info small = { .argsz = 8 };
	struct vfio_iommu_type1_info bare = { .argsz = 16 };
	struct vfio_iommu_type1_info *info;
	struct vfio_iommu_type1_info_cap_iova_range *ranges;
	struct vfio_iommu_type1_info_cap_migration *migration;
	struct vfio_iommu_type1_info_dma_avail *avail;
	__u32 i;
	int msi_excluded = 1;

	EXPECT_EQ(-1, ioctl(self->container, VFIO_IOMMU_GET_INFO, &small));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->container, VFIO_IOMMU_GET_INFO, (void *)8));
	EXPECT_EQ(EFAULT, errno);

	/* The old 16-byte struct: page sizes only, and the argsz the chain needs. */
	ASSERT_EQ(0, ioctl(self->container, VFIO_IOMMU_GET_INFO, &bare));
	EXPECT_EQ(VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS, bare.flags);
	EXPECT_GT(bare.argsz, sizeof(struct vfio_iommu_type1_info));
	EXPECT_TRUE(bare.iova_pgsizes & SZ_4K);
	EXPECT_EQ(0, bare.iova_pgsizes & (SZ_4K - 1));

	info = type1_info(self->container);
	ASSERT_NE(NULL, info);
	EXPECT_EQ(VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS, info->flags);
	EXPECT_EQ(sizeof(*info), info->cap_offset);
	EXPECT_EQ(bare.iova_pgsizes, info->iova_pgsizes);

	migration = (void *)type1_info_cap(info, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
	ASSERT_NE(NULL, migration);
	EXPECT_EQ(1, migration->header.version);
	EXPECT_EQ(SZ_4K, migration->pgsize_bitmap);
	EXPECT_EQ(0, migration->flags);
	EXPECT_EQ(((__u64)INT32_MAX + 1) / 8, migration->max_dirty_bitmap_size);

	avail = (void *)type1_info_cap(info, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	ASSERT_NE(NULL, avail);
	EXPECT_EQ(1, avail->header.version);
	EXPECT_LT(0, avail->avail);

	ranges = (void *)type1_info_cap(info, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	ASSERT_NE(NULL, ranges);
	ASSERT_LT(0, ranges->nr_iovas);
	EXPECT_EQ(0, ranges->iova_ranges[0].start);
	for (i = 0; i < ranges->nr_iovas; i++) {
		TH_LOG("IOVA range %u: 0x%llx-0x%llx", i,
		       (unsigned long long)ranges->iova_ranges[i].start,
		       (unsigned long long)ranges->iova_ranges[i].end);
		EXPECT_LT(ranges->iova_ranges[i].start, ranges->iova_ranges[i].end);
		if (i)
			EXPECT_LT(ranges->iova_ranges[i - 1].end, ranges->iova_ranges[i].start);
		if (ranges->iova_ranges[i].start <= MSI_BASE && MSI_BASE <= ranges->iova_ranges[i].end)
			msi_excluded = 0;
	}
	EXPECT_TRUE(msi_excluded) TH_LOG("the MSI window must not be a valid IOVA");
	free(info);
}

TEST_F(type1, map_errors)
{
	__u64 vaddr = (uintptr_t)self->buf;
	long avail = dma_avail(self->container);
	__u64 last = last_iova(self->container);
	struct vfio_iommu_type1_dma_map short_map = { .argsz = 16, .flags = RW };

	EXPECT_EQ(-1, ioctl(self->container, VFIO_IOMMU_MAP_DMA, &short_map));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->container, VFIO_IOMMU_MAP_DMA, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-EINVAL, map(self->container, vaddr, 0, 0, RW));
	EXPECT_EQ(-EINVAL, map(self->container, vaddr, 0, SZ_4K, 0));
	EXPECT_EQ(-EINVAL, map(self->container, vaddr, 0, SZ_4K, RW | 0x100));
	EXPECT_EQ(-EINVAL, map(self->container, vaddr + 1, 0, SZ_4K, RW));
	EXPECT_EQ(-EINVAL, map(self->container, vaddr, 0x800, SZ_4K, RW));
	EXPECT_EQ(-EINVAL, map(self->container, vaddr, 0, SZ_4K + 1, RW));
	EXPECT_EQ(-EOVERFLOW, map(self->container, vaddr, ~0ULL & ~(SZ_4K - 1), 2 * SZ_4K, RW));
	EXPECT_EQ(-EOVERFLOW, map(self->container, ~0ULL & ~(SZ_4K - 1), 0, 2 * SZ_4K, RW));
	/* The MSI window and beyond the aperture are not valid IOVAs. */
	EXPECT_EQ(-EINVAL, map(self->container, vaddr, MSI_BASE, SZ_4K, RW));
	ASSERT_NE(0, last);
	if (last < UINT64_MAX - SZ_4K) {
		EXPECT_EQ(-EINVAL, map(self->container, vaddr, last + 1, SZ_4K, RW));
		EXPECT_EQ(-EINVAL, map(self->container, vaddr, last + 1 - SZ_4K, 2 * SZ_4K, RW));
	}
	/* Unbacked memory cannot be pinned. */
	EXPECT_EQ(-EFAULT, map(self->container, 0x10000, 0, SZ_4K, RW));
	EXPECT_EQ(avail, dma_avail(self->container));

	ASSERT_EQ(0, map(self->container, vaddr, SZ_1M, SZ_2M, RW));
	EXPECT_EQ(avail - 1, dma_avail(self->container));
	/* Any overlap, at either end or inside, is refused. */
	EXPECT_EQ(-EEXIST, map(self->container, vaddr, SZ_1M, SZ_4K, RW));
	EXPECT_EQ(-EEXIST, map(self->container, vaddr, SZ_1M - SZ_4K, 2 * SZ_4K, RW));
	EXPECT_EQ(-EEXIST, map(self->container, vaddr, SZ_1M + SZ_2M - SZ_4K, 2 * SZ_4K, RW));
	EXPECT_EQ(-EEXIST, map(self->container, vaddr, 0, 8 * SZ_1M, RW));
	/* Adjacent is fine, read-only and write-only too. */
	EXPECT_EQ(0, map(self->container, vaddr, SZ_1M - SZ_4K, SZ_4K, VFIO_DMA_MAP_FLAG_READ));
	EXPECT_EQ(0, map(self->container, vaddr, SZ_1M + SZ_2M, SZ_4K, VFIO_DMA_MAP_FLAG_WRITE));
	EXPECT_EQ(avail - 3, dma_avail(self->container));
	EXPECT_EQ(0, unmap(self->container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	EXPECT_EQ(avail, dma_avail(self->container));
}

TEST_F(type1, unmap_rules)
{
	__u64 vaddr = (uintptr_t)self->buf;
	struct vfio_iommu_type1_dma_unmap short_unmap = { .argsz = 16 };
	__u64 unmapped;

	EXPECT_EQ(-1, ioctl(self->container, VFIO_IOMMU_UNMAP_DMA, &short_unmap));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, unmap(self->container, 0, 0, 0, NULL));
	EXPECT_EQ(-EINVAL, unmap(self->container, 0x800, SZ_4K, 0, NULL));
	EXPECT_EQ(-EINVAL, unmap(self->container, 0, SZ_4K + 1, 0, NULL));
	EXPECT_EQ(-EINVAL, unmap(self->container, 0, SZ_4K, 0x80, NULL));
	EXPECT_EQ(-EINVAL, unmap(self->container, 0, SZ_4K, VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	EXPECT_EQ(-EOVERFLOW, unmap(self->container, ~0ULL & ~(SZ_4K - 1), 2 * SZ_4K, 0, NULL));
	/* Nothing mapped: success, size 0. */
	EXPECT_EQ(0, unmap(self->container, 0, SZ_1M, 0, &unmapped));
	EXPECT_EQ(0, unmapped);

	/* Three mappings: [1M, 3M), [3M, 3M+4K), [4M, 6M). */
	ASSERT_EQ(0, map(self->container, vaddr, SZ_1M, SZ_2M, RW));
	ASSERT_EQ(0, map(self->container, vaddr + SZ_2M, 3 * SZ_1M, SZ_4K, RW));
	ASSERT_EQ(0, map(self->container, vaddr + 4 * SZ_1M, 4 * SZ_1M, SZ_2M, RW));

	if (variant->v2) {
		/* v2 refuses to split a mapping at either end of the range. */
		EXPECT_EQ(-EINVAL, unmap(self->container, SZ_1M + SZ_4K, SZ_4K, 0, NULL));
		EXPECT_EQ(-EINVAL, unmap(self->container, SZ_1M, SZ_4K, 0, NULL));
		EXPECT_EQ(-EINVAL, unmap(self->container, 0, SZ_1M + SZ_4K, 0, NULL));
	} else {
		/* v1: starting inside a mapping unmaps nothing... */
		EXPECT_EQ(0, unmap(self->container, SZ_1M + SZ_4K, 4 * SZ_1M, 0, &unmapped));
		EXPECT_EQ(0, unmapped);
		/* ...covering its first page unmaps all of it. */
		EXPECT_EQ(0, unmap(self->container, SZ_1M, SZ_4K, 0, &unmapped));
		EXPECT_EQ(SZ_2M, unmapped);
		ASSERT_EQ(0, map(self->container, vaddr, SZ_1M, SZ_2M, RW));
	}
	/* One call spanning several mappings (and the holes between) reports their sum. */
	EXPECT_EQ(0, unmap(self->container, SZ_1M, 5 * SZ_1M, 0, &unmapped));
	EXPECT_EQ(2 * SZ_2M + SZ_4K, unmapped);
	EXPECT_EQ(0, unmap(self->container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	EXPECT_EQ(0, unmapped);

	/* The same IOVA can be mapped again, and UNMAP_ALL takes everything. */
	ASSERT_EQ(0, map(self->container, vaddr, SZ_1M, SZ_2M, RW));
	ASSERT_EQ(0, map(self->container, vaddr, 1ULL << 40, SZ_2M, RW));
	EXPECT_EQ(0, unmap(self->container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, &unmapped));
	EXPECT_EQ(2 * SZ_2M, unmapped);
}

TEST_F(type1, accounting)
{
	__u64 vaddr = (uintptr_t)self->buf;
	long long pinned = pinned_pages(), locked = locked_vm_kib();
	struct rlimit old, tight;

	ASSERT_LE(0, pinned);
	ASSERT_LE(0, locked);
	ASSERT_EQ(0, map(self->container, vaddr, 0, self->buf_size, RW));
	/* The pin counter is system wide: others may add transient pins. */
	EXPECT_LE(pinned + self->buf_size / SZ_4K, pinned_pages());
	EXPECT_EQ(locked + self->buf_size / 1024, locked_vm_kib());
	ASSERT_EQ(0, unmap(self->container, 0, self->buf_size, 0, NULL));
	EXPECT_EQ(pinned, pinned_pages_settle(pinned));
	EXPECT_EQ(locked, locked_vm_kib());

	/* Over RLIMIT_MEMLOCK (without CAP_IPC_LOCK): -ENOMEM, nothing pinned or charged. */
	ASSERT_EQ(0, getrlimit(RLIMIT_MEMLOCK, &old));
	tight.rlim_cur = old.rlim_max < SZ_1M ? old.rlim_max : SZ_1M;
	tight.rlim_max = old.rlim_max;
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &tight));
	if (geteuid() == 0) {
		/* root has CAP_IPC_LOCK, which bypasses the limit: drop it in a child. */
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (!pid) {
			/* The capability goes with the uid change. */
			if (setresuid(65534, 65534, 65534))
				_exit(2);
			_exit(map(self->container, vaddr, 0, self->buf_size, RW) == -ENOMEM ? 0 : 1);
		}
		int status;

		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("map over RLIMIT_MEMLOCK: child status %d", status);
	} else {
		EXPECT_EQ(-ENOMEM, map(self->container, vaddr, 0, self->buf_size, RW));
	}
	ASSERT_EQ(0, setrlimit(RLIMIT_MEMLOCK, &old));
	EXPECT_EQ(pinned, pinned_pages_settle(pinned));
	EXPECT_EQ(locked, locked_vm_kib());
	EXPECT_EQ(0, unmap(self->container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL));

	/* Closing the container unpins everything. */
	ASSERT_EQ(0, map(self->container, vaddr, 0, self->buf_size, RW));
	EXPECT_LE(pinned + self->buf_size / SZ_4K, pinned_pages());
	close(self->container);
	close(self->group);
	self->container = self->group = -1;
	EXPECT_EQ(pinned, pinned_pages_settle(pinned));
	EXPECT_EQ(locked, locked_vm_kib());
}

/* With a small dma_entry_limit (set by the test script), the limit is exact. */
TEST_F(type1, entry_limit)
{
	long avail = dma_avail(self->container), i;
	__u64 vaddr = (uintptr_t)self->buf;

	if (avail > 4096)
		SKIP(return, "dma_entry_limit is %ld: too many mappings for this test", avail);
	for (i = 0; i < avail; i++)
		ASSERT_EQ(0, map(self->container, vaddr, i * SZ_4K, SZ_4K, RW));
	EXPECT_EQ(0, dma_avail(self->container));
	EXPECT_EQ(-ENOSPC, map(self->container, vaddr, i * SZ_4K, SZ_4K, RW));
	/* An overlap is still reported as such. */
	EXPECT_EQ(-EEXIST, map(self->container, vaddr, 0, SZ_4K, RW));
	ASSERT_EQ(0, unmap(self->container, 0, SZ_4K, 0, NULL));
	EXPECT_EQ(0, map(self->container, vaddr, i * SZ_4K, SZ_4K, RW));
	EXPECT_EQ(0, unmap(self->container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL, NULL));
	EXPECT_EQ(avail, dma_avail(self->container));
}

/* vfio_iommu_type1's module reference count, or -1 when it is not loaded. */
static long type1_refcnt(void)
{
	return sysfs_long("/sys/module/vfio_iommu_type1/refcnt");
}

#define DMA_ENTRY_LIMIT "/sys/module/vfio_iommu_type1/parameters/dma_entry_limit"

static int set_entry_limit(long limit)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld", limit);
	return sysfs_write(DMA_ENTRY_LIMIT, buf);
}

/*
 * A container set to type1 holds vfio_iommu_type1: it cannot be unloaded under the
 * container's mappings, and the reference goes with the last group.
 */
TEST(backend_holds_module)
{
	int container = open("/dev/vfio/vfio", O_RDWR);
	int group = open_group(test_bdf("RVFIO_EDU_BDF"));
	long before = type1_refcnt();
	void *page = mmap(NULL, SZ_4K, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	ASSERT_LE(0, container);
	ASSERT_LE(0, group);
	ASSERT_NE(MAP_FAILED, page);
	ASSERT_LE(0, before) TH_LOG("vfio_iommu_type1 is not loaded");
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	EXPECT_EQ(before, type1_refcnt());
	ASSERT_EQ(0, ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(before + 1, type1_refcnt());
	EXPECT_EQ(-1, syscall(SYS_delete_module, "vfio_iommu_type1", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	/* Still there, still working. */
	EXPECT_EQ(0, map(container, (uintptr_t)page, 0, SZ_4K, RW));
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	EXPECT_EQ(before, type1_refcnt());
	close(group);
	close(container);
	EXPECT_EQ(before, type1_refcnt());
	munmap(page, SZ_4K);
}

/*
 * dma_entry_limit is writable at run time, read when a container's backend is opened: a
 * container keeps the limit it was opened with, the next one gets the new value.
 */
TEST(entry_limit_read_at_set_iommu)
{
	int container = open("/dev/vfio/vfio", O_RDWR);
	int group = open_group(test_bdf("RVFIO_EDU_BDF"));
	long saved = sysfs_long(DMA_ENTRY_LIMIT);

	ASSERT_LE(0, container);
	ASSERT_LE(0, group);
	ASSERT_LE(0, saved);
	ASSERT_EQ(0, set_entry_limit(7));
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	ASSERT_EQ(0, ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(7, dma_avail(container));
	EXPECT_EQ(0, set_entry_limit(9));
	EXPECT_EQ(9, sysfs_long(DMA_ENTRY_LIMIT));
	EXPECT_EQ(7, dma_avail(container));
	/* A backend opened afresh (the last group out drops the old one). */
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_UNSET_CONTAINER));
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	ASSERT_EQ(0, ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(9, dma_avail(container));
	EXPECT_EQ(0, set_entry_limit(saved));
	close(group);
	close(container);
}

/*
 * With vfio_iommu_type1 unloaded (RVFIO_TYPE1_ABSENT=1: sh/type1_module.sh), a container
 * offers no type1 and VFIO_SET_IOMMU finds no driver for it.
 */
TEST(without_type1)
{
	int container, group;

	if (!getenv("RVFIO_TYPE1_ABSENT"))
		SKIP(return, "vfio_iommu_type1 loaded (sh/type1_module.sh unloads it for this test)");
	ASSERT_EQ(-1, access("/sys/module/vfio_iommu_type1", F_OK));
	container = open("/dev/vfio/vfio", O_RDWR);
	group = open_group(test_bdf("RVFIO_EDU_BDF"));
	ASSERT_LE(0, container);
	ASSERT_LE(0, group);
	EXPECT_EQ(VFIO_API_VERSION, ioctl(container, VFIO_GET_API_VERSION));
	EXPECT_EQ(0, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(0, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(0, ioctl(container, VFIO_CHECK_EXTENSION, VFIO_UNMAP_ALL));
	ASSERT_EQ(0, ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	EXPECT_EQ(-1, ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-1, ioctl(container, VFIO_IOMMU_GET_INFO, NULL));
	EXPECT_EQ(EINVAL, errno);
	close(group);
	close(container);
}

TEST_HARNESS_MAIN
