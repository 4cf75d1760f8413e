// SPDX-License-Identifier: GPL-2.0
/*
 * IRQ bypass producers: every MSI/MSI-X vector with an eventfd is announced to the IRQ
 * bypass manager under that eventfd, with the vector's Linux IRQ, so that KVM's irqfd (the
 * consumer of the same eventfd) can post the interrupt to its guest directly; the
 * announcement goes when the vector's eventfd is replaced or removed, when the index is
 * disabled, and when the device is closed or its holder killed. INTx has none.
 *
 * What the manager pairs is watched through a test consumer of our own, the
 * irqbypass_probe module (selftests/kmod/irqbypass_probe.c, loaded by sh/irqbypass.sh),
 * at /sys/kernel/debug/irqbypass_probe. Needs edu (MSI, INTx) and igb (MSI-X) bound to
 * vfio-pci (with-vfio.sh). Uses only the uAPI, so it runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"

#define PROBE "/sys/kernel/debug/irqbypass_probe"
#define NVEC 3

/* What the probe reports of the consumer of eventfd @fd. */
struct probe_state {
	int irq;		/* the connected producer's IRQ, or -1 */
	unsigned int adds, dels;
};

static int probe_cmd(const char *op, int fd)
{
	char cmd[32];

	snprintf(cmd, sizeof(cmd), "%s %d", op, fd);
	return sysfs_write(PROBE, cmd) ? -errno : 0;
}

/* 0 and the state of @fd's consumer, or -1 if the probe lists none. */
static int probe_get(int fd, struct probe_state *st)
{
	char line[128];
	int found = -1, pfd;
	FILE *f = fopen(PROBE, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%d %d %u %u", &pfd, &st->irq, &st->adds, &st->dels) == 4 &&
		    pfd == fd) {
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

/* The IRQ of @bdf's vector @vector of @kind ("msi" or "msix") from /proc/interrupts. */
static int vector_irq(const char *bdf, const char *kind, int vector)
{
	char line[512], name[96];
	int irq = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	snprintf(name, sizeof(name), "vfio-%s[%d](%s)", kind, vector, bdf);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, name)) {
			irq = atoi(line);
			break;
		}
	}
	fclose(f);
	return irq;
}

/* The IRQ @fd's consumer is connected to (-1: none), or -2 if the probe lists none. */
static int connected_irq(int fd)
{
	struct probe_state st;

	return probe_get(fd, &st) ? -2 : st.irq;
}

FIXTURE(bypass) {
	struct vfio_pci_dev edu, igb;
	const char *edu_bdf, *igb_bdf;
	int efd[NVEC + 1];
};

