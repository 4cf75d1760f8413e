// SPDX-License-Identifier: GPL-2.0
/*
 * The user's low power, as upstream vfio-pci: VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
 * _LOW_POWER_ENTRY_WITH_WAKEUP and _LOW_POWER_EXIT on an open device.
 *
 * After an entry the open device no longer holds itself in D0: with CONFIG_PM the PM core
 * suspends it (D3hot) when no access is in progress, and every ioctl, read or write resumes
 * it for its own duration. Its BAR mmaps fault (SIGBUS) until the user exits; with a
 * wakeup eventfd, the next resume signals the eventfd and exits by itself. A function
 * without a PM capability (edu) suspends and resumes the same but stays in D0; without
 * CONFIG_PM nothing suspends, so no wakeup comes, but the mmaps still fault.
 * RVFIO_LOW_POWER_STATE is what a function with a PM capability must reach in low power:
 * D3hot with CONFIG_PM, D0 without (selftests/sh/runtime_pm.sh); RVFIO_IDLE_STATE what it
 * must be in when closed (D0 with disable_idle_d3=1); RVFIO_RUNTIME_PM=1 with CONFIG_PM.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"

#define PAGE_SZ 4096

/* VFIO_DEVICE_FEATURE @feature with @flags and @size bytes of @data; 0 or -errno. */
static int feature(int fd, __u32 flags, __u32 feature, const void *data, size_t size)
{
	char buf[sizeof(struct vfio_device_feature) + 64] = { 0 };
	struct vfio_device_feature *f = (void *)buf;

	f->argsz = sizeof(*f) + size;
	f->flags = flags | feature;
	memcpy(f->data, data, size);
	return xioctl(fd, VFIO_DEVICE_FEATURE, f);
}

static int entry(int fd)
{
	return feature(fd, VFIO_DEVICE_FEATURE_SET, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, NULL, 0);
}

static int entry_wakeup(int fd, int efd)
{
	struct vfio_device_low_power_entry_with_wakeup e = { .wakeup_eventfd = efd };

	return feature(fd, VFIO_DEVICE_FEATURE_SET,
		       VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP, &e, sizeof(e));
}

static int exit_low_power(int fd)
{
	return feature(fd, VFIO_DEVICE_FEATURE_SET, VFIO_DEVICE_FEATURE_LOW_POWER_EXIT, NULL, 0);
}

FIXTURE(lp) {
	const char *bdf;
	/* What the function reaches in low power, and when closed. */
	const char *low;
	const char *idle;
	/* Runtime PM suspends it in low power (CONFIG_PM). */
	bool suspends;
	/* A BAR0 register that answers in D0: edu's ID, igb's STATUS. */
	off_t reg;
	bool igb;
	struct vfio_pci_dev dev;
	int efd;
};

/* Whether @v is what the register reads from a function in D0 (not all ones). */
static bool answers(FIXTURE_DATA(lp) *self, __u32 v)
{
	return self->igb ? v != 0xffffffffu : v == 0x010000ed;
}

FIXTURE_VARIANT(lp) {
	const char *bdf_env;
	bool igb;
};

FIXTURE_VARIANT_ADD(lp, edu) {
	.bdf_env = "RVFIO_EDU_BDF",
};

FIXTURE_VARIANT_ADD(lp, igb) {
	.bdf_env = "RVFIO_IGB_BDF",
	.igb = true,
};

FIXTURE_SETUP(lp)
{
	self->bdf = test_bdf(variant->bdf_env);
	self->low = getenv("RVFIO_LOW_POWER_STATE");
	self->idle = getenv("RVFIO_IDLE_STATE");
	ASSERT_NE(NULL, self->bdf);
	ASSERT_NE(NULL, self->low);
	ASSERT_NE(NULL, self->idle);
	self->suspends = getenv("RVFIO_RUNTIME_PM") && !strcmp(getenv("RVFIO_RUNTIME_PM"), "1");
	if (!has_pm_cap(self->bdf))
		self->low = self->idle = "D0";
	self->efd = new_eventfd();
	ASSERT_LE(0, self->efd);
	ASSERT_EQ(0, vfio_pci_open(&self->dev, self->bdf, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MEMORY, 0));
	self->reg = variant->igb ? 0x8 : 0;
	self->igb = variant->igb;
	ASSERT_TRUE(answers(self, bar_read32(self->dev.fd, 0, self->reg)));
}

