// SPDX-License-Identifier: GPL-2.0
/*
 * The ERR interrupt (VFIO_PCI_ERR_IRQ_INDEX): a PCIe error that the guest kernel's AER
 * driver handles as uncorrectable signals the user's ERR eventfd (what makes QEMU stop a VM
 * rather than let it run on a broken device), and leaves the device usable; a correctable
 * one does not, nor does any error once the eventfd is removed. The errors are real AER
 * messages: QEMU's monitor injects them into igb (pcie_aer_inject_error, asked for through
 * the guest's third serial port and qemu-test/monitor-relay.py), its root port reports them
 * to the kernel, and the kernel log says so before the eventfd is looked at. Runs on igb
 * bound to vfio-pci (RVFIO_IGB_BDF, QEMU id igb0), unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"
#include "vfio_test_util.h"

/* igb's QEMU id (qemu-test/run-guest.sh), which the relay lets the guest inject into. */
#define IGB_QEMU_ID "igb0"

/* The kernel log from now on: a /dev/kmsg reader at its end. */
static int kmsg_from_now(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Waits up to @timeout_ms for a record of @kmsg containing @a and @b; whether one came. */
static bool kmsg_wait(int kmsg, const char *a, const char *b, int timeout_ms)
{
	__u64 end = now_ms() + timeout_ms;
	char rec[1024];
	ssize_t n;

	while (now_ms() < end) {
		n = read(kmsg, rec, sizeof(rec) - 1);
		if (n < 0) {
			if (errno == EPIPE)	/* overwritten records: read on */
				continue;
			usleep(20000);
			continue;
		}
		rec[n] = '\0';
		if (strstr(rec, a) && strstr(rec, b))
			return true;
	}
	return false;
}

/* Asks the host's QEMU to inject a PCIe error into igb: "POISON_TLP", or "-c BAD_TLP". */
static int inject_aer_error(const char *error)
{
	char line[128];
	int fd = open("/dev/ttyS2", O_WRONLY | O_NOCTTY);
	int len, ret;
	bool correctable = !strncmp(error, "-c ", 3);

	if (fd < 0)
		return -errno;
	len = snprintf(line, sizeof(line), "pcie_aer_inject_error %s%s %s\n",
		       correctable ? "-c " : "", IGB_QEMU_ID, correctable ? error + 3 : error);
	ret = write(fd, line, len) == len ? 0 : -EIO;
	close(fd);
	return ret;
}

FIXTURE(err) {
	struct vfio_pci_dev dev;
	const char *bdf;
	int efd;
	int kmsg;
};

FIXTURE_SETUP(err)
{
	self->bdf = test_bdf("RVFIO_IGB_BDF");
	ASSERT_NE(NULL, self->bdf) TH_LOG("RVFIO_IGB_BDF not set");
	ASSERT_EQ(0, vfio_pci_open(&self->dev, self->bdf, VFIO_TYPE1v2_IOMMU));
	self->efd = new_eventfd();
	ASSERT_LE(0, self->efd);
	self->kmsg = -1;
}

FIXTURE_TEARDOWN(err)
{
	if (self->kmsg >= 0)
		close(self->kmsg);
	close(self->efd);
	vfio_pci_close(&self->dev);
}

/* Injects @error and waits for the kernel's AER report of it from igb (@severity). */
static bool error_reported(FIXTURE_DATA(err) *self, const char *error, const char *severity)
{
	char from[64];

	if (self->kmsg >= 0)
		close(self->kmsg);
	self->kmsg = kmsg_from_now();
	if (self->kmsg < 0 || inject_aer_error(error))
		return false;
	snprintf(from, sizeof(from), "error message received from %s", self->bdf);
	return kmsg_wait(self->kmsg, severity, from, 10000);
}

TEST_F(err, irq_info)
{
	struct vfio_irq_info info = { .argsz = sizeof(info), .index = VFIO_PCI_ERR_IRQ_INDEX };

	ASSERT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_GET_IRQ_INFO, &info));
	EXPECT_EQ(1, info.count);
	EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, info.flags);
}

TEST_F(err, uncorrectable_error_signals)
{
	int fd = self->efd;

	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, &fd));
	ASSERT_TRUE(error_reported(self, "POISON_TLP", "Uncorrectable (Non-Fatal)"))
		TH_LOG("no AER report of the injected error");
	EXPECT_EQ(1, eventfd_wait(self->efd, 10000));
	/* Recovered: the device answers, and the user still owns it. */
	EXPECT_EQ(0x8086, cfg_read(self->dev.fd, PCI_VENDOR_ID, 2));

	/* With the eventfd removed, an error is reported to nobody. */
	fd = -1;
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, &fd));
	ASSERT_TRUE(error_reported(self, "POISON_TLP", "Uncorrectable (Non-Fatal)"));
	EXPECT_EQ(0, eventfd_wait(self->efd, 2000));
	EXPECT_EQ(0x8086, cfg_read(self->dev.fd, PCI_VENDOR_ID, 2));
}

/* A corrected error needs nothing from the driver: the eventfd stays quiet. */
TEST_F(err, correctable_error_does_not_signal)
{
	int fd = self->efd;

	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, &fd));
	ASSERT_TRUE(error_reported(self, "-c BAD_TLP", "Correctable"))
		TH_LOG("no AER report of the injected error");
	EXPECT_EQ(0, eventfd_wait(self->efd, 2000));
	EXPECT_EQ(0x8086, cfg_read(self->dev.fd, PCI_VENDOR_ID, 2));
}

TEST_HARNESS_MAIN
