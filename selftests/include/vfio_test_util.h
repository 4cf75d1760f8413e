/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the C tests: find devices and their IOMMU groups. */
#ifndef RVFIO_TEST_UTIL_H
#define RVFIO_TEST_UTIL_H

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The BDF the guest wrapper exported in @env (e.g. RVFIO_EDU_BDF), or NULL. */
static inline const char *test_bdf(const char *env)
{
	const char *bdf = getenv(env);

	return bdf && *bdf ? bdf : NULL;
}

/* The IOMMU group number of @bdf, or -1. */
static inline int iommu_group_of(const char *bdf)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t len;

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0)
		return -1;
	target[len] = '\0';
	return atoi(basename(target));
}

/* Writes @value to the sysfs file @path; 0 on success. */
static inline int sysfs_write(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(value, f) < 0 ? -1 : 0;
	if (fclose(f))
		ret = -1;
	return ret;
}

#endif
