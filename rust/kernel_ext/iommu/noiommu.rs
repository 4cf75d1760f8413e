// SPDX-License-Identifier: GPL-2.0

//! No-IOMMU mode (`vfio.enable_unsafe_noiommu_mode`, upstream's `CONFIG_VFIO_NOIOMMU`): for a
//! device no IOMMU translates for, VFIO makes an IOMMU group of its own, named
//! `vfio-noiommu`, so that userspace can drive the device through the usual group, container
//! and device files. Nothing isolates such a device's DMA; the kernel is tainted.

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
    error::{
        from_err_ptr,
        to_result, //
    },
    prelude::*,
    sync::aref::ARef,
};

use super::{
    iommu_group::IommuGroup,
    raw::device_ptr, //
};

extern "C" {
    fn rvfio_param_enable_unsafe_noiommu_mode() -> bool;
}

/// Whether no-IOMMU mode is on: the parameter, which exists only on kernels built with
/// `CONFIG_VFIO_NOIOMMU` (`false` elsewhere). It may change at any time.
pub(crate) fn enabled() -> bool {
    // SAFETY: Reads a static `bool` once.
    unsafe { rvfio_param_enable_unsafe_noiommu_mode() }
}

/// Taints the kernel (`TAINT_USER`), as upstream does when it gives a device to userspace
/// without IOMMU protection.
pub(crate) fn taint() {
    // SAFETY: `add_taint` may be called from any context.
    unsafe { bindings::add_taint(bindings::TAINT_USER, bindings::lockdep_ok_LOCKDEP_STILL_OK) };
}

/// A device's membership of an IOMMU group made for it alone, without an IOMMU: what
/// upstream's `vfio_noiommu_group_alloc()` makes. Dropping it takes the device out of the
/// group, which goes with the last reference.
///
/// # Invariants
///
/// `dev` was added to `group` by `iommu_group_add_device()` and is not removed yet.
pub(crate) struct NoIommuGroup {
    dev: ARef<Device>,
    group: ARef<IommuGroup>,
}

impl NoIommuGroup {
    /// Puts `dev`, which must have no IOMMU group, in a new `vfio-noiommu` group.
    pub(crate) fn new(dev: &ARef<Device>) -> Result<Self> {
        // SAFETY: No precondition; on success we own the reference returned.
        let raw = from_err_ptr(unsafe { bindings::iommu_group_alloc() })?;
        let raw = NonNull::new(raw).ok_or(ENOMEM)?.cast::<IommuGroup>();
        // SAFETY: `raw` is a live group and the reference just taken is ours.
        let group: ARef<IommuGroup> = unsafe { ARef::from_raw(raw) };
        // SAFETY: `group` is live; the name is copied.
        to_result(unsafe {
            bindings::iommu_group_set_name(group.as_raw(), c"vfio-noiommu".as_char_ptr())
        })?;
        // SAFETY: Both are live; the group takes its own references on the device.
        to_result(unsafe { bindings::iommu_group_add_device(group.as_raw(), device_ptr(dev)) })?;
        // INVARIANT: the device was just added.
        Ok(Self {
            dev: dev.clone(),
            group,
        })
    }

    /// The group.
    pub(crate) fn group(&self) -> &ARef<IommuGroup> {
        &self.group
    }
}

impl Drop for NoIommuGroup {
    fn drop(&mut self) {
        // SAFETY: The device is in the group (type invariant) and removed once, here.
        unsafe { bindings::iommu_group_remove_device(device_ptr(&self.dev)) };
    }
}
