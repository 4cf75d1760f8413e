// SPDX-License-Identifier: GPL-2.0
/*
 * The accessors of rust/kernel_ext/pci/bar_map.rs: ioread*()/iowrite*() are functions on x86
 * (GENERIC_IOMAP) and static inlines elsewhere (arm64), so bindgen sees them on one only.
 * 64-bit accesses are the architecture's own where it has them (arm64: one access) and two
 * 32-bit ones, low half first, where it does not (x86), as upstream's vfio_pci_rdwr.c.
 */
#include <linux/io.h>
#include <linux/io-64-nonatomic-lo-hi.h>

u64 rvfio_bar_read(void __iomem *addr, unsigned int bytes);
void rvfio_bar_write(void __iomem *addr, unsigned int bytes, u64 value);

u64 rvfio_bar_read(void __iomem *addr, unsigned int bytes)
{
	switch (bytes) {
	case 1:
		return ioread8(addr);
	case 2:
		return ioread16(addr);
	case 4:
		return ioread32(addr);
	default:
		return ioread64(addr);
	}
}

void rvfio_bar_write(void __iomem *addr, unsigned int bytes, u64 value)
{
	switch (bytes) {
	case 1:
		iowrite8(value, addr);
		break;
	case 2:
		iowrite16(value, addr);
		break;
	case 4:
		iowrite32(value, addr);
		break;
	default:
		iowrite64(value, addr);
		break;
	}
}
