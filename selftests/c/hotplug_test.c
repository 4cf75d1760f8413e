// SPDX-License-Identifier: GPL-2.0
/*
 * Hot-unplug of a device while a VFIO user holds it: QEMU's monitor unplugs the e1000e
 * (device_del, as an operator would; the guest's pciehp removes it after the attention
 * button's 5 s), and vfio-pci's remove must ask the user to let go and wait for it, never
 * pull the device, its mappings or its interrupts from under an open fd.
 *
 * - unplug_with_everything_open: device fd with DMA mapped, BAR0 mmapped, MSI-X and the
 *   request eventfd set. The request interrupt fires; the device keeps working meanwhile;
 *   closing every fd still leaves the device while the BAR mmap holds it; munmap() lets
 *   the removal finish. Pins, locked_vm and IRQs are back at their baselines; the group
 *   node is gone.
 * - unplug_holder_killed: a child holding the same set is SIGKILLed once it saw the
 *   request; the removal then completes and nothing stays pinned.
 * - unplug_without_request_channel: with no request eventfd, the removal blocks (and says
 *   so in the kernel log) until the user closes the device.
 *
 * Each case starts with the e1000e plugged back and bound to vfio-pci
 * (sh/hotplug.sh --plug). Only the uAPI is used: sh/hotplug.sh runs it on either stack.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"

#define SZ_4K 0x1000ULL
#define SZ_8M 0x800000ULL
#define E1000E_VENDOR_ID 0x8086
#define E1000E_STATUS 0x08	/* device status register, BAR0 */
#define SYSLOG_ACTION_READ_ALL 3

/* Seconds to wait for the request interrupt: pciehp's 5 s attention delay, under TCG. */
#define REQUEST_WAIT_MS 40000
/* Seconds for the removal to finish once the device is released. */
#define REMOVAL_WAIT_S 30

