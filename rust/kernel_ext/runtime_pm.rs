// SPDX-License-Identifier: GPL-2.0

//! Runtime power management of a function bound to this module's driver: upstream
//! vfio-pci's idle D3. While runtime PM is allowed and nothing holds the function active,
//! the PM core suspends it and the PCI core puts it into D3hot; [`PmActive`] resumes it to
//! D0 and keeps it there. Without CONFIG_PM every call is a no-op and functions stay in D0.
//!
//! C side: `rust/vfio_pci/helpers.c` (the `pm_runtime_*()` calls are static inlines).

use super::pci_raw::PciFunction;
use kernel::{bindings, error::to_result, ffi::c_int, prelude::*};

/// Runtime PM opened to the PM core for the life of a binding (upstream's
/// `vfio_pci_core_register_device()`), taken back when dropped (its unregistration).
///
/// # Invariants
///
/// Runtime PM of `function` is allowed, and when `idle_d3` the usage reference that the PCI
/// core holds across a binding is given up. The value lives in the driver's binding and is
/// dropped in remove, after every [`PmActive`] is gone: those are held by an open device,
/// by a hot reset in an ioctl of an open device, or by enabled VFs, all of which remove
/// ends first.
pub(crate) struct RuntimePm {
    function: PciFunction,
    idle_d3: bool,
}

impl RuntimePm {
    /// Allows runtime PM of `function`, being probed; it suspends when idle if `idle_d3`
    /// (not `disable_idle_d3`).
    pub(crate) fn allow(function: &PciFunction, idle_d3: bool) -> Self {
        // SAFETY: The function is bound and live (`PciFunction` invariant); probe holds the
        // PCI core's usage reference that this gives up when `idle_d3`.
        unsafe { rvfio_pm_runtime_allow(function.raw(), idle_d3) };
        // INVARIANT: allowed just now, the reference given up iff `idle_d3`.
        Self {
            function: function.clone(),
            idle_d3,
        }
    }
}

impl Drop for RuntimePm {
    fn drop(&mut self) {
        // SAFETY: Still bound (type invariant: dropped in remove); takes back the reference
        // `allow` gave up, so the PCI core's unbind finds the count it expects.
        unsafe { rvfio_pm_runtime_forbid(self.function.raw(), self.idle_d3) };
    }
}

/// The function resumed to D0 and kept active until this is dropped.
///
/// # Invariants
///
/// Holds one runtime PM usage reference of `function`, taken by a successful resume.
pub(crate) struct PmActive {
    function: PciFunction,
}

impl PmActive {
    /// Resumes `function` if it is suspended and holds it active.
    pub(crate) fn get(function: &PciFunction) -> Result<Self> {
        // SAFETY: The function is bound and live (`PciFunction` invariant).
        to_result(unsafe { rvfio_pm_runtime_get(function.raw()) })?;
        // INVARIANT: the resume succeeded, so the reference is held.
        Ok(Self {
            function: function.clone(),
        })
    }
}

impl Drop for PmActive {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this value holds (type invariant).
        unsafe { rvfio_pm_runtime_put(self.function.raw()) };
    }
}

// `struct pci_dev` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    fn rvfio_pm_runtime_allow(pdev: *mut bindings::pci_dev, idle_d3: bool);
    fn rvfio_pm_runtime_forbid(pdev: *mut bindings::pci_dev, idle_d3: bool);
    fn rvfio_pm_runtime_get(pdev: *mut bindings::pci_dev) -> c_int;
    fn rvfio_pm_runtime_put(pdev: *mut bindings::pci_dev);
}
