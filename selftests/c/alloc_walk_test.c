// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation-failure walk: each VFIO operation runs with its N-th fault-injection point
 * failing, N = 1, 2, ... until it runs with none hit. The points are every slab and page
 * allocation of the calling task (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC, armed per task by
 * /proc/self/task/<tid>/fail-nth), in VFIO, in the IOMMU driver and in the kernel code they
 * call (GUP, the fd table, eventfds).
 *
 * Each failing run must fail with -ENOMEM (or succeed: some allocations have fallbacks),
 * and leave nothing behind: no page pinned, no locked_vm charged, no IOVA mapped, every fd
 * still working, and (the runner checks after the test) no splat and, on rvfio, no leak
 * kmemleak finds. The operation then succeeds once more, with no point hit.
 *
 * Two of the kernel's own paths are left out, their error paths being broken on both stacks
 * (found by this walk; see acpica() and irq_proc()): no allocation fails while ACPICA's
 * text, or for the interrupt operations the IRQ core's /proc registration, is on the stack
 * (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER's reject range).
 *
 * The device's cdev is walked too, where the kernel has iommufd: its open, the bind to an
 * iommufd, the attach to an IOAS, and a group's first device fd with an iommufd as its
 * container (bind and attach to the compatibility IOAS).
 *
 * On the debug kernel only (fault injection; tests.txt names it *_fault), on both stacks:
 * upstream's run is the reference for which errnos an operation may fail with. The walks
 * print how many points each operation has.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_cdev_util.h"
#include "vfio_pci_util.h"
#include "vfio_test_util.h"

#define PAGE_SZ 4096UL
#define RW (VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)
#define IOVA 0x10000000ULL
#define PROBE_IOVA 0x80000000ULL
/* More than one pinning batch of rvfio's (4 MiB), in 4 KiB pages. */
#define BIG_SIZE (4UL * 1024 * 1024 + 64 * 1024)
#define HUGE_2M (2UL * 1024 * 1024)
#define SPAN_MAPPINGS 16
#define MSIX_VECTORS 3
/* No operation here has that many points; a walk that reaches it is a failure. */
#define MAX_POINTS 4000

/* Points armed by fail-nth: the per-type filters must let GFP_KERNEL allocations fail. */
static const struct {
	const char *path;
	const char *value;
} fault_config[] = {
	{ "/sys/kernel/debug/failslab/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/failslab/verbose", "0" },
	{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N" },
	{ "/sys/kernel/debug/fail_page_alloc/min-order", "0" },
	{ "/sys/kernel/debug/fail_page_alloc/verbose", "0" },
	{ "/sys/kernel/debug/fail_function/verbose", "0" },
};

/* One text symbol of the kernel (not of a module), from /proc/kallsyms. */
struct ksym {
	unsigned long addr;
	char name[128];
};

/* The next core-kernel text symbol of @f below _etext (@etext); false at the end. */
static bool next_text_symbol(FILE *f, unsigned long etext, struct ksym *sym)
{
	char line[512], type;

	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '[') ||
		    sscanf(line, "%lx %c %127s", &sym->addr, &type, sym->name) != 3)
			continue;
		if ((type == 't' || type == 'T') && (!etext || sym->addr < etext))
			return true;
	}
	return false;
}

/*
 * The text range [*start, *end) of the symbols @match takes, to the next symbol after the
 * last; 0 or -1. The kernel's built-in objects are linked whole, so a file's (or a
 * directory's) functions are one block.
 */
static int text_range(bool (*match)(const char *name), unsigned long *start, unsigned long *end)
{
	unsigned long etext = 0, lo = ~0UL, hi = 0, next = ~0UL;
	FILE *f = fopen("/proc/kallsyms", "r");
	struct ksym sym;

	if (!f)
		return -1;
	while (next_text_symbol(f, 0, &sym))
		if (!strcmp(sym.name, "_etext"))
			etext = sym.addr;
	rewind(f);
	while (etext && next_text_symbol(f, etext, &sym)) {
		if (match(sym.name)) {
			lo = sym.addr < lo ? sym.addr : lo;
			hi = sym.addr > hi ? sym.addr : hi;
		}
	}
	rewind(f);
	while (etext && next_text_symbol(f, etext, &sym))
		if (sym.addr > hi && sym.addr < next)
			next = sym.addr;
	fclose(f);
	if (!hi || next == ~0UL)
		return -1;
	*start = lo;
	*end = next;
	return 0;
}

