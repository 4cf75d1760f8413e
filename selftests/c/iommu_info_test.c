// SPDX-License-Identifier: GPL-2.0
/*
 * What the IOMMU driver makes of edu's and igb's groups, as the uAPI reports it: the IOVA
 * ranges, page sizes and extensions of a type1v2 container, and the IOVA ranges and hardware
 * type of an IOAS the device's cdev is attached to. All of it comes from the platform's IOMMU
 * driver (VT-d or AMD-Vi here) through the stack under test, so the checks are the ones that
 * hold on any platform:
 *  - the ranges are sorted and disjoint, and none meets a reserved region of the group
 *    (/sys/kernel/iommu_groups/N/reserved_regions: the MSI window, AMD's HyperTransport
 *    window, ...);
 *  - a page at either end of each range maps, a page of each reserved region below the last
 *    range's end and the page past that end do not (-EINVAL);
 *  - the smallest page size is the CPU's, and the dirty-tracking page size is that page;
 *  - the IOAS's ranges are the container's;
 *  - without MSI isolation (interrupt remapping) the group is refused (-EPERM), with it
 *    taken, as the runner says the platform is (msi_isolation).
 * With RVFIO_IOMMU_REPORT set, every value is also appended to that file, one line each,
 * for sh/iommu_info.sh, which runs this on both stacks and compares their reports.
 *
 * On edu (RVFIO_EDU_BDF) and igb (RVFIO_IGB_BDF) bound to vfio-pci (with-vfio.sh); only the
 * uAPI is used, so it runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_cdev_util.h"
#include "vfio_pci_util.h"
#include "vfio_test_util.h"

#define PG 0x1000ULL
#define MAX_RANGES 32

struct range {
	__u64 start, last;	/* inclusive, as both uAPIs report them */
	char type[32];		/* reserved regions only */
};

struct ranges {
	struct range r[MAX_RANGES];
	unsigned int n;
};

/* Appends one line to the report file (RVFIO_IOMMU_REPORT), if there is one. */
static void report(const char *fmt, ...)
{
	const char *path = getenv("RVFIO_IOMMU_REPORT");
	va_list ap;
	FILE *f;

	if (!path || !*path || !(f = fopen(path, "a")))
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

static void report_ranges(const char *bdf, const char *what, const struct ranges *rs)
{
	unsigned int i;

	for (i = 0; i < rs->n; i++)
		report("%s %s %#llx-%#llx%s%s", bdf, what, (unsigned long long)rs->r[i].start,
		       (unsigned long long)rs->r[i].last, *rs->r[i].type ? " " : "", rs->r[i].type);
}

/* The reserved regions of @bdf's group (sysfs): 0, or -1 if unreadable. */
static int reserved_regions(const char *bdf, struct ranges *rs)
{
	char path[128], type[32];
	unsigned long long start, last;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/reserved_regions",
		 iommu_group_of(bdf));
	f = fopen(path, "r");
	if (!f)
		return -1;
	rs->n = 0;
	while (rs->n < MAX_RANGES && fscanf(f, "%llx %llx %31s", &start, &last, type) == 3) {
		rs->r[rs->n].start = start;
		rs->r[rs->n].last = last;
		snprintf(rs->r[rs->n].type, sizeof(rs->r[rs->n].type), "%s", type);
		rs->n++;
	}
	fclose(f);
	return 0;
}

static bool overlaps(const struct range *a, const struct range *b)
{
	return a->start <= b->last && b->start <= a->last;
}

/* Checks @valid against @resv: sorted, disjoint, non-empty, and clear of every region. */
static void check_ranges(struct __test_metadata *_metadata, const char *bdf,
			 const struct ranges *valid, const struct ranges *resv)
{
	unsigned int i, j;

	ASSERT_LT(0, valid->n);
	for (i = 0; i < valid->n; i++) {
		EXPECT_LE(valid->r[i].start, valid->r[i].last);
		EXPECT_EQ(0, valid->r[i].start & (PG - 1));
		EXPECT_EQ(PG - 1, valid->r[i].last & (PG - 1));
		if (i)
			EXPECT_LT(valid->r[i - 1].last + 1, valid->r[i].start);
		for (j = 0; j < resv->n; j++)
			EXPECT_FALSE(overlaps(&valid->r[i], &resv->r[j]))
				TH_LOG("%s: IOVA range %#llx-%#llx meets reserved %#llx-%#llx %s", bdf,
				       (unsigned long long)valid->r[i].start,
				       (unsigned long long)valid->r[i].last,
				       (unsigned long long)resv->r[j].start,
				       (unsigned long long)resv->r[j].last, resv->r[j].type);
	}
}

