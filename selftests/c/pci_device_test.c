// SPDX-License-Identifier: GPL-2.0
/*
 * The vfio-pci device fd: DEVICE_GET_INFO, REGION_INFO (sizes and flags against the PCI
 * core's view in sysfs, the MSI-X BAR's MSIX_MAPPABLE capability and its argsz growth),
 * config space (identity, bounds, access splitting, BAR sizing, COMMAND, the capability
 * chains), IRQ_INFO, SET_IRQS (argument checking, INTx/MSI/MSI-X/ERR/REQ loopback,
 * exclusivity, dynamic MSI-X), DEVICE_RESET; then device-specific behaviour: edu's BAR0
 * registers, mmap, memory-decode gating, interrupts the device raises itself (MSI and
 * INTx with its automask), igb's MSI-X table hiding and I/O BAR, e1000e's option ROM.
 *
 * The generic tests run on every device the wrappers bound to vfio-pci: RVFIO_EDU_BDF and
 * RVFIO_IGB_BDF (with-vfio.sh), RVFIO_E1000E_BDF and RVFIO_NVME_BDF (with_all_devices.sh);
 * a variant whose variable is unset is skipped. The expected values are upstream's
 * (drivers/vfio/pci/vfio_pci_{core,config,intrs,rdwr}.c of Linux 7.3) derived from what the
 * PCI core shows in sysfs, plus a few facts of QEMU's device models noted where used.
 * Only the uAPI is used, so this runs unchanged on upstream's modules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "vfio_pci_util.h"

#define PAGE_SZ 4096UL
#define PCI_ROM_RESOURCE 6		/* resource index of the ROM (sysfs "resource" line) */
#define PCI_CLASS_DISPLAY_VGA 0x0300

/* Capability IDs upstream hides (length 0 in pci_cap_length/pci_ext_cap_length). */
static int std_cap_visible(__u8 id)
{
	switch (id) {
	case PCI_CAP_ID_PM: case PCI_CAP_ID_AGP: case PCI_CAP_ID_VPD: case PCI_CAP_ID_MSI:
	case PCI_CAP_ID_PCIX: case PCI_CAP_ID_HT: case PCI_CAP_ID_VNDR: case PCI_CAP_ID_EXP:
	case PCI_CAP_ID_MSIX: case PCI_CAP_ID_SATA: case PCI_CAP_ID_AF:
		return 1;
	}
	return 0;
}

static int ext_cap_visible(__u16 id)
{
	switch (id) {
	case PCI_EXT_CAP_ID_ERR: case PCI_EXT_CAP_ID_VC: case PCI_EXT_CAP_ID_DSN:
	case PCI_EXT_CAP_ID_PWR: case PCI_EXT_CAP_ID_MFVC: case PCI_EXT_CAP_ID_VC9:
	case PCI_EXT_CAP_ID_VNDR: case PCI_EXT_CAP_ID_ACS: case PCI_EXT_CAP_ID_ARI:
	case PCI_EXT_CAP_ID_ATS: case PCI_EXT_CAP_ID_SRIOV: case PCI_EXT_CAP_ID_MCAST:
	case PCI_EXT_CAP_ID_PRI: case PCI_EXT_CAP_ID_REBAR: case PCI_EXT_CAP_ID_DPA:
	case PCI_EXT_CAP_ID_TPH: case PCI_EXT_CAP_ID_LTR: case PCI_EXT_CAP_ID_DVSEC:
		return 1;
	}
	return 0;
}

/* Offset of standard capability @id in the config bytes @cfg, or 0. */
static unsigned int find_std_cap(const __u8 *cfg, __u8 id)
{
	unsigned int pos = cfg[PCI_CAPABILITY_LIST] & ~3;
	int loops = 48;

	if (!(cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST))
		return 0;
	while (pos >= PCI_STD_HEADER_SIZEOF && loops--) {
		if (cfg[pos] == id)
			return pos;
		pos = cfg[pos + PCI_CAP_LIST_NEXT] & ~3;
	}
	return 0;
}

/* Device Capabilities 2 of the PCI Express capability in @cfg (0 without one); its type. */
static __u32 pcie_devcap2(const __u8 *cfg, int *type)
{
	unsigned int exp = find_std_cap(cfg, PCI_CAP_ID_EXP);
	__u32 devcap2;

	*type = -1;
	if (!exp)
		return 0;
	*type = (cfg[exp + PCI_EXP_FLAGS] & PCI_EXP_FLAGS_TYPE) >> 4;
	memcpy(&devcap2, cfg + exp + PCI_EXP_DEVCAP2, sizeof(devcap2));
	return devcap2;
}

/*
 * The VFIO_PCI_ATOMIC_COMP* flags upstream reports for @bdf (config bytes @cfg): each
 * AtomicOp size the endpoint completes that its root port, its parent in sysfs (this
 * guest has no switches), completes too (vfio_pci_info_atomic_cap(),
 * pci_enable_atomic_ops_to_root()).
 */
static __u32 expected_atomic_flags(const char *bdf, const __u8 *cfg)
{
	static const struct { __u32 devcap2, flag; } sizes[] = {
		{ PCI_EXP_DEVCAP2_ATOMIC_COMP32, VFIO_PCI_ATOMIC_COMP32 },
		{ PCI_EXP_DEVCAP2_ATOMIC_COMP64, VFIO_PCI_ATOMIC_COMP64 },
		{ PCI_EXP_DEVCAP2_ATOMIC_COMP128, VFIO_PCI_ATOMIC_COMP128 },
	};
	char link[128], target[256], *slash, path[300];
	__u8 root[256];
	__u32 dev, rp, flags = 0;
	int type, root_type, fd;
	ssize_t len;
	size_t i;

	dev = pcie_devcap2(cfg, &type);
	if (type != PCI_EXP_TYPE_ENDPOINT && type != PCI_EXP_TYPE_LEG_END)
		return 0;
	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s", bdf);
	len = readlink(link, target, sizeof(target) - 1);
	if (len <= 0)
		return ~0U;
	target[len] = '\0';
	slash = strrchr(target, '/');
	if (!slash)
		return ~0U;
	*slash = '\0';
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", target);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return ~0U;
	len = read(fd, root, sizeof(root));
	close(fd);
	rp = len == sizeof(root) ? pcie_devcap2(root, &root_type) : 0;
	if (len != sizeof(root) || root_type != PCI_EXP_TYPE_ROOT_PORT)
		return ~0U;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (dev & rp & sizes[i].devcap2)
			flags |= sizes[i].flag;
	return flags;
}

/* The BAR holding the MSI-X table according to @cfg, or -1. */
static int msix_bar_of(const __u8 *cfg)
{
	unsigned int pos = find_std_cap(cfg, PCI_CAP_ID_MSIX);

	if (!pos)
		return -1;
	return cfg[pos + PCI_MSIX_TABLE] & PCI_MSIX_TABLE_BIR;
}

FIXTURE(pci) {
	const char *bdf;
	struct vfio_pci_dev dev;
	__u8 cfg[4096];		/* sysfs (physical) config space */
	int cfg_size;
	int msix_bar;
	int efds[128];
	int nefds;
};

FIXTURE_VARIANT(pci) {
	const char *env;
	/* Facts of QEMU's device models (hw/misc/edu.c, hw/net/igb.c, ...). */
	int msi_count;
	int msix_count;
	int cfg_size;
	int has_rom;
	int is_edu;
};

FIXTURE_VARIANT_ADD(pci, edu) {
	.env = "RVFIO_EDU_BDF", .msi_count = 1, .msix_count = 0, .cfg_size = 256, .has_rom = 0,
	.is_edu = 1,
};
FIXTURE_VARIANT_ADD(pci, igb) {
	.env = "RVFIO_IGB_BDF", .msi_count = 1, .msix_count = 10, .cfg_size = 4096, .has_rom = 0,
};
FIXTURE_VARIANT_ADD(pci, e1000e) {
	.env = "RVFIO_E1000E_BDF", .msi_count = 1, .msix_count = 5, .cfg_size = 4096,
	.has_rom = 1,
};
FIXTURE_VARIANT_ADD(pci, nvme) {
	.env = "RVFIO_NVME_BDF", .msi_count = 0, .msix_count = 65, .cfg_size = 4096,
	.has_rom = 0,
};

FIXTURE_SETUP(pci)
{
	int i;

	self->dev.fd = self->dev.group = self->dev.container = -1;
	self->nefds = 0;
	self->bdf = test_bdf(variant->env);
	if (!self->bdf)
		SKIP(return, "%s not set (device not bound by the wrapper)", variant->env);
	ASSERT_EQ(0, vfio_pci_open(&self->dev, self->bdf, VFIO_TYPE1v2_IOMMU));
	/* The device as the PCI core sees it once VFIO has enabled it. */
	self->cfg_size = sysfs_config_size(self->bdf);
	ASSERT_EQ(variant->cfg_size, self->cfg_size);
	ASSERT_EQ(self->cfg_size, sysfs_config(self->bdf, self->cfg, self->cfg_size));
	self->msix_bar = msix_bar_of(self->cfg);
	/* edu keeps raised interrupts across resets: start with none pending. */
	if (variant->is_edu)
		ASSERT_EQ(0, bar_write32(self->dev.fd, EDU_BAR, EDU_REG_IRQ_ACK, ~0U));
	for (i = 0; i < 128; i++) {
		self->efds[i] = new_eventfd();
		ASSERT_LE(0, self->efds[i]);
		self->nefds++;
	}
}

FIXTURE_TEARDOWN(pci)
{
	int i;

	vfio_pci_close(&self->dev);
	for (i = 0; i < self->nefds; i++)
		close(self->efds[i]);
}

