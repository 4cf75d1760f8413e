// SPDX-License-Identifier: GPL-2.0

//! Runtime power management of a function bound to this module's driver: upstream
//! vfio-pci's idle D3. While runtime PM is allowed and nothing holds the function active,
//! the PM core suspends it and the PCI core puts it into D3hot; [`PmActive`] resumes it to
//! D0 and keeps it there. Without CONFIG_PM every call is a no-op and functions stay in D0.
//!
//! C side: `rust/kernel_ext/pci/runtime_pm_helpers.c` (the `pm_runtime_*()` calls are static
//! inlines).

use super::pci_raw::PciFunction;
use kernel::{bindings, error::to_result, ffi::c_int, prelude::*};

/// Runtime PM opened to the PM core for the life of a binding (upstream's
/// `vfio_pci_core_register_device()`), taken back when dropped (its unregistration).
///
/// # Invariants
///
/// Runtime PM of `function` is allowed and the usage reference that the PCI core holds
/// across a probe is given up. The value lives in the driver's binding and is dropped in
/// remove, after every [`PmActive`] is gone: those are held by an open device, by a hot
/// reset in an ioctl of an open device, by enabled VFs or (`disable_idle_d3`) by the
/// binding, all of which remove ends first.
pub(crate) struct RuntimePm {
    function: PciFunction,
}

impl RuntimePm {
    /// Allows runtime PM of `function`, just probed: it suspends when nothing holds it.
    pub(crate) fn allow(function: &PciFunction) -> Self {
        // SAFETY: The function is bound and live (`PciFunction` invariant); its probe
        // holds the PCI core's usage reference that this gives up.
        unsafe { rvfio_pm_runtime_allow(function.raw()) };
        // INVARIANT: allowed and the reference given up just now.
        Self {
            function: function.clone(),
        }
    }
}

impl Drop for RuntimePm {
    fn drop(&mut self) {
        // SAFETY: Still bound (type invariant: dropped in remove); takes back the reference
        // `allow` gave up, so the PCI core's unbind finds the count it expects.
        unsafe { rvfio_pm_runtime_forbid(self.function.raw()) };
    }
}

/// The function kept active (out of runtime suspend) until this is dropped.
///
/// # Invariants
///
/// Holds one runtime PM usage reference of `function`.
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

    /// Holds `function` active without resuming it: it is active already (an ioctl holds
    /// it so, or this is its resume callback), or the caller resumes it next.
    pub(crate) fn get_noresume(function: &PciFunction) -> Self {
        // SAFETY: The function is bound and live (`PciFunction` invariant).
        unsafe { rvfio_pm_runtime_get_noresume(function.raw()) };
        // INVARIANT: the reference was taken just now.
        Self {
            function: function.clone(),
        }
    }
}

impl Drop for PmActive {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this value holds (type invariant).
        unsafe { rvfio_pm_runtime_put(self.function.raw()) };
    }
}

/// [`PmActive`] for the length of a borrow of the function: what one access or ioctl
/// holds, without taking a handle of its own.
///
/// # Invariants
///
/// Holds one runtime PM usage reference of `function`.
pub(crate) struct PmAwake<'a> {
    function: &'a PciFunction,
}

impl<'a> PmAwake<'a> {
    /// Resumes `function` if it is suspended and holds it active while the value lives.
    pub(crate) fn get(function: &'a PciFunction) -> Result<Self> {
        // SAFETY: The function is bound and live (`PciFunction` invariant).
        to_result(unsafe { rvfio_pm_runtime_get(function.raw()) })?;
        // INVARIANT: the resume succeeded, so the reference is held.
        Ok(Self { function })
    }
}

impl Drop for PmAwake<'_> {
    fn drop(&mut self) {
        // SAFETY: Drops the reference this value holds (type invariant); the borrow keeps
        // the function bound.
        unsafe { rvfio_pm_runtime_put(self.function.raw()) };
    }
}

// `struct pci_dev` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    fn rvfio_pm_runtime_allow(pdev: *mut bindings::pci_dev);
    fn rvfio_pm_runtime_forbid(pdev: *mut bindings::pci_dev);
    fn rvfio_pm_runtime_get(pdev: *mut bindings::pci_dev) -> c_int;
    fn rvfio_pm_runtime_get_noresume(pdev: *mut bindings::pci_dev);
    fn rvfio_pm_runtime_put(pdev: *mut bindings::pci_dev);
}