FIXTURE_SETUP(bypass)
{
	int i;

	ASSERT_EQ(0, access(PROBE, W_OK)) TH_LOG("no %s (irqbypass_probe not loaded)", PROBE);
	self->edu_bdf = test_bdf("RVFIO_EDU_BDF");
	self->igb_bdf = test_bdf("RVFIO_IGB_BDF");
	ASSERT_NE(NULL, self->edu_bdf);
	ASSERT_NE(NULL, self->igb_bdf);
	ASSERT_EQ(0, vfio_pci_open(&self->edu, self->edu_bdf, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, vfio_pci_open(&self->igb, self->igb_bdf, VFIO_TYPE1v2_IOMMU));
	for (i = 0; i <= NVEC; i++) {
		self->efd[i] = new_eventfd();
		ASSERT_LE(0, self->efd[i]);
	}
}

FIXTURE_TEARDOWN(bypass)
{
	int i;

	for (i = 0; i <= NVEC; i++) {
		probe_cmd("del", self->efd[i]);
		close(self->efd[i]);
	}
	vfio_pci_close(&self->igb);
	vfio_pci_close(&self->edu);
	EXPECT_EQ(0, vfio_irq_lines());
}

/* A consumer registered first is paired with each vector as it gets its eventfd. */
TEST_F(bypass, msix_vectors_announced)
{
	struct probe_state st;
	int i, irq;

	for (i = 0; i < NVEC; i++)
		ASSERT_EQ(0, probe_cmd("add", self->efd[i]));
	for (i = 0; i < NVEC; i++)
		EXPECT_EQ(-1, connected_irq(self->efd[i]));
	ASSERT_EQ(0, set_irq_eventfds(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, NVEC, self->efd));
	for (i = 0; i < NVEC; i++) {
		irq = vector_irq(self->igb_bdf, "msix", i);
		ASSERT_LT(0, irq);
		EXPECT_EQ(irq, connected_irq(self->efd[i])) TH_LOG("vector %d", i);
	}
	/* The vectors still signal their eventfds (loopback). */
	ASSERT_EQ(0, trigger_irqs(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, NVEC));
	for (i = 0; i < NVEC; i++)
		EXPECT_EQ(1, eventfd_wait(self->efd[i], 1000));
	ASSERT_EQ(0, disable_irqs(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX));
	for (i = 0; i < NVEC; i++) {
		ASSERT_EQ(0, probe_get(self->efd[i], &st));
		EXPECT_EQ(-1, st.irq);
		EXPECT_EQ(1, st.adds);
		EXPECT_EQ(1, st.dels);
	}
}

/* A consumer registered after the vector is paired at once. */
TEST_F(bypass, consumer_after_producer)
{
	int irq;

	ASSERT_EQ(0, set_irq_eventfds(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, self->efd));
	ASSERT_EQ(0, probe_cmd("add", self->efd[0]));
	irq = vector_irq(self->igb_bdf, "msix", 0);
	ASSERT_LT(0, irq);
	EXPECT_EQ(irq, connected_irq(self->efd[0]));
	/* The consumer going first leaves the vector working. */
	ASSERT_EQ(0, probe_cmd("del", self->efd[0]));
	ASSERT_EQ(0, trigger_irqs(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1));
	EXPECT_EQ(1, eventfd_wait(self->efd[0], 1000));
	ASSERT_EQ(0, disable_irqs(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX));
}

/* Replacing or removing one vector's eventfd moves or withdraws only its producer. */
TEST_F(bypass, msix_vector_update)
{
	__s32 none = -1;
	struct probe_state st;
	int i, irq1;

	for (i = 0; i <= NVEC; i++)
		ASSERT_EQ(0, probe_cmd("add", self->efd[i]));
	ASSERT_EQ(0, set_irq_eventfds(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, NVEC, self->efd));
	irq1 = vector_irq(self->igb_bdf, "msix", 1);
	ASSERT_LT(0, irq1);
	/* Vector 1 from efd[1] to efd[NVEC]. */
	ASSERT_EQ(0, set_irq_eventfds(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX, 1, 1,
				      &self->efd[NVEC]));
	ASSERT_EQ(0, probe_get(self->efd[1], &st));
	EXPECT_EQ(-1, st.irq);
	EXPECT_EQ(1, st.dels);
	EXPECT_EQ(irq1, connected_irq(self->efd[NVEC]));
	EXPECT_EQ(vector_irq(self->igb_bdf, "msix", 0), connected_irq(self->efd[0]));
	/* Vector 2 detached. */
	ASSERT_EQ(0, set_irq_eventfds(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX, 2, 1, &none));
	EXPECT_EQ(-1, connected_irq(self->efd[2]));
	EXPECT_EQ(vector_irq(self->igb_bdf, "msix", 0), connected_irq(self->efd[0]));
	ASSERT_EQ(0, disable_irqs(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX));
	for (i = 0; i <= NVEC; i++)
		EXPECT_EQ(-1, connected_irq(self->efd[i])) TH_LOG("eventfd %d", i);
}

/* One eventfd on two vectors: only the first is announced (the manager takes one producer
 * per eventfd); both vectors still signal it. */
TEST_F(bypass, shared_eventfd)
{
	__s32 fds[2] = { self->efd[0], self->efd[0] };

	ASSERT_EQ(0, probe_cmd("add", self->efd[0]));
	ASSERT_EQ(0, set_irq_eventfds(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, fds));
	EXPECT_EQ(vector_irq(self->igb_bdf, "msix", 0), connected_irq(self->efd[0]));
	ASSERT_EQ(0, trigger_irqs(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX, 1, 1));
	EXPECT_EQ(1, eventfd_wait(self->efd[0], 1000));
	ASSERT_EQ(0, disable_irqs(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX));
	EXPECT_EQ(-1, connected_irq(self->efd[0]));
}

TEST_F(bypass, msi_vector_announced)
{
	int irq;

	ASSERT_EQ(0, probe_cmd("add", self->efd[0]));
	ASSERT_EQ(0, set_irq_eventfds(self->edu.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, self->efd));
	irq = vector_irq(self->edu_bdf, "msi", 0);
	ASSERT_LT(0, irq);
	EXPECT_EQ(irq, connected_irq(self->efd[0]));
	ASSERT_EQ(0, disable_irqs(self->edu.fd, VFIO_PCI_MSI_IRQ_INDEX));
	EXPECT_EQ(-1, connected_irq(self->efd[0]));
}

/* INTx goes through the host's handler (it must be masked there): no producer. */
TEST_F(bypass, intx_not_announced)
{
	ASSERT_EQ(0, probe_cmd("add", self->efd[0]));
	ASSERT_EQ(0, set_irq_eventfds(self->edu.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, self->efd));
	EXPECT_EQ(-1, connected_irq(self->efd[0]));
	ASSERT_EQ(0, disable_irqs(self->edu.fd, VFIO_PCI_INTX_IRQ_INDEX));
}

/* Closing the device with its vectors enabled withdraws every producer. */
TEST_F(bypass, withdrawn_at_close)
{
	int i;

	for (i = 0; i < NVEC; i++)
		ASSERT_EQ(0, probe_cmd("add", self->efd[i]));
	ASSERT_EQ(0, set_irq_eventfds(self->igb.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, NVEC, self->efd));
	for (i = 0; i < NVEC; i++)
		ASSERT_LT(0, connected_irq(self->efd[i]));
	vfio_pci_close(&self->igb);
	for (i = 0; i < NVEC; i++)
		EXPECT_EQ(-1, connected_irq(self->efd[i])) TH_LOG("vector %d", i);
}

/* A holder killed with its vectors enabled: every producer withdrawn by the time it is
 * reaped. */
TEST_F(bypass, withdrawn_when_holder_killed)
{
	int i, ready[2], status;
	pid_t child;
	char c;

	/* The child needs the device to itself. */
	vfio_pci_close(&self->igb);
	for (i = 0; i < NVEC; i++)
		ASSERT_EQ(0, probe_cmd("add", self->efd[i]));
	ASSERT_EQ(0, pipe(ready));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		struct vfio_pci_dev dev;

		close(ready[0]);
		if (vfio_pci_open(&dev, self->igb_bdf, VFIO_TYPE1v2_IOMMU) ||
		    set_irq_eventfds(dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, NVEC, self->efd))
			_exit(1);
		c = 1;
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	close(ready[0]);
	for (i = 0; i < NVEC; i++)
		EXPECT_LT(0, connected_irq(self->efd[i])) TH_LOG("vector %d", i);
	kill(child, SIGKILL);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	for (i = 0; i < NVEC; i++)
		EXPECT_EQ(-1, connected_irq(self->efd[i])) TH_LOG("vector %d", i);
	/* The device is free again. */
	ASSERT_EQ(0, vfio_pci_open(&self->igb, self->igb_bdf, VFIO_TYPE1v2_IOMMU));
}

TEST_HARNESS_MAIN
