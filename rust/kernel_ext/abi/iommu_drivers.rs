// SPDX-License-Identifier: GPL-2.0

//! vfio.ko's side of the IOMMU backend ABI (`include/rvfio/iommu_abi.h`): the registered
//! drivers, with the exports that add and remove them, and the backends they open, as
//! [`IommuBackend`]s the container uses like any other.
//!
//! A driver's table is valid while it is registered; a call into it holds its module, and
//! so does every backend it opened, so no table is used after its module is gone.

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Device,
    error::to_result,
    ffi::{
        c_int,
        c_long,
        c_void, //
    },
    prelude::*,
    sync::{
        aref::ARef,
        lock::GlobalGuard,
        Arc, //
    },
};

use super::{
    iommu_abi::{
        IommuBackend,
        RawIommuDriverOps,
        ABI_VERSION, //
    },
    iommu_group::IommuGroup,
    module_lock::module_lock,
    raw::device_ptr,
};

/// A registered driver's callback table.
///
/// # Invariants
///
/// `0` points to a table of [`ABI_VERSION`] with every callback set, valid while it is in
/// [`IOMMU_DRIVERS`] and, after that, while its module is held ([`ModuleRef`]).
#[derive(Clone, Copy, PartialEq, Eq)]
struct DriverTable(NonNull<RawIommuDriverOps>);

// SAFETY: A pointer to a read-only table that every thread may use.
unsafe impl Send for DriverTable {}

impl DriverTable {
    /// The table.
    fn ops(&self) -> &RawIommuDriverOps {
        // SAFETY: Valid while registered or its module is held (type invariant); every
        // caller is in one of those two cases for the borrow.
        unsafe { self.0.as_ref() }
    }
}

module_lock! {
    /// The registered IOMMU backend drivers, the oldest first.
    static IOMMU_DRIVERS: KVec<DriverTable> = KVec::new();
    handle IommuDriversHandle;
}

impl Drop for IommuDriversHandle {
    fn drop(&mut self) {
        // Every driver module depends on vfio.ko, so none is registered at its exit; the
        // vector is replaced (the static itself is never dropped) to free its storage.
        *IOMMU_DRIVERS.lock() = KVec::new();
    }
}

/// A reference on a module, taken by `try_module_get()`.
///
/// # Invariants
///
/// `0` is null (built-in code) or a module this object holds one reference on.
struct ModuleRef(*mut bindings::module);

// SAFETY: A module reference may be dropped on any thread.
unsafe impl Send for ModuleRef {}
// SAFETY: No `&self` method.
unsafe impl Sync for ModuleRef {}

impl ModuleRef {
    /// A reference on `module`, unless it is on its way out.
    ///
    /// # Safety
    ///
    /// `module` is null or a module that stays allocated for the call (its table is
    /// registered, which the caller's lock keeps so).
    unsafe fn try_get(module: *mut bindings::module) -> Option<Self> {
        // SAFETY: A live module or null (caller contract).
        // INVARIANT: on success, the reference is ours.
        (module.is_null() || unsafe { bindings::try_module_get(module) }).then_some(Self(module))
    }
}

impl Drop for ModuleRef {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: We hold one reference (type invariant), dropped once, here.
            unsafe { bindings::module_put(self.0) };
        }
    }
}

/// The registered drivers, locked against registration and unregistration.
pub(crate) struct IommuDrivers {
    guard: GlobalGuard<IOMMU_DRIVERS>,
}

/// Locks the registered drivers, for `VFIO_CHECK_EXTENSION` and `VFIO_SET_IOMMU` to go
/// through them. Lock order: a container's lock, then this.
pub(crate) fn lock() -> IommuDrivers {
    IommuDrivers {
        guard: IOMMU_DRIVERS.lock(),
    }
}

impl IommuDrivers {
    /// The drivers whose module is not unloading, the newest first (as upstream's list),
    /// each held while the item lives.
    pub(crate) fn usable(&self) -> impl Iterator<Item = HeldDriver> + '_ {
        self.guard.iter().rev().filter_map(|&table| {
            // SAFETY: Registered, so its module is live while the lock is held.
            let module = unsafe { ModuleRef::try_get(table.ops().owner) }?;
            Some(HeldDriver { table, module })
        })
    }
}

/// A registered driver whose module is held.
pub(crate) struct HeldDriver {
    table: DriverTable,
    module: ModuleRef,
}

impl HeldDriver {
    /// `VFIO_CHECK_EXTENSION` of a container without a backend: whether the driver offers
    /// `extension`.
    pub(crate) fn offers(&self, extension: usize) -> bool {
        let ops = self.table.ops();
        // SAFETY: Every callback is set (type invariant of `DriverTable`).
        let offers = unsafe { ops.offers.unwrap_unchecked() };
        // SAFETY: Called as the ABI specifies, with the module held.
        unsafe { offers(extension) }
    }

