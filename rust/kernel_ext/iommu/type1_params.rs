// SPDX-License-Identifier: GPL-2.0

//! vfio_iommu_type1's module parameters, defined in C (`rust/vfio_iommu_type1/params.c`)
//! with upstream's names and sysfs permissions, which 7.3's `module!` cannot give (its
//! parameters are invisible in sysfs and never writable).

extern "C" {
    fn rvfio_type1_param_allow_unsafe_interrupts() -> bool;
    fn rvfio_type1_param_disable_hugepages() -> bool;
    fn rvfio_type1_param_dma_entry_limit() -> u32;
}

/// `allow_unsafe_interrupts`: attach groups without MSI isolation (read at each attach).
pub(crate) fn allow_unsafe_interrupts() -> bool {
    // SAFETY: Reads a static `bool` once.
    unsafe { rvfio_type1_param_allow_unsafe_interrupts() }
}

/// `disable_hugepages`: map user memory with CPU-page-sized IOMMU pages only (read at each
/// `VFIO_IOMMU_MAP_DMA`).
pub(crate) fn disable_hugepages() -> bool {
    // SAFETY: Reads a static `bool` once.
    unsafe { rvfio_type1_param_disable_hugepages() }
}

/// `dma_entry_limit`: the mappings a container may hold (read when its backend opens).
pub(crate) fn dma_entry_limit() -> u32 {
    // SAFETY: Reads a static `unsigned int` once.
    unsafe { rvfio_type1_param_dma_entry_limit() }
}