TEST_F(pci, device_info)
{
	struct vfio_device_info info;
	struct {
		struct vfio_device_info info;
		__u8 caps[256];
	} big;
	struct vfio_device_info_cap_pci_atomic_comp *comp = NULL;
	char reset[128];
	__u32 want, atomic;

	/* argsz below the v1 struct (up to num_irqs) */
	memset(&info, 0, sizeof(info));
	info.argsz = offsetof(struct vfio_device_info, num_irqs) + 3;
	EXPECT_EQ(-EINVAL, xioctl(self->dev.fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_EQ(-EFAULT, xioctl(self->dev.fd, VFIO_DEVICE_GET_INFO, (void *)8));

	sysfs_reset_method(self->bdf, reset, sizeof(reset));
	TH_LOG("%s: reset_method \"%s\"", self->bdf, reset);
	want = VFIO_DEVICE_FLAGS_PCI | (reset[0] ? VFIO_DEVICE_FLAGS_RESET : 0);

	/* The v1 struct: nothing is written past it (cap_offset keeps its sentinel). */
	memset(&info, 0, sizeof(info));
	info.argsz = offsetofend(struct vfio_device_info, num_irqs);
	info.cap_offset = 0xdeadbeef;
	ASSERT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_EQ(want, info.flags);
	EXPECT_EQ(VFIO_PCI_NUM_REGIONS, info.num_regions);
	EXPECT_EQ(VFIO_PCI_NUM_IRQS, info.num_irqs);
	EXPECT_EQ(0xdeadbeef, info.cap_offset);
	EXPECT_EQ(offsetofend(struct vfio_device_info, num_irqs), info.argsz);

	/*
	 * The full struct: a capability only for AtomicOps the device and its root port
	 * complete (none of QEMU's models does: the chain stays empty here), none for zPCI.
	 */
	atomic = expected_atomic_flags(self->bdf, self->cfg);
	ASSERT_NE(~0U, atomic) TH_LOG("%s: no root port above it in sysfs", self->bdf);
	TH_LOG("%s: AtomicOps completed to the root port: %#x", self->bdf, atomic);
	memset(&info, 0xff, sizeof(info));
	info.argsz = sizeof(info);
	ASSERT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_EQ(want | (atomic ? VFIO_DEVICE_FLAGS_CAPS : 0), info.flags);
	EXPECT_EQ(VFIO_PCI_NUM_REGIONS, info.num_regions);
	EXPECT_EQ(VFIO_PCI_NUM_IRQS, info.num_irqs);
	EXPECT_EQ(0, info.cap_offset);
	EXPECT_EQ(sizeof(info) + (atomic ? sizeof(*comp) : 0), info.argsz);

	/* Room for the chain: the capability, if any, with exactly those flags. */
	memset(&big, 0, sizeof(big));
	big.info.argsz = sizeof(big);
	ASSERT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_GET_INFO, &big));
	EXPECT_EQ(atomic ? sizeof(big.info) : 0, big.info.cap_offset);
	comp = (void *)big.caps;
	if (atomic) {
		EXPECT_EQ(VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP, comp->header.id);
		EXPECT_EQ(1, comp->header.version);
		EXPECT_EQ(0, comp->header.next);
		EXPECT_EQ(atomic, comp->flags);
	}
	/* No request enable left behind where no AtomicOps complete. */
	if (!atomic && find_std_cap(self->cfg, PCI_CAP_ID_EXP)) {
		__u8 now[256];
		unsigned int exp = find_std_cap(self->cfg, PCI_CAP_ID_EXP);

		ASSERT_EQ(sizeof(now), sysfs_config(self->bdf, now, sizeof(now)));
		EXPECT_EQ(0, now[exp + PCI_EXP_DEVCTL2] & PCI_EXP_DEVCTL2_ATOMIC_REQ);
	}
}

TEST_F(pci, region_info)
{
	struct vfio_region_info info;
	__u64 start, end, flags;
	__u32 i, want;

	for (i = VFIO_PCI_BAR0_REGION_INDEX; i <= VFIO_PCI_BAR5_REGION_INDEX; i++) {
		__u64 len = sysfs_resource_len(self->bdf, i);

		ASSERT_EQ(0, region_info(self->dev.fd, i, &info));
		ASSERT_EQ(0, sysfs_resource(self->bdf, i, &start, &end, &flags));
		TH_LOG("BAR%u: size %#llx flags %#x (sysfs flags %#llx)", i,
		       (unsigned long long)info.size, info.flags, (unsigned long long)flags);
		EXPECT_EQ(i, info.index);
		EXPECT_EQ(REGION_OFFSET(i), info.offset);
		EXPECT_EQ(len, info.size);
		EXPECT_EQ(0, info.cap_offset);
		if (!len) {
			EXPECT_EQ(0, info.flags);
			continue;
		}
		want = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		/* Memory BARs of at least a page can be mmapped; I/O BARs never. */
		if ((flags & SYSFS_IORESOURCE_MEM) && len >= PAGE_SZ) {
			want |= VFIO_REGION_INFO_FLAG_MMAP;
			/* The MSIX_MAPPABLE capability is there, but did not fit in argsz. */
			if ((int)i == self->msix_bar) {
				want |= VFIO_REGION_INFO_FLAG_CAPS;
				EXPECT_EQ(sizeof(info) + sizeof(struct vfio_info_cap_header),
					  info.argsz);
			}
		}
		if ((flags & SYSFS_IORESOURCE_MEM) && len < PAGE_SZ)
			want = info.flags; /* MMAP depends on the BAR's page alignment */
		EXPECT_EQ(want, info.flags);
	}

	/* The ROM: read-only, the BAR's size (not the image's), when the ROM is valid. */
	ASSERT_EQ(0, region_info(self->dev.fd, VFIO_PCI_ROM_REGION_INDEX, &info));
	EXPECT_EQ(REGION_OFFSET(VFIO_PCI_ROM_REGION_INDEX), info.offset);
	EXPECT_EQ(sysfs_resource_len(self->bdf, PCI_ROM_RESOURCE), info.size);
	EXPECT_EQ(variant->has_rom ? VFIO_REGION_INFO_FLAG_READ : 0, info.flags);
	EXPECT_EQ(variant->has_rom, info.size != 0);

	/* Config space: cfg_size, read/write, never mmap. */
	ASSERT_EQ(0, region_info(self->dev.fd, VFIO_PCI_CONFIG_REGION_INDEX, &info));
	EXPECT_EQ(REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX), info.offset);
	EXPECT_EQ(self->cfg_size, info.size);
	EXPECT_EQ(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, info.flags);

	/* No VGA region on a device that is not VGA, and nothing past the last region. */
	ASSERT_NE(PCI_CLASS_DISPLAY_VGA, self->cfg[PCI_CLASS_DEVICE] | self->cfg[PCI_CLASS_DEVICE + 1] << 8);
	EXPECT_EQ(-EINVAL, region_info(self->dev.fd, VFIO_PCI_VGA_REGION_INDEX, &info));
	EXPECT_EQ(-EINVAL, region_info(self->dev.fd, VFIO_PCI_NUM_REGIONS, &info));
	EXPECT_EQ(-EINVAL, region_info(self->dev.fd, 15, &info));
	EXPECT_EQ(-EINVAL, region_info(self->dev.fd, 0xffffffff, &info));

	/* argsz must cover the struct up to offset; bad pointers fault. */
	memset(&info, 0, sizeof(info));
	info.argsz = sizeof(info) - 1;
	EXPECT_EQ(-EINVAL, xioctl(self->dev.fd, VFIO_DEVICE_GET_REGION_INFO, &info));
	EXPECT_EQ(-EFAULT, xioctl(self->dev.fd, VFIO_DEVICE_GET_REGION_INFO, (void *)8));
}

/* The MSI-X BAR's capability chain: the argsz growth protocol and MSIX_MAPPABLE. */
TEST_F(pci, msix_mappable_cap)
{
	struct {
		struct vfio_region_info info;
		__u8 caps[64];
	} buf;
	struct vfio_info_cap_header *cap;

	if (self->msix_bar < 0)
		SKIP(return, "no MSI-X capability");
	/* Too small for the chain: CAPS flag, the argsz needed, no cap_offset. */
	memset(&buf, 0, sizeof(buf));
	buf.info.argsz = sizeof(buf.info);
	buf.info.index = self->msix_bar;
	buf.info.cap_offset = 0xdeadbeef;
	ASSERT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_GET_REGION_INFO, &buf));
	EXPECT_TRUE(buf.info.flags & VFIO_REGION_INFO_FLAG_CAPS);
	EXPECT_EQ(sizeof(buf.info) + sizeof(*cap), buf.info.argsz);
	EXPECT_EQ(0, buf.info.cap_offset);
	EXPECT_EQ(0, buf.caps[0]);

	/* One byte short is still too small. */
	memset(&buf, 0, sizeof(buf));
	buf.info.argsz = sizeof(buf.info) + sizeof(*cap) - 1;
	buf.info.index = self->msix_bar;
	ASSERT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_GET_REGION_INFO, &buf));
	EXPECT_EQ(sizeof(buf.info) + sizeof(*cap), buf.info.argsz);
	EXPECT_EQ(0, buf.info.cap_offset);

	/* Exactly enough: the chain follows the struct. */
	memset(&buf, 0, sizeof(buf));
	buf.info.argsz = sizeof(buf.info) + sizeof(*cap);
	buf.info.index = self->msix_bar;
	ASSERT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_GET_REGION_INFO, &buf));
	EXPECT_EQ(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		  VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS, buf.info.flags);
	EXPECT_EQ(sizeof(buf.info), buf.info.cap_offset);
	EXPECT_EQ(sizeof(buf.info) + sizeof(*cap), buf.info.argsz);
	cap = region_cap(&buf.info, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
	ASSERT_NE(NULL, cap);
	EXPECT_EQ(VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, cap->id);
	EXPECT_EQ(1, cap->version);
	EXPECT_EQ(0, cap->next);

	/* More than enough: argsz is left as given. */
	memset(&buf, 0, sizeof(buf));
	buf.info.argsz = sizeof(buf);
	buf.info.index = self->msix_bar;
	ASSERT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_GET_REGION_INFO, &buf));
	EXPECT_EQ(sizeof(buf), buf.info.argsz);
	EXPECT_EQ(sizeof(buf.info), buf.info.cap_offset);
	EXPECT_NE(NULL, region_cap(&buf.info, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE));
}

