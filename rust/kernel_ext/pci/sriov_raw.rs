// SPDX-License-Identifier: GPL-2.0

//! SR-IOV of a bound function: its PF/VF role, enabling VFs, and giving new VFs the
//! `vfio-pci` driver override.

use kernel::{
    bindings,
    prelude::*, //
};

use super::pci_raw::{
    rvfio_pci_physfn,
    PciFunction, //
};

impl PciFunction {
    /// Whether this is an SR-IOV virtual function.
    pub(crate) fn is_virtfn(&self) -> bool {
        // SAFETY: A live device; the bit is set at enumeration.
        unsafe { rvfio_pci_is_virtfn(self.raw()) }
    }

    /// Whether this is an SR-IOV physical function (has the SR-IOV capability).
    pub(crate) fn is_physfn(&self) -> bool {
        // SAFETY: As in `is_virtfn`.
        unsafe { rvfio_pci_is_physfn(self.raw()) }
    }

    /// Whether `self` is the physical function of VF `vf`.
    pub(crate) fn is_physfn_of(&self, vf: &PciFunction) -> bool {
        // SAFETY: A live device; its PF outlives it.
        core::ptr::eq(unsafe { rvfio_pci_physfn(vf.raw()) }, self.raw())
    }

    /// Number of VFs enabled.
    pub(crate) fn num_vf(&self) -> u32 {
        // SAFETY: As in `enable`.
        let n = unsafe { bindings::pci_num_vf(self.raw()) };
        // CAST: a count, never negative.
        n.max(0) as u32
    }

    /// Enables `count` VFs (with the device lock held, as in `sriov_configure`).
    pub(crate) fn enable_sriov(&self, count: u32) -> Result {
        // CAST: counts are bounded by TotalVFs, a 16-bit field.
        // SAFETY: As in `enable`.
        kernel::error::to_result(unsafe { bindings::pci_enable_sriov(self.raw(), count as c_int) })
    }

    /// Disables SR-IOV (removing the VFs).
    pub(crate) fn disable_sriov(&self) {
        // SAFETY: As in `enable`.
        unsafe { bindings::pci_disable_sriov(self.raw()) }
    }

    /// Starts giving new VFs of this PF the `vfio-pci` driver override.
    pub(crate) fn capture_vfs(&self) -> Result<VfCapture> {
        // SAFETY: A live PF; the capture is stopped (`Drop`) before the PF is unbound.
        let raw = kernel::error::from_err_ptr(unsafe { rvfio_vf_capture_start(self.raw()) })?;
        // INVARIANT: registered just now.
        Ok(VfCapture {
            raw: core::ptr::NonNull::new(raw).ok_or(ENOMEM)?,
        })
    }
}

/// A bus notifier giving the VFs of a PF the `vfio-pci` driver override as they appear.
///
/// # Invariants
///
/// `raw` is a registered capture from `rvfio_vf_capture_start()`, stopped once in [`Drop`].
pub(crate) struct VfCapture {
    raw: core::ptr::NonNull<RawVfCapture>,
}

/// `struct rvfio_vf_capture` of `rust/vfio_pci/helpers.c`.
#[repr(C)]
struct RawVfCapture {
    _opaque: [u8; 0],
}

// SAFETY: Unregistering a bus notifier may happen on any thread.
unsafe impl Send for VfCapture {}
// SAFETY: No `&self` methods.
unsafe impl Sync for VfCapture {}

impl Drop for VfCapture {
    fn drop(&mut self) {
        // SAFETY: Registered (type invariant), stopped once here.
        unsafe { rvfio_vf_capture_stop(self.raw.as_ptr()) };
    }
}

// `struct pci_dev` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    fn rvfio_pci_is_virtfn(pdev: *mut bindings::pci_dev) -> bool;
    fn rvfio_pci_is_physfn(pdev: *mut bindings::pci_dev) -> bool;
    fn rvfio_vf_capture_start(pf: *mut bindings::pci_dev) -> *mut RawVfCapture;
    fn rvfio_vf_capture_stop(capture: *mut RawVfCapture);
}