/*
 * ACPICA (drivers/acpi/acpica: acpi_<component>_*): its error paths leave its namespace
 * corrupted under -ENOMEM (a _PRT evaluation that failed an allocation in pci_enable_device()
 * made a later one, at a device close, read freed memory: KASAN, on both stacks).
 */
static bool acpica(const char *name)
{
	static const char *const components[] = { "ds", "ev", "ex", "hw", "ns", "ps", "rs",
						  "tb", "ut" };
	size_t i;

	for (i = 0; i < sizeof(components) / sizeof(components[0]); i++)
		if (!strncmp(name, "acpi_", 5) && !strncmp(name + 5, components[i], 2) &&
		    name[7] == '_')
			return true;
	return false;
}

/*
 * The IRQ core's /proc registration (kernel/irq/proc.c): it carries on past a failed
 * allocation, and the removal of the entries it did not make then warns (remove_proc_entry:
 * "name 'smp_affinity'", on both stacks).
 */
static bool irq_proc(const char *name)
{
	return !strcmp(name, "register_handler_proc") || !strcmp(name, "register_irq_proc");
}

/*
 * Keeps the walk's failures out of code whose own error paths are broken (the kernel's, not
 * VFIO's, each found by this walk): no allocation fails while @match's text is on the stack
 * (reject-start/reject-end of failslab and fail_page_alloc, one range each). 0 or -1.
 */
static int reject_range(bool (*match)(const char *name))
{
	static const char *const attrs[] = { "/sys/kernel/debug/failslab",
					     "/sys/kernel/debug/fail_page_alloc" };
	unsigned long start, end;
	char path[96], value[32];
	size_t i;

	if (text_range(match, &start, &end))
		return -1;
	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		snprintf(path, sizeof(path), "%s/reject-start", attrs[i]);
		snprintf(value, sizeof(value), "0x%lx", start);
		if (sysfs_write(path, value))
			return -1;
		snprintf(path, sizeof(path), "%s/reject-end", attrs[i]);
		snprintf(value, sizeof(value), "0x%lx", end);
		if (sysfs_write(path, value))
			return -1;
	}
	return 0;
}

/* What an operation works on; which parts are open depends on the operation's base. */
struct walk {
	const char *edu;
	const char *igb;
	int container;
	int group;
	int device;	/* the device fd, or the cdev file */
	int iommufd;	/* /dev/iommu, for the cdev and the iommufd-as-container bases */
	/* edu's cdev node, found before the walk (the lookup allocates too). */
	char cdev_path[64];
	__u32 ioas;
	/* User memory the operation maps (prefaulted, so faulting it is no point of ours). */
	__u8 *mem;
	size_t mem_size;
	int eventfds[MSIX_VECTORS];
	/* Another set, for updates that swap the vectors' eventfds. */
	int alt_eventfds[MSIX_VECTORS];
	int nth;	/* /proc/self/task/<tid>/fail-nth */
};

/* What an operation needs open before it runs, from its fixture. */
enum base {
	BASE_NONE,	/* nothing: the operation opens */
	BASE_OPEN,	/* container and group open, not attached */
	BASE_ATTACHED,	/* the group in the container, no IOMMU set */
	BASE_IOMMU,	/* type1v2 set */
	BASE_DEVICE,	/* and the device fd */
	/* The device through its cdev, an iommufd open with an IOAS: */
	BASE_CDEV,		/* the cdev file open, not bound */
	BASE_CDEV_BOUND,	/* bound to the iommufd */
	BASE_CDEV_ATTACHED,	/* attached to the IOAS */
	/* The group with an iommufd as its container (iommufd's VFIO compatibility mode). */
	BASE_COMPAT,
};

