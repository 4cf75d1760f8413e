// SPDX-License-Identifier: GPL-2.0

//! A backend module's side of the IOMMU backend ABI (`include/rvfio/iommu_abi.h`):
//! registering an [`IommuDriver`] with vfio.ko and serving its callbacks.
//!
//! [`DriverTable`] turns the driver into the C callback table, with one `extern "C"`
//! trampoline per callback that turns the backend cookie back into the driver's
//! [`IommuDriver::Backend`]. This file is the whole FFI boundary of a backend module's logic.

use core::marker::PhantomData;
use kernel::{
    bindings,
    device::Device,
    error::from_result,
    ffi::{
        c_int,
        c_long,
        c_uint,
        c_ulong,
        c_void, //
    },
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        ArcBorrow, //
    },
};

use super::{
    iommu_abi::{
        IommuBackend,
        RawIommuDriverOps,
        ABI_VERSION, //
    },
    iommu_group::IommuGroup,
};

// `struct module` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    fn rvfio_register_iommu_driver(ops: *const RawIommuDriverOps) -> c_int;
    fn rvfio_unregister_iommu_driver(ops: *const RawIommuDriverOps);
}

/// An IOMMU backend driver: what `VFIO_SET_IOMMU` can set a container to.
pub(crate) trait IommuDriver: 'static {
    /// The backend of one container.
    type Backend: IommuBackend + 'static;

    /// `VFIO_CHECK_EXTENSION` of a container without a backend: whether this driver offers
    /// `extension` (an IOMMU type it opens, or a feature of its backends).
    fn offers(extension: usize) -> bool;

    /// `VFIO_SET_IOMMU` with an `iommu_type` that [`IommuDriver::offers`] claims: a new
    /// backend without groups, or -EINVAL when the extension is not a type it opens.
    fn open(iommu_type: usize) -> Result<Arc<Self::Backend>>;
}

/// The C callback table of driver `T`.
struct DriverTable<T: IommuDriver>(PhantomData<T>);

impl<T: IommuDriver> DriverTable<T> {
    /// The table `rvfio_register_iommu_driver()` gets.
    const OPS: RawIommuDriverOps = RawIommuDriverOps {
        abi_version: ABI_VERSION,
        owner: kernel::module::this_module::<crate::LocalModule>().as_ptr(),
        offers: Some(Self::offers),
        open: Some(Self::open),
        release: Some(Self::release),
        check_extension: Some(Self::check_extension),
        attach_group: Some(Self::attach_group),
        detach_group: Some(Self::detach_group),
        ioctl: Some(Self::ioctl),
    };

    /// The backend behind a cookie, borrowed for a callback.
    ///
    /// # Safety
    ///
    /// `cookie` is a pointer [`Self::open`] returned and [`Self::release`] has not been
    /// called on yet (the core keeps it so for every callback but `release`).
    unsafe fn backend<'a>(cookie: *mut c_void) -> ArcBorrow<'a, T::Backend> {
        // SAFETY: `cookie` is `Arc::into_raw` of a backend whose reference `release` alone
        // gives back (caller contract), so the `Arc` outlives the borrow.
        unsafe { ArcBorrow::from_raw(cookie.cast::<T::Backend>()) }
    }

    /// # Safety
    ///
    /// None: the callback reads nothing but its argument.
    unsafe extern "C" fn offers(extension: c_ulong) -> bool {
        T::offers(extension)
    }

    /// # Safety
    ///
    /// None: the callback reads nothing but its argument.
    unsafe extern "C" fn open(iommu_type: c_ulong) -> *mut c_void {
        match T::open(iommu_type) {
            // The reference moves into the cookie; `release` takes it back.
            Ok(backend) => Arc::into_raw(backend).cast_mut().cast(),
            Err(e) => e.to_ptr(),
        }
    }

    /// # Safety
    ///
    /// `cookie` is a pointer [`Self::open`] returned, released once, after every other
    /// callback on it has returned.
    unsafe extern "C" fn release(cookie: *mut c_void) {
        // SAFETY: `cookie` is `Arc::into_raw` of a backend, whose reference comes back once
        // (caller contract).
        drop(unsafe { Arc::from_raw(cookie.cast::<T::Backend>()) });
    }

    /// # Safety
    ///
    /// As for [`Self::backend`].
    unsafe extern "C" fn check_extension(cookie: *mut c_void, extension: c_ulong) -> bool {
        // SAFETY: Caller contract.
        unsafe { Self::backend(cookie) }.check_extension(extension)
    }

    /// # Safety
    ///
    /// As for [`Self::backend`]; `group` and `dev` are live for the call, `dev` a device of
    /// `group`, whose DMA ownership the core holds.
    unsafe extern "C" fn attach_group(
        cookie: *mut c_void,
        group: *mut bindings::iommu_group,
        dev: *mut bindings::device,
    ) -> c_int {
        // SAFETY: Caller contract.
        let backend = unsafe { Self::backend(cookie) };
        // SAFETY: Live for the call (caller contract).
        let group = ARef::from(unsafe { IommuGroup::from_raw(group) });
        // SAFETY: Live for the call (caller contract).
        let dev = unsafe { Device::from_raw(dev) };
        from_result(|| backend.attach_group(&group, dev).map(|()| 0))
    }

    /// # Safety
    ///
    /// As for [`Self::backend`]; `group` is live for the call.
    unsafe extern "C" fn detach_group(cookie: *mut c_void, group: *mut bindings::iommu_group) {
        // SAFETY: Caller contract.
        let backend = unsafe { Self::backend(cookie) };
        // SAFETY: Live for the call (caller contract).
        backend.detach_group(unsafe { IommuGroup::from_raw(group) });
    }

    /// # Safety
    ///
    /// As for [`Self::backend`]; `arg` is the user's, checked by the backend.
    unsafe extern "C" fn ioctl(cookie: *mut c_void, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: Caller contract.
        let backend = unsafe { Self::backend(cookie) };
        match backend.ioctl(cmd, arg) {
            // CAST: ioctl results fit a `long`.
            Ok(ret) => ret as c_long,
            // CAST: errnos fit a `long`.
            Err(e) => e.to_errno() as c_long,
        }
    }
}

/// Driver `T`, registered with vfio.ko until dropped.
///
/// # Invariants
///
/// `ops` is registered, and unregistered exactly once, by [`Drop`].
pub(crate) struct IommuDriverRegistration<T: IommuDriver> {
    ops: &'static RawIommuDriverOps,
    _driver: PhantomData<T>,
}

// SAFETY: The registration may be dropped on any thread.
unsafe impl<T: IommuDriver> Send for IommuDriverRegistration<T> {}
// SAFETY: No `&self` method.
unsafe impl<T: IommuDriver> Sync for IommuDriverRegistration<T> {}

impl<T: IommuDriver> IommuDriverRegistration<T> {
    /// Registers `T`: from now on `VFIO_SET_IOMMU` may open its backends.
    pub(crate) fn new() -> Result<Self> {
        // The very pointer registered, kept for the unregistration that compares it.
        let ops: &'static RawIommuDriverOps = &DriverTable::<T>::OPS;
        // SAFETY: A static table of our ABI version, valid for as long as the module.
        kernel::error::to_result(unsafe { rvfio_register_iommu_driver(ops) })?;
        // INVARIANT: registered.
        Ok(Self {
            ops,
            _driver: PhantomData,
        })
    }
}

impl<T: IommuDriver> Drop for IommuDriverRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: Registered by `new` and unregistered only here (type invariant).
        unsafe { rvfio_unregister_iommu_driver(self.ops) };
    }
}
