// SPDX-License-Identifier: GPL-2.0
/*
 * The ERR interrupt (VFIO_PCI_ERR_IRQ_INDEX): a PCIe error that the guest kernel's AER
 * driver handles as uncorrectable signals the user's ERR eventfd (what makes QEMU stop a VM
 * rather than let it run on a broken device), and leaves the device usable; a correctable
 * one does not, nor does any error once the eventfd is removed. The errors are real AER
 * messages: QEMU's monitor injects them into a virtio-rng device with AER
 * (pcie_aer_inject_error, asked for through the guest's third serial port and
 * qemu-test/monitor-relay.py), its root port reports them to the kernel, whose AER
 * statistics of the device count each before the eventfd is looked at. Runs on that device
 * bound to vfio-pci (RVFIO_AER_BDF, QEMU id aer0: sh/err_irq.sh), unchanged on upstream's
 * modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"
#include "vfio_test_util.h"

/* The device's QEMU id (qemu-test/run-guest.sh), which the relay lets the guest inject into. */
#define AER_QEMU_ID "aer0"

/* Its vendor ID (virtio), to see that it still answers. */
#define AER_VENDOR 0x1af4

/*
 * The kernel's count of AER errors of @kind ("aer_dev_nonfatal", "aer_dev_correctable")
 * reported by @bdf (its sysfs line TOTAL_...), or -1 when the device has no AER statistics.
 */
static long long aer_total(const char *bdf, const char *kind)
{
	char buf[4096], *total;
	ssize_t n = sysfs_attr(bdf, kind, buf, sizeof(buf) - 1);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	total = strstr(buf, "TOTAL_");
	total = total ? strchr(total, ' ') : NULL;
	return total ? strtoll(total, NULL, 10) : -1;
}

/*
 * Asks the host's QEMU to inject a PCIe error into the device: an uncorrectable one by name
 * ("POISON_TLP"), a correctable one by number ("-c 0x40": QEMU takes no names with -c).
 */
static int inject_aer_error(const char *error)
{
	char line[128];
	int fd = open("/dev/ttyS2", O_WRONLY | O_NOCTTY);
	int len, ret;
	bool correctable = !strncmp(error, "-c ", 3);

	if (fd < 0)
		return -errno;
	len = snprintf(line, sizeof(line), "pcie_aer_inject_error %s%s %s\n",
		       correctable ? "-c " : "", AER_QEMU_ID, correctable ? error + 3 : error);
	ret = write(fd, line, len) == len ? 0 : -EIO;
	close(fd);
	return ret;
}

FIXTURE(err) {
	struct vfio_pci_dev dev;
	const char *bdf;
	int efd;
};

FIXTURE_SETUP(err)
{
	self->bdf = test_bdf("RVFIO_AER_BDF");
	ASSERT_NE(NULL, self->bdf) TH_LOG("RVFIO_AER_BDF not set");
	ASSERT_EQ(0, vfio_pci_open(&self->dev, self->bdf, VFIO_TYPE1v2_IOMMU));
	self->efd = new_eventfd();
	ASSERT_LE(0, self->efd);
}

FIXTURE_TEARDOWN(err)
{
	close(self->efd);
	vfio_pci_close(&self->dev);
}

/*
 * Injects @error and waits for the kernel's AER driver to have handled it: its count of
 * the device's errors of @kind goes up.
 */
static bool error_reported(const char *bdf, const char *error, const char *kind)
{
	long long before = aer_total(bdf, kind), now = before;
	__u64 start = now_ms(), end = start + 10000;

	if (before < 0 || inject_aer_error(error))
		return false;
	while (now_ms() < end) {
		now = aer_total(bdf, kind);
		if (now > before) {
			printf("# %s: %s counted after %llu ms\n", bdf, error, now_ms() - start);
			return true;
		}
		usleep(20000);
	}
	printf("# %s: %s not counted in %s within 10 s (%lld before, %lld now)\n", bdf, error,
	       kind, before, now);
	return false;
}

TEST_F(err, irq_info)
{
	struct vfio_irq_info info = { .argsz = sizeof(info), .index = VFIO_PCI_ERR_IRQ_INDEX };

	ASSERT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_GET_IRQ_INFO, &info));
	EXPECT_EQ(1, info.count);
	EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, info.flags);
}

/* Each step waits up to 10 s: slow guests (the debug kernel beside another) need it. */
TEST_F_TIMEOUT(err, uncorrectable_error_signals, 90)
{
	int fd = self->efd;

	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, &fd));
	ASSERT_LE(0, aer_total(self->bdf, "aer_dev_nonfatal"))
		TH_LOG("%s has no AER statistics: is AER the kernel's on its root port?", self->bdf);
	ASSERT_TRUE(error_reported(self->bdf, "POISON_TLP", "aer_dev_nonfatal"))
		TH_LOG("the injected error was not reported to the kernel");
	/* Signalled (at least once: AER may find the error again while recovering). */
	EXPECT_LE(1, eventfd_wait(self->efd, 10000));
	/* Recovered: the device answers, and the user still owns it. */
	EXPECT_EQ(AER_VENDOR, cfg_read(self->dev.fd, PCI_VENDOR_ID, 2));

	/*
	 * With the eventfd removed (and what the first error signalled before that read), an
	 * error is reported to nobody.
	 */
	fd = -1;
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, &fd));
	eventfd_wait(self->efd, 0);
	ASSERT_TRUE(error_reported(self->bdf, "POISON_TLP", "aer_dev_nonfatal"))
		TH_LOG("the second injected error was not reported to the kernel");
	EXPECT_EQ(0, eventfd_wait(self->efd, 2000));
	EXPECT_EQ(AER_VENDOR, cfg_read(self->dev.fd, PCI_VENDOR_ID, 2));
}

/* A corrected error needs nothing from the driver: the eventfd stays quiet. */
TEST_F_TIMEOUT(err, correctable_error_does_not_signal, 60)
{
	int fd = self->efd;

	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, &fd));
	ASSERT_TRUE(error_reported(self->bdf, "-c 0x40", "aer_dev_correctable"))
		TH_LOG("the injected error was not reported to the kernel");
	EXPECT_EQ(0, eventfd_wait(self->efd, 2000));
	EXPECT_EQ(AER_VENDOR, cfg_read(self->dev.fd, PCI_VENDOR_ID, 2));
}

TEST_HARNESS_MAIN
