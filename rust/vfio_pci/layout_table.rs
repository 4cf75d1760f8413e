// SPDX-License-Identifier: GPL-2.0

//! The struct layouts vfio-pci.ko's Rust code depends on, by the names of their C twins in
//! `rust/vfio_pci/layout.c`; checked against C at module load.

use kernel::prelude::*;

use crate::{
    ext::layout,
    layout_entry, //
};

extern "C" {
    /// Entry `i` of the C table (`rust/vfio_pci/layout.c`).
    fn rvfio_pci_layout(i: u32, name: *mut *const kernel::ffi::c_char) -> usize;
}

/// Fails module load if bindgen and the C compiler disagree on any layout we use.
pub(crate) fn check() -> Result {
    let entries = [
        layout_entry!(size pci_driver),
        layout_entry!(pci_driver.name),
        layout_entry!(pci_driver.id_table),
        layout_entry!(pci_driver.probe),
        layout_entry!(pci_driver.remove),
        layout_entry!(pci_driver.sriov_configure),
        layout_entry!(pci_driver.driver_managed_dma),
        layout_entry!(pci_driver.err_handler),
        layout_entry!(size pci_error_handlers),
        layout_entry!(pci_error_handlers.error_detected),
        layout_entry!(size pci_device_id),
        layout_entry!(pci_device_id.override_only),
        layout_entry!(pci_dev.hdr_type),
        layout_entry!(pci_dev.current_state),
        layout_entry!(pci_dev.cfg_size),
        layout_entry!(pci_dev.irq),
        layout_entry!(pci_dev.resource),
        layout_entry!(size resource),
        layout_entry!(resource.flags),
        layout_entry!(size vm_operations_struct),
        layout_entry!(vm_operations_struct.fault),
    ];
    layout::check(rvfio_pci_layout, &entries)
}
