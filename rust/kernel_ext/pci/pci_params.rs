// SPDX-License-Identifier: GPL-2.0

//! vfio-pci's module parameters, defined in C (`rust/vfio_pci/params.c`) with upstream's
//! names and sysfs permissions, which 7.3's `module!` cannot give (its parameters are
//! invisible in sysfs, never writable, and never strings).

use kernel::{
    ffi::c_char,
    prelude::*, //
};

extern "C" {
    fn rvfio_pci_param_ids() -> *const c_char;
    fn rvfio_pci_param_nointxmask() -> bool;
    fn rvfio_pci_param_disable_idle_d3() -> bool;
    fn rvfio_pci_param_enable_sriov() -> bool;
    fn rvfio_pci_param_disable_denylist() -> bool;
}

/// `ids=`: the PCI IDs to add to the driver at load.
pub(crate) fn ids() -> &'static CStr {
    // SAFETY: A NUL-terminated static buffer (`module_param_string` keeps the terminator),
    // written only by the module loader before init runs and never again (permission 0).
    unsafe { CStr::from_char_ptr(rvfio_pci_param_ids()) }
}

/// `nointxmask`: no PCI 2.3 INTx masking (latched per device at bind, as upstream).
pub(crate) fn nointxmask() -> bool {
    // SAFETY: Reads a static `bool` once.
    unsafe { rvfio_pci_param_nointxmask() }
}

/// `disable_idle_d3`: no runtime suspend of idle devices (latched per device at bind).
pub(crate) fn disable_idle_d3() -> bool {
    // SAFETY: Reads a static `bool` once.
    unsafe { rvfio_pci_param_disable_idle_d3() }
}

/// `enable_sriov`: PFs may enable VFs (read at each `sriov_numvfs` write, as upstream).
pub(crate) fn enable_sriov() -> bool {
    // SAFETY: Reads a static `bool` once.
    unsafe { rvfio_pci_param_enable_sriov() }
}

/// `disable_denylist`: bind devices of the denylist too.
pub(crate) fn disable_denylist() -> bool {
    // SAFETY: Reads a static `bool` once.
    unsafe { rvfio_pci_param_disable_denylist() }
}