/* Identity fields read through VFIO equal the device's (sysfs). */
TEST_F(pci, config_identity)
{
	static const struct { unsigned int off, size; } fields[] = {
		{ PCI_VENDOR_ID, 2 }, { PCI_DEVICE_ID, 2 }, { PCI_REVISION_ID, 1 },
		{ PCI_CLASS_PROG, 1 }, { PCI_CLASS_DEVICE, 2 }, { PCI_HEADER_TYPE, 1 },
		{ PCI_SUBSYSTEM_VENDOR_ID, 2 }, { PCI_SUBSYSTEM_ID, 2 },
		{ PCI_INTERRUPT_PIN, 1 },
	};
	char path[128], buf[32];
	unsigned int i;
	FILE *f;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		__u32 want = 0;

		memcpy(&want, self->cfg + fields[i].off, fields[i].size);
		EXPECT_EQ(want, cfg_read(self->dev.fd, fields[i].off, fields[i].size))
			TH_LOG("config offset %#x", fields[i].off);
	}
	/* Header type 0 (vfio-pci binds nothing else). */
	EXPECT_EQ(PCI_HEADER_TYPE_NORMAL, cfg_read(self->dev.fd, PCI_HEADER_TYPE, 1) & 0x7f);
	/* And the vendor ID as sysfs's "vendor" file has it. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", self->bdf);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(buf, sizeof(buf), f));
	fclose(f);
	EXPECT_EQ(strtol(buf, NULL, 16), cfg_read(self->dev.fd, PCI_VENDOR_ID, 2));
}

/* The config region is exactly cfg_size bytes; accesses reaching past it fail whole. */
TEST_F(pci, config_bounds)
{
	off_t base = REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX);
	__u8 buf[4096 + 8];
	int size = self->cfg_size;

	EXPECT_EQ(size, xpread(self->dev.fd, buf, size, base));
	EXPECT_EQ(0, memcmp(buf, self->cfg, PCI_VENDOR_ID + 4));
	EXPECT_EQ(-EFAULT, xpread(self->dev.fd, buf, 1, base + size));
	EXPECT_EQ(-EFAULT, xpread(self->dev.fd, buf, 4, base + size - 2));
	EXPECT_EQ(-EFAULT, xpread(self->dev.fd, buf, size + 1, base));
	EXPECT_EQ(-EFAULT, xpread(self->dev.fd, buf, 4, base + 0xffffffffffULL - 3));
	EXPECT_EQ(-EFAULT, xpwrite(self->dev.fd, buf, 1, base + size));
	EXPECT_EQ(-EFAULT, xpwrite(self->dev.fd, buf, 4, base + size - 2));
	EXPECT_EQ(1, xpread(self->dev.fd, buf, 1, base + size - 1));
	/* Zero-length accesses succeed anywhere, before any check. */
	EXPECT_EQ(0, xpread(self->dev.fd, buf, 0, base + size));
	EXPECT_EQ(0, xpwrite(self->dev.fd, buf, 0, base + size + 4096));
}

/* Unaligned and odd-sized reads are split into aligned 1/2/4-byte accesses. */
TEST_F(pci, config_unaligned)
{
	off_t base = REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX);
	__u8 buf[16];

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(4, xpread(self->dev.fd, buf, 4, base + 1));
	EXPECT_EQ(0, memcmp(buf, self->cfg + 1, 4));
	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(3, xpread(self->dev.fd, buf, 3, base + PCI_VENDOR_ID));
	EXPECT_EQ(0, memcmp(buf, self->cfg, 3));
	EXPECT_EQ(0xa5, buf[3]);
	ASSERT_EQ(2, xpread(self->dev.fd, buf, 2, base + PCI_REVISION_ID));
	EXPECT_EQ(0, memcmp(buf, self->cfg + PCI_REVISION_ID, 2));
	ASSERT_EQ(7, xpread(self->dev.fd, buf, 7, base + PCI_CLASS_PROG));
	EXPECT_EQ(0, memcmp(buf, self->cfg + PCI_CLASS_PROG, 3));
	ASSERT_EQ(16, xpread(self->dev.fd, buf, 16, base + PCI_SUBSYSTEM_VENDOR_ID - 12));
	EXPECT_EQ(0, memcmp(buf + 12, self->cfg + PCI_SUBSYSTEM_VENDOR_ID, 4));
}

/*
 * BARs are virtual: writing all-ones reads back the size mask with the type bits (BAR
 * sizing), the real BAR is untouched, and the original value comes back when rewritten.
 */
TEST_F(pci, config_bar_sizing)
{
	__u8 now[4096];
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		unsigned int off = PCI_BASE_ADDRESS_0 + 4 * i;
		__u64 start, end, flags, len = sysfs_resource_len(self->bdf, i);
		long long orig = cfg_read(self->dev.fd, off, 4);
		__u32 want;

		ASSERT_LE(0, orig);
		ASSERT_EQ(0, sysfs_resource(self->bdf, i, &start, &end, &flags));
		if (!len) {
			want = 0; /* unimplemented (or the upper half, handled below) */
		} else if (flags & SYSFS_IORESOURCE_IO) {
			want = (__u32)~(len - 1) | PCI_BASE_ADDRESS_SPACE_IO;
		} else {
			want = (__u32)~(len - 1);
			if (flags & SYSFS_IORESOURCE_PREFETCH)
				want |= PCI_BASE_ADDRESS_MEM_PREFETCH;
			if (flags & SYSFS_IORESOURCE_MEM_64)
				want |= PCI_BASE_ADDRESS_MEM_TYPE_64;
		}
		EXPECT_EQ(0, memcmp(self->cfg + off, &orig, 4)) TH_LOG("BAR%d starts as the device's", i);
		ASSERT_EQ(0, cfg_write(self->dev.fd, off, 4, 0xffffffff));
		EXPECT_EQ(want, cfg_read(self->dev.fd, off, 4)) TH_LOG("BAR%d size mask", i);
		if (len && (flags & SYSFS_IORESOURCE_MEM_64)) {
			/* The upper half of a 64-bit BAR sizes with the high bits of the mask. */
			long long orig_hi = cfg_read(self->dev.fd, off + 4, 4);

			ASSERT_EQ(0, cfg_write(self->dev.fd, off + 4, 4, 0xffffffff));
			EXPECT_EQ((__u32)(~(len - 1) >> 32), cfg_read(self->dev.fd, off + 4, 4));
			ASSERT_EQ(0, cfg_write(self->dev.fd, off + 4, 4, orig_hi));
			EXPECT_EQ(orig_hi, cfg_read(self->dev.fd, off + 4, 4));
		}
		/* The device's BAR never saw the write. */
		ASSERT_EQ(self->cfg_size, sysfs_config(self->bdf, now, self->cfg_size));
		EXPECT_EQ(0, memcmp(now + off, self->cfg + off, 4));
		ASSERT_EQ(0, cfg_write(self->dev.fd, off, 4, orig));
		EXPECT_EQ(orig, cfg_read(self->dev.fd, off, 4));
		if (len && (flags & SYSFS_IORESOURCE_MEM_64))
			i++;
	}

	/* The ROM BAR: size mask plus the enable bit, or nothing without a ROM. */
	{
		__u64 len = sysfs_resource_len(self->bdf, PCI_ROM_RESOURCE);
		long long orig = cfg_read(self->dev.fd, PCI_ROM_ADDRESS, 4);

		ASSERT_LE(0, orig);
		ASSERT_EQ(0, cfg_write(self->dev.fd, PCI_ROM_ADDRESS, 4, 0xffffffff));
		EXPECT_EQ(len ? (__u32)~(len - 1) | PCI_ROM_ADDRESS_ENABLE : 0,
			  cfg_read(self->dev.fd, PCI_ROM_ADDRESS, 4));
		ASSERT_EQ(0, cfg_write(self->dev.fd, PCI_ROM_ADDRESS, 4, 0xfffffffe));
		EXPECT_EQ(len ? (__u32)~(len - 1) : 0, cfg_read(self->dev.fd, PCI_ROM_ADDRESS, 4));
		ASSERT_EQ(0, cfg_write(self->dev.fd, PCI_ROM_ADDRESS, 4, orig));
		EXPECT_EQ(orig, cfg_read(self->dev.fd, PCI_ROM_ADDRESS, 4));
	}
}

/*
 * COMMAND: bus mastering is off after open; MASTER passes through to the device,
 * INTX_DISABLE is virtualized and reads back as written.
 */
