/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tests of the vfio-pci device fd: opening a device through a container,
 * region/IRQ ioctls returning -errno, config and BAR access at index << 40, sysfs views of
 * the same device, eventfds, and the registers of QEMU's edu device
 * (docs/specs/edu.rst, hw/misc/edu.c).
 */
#ifndef RVFIO_VFIO_PCI_UTIL_H
#define RVFIO_VFIO_PCI_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_test_util.h"

#ifndef offsetofend
#define offsetofend(TYPE, MEMBER) (offsetof(TYPE, MEMBER) + sizeof(((TYPE *)0)->MEMBER))
#endif

#define REGION_OFFSET(index) ((off_t)(index) << 40)

/* A device fd with the group and container it came from. */
struct vfio_pci_dev {
	int container;
	int group;
	int fd;
};

/*
 * Opens @bdf's group, puts it in a new container with @iommu_type and gets the device fd.
 * Returns 0 or -errno; on failure everything opened is closed again.
 */
static inline int vfio_pci_open(struct vfio_pci_dev *dev, const char *bdf, int iommu_type)
{
	int err;

	dev->container = dev->group = dev->fd = -1;
	if (!bdf)
		return -ENODEV;
	dev->group = open_group(bdf);
	if (dev->group < 0)
		goto fail;
	dev->container = open("/dev/vfio/vfio", O_RDWR);
	if (dev->container < 0)
		goto fail;
	if (ioctl(dev->group, VFIO_GROUP_SET_CONTAINER, &dev->container))
		goto fail;
	if (ioctl(dev->container, VFIO_SET_IOMMU, iommu_type))
		goto fail;
	dev->fd = ioctl(dev->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (dev->fd < 0)
		goto fail;
	return 0;
fail:
	err = -errno;
	if (dev->container >= 0)
		close(dev->container);
	if (dev->group >= 0)
		close(dev->group);
	dev->container = dev->group = dev->fd = -1;
	return err;
}

static inline void vfio_pci_close(struct vfio_pci_dev *dev)
{
	if (dev->fd >= 0)
		close(dev->fd);
	if (dev->group >= 0)
		close(dev->group);
	if (dev->container >= 0)
		close(dev->container);
	dev->container = dev->group = dev->fd = -1;
}

/* ioctl() as 0 or -errno. */
static inline int xioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg) ? -errno : 0;
}

/* pread()/pwrite() as the byte count or -errno. */
static inline ssize_t xpread(int fd, void *buf, size_t count, off_t offset)
{
	ssize_t n = pread(fd, buf, count, offset);

	return n < 0 ? -errno : n;
}

static inline ssize_t xpwrite(int fd, const void *buf, size_t count, off_t offset)
{
	ssize_t n = pwrite(fd, buf, count, offset);

	return n < 0 ? -errno : n;
}

/* REGION_INFO for @index into @info (no capability space); 0 or -errno. */
static inline int region_info(int fd, __u32 index, struct vfio_region_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	return xioctl(fd, VFIO_DEVICE_GET_REGION_INFO, info);
}

static inline int irq_info(int fd, __u32 index, struct vfio_irq_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	return xioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, info);
}

/* Config space through the device fd, little-endian values of 1, 2 or 4 bytes; -1 on error. */
static inline long long cfg_read(int fd, unsigned int offset, unsigned int size)
{
	__u32 val = 0;

	if (pread(fd, &val, size, REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX) + offset) != size)
		return -1;
	return val;
}

static inline int cfg_write(int fd, unsigned int offset, unsigned int size, __u32 val)
{
	return pwrite(fd, &val, size, REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX) + offset) ==
		       size ? 0 : -1;
}

/* Sets or clears PCI_COMMAND bits through the device fd; 0 or -1. */
static inline int cfg_command(int fd, __u16 set, __u16 clear)
{
	long long cmd = cfg_read(fd, PCI_COMMAND, 2);

	if (cmd < 0)
		return -1;
	return cfg_write(fd, PCI_COMMAND, 2, (cmd & ~clear) | set);
}

