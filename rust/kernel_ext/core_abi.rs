// SPDX-License-Identifier: GPL-2.0

//! The bus-driver side of the device ABI (`include/rvfio/device_abi.h`): registering a
//! device with vfio.ko.

use core::ptr::NonNull;
use kernel::{
    device::Device,
    error::from_err_ptr,
    ffi::c_void,
    prelude::*,
    sync::Arc, //
};

use super::{
    device_abi::{
        RawDevice,
        RawDeviceOps,
        ABI_VERSION, //
    },
    raw::device_ptr,
};

// `struct device` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    fn rvfio_register_device(
        dev: *mut kernel::bindings::device,
        ops: *const RawDeviceOps,
        cookie: *mut c_void,
    ) -> *mut RawDevice;
    fn rvfio_unregister_device(vdev: *mut RawDevice);
}

/// The callbacks of a device that does not serve device fds yet.
static NO_CALLBACKS: RawDeviceOps = RawDeviceOps {
    abi_version: ABI_VERSION,
    open_device: None,
    close_device: None,
    ioctl: None,
    read: None,
    write: None,
    mmap: None,
    request: None,
    owner: kernel::module::this_module::<crate::LocalModule>().as_ptr(),
};

/// A device registered with vfio.ko; dropping it unregisters the device.
///
/// # Invariants
///
/// `handle` is the live handle `rvfio_register_device()` returned for `cookie`, and it is
/// unregistered exactly once, in [`Drop`], before `_cookie` is released.
pub(crate) struct CoreRegistration<T: Send + Sync> {
    handle: NonNull<RawDevice>,
    /// Kept alive for the core to call back with until unregistration.
    _cookie: Arc<T>,
}

// SAFETY: The handle may be unregistered from any thread; `T` is `Send + Sync`.
unsafe impl<T: Send + Sync> Send for CoreRegistration<T> {}
// SAFETY: No `&self` method touches the handle.
unsafe impl<T: Send + Sync> Sync for CoreRegistration<T> {}

impl<T: Send + Sync> CoreRegistration<T> {
    /// Registers `dev` with the core, with `cookie` as the per-device state.
    pub(crate) fn new(dev: &Device, cookie: Arc<T>) -> Result<Self> {
        let raw_cookie = Arc::as_ptr(&cookie).cast_mut().cast::<c_void>();
        // SAFETY: `dev` is live; `NO_CALLBACKS` is static; `raw_cookie` stays valid until
        // `Drop` has unregistered, because `Self` keeps the `Arc` until then.
        let handle = from_err_ptr(unsafe {
            rvfio_register_device(device_ptr(dev), &NO_CALLBACKS, raw_cookie)
        })?;
        // INVARIANT: `handle` is a fresh, live registration for `cookie`.
        Ok(Self {
            handle: NonNull::new(handle).ok_or(EINVAL)?,
            _cookie: cookie,
        })
    }
}

impl<T: Send + Sync> Drop for CoreRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: `handle` is live and unregistered only here (type invariant).
        unsafe { rvfio_unregister_device(self.handle.as_ptr()) };
    }
}