TEST_F(pci, config_command)
{
	__u8 now[64];
	long long cmd = cfg_read(self->dev.fd, PCI_COMMAND, 2);

	ASSERT_LE(0, cmd);
	EXPECT_EQ(0, cmd & PCI_COMMAND_MASTER) TH_LOG("open must leave bus mastering off");
	EXPECT_EQ(PCI_COMMAND_MEMORY, cmd & PCI_COMMAND_MEMORY);

	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MASTER, 0));
	EXPECT_EQ(cmd | PCI_COMMAND_MASTER, cfg_read(self->dev.fd, PCI_COMMAND, 2));
	ASSERT_EQ(64, sysfs_config(self->bdf, now, 64));
	EXPECT_TRUE(now[PCI_COMMAND] & PCI_COMMAND_MASTER);

	ASSERT_EQ(0, cfg_command(self->dev.fd, 0, PCI_COMMAND_MASTER));
	EXPECT_EQ(cmd, cfg_read(self->dev.fd, PCI_COMMAND, 2));
	ASSERT_EQ(64, sysfs_config(self->bdf, now, 64));
	EXPECT_FALSE(now[PCI_COMMAND] & PCI_COMMAND_MASTER);

	/* Byte writes to the low half reach the same register. */
	ASSERT_EQ(0, cfg_write(self->dev.fd, PCI_COMMAND, 1, (cmd | PCI_COMMAND_MASTER) & 0xff));
	EXPECT_EQ(cmd | PCI_COMMAND_MASTER, cfg_read(self->dev.fd, PCI_COMMAND, 2));
	ASSERT_EQ(0, cfg_write(self->dev.fd, PCI_COMMAND, 1, cmd & 0xff));

	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_INTX_DISABLE, 0));
	EXPECT_EQ(cmd | PCI_COMMAND_INTX_DISABLE, cfg_read(self->dev.fd, PCI_COMMAND, 2));
	ASSERT_EQ(0, cfg_command(self->dev.fd, 0, PCI_COMMAND_INTX_DISABLE));
	EXPECT_EQ(cmd, cfg_read(self->dev.fd, PCI_COMMAND, 2));

	/* Read-only identity fields ignore writes (and the write still "succeeds"). */
	ASSERT_EQ(0, cfg_write(self->dev.fd, PCI_VENDOR_ID, 4, 0x12345678));
	EXPECT_EQ(*(__u32 *)self->cfg, cfg_read(self->dev.fd, PCI_VENDOR_ID, 4));
	ASSERT_EQ(0, cfg_write(self->dev.fd, PCI_CLASS_REVISION, 4, 0));
	EXPECT_EQ(*(__u32 *)(self->cfg + PCI_CLASS_REVISION), cfg_read(self->dev.fd, PCI_CLASS_REVISION, 4));
	ASSERT_EQ(0, cfg_write(self->dev.fd, PCI_CAPABILITY_LIST, 1, 0));
	EXPECT_EQ(self->cfg[PCI_CAPABILITY_LIST], cfg_read(self->dev.fd, PCI_CAPABILITY_LIST, 1));
}

/* The capability chains seen through VFIO: the device's, minus the ones upstream hides. */
TEST_F(pci, config_caps)
{
	__u8 v[4096];
	unsigned int vpos, spos;
	int loops, n = 0;

	ASSERT_EQ(self->cfg_size, xpread(self->dev.fd, v, self->cfg_size,
					 REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX)));
	vpos = (v[PCI_STATUS] & PCI_STATUS_CAP_LIST) ? v[PCI_CAPABILITY_LIST] & ~3 : 0;
	spos = (self->cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST) ?
		       self->cfg[PCI_CAPABILITY_LIST] & ~3 : 0;
	for (loops = 0; loops < 48; loops++) {
		while (spos && !std_cap_visible(self->cfg[spos]))
			spos = self->cfg[spos + PCI_CAP_LIST_NEXT] & ~3;
		EXPECT_EQ(spos, vpos);
		if (!spos || spos != vpos)
			break;
		TH_LOG("cap %#x at %#x", v[vpos], vpos);
		EXPECT_EQ(self->cfg[spos], v[vpos]);
		n++;
		vpos = v[vpos + PCI_CAP_LIST_NEXT] & ~3;
		spos = self->cfg[spos + PCI_CAP_LIST_NEXT] & ~3;
	}
	EXPECT_EQ(0, vpos) TH_LOG("the chain must end");
	EXPECT_EQ(!!n, !!(v[PCI_STATUS] & PCI_STATUS_CAP_LIST));
	/* Every device here has MSI or MSI-X (or both). */
	EXPECT_LT(0, n);

	if (self->cfg_size <= 256)
		return;
	vpos = spos = 0x100;
	for (loops = 0; loops < 64; loops++) {
		__u32 vh, sh;

		memcpy(&sh, self->cfg + spos, 4);
		while (sh && !ext_cap_visible(PCI_EXT_CAP_ID(sh)) && spos != 0x100) {
			spos = PCI_EXT_CAP_NEXT(sh);
			memcpy(&sh, self->cfg + spos, 4);
		}
		memcpy(&vh, v + vpos, 4);
		TH_LOG("ecap %#x at %#x (device: %#x at %#x)", PCI_EXT_CAP_ID(vh), vpos,
		       PCI_EXT_CAP_ID(sh), spos);
		if (spos == 0x100 && sh && !ext_cap_visible(PCI_EXT_CAP_ID(sh))) {
			EXPECT_EQ(0, PCI_EXT_CAP_ID(vh)); /* a hidden first one stays as a stub */
		} else {
			EXPECT_EQ(PCI_EXT_CAP_ID(sh), PCI_EXT_CAP_ID(vh));
		}
		if (!sh || !vh)
			break;
		spos = PCI_EXT_CAP_NEXT(sh);
		vpos = PCI_EXT_CAP_NEXT(vh);
		EXPECT_EQ(spos, vpos);
		if (!spos || spos != vpos)
			break;
	}
}

TEST_F(pci, irq_info)
{
	struct vfio_irq_info info;
	unsigned int msi = find_std_cap(self->cfg, PCI_CAP_ID_MSI);
	unsigned int msix = find_std_cap(self->cfg, PCI_CAP_ID_MSIX);
	int pin = self->cfg[PCI_INTERRUPT_PIN];
	__u32 want_msi = 0, want_msix = 0;

	if (msi)
		want_msi = 1 << ((*(__u16 *)(self->cfg + msi + PCI_MSI_FLAGS) & PCI_MSI_FLAGS_QMASK) >> 1);
	if (msix)
		want_msix = (*(__u16 *)(self->cfg + msix + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE) + 1;
	EXPECT_EQ(variant->msi_count, want_msi);
	EXPECT_EQ(variant->msix_count, want_msix);

	ASSERT_EQ(0, irq_info(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, &info));
	EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED,
		  info.flags);
	EXPECT_EQ(pin ? 1 : 0, info.count);
	EXPECT_EQ(info.count ? pin : 0, cfg_read(self->dev.fd, PCI_INTERRUPT_PIN, 1));

	ASSERT_EQ(0, irq_info(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, &info));
	EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, info.flags);
	EXPECT_EQ(want_msi, info.count);

	/*
	 * MSI-X vectors can be added while enabled (no NORESIZE) where the platform's MSI
	 * domain allocates dynamically: x86 with interrupt remapping does.
	 */
	ASSERT_EQ(0, irq_info(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, &info));
	EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD | (want_msix ? 0 : VFIO_IRQ_INFO_NORESIZE), info.flags);
	EXPECT_EQ(want_msix, info.count);

	ASSERT_EQ(0, irq_info(self->dev.fd, VFIO_PCI_ERR_IRQ_INDEX, &info));
	EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, info.flags);
	EXPECT_EQ(1, info.count);
	ASSERT_EQ(0, irq_info(self->dev.fd, VFIO_PCI_REQ_IRQ_INDEX, &info));
	EXPECT_EQ(VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE, info.flags);
	EXPECT_EQ(1, info.count);

	EXPECT_EQ(-EINVAL, irq_info(self->dev.fd, VFIO_PCI_NUM_IRQS, &info));
	EXPECT_EQ(-EINVAL, irq_info(self->dev.fd, 0xffffffff, &info));
	memset(&info, 0, sizeof(info));
	info.argsz = sizeof(info) - 1;
	EXPECT_EQ(-EINVAL, xioctl(self->dev.fd, VFIO_DEVICE_GET_IRQ_INFO, &info));
	EXPECT_EQ(-EFAULT, xioctl(self->dev.fd, VFIO_DEVICE_GET_IRQ_INFO, (void *)8));
}

/* SET_IRQS argument checking, with nothing enabled. */
TEST_F(pci, set_irqs_errors)
{
	struct vfio_irq_set set;
	__s32 fds[2] = { self->efds[0], self->efds[1] };
	int nullfd = open("/dev/null", O_RDWR);
	__u8 on = 1;

	ASSERT_LE(0, nullfd);
	memset(&set, 0, sizeof(set));
	set.argsz = offsetofend(struct vfio_irq_set, count) - 1;
	set.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
	set.index = VFIO_PCI_ERR_IRQ_INDEX;
	set.count = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->dev.fd, VFIO_DEVICE_SET_IRQS, &set));
	EXPECT_EQ(-EFAULT, xioctl(self->dev.fd, VFIO_DEVICE_SET_IRQS, (void *)8));

	/* Bad index, unknown flags, two data types. */
	EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_NUM_IRQS, 0, 1, NULL, 0));
	EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_TRIGGER | (1 << 6),
				    VFIO_PCI_ERR_IRQ_INDEX, 0, 1, NULL, 0));
	EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL |
				    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_ERR_IRQ_INDEX, 0, 1,
				    &on, 1));
	/* No action, or two: valid arguments, but no handler (-ENOTTY). */
	EXPECT_EQ(-ENOTTY, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE,
				    VFIO_PCI_ERR_IRQ_INDEX, 0, 1, NULL, 0));
	EXPECT_EQ(-ENOTTY, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK |
				    VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0));

	/* start/count beyond the index's vectors, and their overflow. */
	EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_ERR_IRQ_INDEX, 1, 0, NULL, 0));
	EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_ERR_IRQ_INDEX, 0, 2, NULL, 0));
	EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_ERR_IRQ_INDEX, 1,
				    0xffffffff, NULL, 0));
	EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSIX_IRQ_INDEX,
				    variant->msix_count, 1, NULL, 0));
	EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX,
				    variant->msi_count, 1, NULL, 0));
	/* An index without vectors takes nothing, not even a disable. */
	if (!variant->msix_count)
		EXPECT_EQ(-EINVAL, disable_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX));
	if (!variant->msi_count)
		EXPECT_EQ(-EINVAL, disable_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX));

	/* Eventfd data shorter than count says. */
	memset(&set, 0, sizeof(set));
	set.argsz = sizeof(set) + 3;
	set.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set.index = VFIO_PCI_ERR_IRQ_INDEX;
	set.count = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->dev.fd, VFIO_DEVICE_SET_IRQS, &set));
	if (variant->msix_count >= 2) {
		EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_EVENTFD |
					    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSIX_IRQ_INDEX,
					    0, 2, fds, sizeof(fds[0])));
	}

	/* Masking exists only for INTx; on the others the action has no handler. */
	if (variant->msi_count) {
		EXPECT_EQ(-ENOTTY, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
					    VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_MSI_IRQ_INDEX, 0, 1,
					    NULL, 0));
		EXPECT_EQ(-ENOTTY, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
					    VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_MSI_IRQ_INDEX, 0, 1,
					    NULL, 0));
	}
	if (variant->msix_count)
		EXPECT_EQ(-ENOTTY, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
					    VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1,
					    NULL, 0));
	EXPECT_EQ(-ENOTTY, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
				    VFIO_PCI_ERR_IRQ_INDEX, 0, 1, NULL, 0));
	EXPECT_EQ(-ENOTTY, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, 0));

	/* INTx mask/unmask and loopback need INTx enabled. */
	EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
				    VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0));
	EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
				    VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0));
	EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1));
	/* So does disabling. */
	EXPECT_EQ(-EINVAL, disable_irqs(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX));
	if (variant->msi_count) {
		EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1));
		EXPECT_EQ(-EINVAL, disable_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX));
	}
	if (variant->msix_count) {
		EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1));
		EXPECT_EQ(-EINVAL, disable_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX));
	}

	/* File descriptors that are not eventfds, or not open. */
	fds[0] = nullfd;
	EXPECT_EQ(-EINVAL, set_irq_eventfds(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, fds));
	EXPECT_EQ(-EINVAL, set_irq_eventfds(self->dev.fd, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, fds));
	fds[0] = 1000;
	EXPECT_EQ(-EBADF, set_irq_eventfds(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, fds));
	EXPECT_EQ(-EBADF, set_irq_eventfds(self->dev.fd, VFIO_PCI_REQ_IRQ_INDEX, 0, 1, fds));
	if (variant->msi_count) {
		EXPECT_EQ(-EBADF, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, fds));
		/* The failed enable left MSI off: loopback still refused. */
		EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1));
	}
	close(nullfd);
}