/* BAR (or any region) access at @index, @offset; the value, or ~0 on a failed access. */
static inline __u32 bar_read32(int fd, int index, off_t offset)
{
	__u32 val;

	if (pread(fd, &val, 4, REGION_OFFSET(index) + offset) != 4)
		return ~0U;
	return val;
}

static inline int bar_write32(int fd, int index, off_t offset, __u32 val)
{
	return pwrite(fd, &val, 4, REGION_OFFSET(index) + offset) == 4 ? 0 : -1;
}

static inline int bar_write64(int fd, int index, off_t offset, __u64 val)
{
	return pwrite(fd, &val, 8, REGION_OFFSET(index) + offset) == 8 ? 0 : -1;
}

/* The sysfs attribute @name of PCI device @bdf into @buf; bytes read or -1. */
static inline ssize_t sysfs_attr(const char *bdf, const char *name, void *buf, size_t size)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, size, 0);
	close(fd);
	return n;
}

/* The sysfs config space of @bdf (root reads all of it) into @buf; bytes read or -1. */
static inline ssize_t sysfs_config(const char *bdf, void *buf, size_t size)
{
	return sysfs_attr(bdf, "config", buf, size);
}

/* Size of @bdf's sysfs config file: the kernel's cfg_size. */
static inline long long sysfs_config_size(const char *bdf)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	return stat(path, &st) ? -1 : st.st_size;
}

/* Line @index of @bdf's sysfs "resource" file: start, end, flags; 0 or -1. */
static inline int sysfs_resource(const char *bdf, int index, __u64 *start, __u64 *end,
				 __u64 *flags)
{
	char path[128], line[256];
	int i = 0, ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (i++ != index)
			continue;
		unsigned long long s, e, fl;

		if (sscanf(line, "%llx %llx %llx", &s, &e, &fl) == 3) {
			*start = s;
			*end = e;
			*flags = fl;
			ret = 0;
		}
		break;
	}
	fclose(f);
	return ret;
}

/* Length of resource @index of @bdf as the PCI core sees it (0 if absent). */
static inline __u64 sysfs_resource_len(const char *bdf, int index)
{
	__u64 start, end, flags;

	if (sysfs_resource(bdf, index, &start, &end, &flags) || !end)
		return 0;
	return end - start + 1;
}

/* sysfs IORESOURCE_* bits */
#define SYSFS_IORESOURCE_IO 0x100
#define SYSFS_IORESOURCE_MEM 0x200
#define SYSFS_IORESOURCE_PREFETCH 0x2000
#define SYSFS_IORESOURCE_MEM_64 0x100000

/*
 * The content of @bdf's sysfs reset_method into @buf (newline stripped); "" when the file
 * is absent (the PCI core knows no reset for the device).
 */