FIXTURE_TEARDOWN(lp)
{
	vfio_pci_close(&self->dev);
	close(self->efd);
}

/* Upstream's vfio_check_feature() answers, and the wakeup entry's own checks. */
TEST_F(lp, feature_errnos)
{
	struct vfio_device_low_power_entry_with_wakeup e = { .wakeup_eventfd = -1 };
	int fd = self->dev.fd, probe = VFIO_DEVICE_FEATURE_PROBE;
	int nul = open("/dev/null", O_RDONLY);
	__u32 set = VFIO_DEVICE_FEATURE_SET, get = VFIO_DEVICE_FEATURE_GET;
	__u32 features[] = { VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
			     VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP,
			     VFIO_DEVICE_FEATURE_LOW_POWER_EXIT };
	char buf[32];
	size_t i;

	ASSERT_LE(0, nul);
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, feature(fd, probe | set, features[i], NULL, 0));
		EXPECT_EQ(-EINVAL, feature(fd, probe | get, features[i], NULL, 0));
		EXPECT_EQ(-EINVAL, feature(fd, get, features[i], NULL, 0));
	}
	/* The wakeup entry needs its 8 bytes, a non-negative fd, an eventfd. */
	EXPECT_EQ(-EINVAL, feature(fd, set, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP,
				   &e, 4));
	EXPECT_EQ(-EINVAL, entry_wakeup(fd, -1));
	EXPECT_EQ(-EINVAL, entry_wakeup(fd, nul));
	EXPECT_EQ(-EBADF, entry_wakeup(fd, 1000));
	/* Exit without entry does nothing; none of the above entered. */
	EXPECT_EQ(0, exit_low_power(fd));
	usleep(300000);
	EXPECT_STREQ("D0", power_state(self->bdf, buf, sizeof(buf)));
	EXPECT_TRUE(answers(self, bar_read32(fd, 0, self->reg)));
	close(nul);
}

/* Entry lets the device suspend; a second entry is refused; exit holds it in D0 again. */
TEST_F(lp, entry_exit)
{
	int fd = self->dev.fd, round;
	char buf[32];

	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, entry(fd));
		EXPECT_TRUE(power_reaches(self->bdf, self->low))
			TH_LOG("round %d: in low power %s, want %s", round,
			       power_state(self->bdf, buf, sizeof(buf)), self->low);
		EXPECT_EQ(-EINVAL, entry(fd));
		EXPECT_EQ(-EINVAL, entry_wakeup(fd, self->efd));
		EXPECT_TRUE(power_reaches(self->bdf, self->low));
		ASSERT_EQ(0, exit_low_power(fd));
		/* The exit's own ioctl resumed it, and the open holds it from there. */
		EXPECT_STREQ("D0", power_state(self->bdf, buf, sizeof(buf)));
		usleep(300000);
		EXPECT_STREQ("D0", power_state(self->bdf, buf, sizeof(buf)));
		EXPECT_TRUE(answers(self, bar_read32(fd, 0, self->reg)));
	}
	/* A plain entry has no wakeup eventfd: the ioctls' resumes signalled nothing. */
	EXPECT_EQ(0, eventfd_wait(self->efd, 0));
}

/*
 * In low power, reads and writes resume the device for their duration (and it suspends
 * again after); the mmap faults throughout, and works again after the exit.
 */
TEST_F(lp, access_in_low_power)
{
	int fd = self->dev.fd;
	volatile __u32 *bar;
	char buf[32];
	__u32 v = 0;
	int i;

	bar = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, REGION_OFFSET(0));
	ASSERT_NE(MAP_FAILED, bar);
	EXPECT_EQ(0, faults(bar + self->reg / 4, &v));
	EXPECT_TRUE(answers(self, v));
	ASSERT_EQ(0, entry(fd));
	for (i = 0; i < 3; i++) {
		EXPECT_TRUE(power_reaches(self->bdf, self->low))
			TH_LOG("access %d: %s, want %s", i,
			       power_state(self->bdf, buf, sizeof(buf)), self->low);
		EXPECT_EQ(1, faults(bar + self->reg / 4, &v));
		/* Config space and BAR0 through the fd: the device answers from D0. */
		EXPECT_LT(0, cfg_read(fd, 0, 2));
		EXPECT_NE(0xffff, cfg_read(fd, 0, 2));
		EXPECT_TRUE(answers(self, bar_read32(fd, 0, self->reg)));
		EXPECT_EQ(1, faults(bar + self->reg / 4, &v));
	}
	EXPECT_TRUE(power_reaches(self->bdf, self->low));
	ASSERT_EQ(0, exit_low_power(fd));
	EXPECT_EQ(0, faults(bar + self->reg / 4, &v));
	EXPECT_TRUE(answers(self, v));
	munmap((void *)bar, PAGE_SZ);
}

