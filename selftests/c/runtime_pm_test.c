// SPDX-License-Identifier: GPL-2.0
/*
 * Idle D3 (runtime PM), as upstream vfio-pci: a function bound to vfio-pci and not open is
 * suspended into D3hot by the PM core; opening its device fd resumes it to D0 for as long
 * as the fd is open, closing it lets it suspend again. RVFIO_IDLE_STATE says what an idle
 * function with a PM capability (igb) must be in: D3hot on a kernel with CONFIG_PM unless
 * disable_idle_d3 was set when the device was bound, D0 otherwise
 * (selftests/sh/runtime_pm.sh); one without (edu) stays in D0. The power state is the
 * PCI core's (sysfs power_state), and the device is used while open: its config space
 * through the fd, and for igb (RVFIO_IGB_BDF) a register of its BAR0.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"

FIXTURE(pm) {
	const char *bdf;
	const char *idle;
};

FIXTURE_VARIANT(pm) {
	const char *bdf_env;
};

FIXTURE_VARIANT_ADD(pm, edu) {
	.bdf_env = "RVFIO_EDU_BDF",
};

FIXTURE_VARIANT_ADD(pm, igb) {
	.bdf_env = "RVFIO_IGB_BDF",
};

FIXTURE_SETUP(pm)
{
	self->bdf = test_bdf(variant->bdf_env);
	self->idle = getenv("RVFIO_IDLE_STATE");
	ASSERT_NE(NULL, self->bdf);
	ASSERT_NE(NULL, self->idle);
	if (!has_pm_cap(self->bdf))
		self->idle = "D0";
}

FIXTURE_TEARDOWN(pm)
{
}

/* Bound and not open: in the idle state. */
TEST_F(pm, idle_state)
{
	char buf[32];

	EXPECT_TRUE(power_reaches(self->bdf, self->idle))
		TH_LOG("%s idle in %s, want %s", self->bdf,
		       power_state(self->bdf, buf, sizeof(buf)), self->idle);
}

/* Open: D0 at once and usable; closed: idle again. Three rounds. */
TEST_F(pm, open_resumes_close_suspends)
{
	struct vfio_pci_dev dev;
	char buf[32];
	int round;

	for (round = 0; round < 3; round++) {
		ASSERT_TRUE(power_reaches(self->bdf, self->idle));
		ASSERT_EQ(0, vfio_pci_open(&dev, self->bdf, VFIO_TYPE1v2_IOMMU));
		EXPECT_STREQ("D0", power_state(self->bdf, buf, sizeof(buf)));
		/* The device answers: its vendor ID through the fd's config region. */
		EXPECT_NE(0xffff, cfg_read(dev.fd, 0, 2));
		EXPECT_LT(0, cfg_read(dev.fd, 0, 2));
		if (!strcmp(self->bdf, test_bdf("RVFIO_IGB_BDF"))) {
			/* igb STATUS (BAR0 + 0x8): not all ones, as a function in D3hot reads. */
			ASSERT_EQ(0, cfg_command(dev.fd, PCI_COMMAND_MEMORY, 0));
			EXPECT_NE(0xffffffffu, bar_read32(dev.fd, 0, 0x8));
		}
		/* It stays in D0 while open. */
		usleep(300000);
		EXPECT_STREQ("D0", power_state(self->bdf, buf, sizeof(buf)));
		vfio_pci_close(&dev);
		EXPECT_TRUE(power_reaches(self->bdf, self->idle))
			TH_LOG("round %d: after close %s, want %s", round,
			       power_state(self->bdf, buf, sizeof(buf)), self->idle);
	}
}

/* A second open of the same device while the first is open changes nothing. */
TEST_F(pm, device_fd_twice)
{
	struct vfio_pci_dev dev;
	char buf[32];
	int second;

	ASSERT_EQ(0, vfio_pci_open(&dev, self->bdf, VFIO_TYPE1v2_IOMMU));
	second = ioctl(dev.group, VFIO_GROUP_GET_DEVICE_FD, self->bdf);
	ASSERT_LE(0, second);
	close(dev.fd);
	/* One fd still open: D0. */
	usleep(300000);
	EXPECT_STREQ("D0", power_state(self->bdf, buf, sizeof(buf)));
	close(second);
	dev.fd = -1;
	vfio_pci_close(&dev);
	EXPECT_TRUE(power_reaches(self->bdf, self->idle));
}

TEST_HARNESS_MAIN