static inline void sysfs_reset_method(const char *bdf, char *buf, size_t size)
{
	char path[128];
	FILE *f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset_method", bdf);
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(buf, size, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/* A non-blocking eventfd. */
static inline int new_eventfd(void)
{
	return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

/*
 * Waits up to @timeout_ms for @efd to be signalled and reads (resets) its counter: the
 * count, or 0 if nothing came.
 */
static inline __u64 eventfd_wait(int efd, int timeout_ms)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	__u64 count = 0;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return 0;
	if (read(efd, &count, sizeof(count)) != sizeof(count))
		return 0;
	return count;
}

/* SET_IRQS with up to 64 eventfds/bools of data; 0 or -errno. */
static inline int set_irqs(int fd, __u32 flags, __u32 index, __u32 start, __u32 count,
			   const void *data, size_t data_size)
{
	struct {
		struct vfio_irq_set set;
		__u8 data[1024];
	} buf;

	if (data_size > sizeof(buf.data))
		return -E2BIG;
	memset(&buf, 0, sizeof(buf));
	buf.set.argsz = sizeof(buf.set) + data_size;
	buf.set.flags = flags;
	buf.set.index = index;
	buf.set.start = start;
	buf.set.count = count;
	if (data_size)
		memcpy(buf.data, data, data_size);
	return xioctl(fd, VFIO_DEVICE_SET_IRQS, &buf);
}

/* Trigger eventfds for @count vectors from @start. */
static inline int set_irq_eventfds(int fd, __u32 index, __u32 start, __u32 count,
				   const __s32 *fds)
{
	return set_irqs(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index,
			start, count, fds, count * sizeof(__s32));
}

/* Loopback: fire the eventfds of @count vectors from @start (DATA_NONE). */
static inline int trigger_irqs(int fd, __u32 index, __u32 start, __u32 count)
{
	return set_irqs(fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, start,
			count, NULL, 0);
}

/* Disable an interrupt index (DATA_NONE, count 0). */
static inline int disable_irqs(int fd, __u32 index)
{
	return set_irqs(fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0,
			NULL, 0);
}

/*
 * Lines of /proc/interrupts naming "vfio" (the IRQs vfio-pci requested); they are logged
 * when @want is not what is found.
 */
static inline int vfio_irq_lines_log(int want)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "vfio"))
			n++;
	if (n != want) {
		rewind(f);
		while (fgets(line, sizeof(line), f))
			if (strstr(line, "vfio"))
				fprintf(stderr, "# /proc/interrupts: %s", line);
	}
	fclose(f);
	return n;
}

static inline int vfio_irq_lines(void)
{
	return vfio_irq_lines_log(0);
}