/* INTx through the loopback path: enable, trigger, replace, mask, exclusivity, disable. */
TEST_F(pci, intx_loopback)
{
	__s32 fd = self->efds[0];
	__u8 yes = 1, no = 0;

	if (!self->cfg[PCI_INTERRUPT_PIN])
		SKIP(return, "no INTx pin");
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd));
	EXPECT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1));
	EXPECT_EQ(1, eventfd_wait(self->efds[0], 1000));
	EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &yes, 1));
	EXPECT_EQ(1, eventfd_wait(self->efds[0], 1000));
	EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &no, 1));
	EXPECT_EQ(0, eventfd_wait(self->efds[0], 50));
	/* Only one vector. */
	EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 2));

	/* Mask/unmask by ioctl; masking by eventfd is not implemented. */
	EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0));
	EXPECT_EQ(-ENOTTY, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_EVENTFD |
				    VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd,
				    sizeof(fd)));
	EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0));
	EXPECT_EQ(0, eventfd_wait(self->efds[0], 50)) TH_LOG("nothing was pending");
	/* An unmask eventfd (irqfd) can be set and cleared. */
	fd = self->efds[5];
	EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd, sizeof(fd)));
	fd = -1;
	EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd, sizeof(fd)));

	/* One interrupt mode at a time. */
	fd = self->efds[1];
	if (variant->msi_count)
		EXPECT_EQ(-EINVAL, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &fd));
	if (variant->msix_count)
		EXPECT_EQ(-EINVAL, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &fd));

	/* Replacing the trigger: the new eventfd fires, the old one no more. */
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd));
	EXPECT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1));
	EXPECT_EQ(1, eventfd_wait(self->efds[1], 1000));
	EXPECT_EQ(0, eventfd_wait(self->efds[0], 50));
	/* -1 drops the trigger and keeps INTx enabled: loopback fires nothing. */
	fd = -1;
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd));
	EXPECT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1));
	EXPECT_EQ(0, eventfd_wait(self->efds[1], 50));

	EXPECT_EQ(0, disable_irqs(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX));
	EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1));
	EXPECT_EQ(-EINVAL, disable_irqs(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX));
}

TEST_F(pci, msi_loopback)
{
	__s32 fds[2] = { self->efds[0], self->efds[1] };
	__u8 yes = 1, no = 0;
	unsigned int pos = find_std_cap(self->cfg, PCI_CAP_ID_MSI);
	long long flags;

	if (!variant->msi_count)
		SKIP(return, "no MSI");
	ASSERT_NE(0, pos);
	EXPECT_EQ(-EINVAL, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0,
					    variant->msi_count + 1, fds));
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, fds));
	EXPECT_EQ(1, msi_irqs(self->bdf));
	/* MSI ENABLE is set in the device but not in the virtual flags users read. */
	flags = cfg_read(self->dev.fd, pos + PCI_MSI_FLAGS, 2);
	EXPECT_EQ(0, flags & PCI_MSI_FLAGS_ENABLE);

	EXPECT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1));
	EXPECT_EQ(1, eventfd_wait(self->efds[0], 1000));
	EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
			      VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &yes, 1));
	EXPECT_EQ(1, eventfd_wait(self->efds[0], 1000));
	EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
			      VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &no, 1));
	EXPECT_EQ(0, eventfd_wait(self->efds[0], 50));

	/* One interrupt mode at a time. */
	if (self->cfg[PCI_INTERRUPT_PIN])
		EXPECT_EQ(-EINVAL, set_irq_eventfds(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1,
						    fds + 1));
	if (variant->msix_count)
		EXPECT_EQ(-EINVAL, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1,
						    fds + 1));

	/* A new eventfd for the enabled vector replaces the old one. */
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, fds + 1));
	EXPECT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1));
	EXPECT_EQ(1, eventfd_wait(self->efds[1], 1000));
	EXPECT_EQ(0, eventfd_wait(self->efds[0], 50));

	EXPECT_EQ(0, disable_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX));
	EXPECT_EQ(0, msi_irqs(self->bdf));
	EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1));

	/* Enabling with -1 allocates the vector without a trigger. */
	fds[0] = -1;
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, fds));
	EXPECT_EQ(1, msi_irqs(self->bdf));
	EXPECT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1));
	EXPECT_EQ(0, disable_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX));
}

/* MSI-X: every vector at once, each one firing alone, and vectors added while enabled. */
TEST_F(pci, msix_loopback)
{
	__s32 fds[128];
	__u8 bools[128];
	struct vfio_irq_info info;
	int n = variant->msix_count, i, j;

	if (!n)
		SKIP(return, "no MSI-X");
	ASSERT_GE(128, n);
	for (i = 0; i < n; i++)
		fds[i] = self->efds[i];
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, n, fds));
	EXPECT_EQ(n, msi_irqs(self->bdf));
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, i, 1));
		EXPECT_EQ(1, eventfd_wait(self->efds[i], 1000)) TH_LOG("vector %d", i);
		for (j = 0; j < n; j++)
			if (j != i)
				EXPECT_EQ(0, eventfd_wait(self->efds[j], 0)) TH_LOG("vector %d fired for %d", j, i);
	}
	/* All at once, then every other one by BOOL. */
	ASSERT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, n));
	for (i = 0; i < n; i++)
		EXPECT_EQ(1, eventfd_wait(self->efds[i], 1000));
	for (i = 0; i < n; i++)
		bools[i] = i & 1;
	ASSERT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
			      VFIO_PCI_MSIX_IRQ_INDEX, 0, n, bools, n));
	for (i = 0; i < n; i++)
		EXPECT_EQ(i & 1, eventfd_wait(self->efds[i], i & 1 ? 1000 : 0));
	/* Not a vector past the table. */
	EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, n, 1));
	/* Dropping one vector's trigger: it no longer fires, the others still do. */
	fds[0] = -1;
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, fds));
	ASSERT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2));
	EXPECT_EQ(0, eventfd_wait(self->efds[0], 50));
	EXPECT_EQ(1, eventfd_wait(self->efds[1], 1000));
	EXPECT_EQ(0, disable_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX));
	EXPECT_EQ(0, msi_irqs(self->bdf));
	EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1));

	/* Enable one vector, then add another while enabled (dynamic MSI-X). */
	ASSERT_EQ(0, irq_info(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, &info));
	fds[0] = self->efds[0];
	fds[1] = self->efds[1];
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, fds));
	EXPECT_EQ(1, msi_irqs(self->bdf));
	if (info.flags & VFIO_IRQ_INFO_NORESIZE) {
		EXPECT_EQ(-EINVAL, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, n - 1, 1,
						    fds + 1));
	} else {
		ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, n - 1, 1,
					      fds + 1));
		EXPECT_EQ(2, msi_irqs(self->bdf));
		ASSERT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, n));
		EXPECT_EQ(1, eventfd_wait(self->efds[0], 1000));
		EXPECT_EQ(1, eventfd_wait(self->efds[1], 1000));
		/* Dropping the trigger keeps the vector allocated until MSI-X is disabled. */
		fds[1] = -1;
		ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, n - 1, 1,
					      fds + 1));
		EXPECT_EQ(2, msi_irqs(self->bdf));
		ASSERT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, n - 1, 1));
		EXPECT_EQ(0, eventfd_wait(self->efds[1], 50));
	}
	EXPECT_EQ(0, disable_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX));
	EXPECT_EQ(0, msi_irqs(self->bdf));
}