struct walk_op {
	const char *name;
	enum base base;
	/* Errnos besides ENOMEM the operation may fail with (both stacks do). */
	int also[2];
	/*
	 * An interrupt operation: its failures are kept out of the IRQ core's /proc entries
	 * instead of ACPICA's (see reject_range()).
	 */
	bool irq;
	/* "igb" or "edu" (default). */
	bool igb;
	/* The state the operation starts from (beyond the base), without faults; 0 or -1. */
	int (*setup)(struct walk *w);
	/* The operation: 0 or -errno. */
	int (*op)(struct walk *w);
	/* After a failed run: 0 if the state is still the one setup made, else -1. */
	int (*unchanged)(struct walk *w);
	/* Back to the base (after a failed or successful run). */
	void (*undo)(struct walk *w);
};

static int arm(struct walk *w, int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	return pwrite(w->nth, buf, len, 0) == len ? 0 : -1;
}

/* Disarms; returns whether the armed point was hit (fail-nth came down to 0). */
static bool disarm(struct walk *w)
{
	char buf[16] = "";
	bool hit = pread(w->nth, buf, sizeof(buf) - 1, 0) > 0 && atoi(buf) == 0;

	if (pwrite(w->nth, "0", 1, 0) != 1)
		abort();
	return hit;
}

static int attach(struct walk *w)
{
	return xioctl(w->group, VFIO_GROUP_SET_CONTAINER, &w->container);
}

/* Whether the container maps and unmaps a probe page and the device answers. */
static int usable(struct walk *w, enum base base)
{
	switch (base) {
	case BASE_CDEV:
		return 0;
	case BASE_CDEV_BOUND:
		return cfg_read(w->device, PCI_VENDOR_ID, 2) < 0 ? -1 : 0;
	case BASE_CDEV_ATTACHED:
		if (ioas_map(w->iommufd, w->ioas, w->mem, PAGE_SZ, PROBE_IOVA) ||
		    ioas_unmap(w->iommufd, w->ioas, PROBE_IOVA, PAGE_SZ) != PAGE_SZ)
			return -1;
		return cfg_read(w->device, PCI_VENDOR_ID, 2) < 0 ? -1 : 0;
	case BASE_COMPAT:
		/* iommufd's compatibility ioctls on the iommufd as the container. */
		return type1_map(w->container, w->mem, PROBE_IOVA, PAGE_SZ, RW) ||
		       type1_unmap(w->container, PROBE_IOVA, PAGE_SZ) ? -1 : 0;
	default:
		break;
	}
	if (base >= BASE_IOMMU) {
		if (type1_map(w->container, w->mem, PROBE_IOVA, PAGE_SZ, RW) ||
		    type1_unmap(w->container, PROBE_IOVA, PAGE_SZ))
			return -1;
	}
	if (base >= BASE_DEVICE && cfg_read(w->device, PCI_VENDOR_ID, 2) < 0)
		return -1;
	return 0;
}

/* --- the operations */

static int op_container_open(struct walk *w)
{
	w->container = open("/dev/vfio/vfio", O_RDWR);
	return w->container < 0 ? -errno : 0;
}

static void undo_container(struct walk *w)
{
	if (w->container >= 0)
		close(w->container);
	w->container = -1;
}

static int op_group_open(struct walk *w)
{
	w->group = open_group(w->edu);
	return w->group < 0 ? -errno : 0;
}

static void undo_group(struct walk *w)
{
	if (w->group >= 0)
		close(w->group);
	w->group = -1;
}

static int group_unattached(struct walk *w)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };

	if (ioctl(w->group, VFIO_GROUP_GET_STATUS, &status))
		return -1;
	return status.flags & VFIO_GROUP_FLAGS_CONTAINER_SET ? -1 : 0;
}

static void undo_set_container(struct walk *w)
{
	xioctl(w->group, VFIO_GROUP_UNSET_CONTAINER, NULL);
}

static int op_set_iommu(struct walk *w)
{
	return ioctl(w->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) ? -errno : 0;
}

/* No IOMMU set: the container still takes one. */
static int no_iommu_set(struct walk *w)
{
	struct vfio_iommu_type1_info info = { .argsz = sizeof(info) };

	return xioctl(w->container, VFIO_IOMMU_GET_INFO, &info) == -EINVAL ? 0 : -1;
}

static void undo_set_iommu(struct walk *w)
{
	/* The last group out takes the backend along; attach again for the next run. */
	xioctl(w->group, VFIO_GROUP_UNSET_CONTAINER, NULL);
	attach(w);
}