/* Entries of @bdf's msi_irqs directory (allocated MSI/MSI-X vectors). */
static inline int msi_irqs(const char *bdf)
{
	char path[128];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/msi_irqs", bdf);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The capability @id in the chain of a REGION_INFO result @info, or NULL. */
static inline struct vfio_info_cap_header *region_cap(struct vfio_region_info *info, __u16 id)
{
	__u32 offset = info->cap_offset;
	int hops = 0;

	while (offset && offset + sizeof(struct vfio_info_cap_header) <= info->argsz &&
	       hops++ < 16) {
		struct vfio_info_cap_header *cap = (void *)((char *)info + offset);

		if (cap->id == id)
			return cap;
		offset = cap->next;
	}
	return NULL;
}

static inline __u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* QEMU's edu device: BAR0 registers. */
#define EDU_BAR 0
#define EDU_REG_ID 0x00		/* 0xRRrr00ed: major, minor version */
#define EDU_REG_LIVENESS 0x04	/* reads back the inverse of what was written */
#define EDU_REG_FACTORIAL 0x08
#define EDU_REG_STATUS 0x20	/* bit 0: computing; bit 7: raise FACT_IRQ when done */
#define EDU_REG_IRQ_STATUS 0x24
#define EDU_REG_IRQ_RAISE 0x60
#define EDU_REG_IRQ_ACK 0x64
#define EDU_REG_DMA_SRC 0x80
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_COUNT 0x90
#define EDU_REG_DMA_CMD 0x98
#define EDU_STATUS_COMPUTING 0x01
#define EDU_DMA_START 0x1
#define EDU_DMA_TO_RAM 0x2	/* direction: 0 = RAM -> edu, 1 = edu -> RAM */
#define EDU_DMA_IRQ 0x4
#define EDU_FACT_IRQ 0x001
#define EDU_DMA_DONE_IRQ 0x100
#define EDU_DMA_BUF 0x40000	/* the device's 4 KiB buffer, in its own address space */
#define EDU_DMA_BUF_SIZE 4096
#define EDU_DMA_MASK ((1ULL << 28) - 1)	/* edu's default dma_mask */

/* Polls the edu DMA command register until the engine is idle; 0, or -1 after @timeout_ms. */
static inline int edu_dma_wait(int fd, int timeout_ms)
{
	__u64 end = now_ms() + timeout_ms;

	do {
		__u32 cmd = bar_read32(fd, EDU_BAR, EDU_REG_DMA_CMD);

		if (cmd != ~0U && !(cmd & EDU_DMA_START))
			return 0;
		usleep(1000);
	} while (now_ms() < end);
	return -1;
}

/* Starts one edu DMA transfer and waits for it; 0 or -1. */
static inline int edu_dma(int fd, __u64 src, __u64 dst, __u64 count, __u32 cmd, int wait)
{
	if (bar_write64(fd, EDU_BAR, EDU_REG_DMA_SRC, src) ||
	    bar_write64(fd, EDU_BAR, EDU_REG_DMA_DST, dst) ||
	    bar_write64(fd, EDU_BAR, EDU_REG_DMA_COUNT, count) ||
	    bar_write64(fd, EDU_BAR, EDU_REG_DMA_CMD, cmd | EDU_DMA_START))
		return -1;
	return wait ? edu_dma_wait(fd, 5000) : 0;
}

/*
 * A recognisable word pattern for @seed in @len bytes at @p (word i is seed * 0x9e3779b1 +
 * i, so no two seeds agree on a word); volatile, so it may be device memory (a BAR mmap).
 */
static inline void fill_pattern(void *p, size_t len, __u32 seed)
{
	volatile __u32 *w = p;
	size_t i;

	for (i = 0; i < len / 4; i++)
		w[i] = seed * 0x9e3779b1u + i;
}

/* Whether @len bytes at @p hold fill_pattern()'s pattern for @seed. */
static inline bool pattern_matches(const void *p, size_t len, __u32 seed)
{
	const volatile __u32 *w = p;
	size_t i;

	for (i = 0; i < len / 4; i++)
		if (w[i] != seed * 0x9e3779b1u + i)
			return false;
	return true;
}

/* VFIO_IOMMU_GET_INFO the way QEMU does it: the bare struct first, then grown to the argsz
 * the kernel asks for. The caller frees it; NULL on failure. */
static inline struct vfio_iommu_type1_info *type1_info(int container)
{
	struct vfio_iommu_type1_info *info = calloc(1, sizeof(*info));
	__u32 argsz = sizeof(*info);

	while (info) {
		info->argsz = argsz;
		if (ioctl(container, VFIO_IOMMU_GET_INFO, info))
			break;
		if (info->argsz <= argsz)
			return info;
		argsz = info->argsz;
		free(info);
		info = calloc(1, argsz);
	}
	free(info);
	return NULL;
}

/* The capability @id in the chain of a type1_info() result, or NULL. */
static inline struct vfio_info_cap_header *type1_info_cap(struct vfio_iommu_type1_info *info,
							   __u16 id)
{
	__u32 offset = info->cap_offset;

	while (offset && offset + sizeof(struct vfio_info_cap_header) <= info->argsz) {
		struct vfio_info_cap_header *cap = (void *)((char *)info + offset);

		if (cap->id == id)
			return cap;
		offset = cap->next;
	}
	return NULL;
}

/* VFIO_IOMMU_MAP_DMA; 0 or -errno. */
static inline int type1_map(int container, void *vaddr, __u64 iova, __u64 size, __u32 flags)
{
	struct vfio_iommu_type1_dma_map map = {
		.argsz = sizeof(map),
		.flags = flags,
		.vaddr = (uintptr_t)vaddr,
		.iova = iova,
		.size = size,
	};

	return xioctl(container, VFIO_IOMMU_MAP_DMA, &map);
}

/* VFIO_IOMMU_UNMAP_DMA of [@iova, @iova + @size) with @flags: the size the kernel reports
 * as unmapped, or -errno. */
static inline long long type1_unmap_flags(int container, __u64 iova, __u64 size, __u32 flags)
{
	struct vfio_iommu_type1_dma_unmap unmap = {
		.argsz = sizeof(unmap),
		.flags = flags,
		.iova = iova,
		.size = size,
	};
	int ret = xioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap);

	return ret ? ret : (long long)unmap.size;
}

/* VFIO_IOMMU_UNMAP_DMA of exactly [@iova, @iova + @size); 0, -errno, or -ERANGE if a
 * different size was unmapped. */