/* The ERR and REQ eventfds: set, loopback, replace, clear. */
TEST_F(pci, err_req_triggers)
{
	__u32 index;
	__s32 fd;
	__u8 yes = 1, no = 0;

	for (index = VFIO_PCI_ERR_IRQ_INDEX; index <= VFIO_PCI_REQ_IRQ_INDEX; index++) {
		TH_LOG("index %u", index);
		/* Nothing to signal yet. */
		EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, index, 0, 1));
		EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_BOOL |
				      VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1, &yes, 1));
		fd = self->efds[0];
		ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, index, 0, 1, &fd));
		EXPECT_EQ(0, trigger_irqs(self->dev.fd, index, 0, 1));
		EXPECT_EQ(1, eventfd_wait(self->efds[0], 1000));
		EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_BOOL |
				      VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1, &yes, 1));
		EXPECT_EQ(1, eventfd_wait(self->efds[0], 1000));
		EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_BOOL |
				      VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1, &no, 1));
		EXPECT_EQ(0, eventfd_wait(self->efds[0], 50));
		/* count 0: BOOL and EVENTFD refuse, NONE clears. */
		EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_BOOL |
					    VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0, &yes, 1));
		EXPECT_EQ(-EINVAL, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_EVENTFD |
					    VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0, &fd,
					    sizeof(fd)));
		/* Replace. */
		fd = self->efds[1];
		ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, index, 0, 1, &fd));
		EXPECT_EQ(0, trigger_irqs(self->dev.fd, index, 0, 1));
		EXPECT_EQ(1, eventfd_wait(self->efds[1], 1000));
		EXPECT_EQ(0, eventfd_wait(self->efds[0], 50));
		/* Only -1 clears; other negative fds are invalid. */
		fd = -2;
		EXPECT_EQ(-EINVAL, set_irq_eventfds(self->dev.fd, index, 0, 1, &fd));
		EXPECT_EQ(0, trigger_irqs(self->dev.fd, index, 0, 1));
		EXPECT_EQ(1, eventfd_wait(self->efds[1], 1000));
		fd = -1;
		ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, index, 0, 1, &fd));
		EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, index, 0, 1));
		/* Set again and clear with DATA_NONE, count 0. */
		fd = self->efds[0];
		ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, index, 0, 1, &fd));
		EXPECT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE |
				      VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0, NULL, 0));
		EXPECT_EQ(-EINVAL, trigger_irqs(self->dev.fd, index, 0, 1));
		EXPECT_EQ(0, eventfd_wait(self->efds[0], 0));
	}
}

/* DEVICE_RESET works exactly when the PCI core knows a reset method for the device. */
TEST_F(pci, reset)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	char methods[128];

	sysfs_reset_method(self->bdf, methods, sizeof(methods));
	ASSERT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_GET_INFO, &info));
	if (!(info.flags & VFIO_DEVICE_FLAGS_RESET)) {
		EXPECT_EQ('\0', methods[0]);
		EXPECT_EQ(-EINVAL, xioctl(self->dev.fd, VFIO_DEVICE_RESET, NULL));
		return;
	}
	EXPECT_NE('\0', methods[0]);
	EXPECT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_RESET, NULL));
	/* The device is usable after the reset: config space and memory decode are back. */
	EXPECT_EQ(*(__u16 *)self->cfg, cfg_read(self->dev.fd, PCI_VENDOR_ID, 2));
	EXPECT_TRUE(cfg_read(self->dev.fd, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY);
	EXPECT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_RESET, NULL));
}

/* ---- edu ---------------------------------------------------------------------------- */

/* vfio-pci was loaded with nointxmask=1 (sh/pci_params.sh): INTx masked at the IRQ chip. */
static int chip_masked(void)
{
	return getenv("RVFIO_NOINTXMASK") != NULL;
}

FIXTURE(edu) {
	const char *bdf;
	struct vfio_pci_dev dev;
	int efd;
};

static int edu_wr(FIXTURE_DATA(edu) *self, off_t reg, __u32 val);

FIXTURE_SETUP(edu)
{
	self->bdf = test_bdf("RVFIO_EDU_BDF");
	self->efd = -1;
	self->dev.fd = self->dev.group = self->dev.container = -1;
	ASSERT_NE(NULL, self->bdf);
	ASSERT_EQ(0, vfio_pci_open(&self->dev, self->bdf, VFIO_TYPE1v2_IOMMU));
	self->efd = new_eventfd();
	ASSERT_LE(0, self->efd);
	/* edu keeps its registers across resets: no interrupt pending or armed. */
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_ACK, ~0U));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_STATUS, 0));
}

FIXTURE_TEARDOWN(edu)
{
	vfio_pci_close(&self->dev);
	if (self->efd >= 0)
		close(self->efd);
}

static __u32 edu_rd(FIXTURE_DATA(edu) *self, off_t reg)
{
	return bar_read32(self->dev.fd, EDU_BAR, reg);
}

static int edu_wr(FIXTURE_DATA(edu) *self, off_t reg, __u32 val)
{
	return bar_write32(self->dev.fd, EDU_BAR, reg, val);
}

TEST_F(edu, bar0_info)
{
	struct vfio_region_info info;

	ASSERT_EQ(0, region_info(self->dev.fd, EDU_BAR, &info));
	EXPECT_EQ(1 << 20, info.size); /* edu's MMIO BAR is 1 MiB */
	EXPECT_EQ(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		  VFIO_REGION_INFO_FLAG_MMAP, info.flags);
}

TEST_F(edu, registers)
{
	__u64 end = now_ms() + 5000;
	__u64 v64;
	__u32 id = edu_rd(self, EDU_REG_ID), v[4];
	__u8 b[2];

	TH_LOG("edu ID register %#x", id);
	EXPECT_EQ(0xed, id & 0xff);
	EXPECT_EQ(0x010000ed, id);

	/* Liveness: reads back the bitwise NOT of what was written. */
	ASSERT_EQ(0, edu_wr(self, EDU_REG_LIVENESS, 0x12345678));
	EXPECT_EQ(~0x12345678U, edu_rd(self, EDU_REG_LIVENESS));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_LIVENESS, 0));
	EXPECT_EQ(0xffffffff, edu_rd(self, EDU_REG_LIVENESS));

	/* Factorial, computed by a device thread: poll the status register. */
	ASSERT_EQ(0, edu_wr(self, EDU_REG_FACTORIAL, 10));
	while ((edu_rd(self, EDU_REG_STATUS) & EDU_STATUS_COMPUTING) && now_ms() < end)
		usleep(1000);
	EXPECT_EQ(0, edu_rd(self, EDU_REG_STATUS) & EDU_STATUS_COMPUTING);
	EXPECT_EQ(3628800, edu_rd(self, EDU_REG_FACTORIAL));

	/*
	 * Access sizes: upstream splits a transfer into naturally aligned 8/4/2/1-byte
	 * accesses. An 8-byte access below 0x80 reads all-ones on edu (it wants 4 there), but
	 * 8 bytes at offset 4 are two 4-byte reads: liveness and factorial.
	 */
	ASSERT_EQ(0, edu_wr(self, EDU_REG_LIVENESS, 0xa5a5a5a5));
	ASSERT_EQ(8, xpread(self->dev.fd, &v64, 8, REGION_OFFSET(EDU_BAR) + EDU_REG_ID));
	EXPECT_EQ(~0ULL, v64);
	ASSERT_EQ(8, xpread(self->dev.fd, v, 8, REGION_OFFSET(EDU_BAR) + EDU_REG_LIVENESS));
	EXPECT_EQ(0x5a5a5a5a, v[0]);
	EXPECT_EQ(3628800, v[1]);
	ASSERT_EQ(16, xpread(self->dev.fd, v, 16, REGION_OFFSET(EDU_BAR) + EDU_REG_ID));
	/* Two 8-byte accesses, both below 0x80: all-ones, factorial included. */
	for (int i = 0; i < 4; i++)
		EXPECT_EQ(0xffffffff, v[i]);
	/* 8-byte registers from 0x80 take 8-byte accesses. */
	v64 = 0x0123456789abcdefULL;
	ASSERT_EQ(8, xpwrite(self->dev.fd, &v64, 8, REGION_OFFSET(EDU_BAR) + EDU_REG_DMA_SRC));
	v64 = 0;
	ASSERT_EQ(8, xpread(self->dev.fd, &v64, 8, REGION_OFFSET(EDU_BAR) + EDU_REG_DMA_SRC));
	EXPECT_EQ(0x0123456789abcdefULL, v64);
	EXPECT_EQ(0x89abcdef, edu_rd(self, EDU_REG_DMA_SRC));
	/* 1- and 2-byte accesses are passed on as such (edu ignores them). */
	EXPECT_EQ(1, xpread(self->dev.fd, b, 1, REGION_OFFSET(EDU_BAR) + EDU_REG_ID));
	EXPECT_EQ(2, xpread(self->dev.fd, b, 2, REGION_OFFSET(EDU_BAR) + EDU_REG_ID));
	EXPECT_EQ(1, xpwrite(self->dev.fd, b, 1, REGION_OFFSET(EDU_BAR) + EDU_REG_LIVENESS));
	EXPECT_EQ(0x5a5a5a5a, edu_rd(self, EDU_REG_LIVENESS));
}