static int op_get_info(struct walk *w)
{
	struct {
		struct vfio_iommu_type1_info info;
		__u8 caps[4096];
	} buf = { .info.argsz = sizeof(buf) };

	return xioctl(w->container, VFIO_IOMMU_GET_INFO, &buf);
}

static int op_map(struct walk *w)
{
	return type1_map(w->container, w->mem, IOVA, w->mem_size, RW);
}

/* Nothing of the failed map is left mapped (an unmap of its range finds nothing). */
static int nothing_mapped(struct walk *w)
{
	return type1_unmap_flags(w->container, IOVA, w->mem_size, 0) == 0 ? 0 : -1;
}

static void undo_map(struct walk *w)
{
	type1_unmap_flags(w->container, IOVA, w->mem_size, 0);
}

static int setup_map(struct walk *w)
{
	return op_map(w) ? -1 : 0;
}

static int setup_span(struct walk *w)
{
	size_t each = w->mem_size / SPAN_MAPPINGS, i;

	for (i = 0; i < SPAN_MAPPINGS; i++)
		if (type1_map(w->container, w->mem + i * each, IOVA + i * each, each, RW))
			return -1;
	return 0;
}

static int op_unmap(struct walk *w)
{
	long long ret = type1_unmap_flags(w->container, IOVA, w->mem_size, 0);

	return ret < 0 ? ret : ret == w->mem_size ? 0 : -ERANGE;
}

static int op_unmap_all(struct walk *w)
{
	long long ret = type1_unmap_flags(w->container, 0, 0, VFIO_DMA_UNMAP_FLAG_ALL);

	return ret < 0 ? ret : ret == w->mem_size ? 0 : -ERANGE;
}

/* After a failed unmap everything is still mapped: a second map of the range collides. */
static int still_mapped(struct walk *w)
{
	return type1_map(w->container, w->mem, IOVA, PAGE_SZ, RW) == -EEXIST ? 0 : -1;
}

static int op_device_open(struct walk *w)
{
	w->device = ioctl(w->group, VFIO_GROUP_GET_DEVICE_FD, w->edu);
	return w->device < 0 ? -errno : 0;
}

static void undo_device(struct walk *w)
{
	if (w->device >= 0)
		close(w->device);
	w->device = -1;
}

static int op_msi_enable(struct walk *w)
{
	return set_irq_eventfds(w->device, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, w->eventfds);
}

static int op_intx_enable(struct walk *w)
{
	return set_irq_eventfds(w->device, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, w->eventfds);
}

static int op_msix_enable(struct walk *w)
{
	return set_irq_eventfds(w->device, VFIO_PCI_MSIX_IRQ_INDEX, 0, MSIX_VECTORS, w->eventfds);
}

static int setup_msix(struct walk *w)
{
	return op_msix_enable(w) ? -1 : 0;
}

/* Every vector to another eventfd. */
static int op_msix_update(struct walk *w)
{
	return set_irq_eventfds(w->device, VFIO_PCI_MSIX_IRQ_INDEX, 0, MSIX_VECTORS,
				w->alt_eventfds);
}

static int op_msix_grow(struct walk *w)
{
	/* From 1 vector to MSIX_VECTORS. */
	return set_irq_eventfds(w->device, VFIO_PCI_MSIX_IRQ_INDEX, 0, MSIX_VECTORS, w->eventfds);
}

static int setup_msix_one(struct walk *w)
{
	return set_irq_eventfds(w->device, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, w->eventfds) ? -1 : 0;
}

static int op_msix_disable(struct walk *w)
{
	return disable_irqs(w->device, VFIO_PCI_MSIX_IRQ_INDEX);
}

static void undo_msix(struct walk *w)
{
	disable_irqs(w->device, VFIO_PCI_MSIX_IRQ_INDEX);
}

static void undo_msi(struct walk *w)
{
	disable_irqs(w->device, VFIO_PCI_MSI_IRQ_INDEX);
}

static void undo_intx(struct walk *w)
{
	disable_irqs(w->device, VFIO_PCI_INTX_IRQ_INDEX);
}

static int setup_memory_decode(struct walk *w)
{
	return cfg_command(w->device, PCI_COMMAND_MEMORY, 0) ? -1 : 0;
}

