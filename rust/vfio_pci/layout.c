// SPDX-License-Identifier: GPL-2.0
/* C's view of the structures vfio-pci.ko's Rust code touches; see include/rvfio/layout.h. */
#include <linux/pci.h>
#include <rvfio/layout.h>

RVFIO_DEFINE_LAYOUT_TABLE(rvfio_pci_layout, RVFIO_LAYOUT_PCI)