/* BAR reads/writes at and past the end of a region, and regions without a BAR. */
TEST_F(edu, bar_bounds)
{
	off_t bar = REGION_OFFSET(EDU_BAR), size = 1 << 20;
	__u8 buf[16];

	EXPECT_EQ(4, xpread(self->dev.fd, buf, 4, bar + size - 4));
	/* A transfer crossing the end is cut short. */
	EXPECT_EQ(4, xpread(self->dev.fd, buf, 8, bar + size - 4));
	EXPECT_EQ(4, xpwrite(self->dev.fd, buf, 16, bar + size - 4));
	EXPECT_EQ(-EINVAL, xpread(self->dev.fd, buf, 4, bar + size));
	EXPECT_EQ(-EINVAL, xpwrite(self->dev.fd, buf, 4, bar + size));
	EXPECT_EQ(-EINVAL, xpread(self->dev.fd, buf, 4, bar + (1LL << 40) - 4));
	/* BARs the device does not have, the missing ROM and VGA, and past the last region. */
	EXPECT_EQ(-EINVAL, xpread(self->dev.fd, buf, 4, REGION_OFFSET(1)));
	EXPECT_EQ(-EINVAL, xpwrite(self->dev.fd, buf, 4, REGION_OFFSET(5)));
	EXPECT_EQ(-EINVAL, xpread(self->dev.fd, buf, 4, REGION_OFFSET(VFIO_PCI_ROM_REGION_INDEX)));
	EXPECT_EQ(-EINVAL, xpwrite(self->dev.fd, buf, 4, REGION_OFFSET(VFIO_PCI_ROM_REGION_INDEX)));
	EXPECT_EQ(-EINVAL, xpread(self->dev.fd, buf, 4, REGION_OFFSET(VFIO_PCI_VGA_REGION_INDEX)));
	EXPECT_EQ(-EINVAL, xpread(self->dev.fd, buf, 4, REGION_OFFSET(VFIO_PCI_NUM_REGIONS)));
	EXPECT_EQ(-EINVAL, xpwrite(self->dev.fd, buf, 4, REGION_OFFSET(VFIO_PCI_NUM_REGIONS)));
	EXPECT_EQ(-EINVAL, xpread(self->dev.fd, buf, 4, REGION_OFFSET(0x7fffff)));
	/* Zero-length accesses succeed anywhere. */
	EXPECT_EQ(0, xpread(self->dev.fd, buf, 0, REGION_OFFSET(VFIO_PCI_NUM_REGIONS)));
	EXPECT_EQ(0, xpwrite(self->dev.fd, buf, 0, bar + size));
}

TEST_F(edu, mmap_bar0)
{
	off_t bar = REGION_OFFSET(EDU_BAR);
	volatile __u32 *regs;
	void *p;
	__u32 v = 0;

	regs = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, self->dev.fd, bar);
	ASSERT_NE(MAP_FAILED, regs);
	EXPECT_EQ(0x010000ed, regs[EDU_REG_ID / 4]);
	regs[EDU_REG_LIVENESS / 4] = 0xcafe0000;
	EXPECT_EQ(~0xcafe0000U, regs[EDU_REG_LIVENESS / 4]);
	/* The same register through read(). */
	EXPECT_EQ(~0xcafe0000U, edu_rd(self, EDU_REG_LIVENESS));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_LIVENESS, 7));
	EXPECT_EQ(~7U, regs[EDU_REG_LIVENESS / 4]);

	/*
	 * Memory decode off: read()/write() fail with -EIO and the mapping faults (SIGBUS);
	 * back on, both work again.
	 */
	ASSERT_EQ(0, cfg_command(self->dev.fd, 0, PCI_COMMAND_MEMORY));
	EXPECT_EQ(-EIO, xpread(self->dev.fd, &v, 4, bar + EDU_REG_ID));
	EXPECT_EQ(-EIO, xpwrite(self->dev.fd, &v, 4, bar + EDU_REG_LIVENESS));
	EXPECT_EQ(1, faults(regs, &v));
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MEMORY, 0));
	EXPECT_EQ(0, faults(regs, &v));
	EXPECT_EQ(0x010000ed, v);
	EXPECT_EQ(0x010000ed, edu_rd(self, EDU_REG_ID));
	munmap((void *)regs, PAGE_SZ);

	/* The whole BAR, the last page alone, a read-only mapping. */
	p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, self->dev.fd, bar);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0x010000ed, *(volatile __u32 *)p);
	munmap(p, 1 << 20);
	p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd,
		 bar + (1 << 20) - PAGE_SZ);
	ASSERT_NE(MAP_FAILED, p);
	munmap(p, PAGE_SZ);
	p = mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd, bar);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0x010000ed, *(volatile __u32 *)p);
	munmap(p, PAGE_SZ);
}

TEST_F(edu, mmap_errors)
{
	off_t bar = REGION_OFFSET(EDU_BAR);

	/* Past the BAR's end. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, (1 << 20) + PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd, bar));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd, bar + (1 << 20)));
	EXPECT_EQ(EINVAL, errno);
	/* Private mappings of a device. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->dev.fd, bar));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE_SZ, PROT_READ, MAP_PRIVATE, self->dev.fd, bar));
	EXPECT_EQ(EINVAL, errno);
	/* Regions that are not mmappable: absent BARs, ROM, config, VGA, beyond. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd, REGION_OFFSET(1)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd,
				   REGION_OFFSET(VFIO_PCI_ROM_REGION_INDEX)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd,
				   REGION_OFFSET(VFIO_PCI_CONFIG_REGION_INDEX)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd,
				   REGION_OFFSET(VFIO_PCI_VGA_REGION_INDEX)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd,
				   REGION_OFFSET(VFIO_PCI_NUM_REGIONS)));
	EXPECT_EQ(EINVAL, errno);
}

/* edu raising MSI itself (0x60), the status register, the acknowledgement. */
TEST_F(edu, msi_raised_by_device)
{
	__s32 fd = self->efd;

	/* MSI writes are DMA: the device needs bus mastering. */
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MASTER, 0));
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &fd));
	EXPECT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1));
	EXPECT_EQ(1, eventfd_wait(self->efd, 1000));

	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_RAISE, 0x1000));
	EXPECT_EQ(1, eventfd_wait(self->efd, 2000));
	EXPECT_EQ(0x1000, edu_rd(self, EDU_REG_IRQ_STATUS));
	/* Every raise is a message while MSI is on, even with the status still set. */
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_RAISE, 0x2000));
	EXPECT_EQ(1, eventfd_wait(self->efd, 2000));
	EXPECT_EQ(0x3000, edu_rd(self, EDU_REG_IRQ_STATUS));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_ACK, 0x3000));
	EXPECT_EQ(0, edu_rd(self, EDU_REG_IRQ_STATUS));
	EXPECT_EQ(0, eventfd_wait(self->efd, 100));

	/* The factorial unit's completion interrupt. */
	ASSERT_EQ(0, edu_wr(self, EDU_REG_STATUS, 0x80));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_FACTORIAL, 6));
	EXPECT_EQ(1, eventfd_wait(self->efd, 2000));
	EXPECT_EQ(EDU_FACT_IRQ, edu_rd(self, EDU_REG_IRQ_STATUS));
	EXPECT_EQ(720, edu_rd(self, EDU_REG_FACTORIAL));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_ACK, EDU_FACT_IRQ));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_STATUS, 0));

	EXPECT_EQ(0, disable_irqs(self->dev.fd, VFIO_PCI_MSI_IRQ_INDEX));
	ASSERT_EQ(0, cfg_command(self->dev.fd, 0, PCI_COMMAND_MASTER));
}

/*
 * edu raising INTx: the interrupt fires once and stays masked (AUTOMASKED) until
 * VFIO_IRQ_SET_ACTION_UNMASK; an unmask with the line still asserted signals again.
 */
TEST_F(edu, intx_raised_by_device)
{
	__s32 fd = self->efd;
	__u8 cfg[64];

	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &fd));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_RAISE, 1));
	EXPECT_EQ(1, eventfd_wait(self->efd, 2000));
	EXPECT_EQ(1, edu_rd(self, EDU_REG_IRQ_STATUS));
	/*
	 * Masked now: the INTx-disable bit is set in the device (not in the virtual view);
	 * with nointxmask, the line is masked at the interrupt chip and the bit stays clear.
	 */
	ASSERT_EQ(64, sysfs_config(self->bdf, cfg, 64));
	EXPECT_EQ(!chip_masked(), !!(cfg[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8)));
	EXPECT_FALSE(cfg_read(self->dev.fd, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE);
	/* Ack and raise again: the line is masked, nothing arrives. */
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_ACK, 1));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_RAISE, 1));
	EXPECT_EQ(0, eventfd_wait(self->efd, 300));
	/* Unmask with the line asserted: signalled again, and masked again. */
	ASSERT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0));
	EXPECT_EQ(1, eventfd_wait(self->efd, 2000));
	/* Ack, then unmask with nothing pending: silence... */
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_ACK, 1));
	EXPECT_EQ(0, edu_rd(self, EDU_REG_IRQ_STATUS));
	ASSERT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0));
	EXPECT_EQ(0, eventfd_wait(self->efd, 300));
	/* ...until the device raises it again. */
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_RAISE, 1));
	EXPECT_EQ(1, eventfd_wait(self->efd, 2000));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_ACK, 1));

	/* Masking by ioctl holds a raised interrupt back until unmasked. */
	ASSERT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0));
	ASSERT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_RAISE, 1));
	EXPECT_EQ(0, eventfd_wait(self->efd, 300));
	ASSERT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0));
	EXPECT_EQ(1, eventfd_wait(self->efd, 2000));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_ACK, 1));

	/* The virtual INTx-disable bit masks as well. */
	ASSERT_EQ(0, set_irqs(self->dev.fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			      VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0));
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_INTX_DISABLE, 0));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_RAISE, 1));
	EXPECT_EQ(0, eventfd_wait(self->efd, 300));
	ASSERT_EQ(0, cfg_command(self->dev.fd, 0, PCI_COMMAND_INTX_DISABLE));
	EXPECT_EQ(1, eventfd_wait(self->efd, 2000));
	ASSERT_EQ(0, edu_wr(self, EDU_REG_IRQ_ACK, 1));

	EXPECT_EQ(0, disable_irqs(self->dev.fd, VFIO_PCI_INTX_IRQ_INDEX));
}

/*
 * Without INTx enabled, the device's INTx-disable bit follows the virtual one (PCI 2.3
 * masking); with nointxmask it is left alone.
 */