/* Config space and BAR0 read and written through the device fd. */
static int op_region_rw(struct walk *w)
{
	__u32 id = 0, liveness = 0x12345678;
	ssize_t ret;

	ret = xpread(w->device, &id, 4, REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX));
	if (ret == 4)
		ret = xpwrite(w->device, &liveness, 4,
			      REGION_OFFSET(EDU_BAR) + EDU_REG_LIVENESS);
	if (ret == 4)
		ret = xpread(w->device, &id, 4, REGION_OFFSET(EDU_BAR) + EDU_REG_ID);
	return ret < 0 ? ret : ret == 4 ? 0 : -EIO;
}

static int op_mmap_fault(struct walk *w)
{
	volatile __u32 *bar;
	struct vfio_region_info info;
	int ret = region_info(w->device, EDU_BAR, &info);

	if (ret)
		return ret;
	bar = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED, w->device, info.offset);
	if (bar == MAP_FAILED)
		return -errno;
	ret = bar[EDU_REG_ID / 4] == ~0u ? -EIO : 0;
	munmap((void *)bar, info.size);
	return ret;
}

static int op_reset(struct walk *w)
{
	return xioctl(w->device, VFIO_DEVICE_RESET, NULL);
}

static int op_ioeventfd(struct walk *w)
{
	struct vfio_device_ioeventfd io = {
		.argsz = sizeof(io),
		.flags = VFIO_DEVICE_IOEVENTFD_32,
		.offset = REGION_OFFSET(EDU_BAR) + EDU_REG_LIVENESS,
		.data = 0x1234,
		.fd = w->eventfds[0],
	};

	return xioctl(w->device, VFIO_DEVICE_IOEVENTFD, &io);
}

static void undo_ioeventfd(struct walk *w)
{
	struct vfio_device_ioeventfd io = {
		.argsz = sizeof(io),
		.flags = VFIO_DEVICE_IOEVENTFD_32,
		.offset = REGION_OFFSET(EDU_BAR) + EDU_REG_LIVENESS,
		.data = 0x1234,
		.fd = -1,
	};

	xioctl(w->device, VFIO_DEVICE_IOEVENTFD, &io);
}

/* --- the device cdev and iommufd */

/* The cdev base without its cdev file: what op_cdev_open() opens. */
static int setup_no_cdev(struct walk *w)
{
	undo_device(w);
	return 0;
}

static int op_cdev_open(struct walk *w)
{
	w->device = open(w->cdev_path, O_RDWR);
	return w->device < 0 ? -errno : 0;
}

static int op_cdev_bind(struct walk *w)
{
	return cdev_bind(w->device, w->iommufd, NULL);
}

/* Still not bound: every device call is -EINVAL. */
static int cdev_unbound(struct walk *w)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	return xioctl(w->device, VFIO_DEVICE_GET_INFO, &info) == -EINVAL ? 0 : -1;
}

/* A fresh cdev file: the old one's close unbinds. */
static void undo_cdev_bind(struct walk *w)
{
	undo_device(w);
	w->device = open(w->cdev_path, O_RDWR);
}

static int op_cdev_attach(struct walk *w)
{
	return cdev_attach(w->device, w->ioas, NULL);
}

static void undo_cdev_attach(struct walk *w)
{
	cdev_detach(w->device);
}

/* The first device fd of a group with an iommufd binds and attaches it. */
static int op_compat_device_open(struct walk *w)
{
	return op_device_open(w);
}

/* --- the walk */

/* Opens what the cdev bases need; 0 or -1. */
static int open_cdev_base(struct walk *w, enum base base, const char *bdf)
{
	int ioas;

	w->iommufd = open("/dev/iommu", O_RDWR);
	if (w->iommufd < 0)
		return -1;
	if (base == BASE_COMPAT) {
		w->container = w->iommufd;
		w->iommufd = -1;
		w->group = open_group(bdf);
		return w->group < 0 || attach(w) ||
		       ioctl(w->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) ? -1 : 0;
	}
	ioas = ioas_alloc(w->iommufd);
	if (ioas < 0)
		return -1;
	w->ioas = ioas;
	w->device = open_cdev(bdf);
	if (w->device < 0)
		return -1;
	if (base >= BASE_CDEV_BOUND && cdev_bind(w->device, w->iommufd, NULL))
		return -1;
	if (base >= BASE_CDEV_ATTACHED && cdev_attach(w->device, w->ioas, NULL))
		return -1;
	return 0;
}

