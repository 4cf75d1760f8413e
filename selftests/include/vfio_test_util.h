/* SPDX-License-Identifier: GPL-2.0 */
/* Small helpers shared by the C tests: find devices and their IOMMU groups. */
#ifndef RVFIO_TEST_UTIL_H
#define RVFIO_TEST_UTIL_H

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The driver @bdf is bound to ("none" without one) into @buf. */
static inline const char *driver_of(const char *bdf, char *buf, size_t size)
{
	char link[PATH_MAX], target[PATH_MAX];
	ssize_t len;

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/driver", bdf);
	len = readlink(link, target, sizeof(target) - 1);
	if (len < 0) {
		snprintf(buf, size, "none");
		return buf;
	}
	target[len] = '\0';
	snprintf(buf, size, "%.63s", strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
	return buf;
}

/* Opens /dev/vfio/<@prefix><group> of @bdf; -1 (errno set) on failure. */
static inline int open_group_node(const char *bdf, const char *prefix)
{
	char path[64];
	int group = iommu_group_of(bdf);

	if (group < 0)
		return -1;
	snprintf(path, sizeof(path), "/dev/vfio/%s%d", prefix, group);
	return open(path, O_RDWR);
}

/* Opens /dev/vfio/<group> of @bdf; -1 (errno set) on failure. */
static inline int open_group(const char *bdf)
{
	return open_group_node(bdf, "");
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

/* The first line of the sysfs file @path, without its newline, into @buf; 0 or -1. */
static inline int sysfs_read_str(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The number in the sysfs file @path, or -1. */
static inline long sysfs_long(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* Reads "key value" from /proc/vmstat (@file) or "Key: value" from a status file; -1 if absent. */
static inline long long proc_value(const char *file, const char *key)
{
	char line[256];
	size_t len = strlen(key);
	long long value = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, len) && (line[len] == ' ' || line[len] == ':')) {
			value = strtoll(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return value;
}

/*
 * Pages currently pinned with FOLL_PIN, system wide. /proc/vmstat leaves per-CPU deltas
 * unfolded (off by up to the per-CPU thresholds), so they are folded first through
 * /proc/sys/vm/stat_refresh. The counters are then read released first: every release
 * counted has its acquire counted by the second read.
 */
static inline long long pinned_pages(void)
{
	int refresh = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (refresh >= 0) {
		/* Best effort: an unfolded count only makes the checks looser. */
		ssize_t ignored = write(refresh, "1", 1);

		(void)ignored;
		close(refresh);
	}
	long long released = proc_value("/proc/vmstat", "nr_foll_pin_released");
	long long acquired = proc_value("/proc/vmstat", "nr_foll_pin_acquired");

	if (released < 0 || acquired < 0)
		return -1;
	return acquired - released;
}

/*
 * Waits up to a second for the system-wide pinned-page count to come back to @baseline
 * (another task may hold a transient pin); returns the last count seen.
 */
static inline long long pinned_pages_settle(long long baseline)
{
	long long now = pinned_pages();
	int i;

	for (i = 0; i < 100 && now != baseline; i++) {
		usleep(10000);
		now = pinned_pages();
	}
	return now;
}

/* This process's locked_vm in KiB (VmLck). */
static inline long long locked_vm_kib(void)
{
	return proc_value("/proc/self/status", "VmLck");
}

#endif