/* Runs "sh /tests/sh/hotplug.sh ARGS..." (the monitor side of the test); its exit status. */
static int hotplug_sh(const char *args)
{
	char cmd[256];
	int status;

	snprintf(cmd, sizeof(cmd), "sh /tests/sh/hotplug.sh %s", args);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool device_present(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	return access(path, F_OK) == 0;
}

/* Waits up to @seconds for @bdf to leave sysfs; whether it did. */
static bool wait_removed(const char *bdf, int seconds)
{
	for (int i = 0; i < seconds * 10; i++) {
		if (!device_present(bdf))
			return true;
		usleep(100000);
	}
	return false;
}

/*
 * Waits up to @seconds for @text in the kernel log (the runner clears it before each test);
 * whether it appeared.
 */
static bool wait_klog(const char *text, int seconds)
{
	static char log[1 << 20];

	for (int i = 0; i < seconds * 10; i++) {
		int len = klogctl(SYSLOG_ACTION_READ_ALL, log, sizeof(log) - 1);

		if (len > 0) {
			log[len] = '\0';
			if (strstr(log, text))
				return true;
		}
		usleep(100000);
	}
	return false;
}

/* Everything a VFIO user holds of the device: fds, a DMA mapping, a BAR mmap, eventfds. */
struct holder {
	struct vfio_pci_dev dev;
	void *dma;
	volatile __u32 *bar;
	size_t bar_size;
	int msix;
	int req;
};

/*
 * Opens @bdf and takes hold of everything (a request eventfd only if @with_req): 0, or the
 * failing step as a negative number.
 */
static int hold(struct holder *h, const char *bdf, bool with_req)
{
	struct vfio_region_info bar0 = { .argsz = sizeof(bar0) };
	void *bar;

	memset(h, 0, sizeof(*h));
	h->msix = h->req = -1;
	if (vfio_pci_open(&h->dev, bdf, VFIO_TYPE1v2_IOMMU))
		return -1;
	h->dma = mmap(NULL, SZ_8M, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (h->dma == MAP_FAILED)
		return -2;
	if (type1_map(h->dev.container, h->dma, SZ_8M, SZ_8M,
		      VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE))
		return -3;
	if (region_info(h->dev.fd, VFIO_PCI_BAR0_REGION_INDEX, &bar0) ||
	    !(bar0.flags & VFIO_REGION_INFO_FLAG_MMAP))
		return -4;
	bar = mmap(NULL, bar0.size, PROT_READ | PROT_WRITE, MAP_SHARED, h->dev.fd, bar0.offset);
	if (bar == MAP_FAILED)
		return -5;
	h->bar = bar;
	h->bar_size = bar0.size;
	/* Memory decode on, so that the mmap reads the device. */
	if (cfg_command(h->dev.fd, PCI_COMMAND_MEMORY, 0))
		return -6;
	h->msix = new_eventfd();
	if (h->msix < 0 || set_irq_eventfds(h->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &h->msix))
		return -7;
	if (with_req) {
		h->req = new_eventfd();
		if (h->req < 0 ||
		    set_irq_eventfds(h->dev.fd, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, &h->req))
			return -8;
	}
	return 0;
}

/* The device answers: vendor ID by config space, a register by the mmap, an MSI-X loopback. */
static int holder_works(struct holder *h)
{
	if (cfg_read(h->dev.fd, PCI_VENDOR_ID, 2) != E1000E_VENDOR_ID)
		return -1;
	if (h->bar[E1000E_STATUS / 4] == 0xffffffff)
		return -2;
	if (trigger_irqs(h->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1) || eventfd_wait(h->msix, 5000) < 1)
		return -3;
	return 0;
}

/* Lets go of everything but the BAR mmap. */
static void release_fds(struct holder *h)
{
	vfio_pci_close(&h->dev);
	if (h->msix >= 0)
		close(h->msix);
	if (h->req >= 0)
		close(h->req);
	h->msix = h->req = -1;
	if (h->dma && h->dma != MAP_FAILED)
		munmap(h->dma, SZ_8M);
	h->dma = NULL;
}

static void release_bar(struct holder *h)
{
	if (h->bar)
		munmap((void *)h->bar, h->bar_size);
	h->bar = NULL;
}

FIXTURE(hotplug) {
	const char *bdf;
	char group_node[64];
	long long pinned;	/* system-wide FOLL_PIN pages at the start */
	long long locked;	/* this process's VmLck (KiB) at the start */
};

FIXTURE_SETUP(hotplug)
{
	char arg[64];

	self->bdf = test_bdf("RVFIO_NIC_BDF");
	if (!self->bdf)
		SKIP(return, "RVFIO_NIC_BDF not set (run through sh/hotplug.sh)");
	snprintf(arg, sizeof(arg), "--plug %s", self->bdf);
	ASSERT_EQ(0, hotplug_sh(arg)) TH_LOG("could not plug %s back onto vfio-pci", self->bdf);
	snprintf(self->group_node, sizeof(self->group_node), "/dev/vfio/%d",
		 iommu_group_of(self->bdf));
	ASSERT_EQ(0, vfio_irq_lines());
	self->pinned = pinned_pages();
	self->locked = locked_vm_kib();
	ASSERT_LE(0, self->pinned);
	ASSERT_LE(0, self->locked);
}

FIXTURE_TEARDOWN(hotplug)
{
}

TEST_F_TIMEOUT(hotplug, unplug_with_everything_open, 180)
{
	struct holder h;

	ASSERT_EQ(0, hold(&h, self->bdf, true));
	ASSERT_EQ(0, holder_works(&h));
	EXPECT_LE(self->pinned + SZ_8M / SZ_4K, pinned_pages());

	ASSERT_EQ(0, hotplug_sh("--unplug"));
	ASSERT_LE(1, eventfd_wait(h.req, REQUEST_WAIT_MS)) TH_LOG("no device request");
	/* The removal waits for us; the device still works meanwhile. */
	EXPECT_TRUE(device_present(self->bdf));
	EXPECT_EQ(0, holder_works(&h));

	/* The BAR mmap alone still holds the device open. */
	release_fds(&h);
	sleep(3);
	EXPECT_TRUE(device_present(self->bdf)) TH_LOG("removed while its BAR was still mapped");
	EXPECT_NE(0xffffffff, h.bar[E1000E_STATUS / 4]);
	release_bar(&h);

	EXPECT_TRUE(wait_removed(self->bdf, REMOVAL_WAIT_S)) TH_LOG("device not removed after release");
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(self->locked, locked_vm_kib());
	EXPECT_EQ(0, vfio_irq_lines());
	EXPECT_NE(0, access(self->group_node, F_OK)) TH_LOG("%s outlived the device", self->group_node);
}

TEST_F_TIMEOUT(hotplug, unplug_holder_killed, 180)
{
	int ready[2];
	char step = 0;
	pid_t pid;
	int status;

	ASSERT_EQ(0, pipe(ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct holder h;

		close(ready[0]);
		step = hold(&h, self->bdf, true) ? 'F' : 'H';
		if (write(ready[1], &step, 1) != 1 || step != 'H')
			_exit(1);
		step = eventfd_wait(h.req, REQUEST_WAIT_MS) >= 1 ? 'R' : 'N';
		if (write(ready[1], &step, 1) != 1)
			_exit(1);
		/* A user that never lets go by itself. */
		for (;;)
			pause();
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &step, 1));
	ASSERT_EQ('H', step);
	EXPECT_LE(self->pinned + SZ_8M / SZ_4K, pinned_pages());

	ASSERT_EQ(0, hotplug_sh("--unplug"));
	EXPECT_EQ(1, read(ready[0], &step, 1));
	EXPECT_EQ('R', step) TH_LOG("the holder saw no device request");
	EXPECT_TRUE(device_present(self->bdf));

	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	close(ready[0]);
	EXPECT_TRUE(wait_removed(self->bdf, REMOVAL_WAIT_S)) TH_LOG("device not removed after the kill");
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(0, vfio_irq_lines());
}

TEST_F_TIMEOUT(hotplug, unplug_without_request_channel, 180)
{
	struct holder h;

	ASSERT_EQ(0, hold(&h, self->bdf, false));
	ASSERT_EQ(0, hotplug_sh("--unplug"));
	/* The removal started, found no one to ask, and waits. */
	ASSERT_TRUE(wait_klog("No device request channel registered, blocked until released by user",
			      REQUEST_WAIT_MS / 1000));
	sleep(2);
	EXPECT_TRUE(device_present(self->bdf));
	EXPECT_EQ(0, holder_works(&h));

	release_fds(&h);
	release_bar(&h);
	EXPECT_TRUE(wait_removed(self->bdf, REMOVAL_WAIT_S)) TH_LOG("device not removed after release");
	EXPECT_EQ(self->pinned, pinned_pages_settle(self->pinned));
	EXPECT_EQ(self->locked, locked_vm_kib());
	EXPECT_EQ(0, vfio_irq_lines());
}

TEST_HARNESS_MAIN