/* Opens what @base needs for the device @bdf; 0 or -1. */
static int open_base(struct walk *w, enum base base, const char *bdf)
{
	w->container = w->group = w->device = w->iommufd = -1;
	if (base >= BASE_CDEV)
		return open_cdev_base(w, base, bdf);
	if (base >= BASE_OPEN) {
		w->container = open("/dev/vfio/vfio", O_RDWR);
		w->group = open_group(bdf);
		if (w->container < 0 || w->group < 0)
			return -1;
	}
	if (base >= BASE_ATTACHED && attach(w))
		return -1;
	if (base >= BASE_IOMMU && ioctl(w->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return -1;
	if (base >= BASE_DEVICE) {
		w->device = ioctl(w->group, VFIO_GROUP_GET_DEVICE_FD, bdf);
		if (w->device < 0)
			return -1;
	}
	return 0;
}

static void close_base(struct walk *w)
{
	undo_device(w);
	undo_group(w);
	undo_container(w);
	if (w->iommufd >= 0)
		close(w->iommufd);
	w->iommufd = -1;
}

/* User memory for the maps: @size bytes, prefaulted; THP or hugetlb if asked. */
static __u8 *user_memory(size_t size, int flags, bool thp)
{
	size_t len = thp ? size + HUGE_2M : size;
	__u8 *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1,
		       0);

	if (p == MAP_FAILED)
		return NULL;
	if (thp) {
		p = (__u8 *)(((uintptr_t)p + HUGE_2M - 1) & ~(HUGE_2M - 1));
		madvise(p, size, MADV_HUGEPAGE);
	}
	memset(p, 0x5a, size);
	return p;
}

/*
 * Walks @op over N = 1.. failure points: returns the number of points, or -1 after a
 * failed assertion (reported).
 */
static int walk(struct __test_metadata *_metadata, struct walk *w, const struct walk_op *op)
{
	const char *bdf = op->igb ? w->igb : w->edu;
	long long pins = pinned_pages(), locked = locked_vm_kib();
	int n, failed = 0, enomem = 0;

	ASSERT_EQ(0, open_base(w, op->base, bdf)) TH_LOG("%s: base", op->name);
	/* The probe map of usable() needs the memory: map and unmap it once, unarmed. */
	ASSERT_EQ(0, usable(w, op->base));
	for (n = 1; n <= MAX_POINTS; n++) {
		bool hit;
		int ret;

		if (op->setup)
			ASSERT_EQ(0, op->setup(w)) TH_LOG("%s: setup before point %d", op->name, n);
		ASSERT_EQ(0, arm(w, n));
		ret = op->op(w);
		hit = disarm(w);
		if (!hit) {
			/* No point left: the operation must work now. */
			EXPECT_EQ(0, ret) TH_LOG("%s: %s with no point hit", op->name,
						 strerror(-ret));
			if (op->undo)
				op->undo(w);
			break;
		}
		if (ret) {
			failed++;
			if (ret == -ENOMEM)
				enomem++;
			else if (ret != -op->also[0] && ret != -op->also[1])
				EXPECT_EQ(-ENOMEM, ret) TH_LOG("%s: point %d failed with %s",
								op->name, n, strerror(-ret));
			if (op->unchanged)
				EXPECT_EQ(0, op->unchanged(w))
					TH_LOG("%s: point %d changed the state it failed on",
					       op->name, n);
		}
		if (op->undo)
			op->undo(w);
		EXPECT_EQ(0, usable(w, op->base)) TH_LOG("%s: unusable after point %d", op->name, n);
		EXPECT_EQ(pins, pinned_pages_settle(pins)) TH_LOG("%s: pins after point %d",
								   op->name, n);
		EXPECT_EQ(locked, locked_vm_kib()) TH_LOG("%s: locked_vm after point %d",
							  op->name, n);
		if (_metadata->exit_code)
			break;
	}
	EXPECT_GE(MAX_POINTS, n) TH_LOG("%s: more than %d points", op->name, MAX_POINTS);
	close_base(w);
	EXPECT_EQ(pins, pinned_pages_settle(pins));
	printf("# walk %s: %d points, %d failed the call (%d -ENOMEM), %d recovered\n", op->name,
	       n - 1, failed, enomem, n - 1 - failed);
	return n - 1;
}

FIXTURE(walk) {
	struct walk w;
};

FIXTURE_SETUP(walk)
{
	char path[96];
	size_t i;
	int ev;

	self->w.edu = test_bdf("RVFIO_EDU_BDF");
	self->w.igb = test_bdf("RVFIO_IGB_BDF");
	ASSERT_TRUE(self->w.edu && self->w.igb);
	for (i = 0; i < sizeof(fault_config) / sizeof(fault_config[0]); i++) {
		const char *attr = fault_config[i].path;

		/* The debug kernel has CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC. */
		ASSERT_EQ(0, sysfs_write(attr, fault_config[i].value)) TH_LOG("no %s", attr);
	}
	snprintf(path, sizeof(path), "/proc/self/task/%ld/fail-nth", (long)syscall(SYS_gettid));
	self->w.nth = open(path, O_RDWR);
	ASSERT_LE(0, self->w.nth);
	for (i = 0; i < MSIX_VECTORS; i++) {
		ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		ASSERT_LE(0, ev);
		self->w.eventfds[i] = ev;
		ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		ASSERT_LE(0, ev);
		self->w.alt_eventfds[i] = ev;
	}
	self->w.mem_size = PAGE_SZ;
	self->w.mem = user_memory(self->w.mem_size, MAP_POPULATE, false);
	ASSERT_NE(NULL, self->w.mem);
}

FIXTURE_TEARDOWN(walk)
{
	close(self->w.nth);
}

/* Each operation, and the size and kind of memory it maps. */
FIXTURE_VARIANT(walk) {
	struct walk_op op;
	size_t mem_size;
	int mem_flags;
	bool thp;
};

#define WALK(_name, _size, _flags, _thp, ...)                                                \
	FIXTURE_VARIANT_ADD(walk, _name) {                                                   \
		.op = { .name = #_name, __VA_ARGS__ },                                       \
		.mem_size = _size, .mem_flags = _flags, .thp = _thp,                         \
	}

WALK(container_open, 0, 0, false, .base = BASE_NONE, .op = op_container_open,
     .undo = undo_container);
WALK(group_open, 0, 0, false, .base = BASE_NONE, .op = op_group_open, .undo = undo_group);
WALK(set_container, 0, 0, false, .base = BASE_OPEN, .op = attach,
     .unchanged = group_unattached, .undo = undo_set_container);
WALK(set_iommu, 0, 0, false, .base = BASE_ATTACHED, .op = op_set_iommu,
     .unchanged = no_iommu_set, .undo = undo_set_iommu);
WALK(get_info, 0, 0, false, .base = BASE_IOMMU, .op = op_get_info);
WALK(map_4k, PAGE_SZ, MAP_POPULATE, false, .base = BASE_IOMMU, .op = op_map,
     .unchanged = nothing_mapped, .undo = undo_map);
WALK(map_4k_batches, BIG_SIZE, MAP_POPULATE, false, .base = BASE_IOMMU, .op = op_map,
     .unchanged = nothing_mapped, .undo = undo_map);
WALK(map_thp, HUGE_2M, MAP_POPULATE, true, .base = BASE_IOMMU, .op = op_map,
     .unchanged = nothing_mapped, .undo = undo_map);
WALK(map_hugetlb, HUGE_2M, MAP_POPULATE | MAP_HUGETLB, false, .base = BASE_IOMMU,
     .op = op_map, .unchanged = nothing_mapped, .undo = undo_map);
WALK(unmap_single, 16 * PAGE_SZ, MAP_POPULATE, false, .base = BASE_IOMMU, .setup = setup_map,
     .op = op_unmap, .unchanged = still_mapped, .undo = undo_map);
WALK(unmap_span, 16 * PAGE_SZ, MAP_POPULATE, false, .base = BASE_IOMMU, .setup = setup_span,
     .op = op_unmap, .undo = undo_map);
WALK(unmap_all, 16 * PAGE_SZ, MAP_POPULATE, false, .base = BASE_IOMMU, .setup = setup_span,
     .op = op_unmap_all, .undo = undo_map);
WALK(device_open, 0, 0, false, .base = BASE_IOMMU, .op = op_device_open, .undo = undo_device);
/*
 * Interrupts: the PCI core's vector allocation fails with -ENOSPC when the IRQ domain's
 * allocation does, and with -EINVAL at some points (both stacks alike). A failed update
 * leaves the vectors torn down (upstream's vfio_msi_set_block() unwinds what it set), so only
 * usability afterwards is checked.
 */
WALK(intx_enable, 0, 0, false, .base = BASE_DEVICE, .irq = true, .op = op_intx_enable,
     .undo = undo_intx);
WALK(msi_enable, 0, 0, false, .base = BASE_DEVICE, .irq = true, .also = { ENOSPC, EINVAL },
     .op = op_msi_enable, .undo = undo_msi);
WALK(msix_enable, 0, 0, false, .base = BASE_DEVICE, .igb = true, .irq = true,
     .also = { ENOSPC, EINVAL }, .op = op_msix_enable, .undo = undo_msix);
WALK(msix_update, 0, 0, false, .base = BASE_DEVICE, .igb = true, .irq = true,
     .also = { ENOSPC, EINVAL }, .setup = setup_msix, .op = op_msix_update, .undo = undo_msix);
WALK(msix_grow, 0, 0, false, .base = BASE_DEVICE, .igb = true, .irq = true,
     .also = { ENOSPC, EINVAL }, .setup = setup_msix_one, .op = op_msix_grow,
     .undo = undo_msix);
WALK(msix_disable, 0, 0, false, .base = BASE_DEVICE, .igb = true, .irq = true,
     .setup = setup_msix,
     .op = op_msix_disable, .undo = undo_msix);
WALK(region_rw, 0, 0, false, .base = BASE_DEVICE, .setup = setup_memory_decode,
     .op = op_region_rw);
WALK(mmap_fault, 0, 0, false, .base = BASE_DEVICE, .setup = setup_memory_decode,
     .op = op_mmap_fault);
WALK(reset, 0, 0, false, .base = BASE_DEVICE, .igb = true, .op = op_reset);
WALK(ioeventfd, 0, 0, false, .base = BASE_DEVICE, .op = op_ioeventfd, .undo = undo_ioeventfd);
/* The cdev and iommufd (skipped without /dev/iommu). */
WALK(cdev_open, 0, 0, false, .base = BASE_CDEV, .setup = setup_no_cdev, .op = op_cdev_open,
     .undo = undo_device);
WALK(cdev_bind, 0, 0, false, .base = BASE_CDEV, .op = op_cdev_bind, .unchanged = cdev_unbound,
     .undo = undo_cdev_bind);
WALK(cdev_attach, 0, 0, false, .base = BASE_CDEV_BOUND, .op = op_cdev_attach,
     .undo = undo_cdev_attach);
WALK(compat_device_open, 0, 0, false, .base = BASE_COMPAT, .op = op_compat_device_open,
     .undo = undo_device);

TEST_F_TIMEOUT(walk, points, 600)
{
	/* (CONFIG_FAULT_INJECTION_STACKTRACE_FILTER) */
	if (variant->op.base >= BASE_CDEV) {
		char name[32];

		if (access("/dev/iommu", F_OK))
			SKIP(return, "no /dev/iommu (no IOMMUFD in this kernel)");
		ASSERT_EQ(0, cdev_name(self->w.edu, name, sizeof(name)));
		snprintf(self->w.cdev_path, sizeof(self->w.cdev_path), "/dev/vfio/devices/%s", name);
	}
	ASSERT_EQ(0, reject_range(variant->op.irq ? irq_proc : acpica));
	if (variant->mem_size) {
		self->w.mem_size = variant->mem_size;
		self->w.mem = user_memory(variant->mem_size, variant->mem_flags, variant->thp);
		if (!self->w.mem && (variant->mem_flags & MAP_HUGETLB))
			SKIP(return, "no 2 MiB hugetlb page (nr_hugepages)");
		ASSERT_NE(NULL, self->w.mem);
	}
	walk(_metadata, &self->w, &variant->op);
}

TEST_HARNESS_MAIN