    /// `VFIO_SET_IOMMU` of `iommu_type`: a new backend of the driver, which keeps the
    /// driver's module loaded until it is dropped.
    pub(crate) fn open(self, iommu_type: usize) -> Result<Arc<dyn IommuBackend>> {
        let ops = self.table.ops();
        // SAFETY: Every callback is set (type invariant of `DriverTable`).
        let open = unsafe { ops.open.unwrap_unchecked() };
        // SAFETY: Called as the ABI specifies, with the module held.
        let cookie = kernel::error::from_err_ptr(unsafe { open(iommu_type) })?;
        let backend = RawBackend {
            table: self.table,
            // A backend is never null; should a driver return null, nothing is released.
            cookie: NonNull::new(cookie).ok_or(ENOMEM)?,
            _module: self.module,
        };
        // On failure the backend is dropped, which releases it.
        Ok(Arc::new(backend, GFP_KERNEL)?)
    }
}

/// A backend a registered driver opened.
///
/// # Invariants
///
/// `cookie` is a backend `table`'s `open` returned and not released yet; `_module` holds
/// the table's module, so the table stays valid.
struct RawBackend {
    table: DriverTable,
    cookie: NonNull<c_void>,
    _module: ModuleRef,
}

// SAFETY: The ABI lets a backend be used from any thread and called concurrently, except
// for attaches, detaches and the release, which the container serialises.
unsafe impl Send for RawBackend {}
// SAFETY: See above.
unsafe impl Sync for RawBackend {}

impl IommuBackend for RawBackend {
    fn check_extension(&self, extension: usize) -> bool {
        // SAFETY: Every callback is set (type invariant of `DriverTable`).
        let check = unsafe { self.table.ops().check_extension.unwrap_unchecked() };
        // SAFETY: A live backend of this table (type invariant).
        unsafe { check(self.cookie.as_ptr(), extension) }
    }

    fn attach_group(&self, group: &ARef<IommuGroup>, dev: &Device) -> Result {
        // SAFETY: Every callback is set (type invariant of `DriverTable`).
        let attach = unsafe { self.table.ops().attach_group.unwrap_unchecked() };
        // SAFETY: A live backend (type invariant); the group and device are live for the
        // call, and the caller holds the group's DMA ownership.
        to_result(unsafe { attach(self.cookie.as_ptr(), group.as_raw(), device_ptr(dev)) })
    }

    fn detach_group(&self, group: &IommuGroup) {
        // SAFETY: Every callback is set (type invariant of `DriverTable`).
        let detach = unsafe { self.table.ops().detach_group.unwrap_unchecked() };
        // SAFETY: A live backend (type invariant) and a group it attached.
        unsafe { detach(self.cookie.as_ptr(), group.as_raw()) }
    }

    fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        // SAFETY: Every callback is set (type invariant of `DriverTable`).
        let ioctl = unsafe { self.table.ops().ioctl.unwrap_unchecked() };
        // SAFETY: A live backend (type invariant); `arg` is the user's, checked by the
        // backend.
        let ret: c_long = unsafe { ioctl(self.cookie.as_ptr(), cmd, arg) };
        if ret < 0 {
            // CAST: an errno, which fits an `int`.
            return Err(Error::from_errno(ret as c_int));
        }
        // CAST: `long` and `isize` are the same width.
        Ok(ret as isize)
    }
}

impl Drop for RawBackend {
    fn drop(&mut self) {
        // SAFETY: Every callback is set (type invariant of `DriverTable`).
        let release = unsafe { self.table.ops().release.unwrap_unchecked() };
        // SAFETY: A live backend (type invariant), released once, here; the module is put
        // only after this (field drop order).
        unsafe { release(self.cookie.as_ptr()) };
    }
}

/// `rvfio_register_iommu_driver()` of `include/rvfio/iommu_abi.h`.
///
/// # Safety
///
/// `ops` is null or a table valid until the matching [`rvfio_unregister_iommu_driver`].
#[no_mangle]
unsafe extern "C" fn rvfio_register_iommu_driver(ops: *const RawIommuDriverOps) -> c_int {
    let Some(table) = NonNull::new(ops.cast_mut()) else {
        return EINVAL.to_errno();
    };
    // SAFETY: Valid until unregistered (caller contract).
    let raw = unsafe { table.as_ref() };
    let complete = raw.offers.is_some()
        && raw.open.is_some()
        && raw.release.is_some()
        && raw.check_extension.is_some()
        && raw.attach_group.is_some()
        && raw.detach_group.is_some()
        && raw.ioctl.is_some();
    if raw.abi_version != ABI_VERSION || !complete {
        pr_err!("IOMMU driver of another ABI version or incomplete: refused\n");
        return EINVAL.to_errno();
    }
    // INVARIANT: a complete table of our version, valid until unregistered.
    let table = DriverTable(table);
    let mut drivers = IOMMU_DRIVERS.lock();
    if drivers.contains(&table) {
        return EINVAL.to_errno();
    }
    match drivers.push(table, GFP_KERNEL) {
        Ok(()) => 0,
        Err(_) => ENOMEM.to_errno(),
    }
}

/// `rvfio_unregister_iommu_driver()` of `include/rvfio/iommu_abi.h`.
///
/// # Safety
///
/// None beyond the ABI's: `ops` is only compared.
#[no_mangle]
unsafe extern "C" fn rvfio_unregister_iommu_driver(ops: *const RawIommuDriverOps) {
    IOMMU_DRIVERS
        .lock()
        .retain(|table| !core::ptr::eq(table.0.as_ptr(), ops));
}