/* The PM core's view of @bdf: "suspended" once runtime PM has suspended it. */
static bool runtime_suspended(const char *bdf)
{
	char buf[32];
	ssize_t n = sysfs_attr(bdf, "power/runtime_status", buf, sizeof(buf) - 1);
	int i;

	for (i = 0; n > 0 && i < 300; i++) {
		buf[n] = 0;
		if (!strncmp(buf, "suspended", 9))
			return true;
		usleep(10000);
		n = sysfs_attr(bdf, "power/runtime_status", buf, sizeof(buf) - 1);
	}
	return false;
}

/*
 * With a wakeup eventfd: nothing is signalled while the device sleeps; the first access
 * resumes it, which signals the eventfd once and exits low power (D0 held, the mmap works,
 * a new entry is accepted). Without runtime PM there is no resume, so no wakeup either.
 */
TEST_F(lp, wakeup)
{
	bool sleeps = self->suspends;
	int fd = self->dev.fd;
	volatile __u32 *bar;
	char buf[32];
	__u32 v = 0;

	bar = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, REGION_OFFSET(0));
	ASSERT_NE(MAP_FAILED, bar);
	ASSERT_EQ(0, entry_wakeup(fd, self->efd));
	EXPECT_TRUE(power_reaches(self->bdf, self->low));
	if (sleeps)
		EXPECT_TRUE(runtime_suspended(self->bdf));
	EXPECT_EQ(1, faults(bar + self->reg / 4, &v));
	EXPECT_EQ(0, eventfd_wait(self->efd, 200));
	/* The access that wakes it. */
	EXPECT_NE(0xffff, cfg_read(fd, 0, 2));
	EXPECT_EQ(sleeps ? 1 : 0, eventfd_wait(self->efd, 1000));
	if (sleeps) {
		/* Out of low power by itself: held in D0, mmap back, entry allowed again. */
		usleep(300000);
		EXPECT_STREQ("D0", power_state(self->bdf, buf, sizeof(buf)));
		EXPECT_EQ(0, faults(bar + self->reg / 4, &v));
		EXPECT_TRUE(answers(self, v));
		EXPECT_EQ(0, eventfd_wait(self->efd, 0));
		ASSERT_EQ(0, entry(fd));
		EXPECT_TRUE(power_reaches(self->bdf, self->low));
	} else {
		/* Still in low power: another entry is refused. */
		EXPECT_EQ(-EINVAL, entry(fd));
		EXPECT_EQ(1, faults(bar + self->reg / 4, &v));
	}
	EXPECT_EQ(0, exit_low_power(fd));
	EXPECT_EQ(0, faults(bar + self->reg / 4, &v));
	EXPECT_TRUE(answers(self, v));
	munmap((void *)bar, PAGE_SZ);
}

/*
 * Closing in low power: the device is idle afterwards (no wakeup signalled: close leaves
 * low power before resuming it), and a new open finds it in D0 and working.
 */
TEST_F(lp, close_in_low_power)
{
	char buf[32];

	ASSERT_EQ(0, entry_wakeup(self->dev.fd, self->efd));
	EXPECT_TRUE(power_reaches(self->bdf, self->low));
	vfio_pci_close(&self->dev);
	EXPECT_EQ(0, eventfd_wait(self->efd, 300));
	EXPECT_TRUE(power_reaches(self->bdf, self->idle))
		TH_LOG("closed: %s, want %s", power_state(self->bdf, buf, sizeof(buf)),
		       self->idle);
	ASSERT_EQ(0, vfio_pci_open(&self->dev, self->bdf, VFIO_TYPE1v2_IOMMU));
	EXPECT_STREQ("D0", power_state(self->bdf, buf, sizeof(buf)));
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MEMORY, 0));
	EXPECT_TRUE(answers(self, bar_read32(self->dev.fd, 0, self->reg)));
}

TEST_HARNESS_MAIN