/* The container's extensions, by number, as CHECK_EXTENSION answers them. */
static const struct {
	const char *name;
	long id;
} extensions[] = {
	{ "TYPE1_IOMMU", VFIO_TYPE1_IOMMU },
	{ "SPAPR_TCE_IOMMU", VFIO_SPAPR_TCE_IOMMU },
	{ "TYPE1v2_IOMMU", VFIO_TYPE1v2_IOMMU },
	{ "DMA_CC_IOMMU", VFIO_DMA_CC_IOMMU },
	{ "EEH", VFIO_EEH },
	{ "6", 6 },	/* was VFIO_TYPE1_NESTING_IOMMU, removed from the uAPI */
	{ "SPAPR_TCE_v2_IOMMU", VFIO_SPAPR_TCE_v2_IOMMU },
	{ "NOIOMMU_IOMMU", VFIO_NOIOMMU_IOMMU },
	{ "UNMAP_ALL", VFIO_UNMAP_ALL },
	{ "UPDATE_VADDR", VFIO_UPDATE_VADDR },
};

/* The type1 container's IOVA ranges of @bdf into @rs, checked and reported. */
static void type1_ranges(struct __test_metadata *_metadata, const char *bdf, struct ranges *rs)
{
	struct vfio_iommu_type1_info_cap_iova_range *cap;
	struct vfio_iommu_type1_info_cap_migration *migration;
	struct vfio_iommu_type1_info_dma_avail *avail;
	struct vfio_iommu_type1_info *info;
	struct vfio_pci_dev dev;
	struct ranges resv;
	unsigned int i;
	void *page;

	ASSERT_EQ(0, reserved_regions(bdf, &resv));
	report_ranges(bdf, "reserved", &resv);
	ASSERT_EQ(0, vfio_pci_open(&dev, bdf, VFIO_TYPE1v2_IOMMU));
	for (i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
		report("%s extension %s %d", bdf, extensions[i].name,
		       ioctl(dev.container, VFIO_CHECK_EXTENSION, extensions[i].id));
	/*
	 * DMA_CC_IOMMU (the domains enforce cache coherency) is the driver's to say: 1 behind
	 * AMD-Vi, 0 behind QEMU's VT-d, which has no snoop control. Upstream's report is the
	 * check.
	 */

	info = type1_info(dev.container);
	ASSERT_NE(NULL, info);
	report("%s type1 flags %#x pgsizes %#llx", bdf, info->flags,
	       (unsigned long long)info->iova_pgsizes);
	EXPECT_EQ(getpagesize(), info->iova_pgsizes & -info->iova_pgsizes);
	migration = (void *)type1_info_cap(info, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
	ASSERT_NE(NULL, migration);
	report("%s type1 migration flags %#x pgsize_bitmap %#llx max_dirty_bitmap_size %#llx", bdf,
	       migration->flags, (unsigned long long)migration->pgsize_bitmap,
	       (unsigned long long)migration->max_dirty_bitmap_size);
	EXPECT_EQ(info->iova_pgsizes & -info->iova_pgsizes, migration->pgsize_bitmap);
	avail = (void *)type1_info_cap(info, VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);
	ASSERT_NE(NULL, avail);
	report("%s type1 dma_avail %u", bdf, avail->avail);
	cap = (void *)type1_info_cap(info, VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	ASSERT_NE(NULL, cap);
	ASSERT_GE(MAX_RANGES, cap->nr_iovas);
	rs->n = cap->nr_iovas;
	for (i = 0; i < rs->n; i++) {
		rs->r[i].start = cap->iova_ranges[i].start;
		rs->r[i].last = cap->iova_ranges[i].end;
		rs->r[i].type[0] = '\0';
	}
	free(info);
	report_ranges(bdf, "type1", rs);
	check_ranges(_metadata, bdf, rs, &resv);

	/* The ranges are what the container maps: both ends of each, nothing beyond. */
	page = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, page);
	for (i = 0; i < rs->n; i++) {
		__u64 first = rs->r[i].start, last = rs->r[i].last + 1 - PG;

		EXPECT_EQ(0, type1_map(dev.container, page, first, PG, VFIO_DMA_MAP_FLAG_READ));
		if (last != first)
			EXPECT_EQ(0, type1_map(dev.container, page, last, PG, VFIO_DMA_MAP_FLAG_READ));
	}
	for (i = 0; i < resv.n; i++)
		if (resv.r[i].start < rs->r[rs->n - 1].last)
			EXPECT_EQ(-EINVAL, type1_map(dev.container, page, resv.r[i].start, PG,
						     VFIO_DMA_MAP_FLAG_READ))
				TH_LOG("%s: reserved %#llx %s mapped", bdf,
				       (unsigned long long)resv.r[i].start, resv.r[i].type);
	if (rs->r[rs->n - 1].last < UINT64_MAX - PG)
		EXPECT_EQ(-EINVAL, type1_map(dev.container, page, rs->r[rs->n - 1].last + 1, PG,
					     VFIO_DMA_MAP_FLAG_READ));
	EXPECT_LT(0, type1_unmap_flags(dev.container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL));
	munmap(page, PG);
	vfio_pci_close(&dev);
}

/* The IOVA ranges of an IOAS @bdf's cdev is attached to into @rs, checked and reported. */
static void iommufd_ranges(struct __test_metadata *_metadata, const char *bdf, struct ranges *rs)
{
	struct iommu_iova_range ranges[MAX_RANGES];
	struct iommu_ioas_iova_ranges query = { .size = sizeof(query) };
	struct iommu_hw_info hw = { .size = sizeof(hw) };
	int iommufd, fd, ioas;
	struct ranges resv;
	unsigned int i;
	__u32 devid = 0;

	ASSERT_EQ(0, reserved_regions(bdf, &resv));
	iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, iommufd);
	fd = open_cdev(bdf);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, cdev_bind(fd, iommufd, &devid));
	ioas = ioas_alloc(iommufd);
	ASSERT_LE(0, ioas);
	ASSERT_EQ(0, cdev_attach(fd, ioas, NULL));

	hw.dev_id = devid;
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_GET_HW_INFO, &hw));
	report("%s iommufd hw_info type %u capabilities %#llx max_pasid_log2 %u", bdf,
	       hw.out_data_type, (unsigned long long)hw.out_capabilities, hw.out_max_pasid_log2);

	query.ioas_id = ioas;
	query.num_iovas = MAX_RANGES;
	query.allowed_iovas = (uintptr_t)ranges;
	ASSERT_EQ(0, ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &query));
	ASSERT_GE(MAX_RANGES, query.num_iovas);
	report("%s iommufd iova_alignment %#llx", bdf, (unsigned long long)query.out_iova_alignment);
	EXPECT_EQ(PG, query.out_iova_alignment);
	rs->n = query.num_iovas;
	for (i = 0; i < rs->n; i++) {
		rs->r[i].start = ranges[i].start;
		rs->r[i].last = ranges[i].last;
		rs->r[i].type[0] = '\0';
	}
	report_ranges(bdf, "iommufd", rs);
	check_ranges(_metadata, bdf, rs, &resv);
	close(fd);
	close(iommufd);
}