TEST_F(edu, intx_disable_mirrored)
{
	__u8 cfg[64];

	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_INTX_DISABLE, 0));
	EXPECT_TRUE(cfg_read(self->dev.fd, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE);
	ASSERT_EQ(64, sysfs_config(self->bdf, cfg, 64));
	EXPECT_EQ(!chip_masked(), !!(cfg[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8)));
	ASSERT_EQ(0, cfg_command(self->dev.fd, 0, PCI_COMMAND_INTX_DISABLE));
	EXPECT_FALSE(cfg_read(self->dev.fd, PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE);
	ASSERT_EQ(64, sysfs_config(self->bdf, cfg, 64));
	EXPECT_FALSE(cfg[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8));
}

/* edu's reset is a secondary bus reset; device state outside config space survives. */
TEST_F(edu, reset)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	char methods[128];
	long long cmd;

	sysfs_reset_method(self->bdf, methods, sizeof(methods));
	EXPECT_STREQ("bus", methods);
	ASSERT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_GET_INFO, &info));
	EXPECT_EQ(VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET, info.flags);
	ASSERT_EQ(0, cfg_command(self->dev.fd, PCI_COMMAND_MASTER, 0));
	cmd = cfg_read(self->dev.fd, PCI_COMMAND, 2);
	ASSERT_EQ(0, edu_wr(self, EDU_REG_LIVENESS, 0x1234));
	EXPECT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_RESET, NULL));
	EXPECT_EQ(0x010000ed, edu_rd(self, EDU_REG_ID));
	/* The PCI core saves and restores config state around the reset: COMMAND as before. */
	EXPECT_EQ(cmd, cfg_read(self->dev.fd, PCI_COMMAND, 2));
	/* edu has no reset of its own: its registers survive a bus reset. */
	EXPECT_EQ(~0x1234U, edu_rd(self, EDU_REG_LIVENESS));
}

/* With every reset method disabled in sysfs before open, there is no RESET. */
TEST(edu_without_reset)
{
	const char *bdf = test_bdf("RVFIO_EDU_BDF");
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_pci_dev dev;
	char path[128], methods[128];
	int ret;

	ASSERT_NE(NULL, bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset_method", bdf);
	ASSERT_EQ(0, sysfs_write(path, "\n"));
	sysfs_reset_method(bdf, methods, sizeof(methods));
	ret = vfio_pci_open(&dev, bdf, VFIO_TYPE1v2_IOMMU);
	if (!ret) {
		EXPECT_EQ(0, xioctl(dev.fd, VFIO_DEVICE_GET_INFO, &info));
		EXPECT_EQ(VFIO_DEVICE_FLAGS_PCI, info.flags);
		EXPECT_EQ(-EINVAL, xioctl(dev.fd, VFIO_DEVICE_RESET, NULL));
		vfio_pci_close(&dev);
	}
	/* Back to the default methods, whatever happened. */
	ASSERT_EQ(0, sysfs_write(path, "default"));
	EXPECT_EQ(0, ret);
	EXPECT_STREQ("", methods);
	sysfs_reset_method(bdf, methods, sizeof(methods));
	EXPECT_STREQ("bus", methods);
}

/* ---- igb ---------------------------------------------------------------------------- */

FIXTURE(igb) {
	const char *bdf;
	struct vfio_pci_dev dev;
};

FIXTURE_SETUP(igb)
{
	self->bdf = test_bdf("RVFIO_IGB_BDF");
	self->dev.fd = self->dev.group = self->dev.container = -1;
	ASSERT_NE(NULL, self->bdf);
	ASSERT_EQ(0, vfio_pci_open(&self->dev, self->bdf, VFIO_TYPE1v2_IOMMU));
}

FIXTURE_TEARDOWN(igb)
{
	vfio_pci_close(&self->dev);
}

/*
 * igb's MSI-X table (BAR3 at 0, 10 entries) reads as all-ones and drops writes through
 * read()/write(); the mapping (MSIX_MAPPABLE) shows the real, masked entries.
 */
TEST_F(igb, msix_table)
{
	off_t bar3 = REGION_OFFSET(3);
	__u32 v[4], ctrl;
	volatile __u32 *table;
	int i;

	ASSERT_EQ(16, xpread(self->dev.fd, v, 16, bar3));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0xffffffff, v[i]);
	ASSERT_EQ(4, xpread(self->dev.fd, v, 4, bar3 + 10 * 16 - 4));
	EXPECT_EQ(0xffffffff, v[0]);
	v[0] = 0;
	EXPECT_EQ(4, xpwrite(self->dev.fd, v, 4, bar3 + PCI_MSIX_ENTRY_VECTOR_CTRL));
	/* A read spanning the table's end: the table part all-ones, the rest from the BAR. */
	ASSERT_EQ(8, xpread(self->dev.fd, v, 8, bar3 + 10 * 16 - 4));
	EXPECT_EQ(0xffffffff, v[0]);

	table = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, self->dev.fd, bar3);
	ASSERT_NE(MAP_FAILED, table);
	for (i = 0; i < 10; i++) {
		ctrl = table[i * 4 + PCI_MSIX_ENTRY_VECTOR_CTRL / 4];
		EXPECT_EQ(PCI_MSIX_ENTRY_CTRL_MASKBIT, ctrl) TH_LOG("entry %d", i);
	}
	munmap((void *)table, PAGE_SZ);
}

/* The I/O port BAR (BAR2, 32 bytes: IOADDR at 0, IODATA at 4) through read()/write(). */
TEST_F(igb, io_bar)
{
	struct vfio_region_info info;
	off_t bar2 = REGION_OFFSET(2);
	__u32 v = 0x8, two[2]; /* E1000_STATUS */

	ASSERT_EQ(0, region_info(self->dev.fd, 2, &info));
	EXPECT_EQ(32, info.size);
	EXPECT_EQ(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE, info.flags);
	ASSERT_EQ(4, xpwrite(self->dev.fd, &v, 4, bar2));
	v = 0;
	ASSERT_EQ(4, xpread(self->dev.fd, &v, 4, bar2));
	EXPECT_EQ(0x8, v);
	/* IODATA reads the register IOADDR selects: STATUS, as BAR0 shows it at 0x8. */
	ASSERT_EQ(4, xpread(self->dev.fd, &v, 4, bar2 + 4));
	EXPECT_EQ(bar_read32(self->dev.fd, 0, 0x8), v);
	EXPECT_EQ(-EINVAL, xpread(self->dev.fd, &v, 4, bar2 + 32));
	EXPECT_EQ(4, xpread(self->dev.fd, two, 8, bar2 + 28));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd, bar2));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * igb has FLR: DEVICE_RESET uses it. The device masks its MSI-X table; the PCI core then
 * restores the MSI-X state it owns, so the enabled vector is unmasked again, the rest not.
 */
TEST_F(igb, flr)
{
	char methods[128];
	__s32 fd = new_eventfd();
	volatile __u32 *table;

	sysfs_reset_method(self->bdf, methods, sizeof(methods));
	EXPECT_EQ(0, strncmp(methods, "flr", 3)) TH_LOG("reset_method \"%s\"", methods);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_irq_eventfds(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &fd));
	table = mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, self->dev.fd, REGION_OFFSET(3));
	ASSERT_NE(MAP_FAILED, table);
	EXPECT_EQ(0, table[PCI_MSIX_ENTRY_VECTOR_CTRL / 4]) TH_LOG("vector 0 unmasked while enabled");
	EXPECT_EQ(PCI_MSIX_ENTRY_CTRL_MASKBIT, table[4 + PCI_MSIX_ENTRY_VECTOR_CTRL / 4]);
	EXPECT_EQ(0, xioctl(self->dev.fd, VFIO_DEVICE_RESET, NULL));
	EXPECT_EQ(0, table[PCI_MSIX_ENTRY_VECTOR_CTRL / 4]);
	EXPECT_EQ(PCI_MSIX_ENTRY_CTRL_MASKBIT, table[4 + PCI_MSIX_ENTRY_VECTOR_CTRL / 4]);
	munmap((void *)table, PAGE_SZ);
	EXPECT_EQ(0, trigger_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1));
	EXPECT_EQ(1, eventfd_wait(fd, 1000));
	EXPECT_EQ(0, disable_irqs(self->dev.fd, VFIO_PCI_MSIX_IRQ_INDEX));
	close(fd);
}

/* ---- e1000e ------------------------------------------------------------------------- */

/* e1000e's option ROM (QEMU's iPXE image): read-only, 4-byte accesses at most. */
TEST(e1000e_rom)
{
	const char *bdf = test_bdf("RVFIO_E1000E_BDF");
	off_t rom = REGION_OFFSET(VFIO_PCI_ROM_REGION_INDEX);
	struct vfio_region_info info;
	struct vfio_pci_dev dev;
	__u8 buf[16], buf2[16];
	__u64 len;

	if (!bdf)
		SKIP(return, "RVFIO_E1000E_BDF not set");
	len = sysfs_resource_len(bdf, PCI_ROM_RESOURCE);
	ASSERT_NE(0, len);
	ASSERT_EQ(0, vfio_pci_open(&dev, bdf, VFIO_TYPE1v2_IOMMU));
	ASSERT_EQ(0, region_info(dev.fd, VFIO_PCI_ROM_REGION_INDEX, &info));
	EXPECT_EQ(len, info.size);
	EXPECT_EQ(VFIO_REGION_INFO_FLAG_READ, info.flags);
	/* The PCI expansion ROM signature. */
	ASSERT_EQ(2, xpread(dev.fd, buf, 2, rom));
	EXPECT_EQ(0x55, buf[0]);
	EXPECT_EQ(0xaa, buf[1]);
	ASSERT_EQ(16, xpread(dev.fd, buf, 16, rom));
	ASSERT_EQ(4, xpread(dev.fd, buf2, 4, rom + 4));
	EXPECT_EQ(0, memcmp(buf + 4, buf2, 4));
	EXPECT_EQ(-EINVAL, xpwrite(dev.fd, buf, 4, rom));
	EXPECT_EQ(-EINVAL, xpread(dev.fd, buf, 4, rom + len));
	EXPECT_EQ(4, xpread(dev.fd, buf, 8, rom + len - 4));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PAGE_SZ, PROT_READ, MAP_SHARED, dev.fd, rom));
	EXPECT_EQ(EINVAL, errno);
	vfio_pci_close(&dev);
}

TEST_HARNESS_MAIN