static inline int type1_unmap(int container, __u64 iova, __u64 size)
{
	long long unmapped = type1_unmap_flags(container, iova, size, 0);

	return unmapped < 0 ? (int)unmapped : (unmapped == (long long)size ? 0 : -ERANGE);
}

static sigjmp_buf sigbus_jmp;

static inline void on_sigbus(int sig)
{
	siglongjmp(sigbus_jmp, 1);
}

/* Reads @p (a BAR mmap), returning 1 if that raised SIGBUS. */
static inline int faults(volatile __u32 *p, __u32 *val)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	int ret = 0;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(sigbus_jmp, 1))
		ret = 1;
	else
		*val = *p;
	sigaction(SIGBUS, &old, NULL);
	return ret;
}

/* The PCI core's power state of @bdf ("D0", "D3hot", ...) into @buf. */
static inline const char *power_state(const char *bdf, char *buf, size_t size)
{
	ssize_t n = sysfs_attr(bdf, "power_state", buf, size - 1);

	if (n <= 0)
		return "unreadable";
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/*
 * Waits up to 10 s (runtime suspend runs from a workqueue) for @bdf to be in @want: 3 s
 * were once too few for igb's idle suspend after a close on Debian's kernel, beside the
 * debug kernel's guest (make check, 2026-12-03).
 */
static inline bool power_reaches(const char *bdf, const char *want)
{
	char buf[32];
	int i;

	for (i = 0; i < 1000; i++) {
		if (!strcmp(power_state(bdf, buf, sizeof(buf)), want))
			return true;
		usleep(10000);
	}
	return false;
}

/* Whether @bdf has a PCI power management capability (its config space, through sysfs). */
static inline bool has_pm_cap(const char *bdf)
{
	__u8 config[256];
	int pos, hops;

	if (sysfs_config(bdf, config, sizeof(config)) < 0x40 || !(config[0x06] & 0x10))
		return false;
	for (pos = config[0x34] & ~3, hops = 0; pos && hops < 48; hops++) {
		if (config[pos] == 0x01)
			return true;
		pos = config[pos + 1] & ~3;
	}
	return false;
}

/* GET_PCI_HOT_RESET_INFO with room for @room devices into @buf; 0 or -errno. */
static inline int hot_reset_info(int fd, struct vfio_pci_hot_reset_info *buf, __u32 room)
{
	memset(buf, 0, sizeof(*buf) + room * sizeof(buf->devices[0]));
	buf->argsz = sizeof(*buf) + room * sizeof(buf->devices[0]);
	return xioctl(fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, buf);
}

/* HOT_RESET with @count (at most 8) group fds from @fds (none: the cdev form); 0 or -errno. */
static inline int hot_reset(int fd, const __s32 *fds, __u32 count)
{
	struct {
		struct vfio_pci_hot_reset hdr;
		__s32 fds[8];
	} buf;

	memset(&buf, 0, sizeof(buf));
	buf.hdr.argsz = sizeof(buf.hdr) + count * sizeof(__s32);
	buf.hdr.count = count;
	if (count)
		memcpy(buf.fds, fds, count * sizeof(__s32));
	return xioctl(fd, VFIO_DEVICE_PCI_HOT_RESET, &buf);
}

/*
 * Unbinds @bdf from its driver in a child (the write blocks while the device is in use);
 * returns the child's pid.
 */
static inline pid_t unbind_async(const char *bdf)
{
	char path[PATH_MAX];
	pid_t pid = fork();

	if (pid)
		return pid;
	/* Not one of the device's users: none of the parent's VFIO fds come along. */
	close_range(3, ~0U, 0);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	_exit(sysfs_write(path, bdf) ? 1 : 0);
}

/* Waits up to @ms for @pid; its status, or -1 if it is still running. */
static inline int wait_for(pid_t pid, int ms)
{
	int status;

	while (ms-- > 0) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(1000);
	}
	return -1;
}

#endif