static void check_device(struct __test_metadata *_metadata, const char *env)
{
	const char *bdf = test_bdf(env);
	struct ranges type1 = { 0 }, ioas = { 0 };
	unsigned int i;

	ASSERT_NE(NULL, bdf) TH_LOG("%s not set", env);
	type1_ranges(_metadata, bdf, &type1);
	if (access("/dev/iommu", F_OK)) {
		TH_LOG("no /dev/iommu: the IOAS's ranges not compared");
		return;
	}
	iommufd_ranges(_metadata, bdf, &ioas);
	ASSERT_EQ(type1.n, ioas.n);
	for (i = 0; i < type1.n; i++) {
		EXPECT_EQ(type1.r[i].start, ioas.r[i].start);
		EXPECT_EQ(type1.r[i].last, ioas.r[i].last);
	}
}

/* The parameters that let either stack take a group without MSI isolation. */
static const char *const unsafe_interrupt_params[] = {
	"/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts",
	"/sys/module/iommufd/parameters/allow_unsafe_interrupts",
};

/*
 * Whether the platform isolates MSIs (interrupt remapping) decides whether a group may be
 * used at all unless the user allows unsafe interrupts: edu's group is taken, or refused with
 * -EPERM, by a type1 container and by an iommufd bind, as the runner expects for this
 * platform (rvfio_msi_isolation=0: not isolated; run-guest.sh says where and why).
 */
TEST(msi_isolation)
{
	const char *bdf = test_bdf("RVFIO_EDU_BDF");
	const char *env = getenv("rvfio_msi_isolation");
	int expect = env && !strcmp(env, "0") ? -EPERM : 0;
	char saved[2][4] = { "", "" };
	struct vfio_pci_dev dev;
	unsigned int i;
	int ret;

	ASSERT_NE(NULL, bdf);
	for (i = 0; i < 2; i++) {
		FILE *f = fopen(unsafe_interrupt_params[i], "r");

		if (!f)
			continue;
		if (!fgets(saved[i], sizeof(saved[i]), f))
			saved[i][0] = '\0';
		fclose(f);
		saved[i][strcspn(saved[i], "\n")] = '\0';
		ASSERT_EQ(0, sysfs_write(unsafe_interrupt_params[i], "N"));
	}

	ret = vfio_pci_open(&dev, bdf, VFIO_TYPE1v2_IOMMU);
	report("%s msi_isolation type1 %s", bdf, ret ? strerror(-ret) : "taken");
	EXPECT_EQ(expect, ret);
	if (!ret)
		vfio_pci_close(&dev);

	if (!access("/dev/iommu", F_OK)) {
		int iommufd = open("/dev/iommu", O_RDWR), fd = open_cdev(bdf);

		EXPECT_LE(0, iommufd);
		EXPECT_LE(0, fd);
		ret = cdev_bind(fd, iommufd, NULL);
		report("%s msi_isolation iommufd %s", bdf, ret ? strerror(-ret) : "bound");
		EXPECT_EQ(expect, ret);
		close(fd);
		close(iommufd);
	}

	for (i = 0; i < 2; i++)
		if (saved[i][0])
			EXPECT_EQ(0, sysfs_write(unsafe_interrupt_params[i], saved[i]));
}

TEST(edu)
{
	check_device(_metadata, "RVFIO_EDU_BDF");
}

TEST(igb)
{
	check_device(_metadata, "RVFIO_IGB_BDF");
}

TEST_HARNESS_MAIN
