// SPDX-License-Identifier: GPL-2.0

//! What vfio.ko exports: its side of the device ABI (`include/rvfio/device_abi.h`), which bus
//! drivers call, and the functions KVM's kvm-vfio device looks up with `symbol_get()`
//! (upstream's `vfio_file_*` of `<linux/vfio.h>`). The `extern "C"` symbols, defined by
//! [`export_core_abi!`], only forward to the functions here, which turn raw pointers into
//! safe types and call the core's [`CoreAbi`] and [`KvmFileAbi`] implementations. The
//! ksymtab entries are C's (`rust/vfio/exports.c`).

use kernel::{
    bindings,
    device::Device,
    ffi::c_void,
    fs::File,
    prelude::*,
    sync::aref::ARef, //
};

use super::{
    bus_callbacks::BusCallbacks,
    device_abi::{
        RawDevice,
        RawDeviceOps, //
    },
};
use crate::ext::kvm::{
    KvmHandle,
    RawKvm, //
};

/// The core's side of the device ABI.
pub(crate) trait CoreAbi: 'static {
    /// A registered device, handed to its bus driver as an opaque `struct rvfio_device *`.
    type Registration: Send + Sync;

    /// `rvfio_register_device()`: `dev` is registered for VFIO use with the bus driver's
    /// callbacks.
    fn register(dev: ARef<Device>, callbacks: BusCallbacks) -> Result<KBox<Self::Registration>>;

    /// `rvfio_unregister_device()`: returns once every fd of the device is closed.
    fn unregister(registration: KBox<Self::Registration>);

    /// `rvfio_device_unmap_mmaps()`: revokes the mmaps of `[start, start + len)` of every fd
    /// of the device.
    fn unmap_mmaps(registration: &Self::Registration, start: u64, len: u64);

    /// `rvfio_device_cdev_opened()`: whether the device is open through its cdev.
    fn cdev_opened(registration: &Self::Registration) -> bool;

    /// `rvfio_device_iommufd_id()`: the id of the device `other` in the iommufd
    /// `registration`'s device is bound to (-ENOENT: not bound there, but its group is owned
    /// by it; -ENODEV: neither).
    fn iommufd_id(registration: &Self::Registration, other: &Device) -> Result<u32>;

    /// `rvfio_file_is_group()`: whether `file` is a group file.
    fn file_is_group(file: &File) -> bool;

    /// `rvfio_file_has_dev()`: whether `file` is the group file of `dev`'s group.
    fn file_has_dev(file: &File, dev: &Device) -> bool;
}

/// What KVM's kvm-vfio device asks of a file userspace adds to a VM.
pub(crate) trait KvmFileAbi: 'static {
    /// `vfio_file_is_valid()`: whether `file` is a VFIO group or device file.
    fn is_valid(file: &File) -> bool;

    /// `vfio_file_enforced_coherent()`: whether the IOMMU enforces cache coherency for every
    /// device `file` gives DMA access to.
    fn enforced_coherent(file: &File) -> bool;

    /// `vfio_file_set_kvm()`: links `file` with a VM, or none.
    fn set_kvm(file: &File, kvm: Option<KvmHandle>);
}

/// Defines vfio.ko's exports on `$core` ([`CoreAbi`]) and `$kvm` ([`KvmFileAbi`]), in the
/// crate that invokes it (a `#[no_mangle]` item must be defined in the final crate).
macro_rules! export_core_abi {
    ($core:ty, $kvm:ty) => {
        /// `rvfio_register_device()` of `include/rvfio/device_abi.h`.
        ///
        /// # Safety
        ///
        /// As [`register_device`]($crate::ext::core_exports::register_device).
        #[no_mangle]
        unsafe extern "C" fn rvfio_register_device(
            dev: *mut kernel::bindings::device,
            ops: *const $crate::ext::device_abi::RawDeviceOps,
            cookie: *mut kernel::ffi::c_void,
        ) -> *mut $crate::ext::device_abi::RawDevice {
            // SAFETY: This function's contract.
            unsafe { $crate::ext::core_exports::register_device::<$core>(dev, ops, cookie) }
        }

        /// `rvfio_unregister_device()` of `include/rvfio/device_abi.h`.
        ///
        /// # Safety
        ///
        /// As [`unregister_device`]($crate::ext::core_exports::unregister_device).
        #[no_mangle]
        unsafe extern "C" fn rvfio_unregister_device(
            vdev: *mut $crate::ext::device_abi::RawDevice,
        ) {
            // SAFETY: This function's contract.
            unsafe { $crate::ext::core_exports::unregister_device::<$core>(vdev) }
        }

        /// `rvfio_device_unmap_mmaps()` of `include/rvfio/device_abi.h`.
        ///
        /// # Safety
        ///
        /// As [`unmap_mmaps`]($crate::ext::core_exports::unmap_mmaps).
        #[no_mangle]
        unsafe extern "C" fn rvfio_device_unmap_mmaps(
            vdev: *mut $crate::ext::device_abi::RawDevice,
            start: u64,
            len: u64,
        ) {
            // SAFETY: This function's contract.
            unsafe { $crate::ext::core_exports::unmap_mmaps::<$core>(vdev, start, len) }
        }

        /// `rvfio_device_cdev_opened()` of `include/rvfio/device_abi.h`.
        ///
        /// # Safety
        ///
        /// As [`cdev_opened`]($crate::ext::core_exports::cdev_opened).
        #[no_mangle]
        unsafe extern "C" fn rvfio_device_cdev_opened(
            vdev: *mut $crate::ext::device_abi::RawDevice,
        ) -> bool {
            // SAFETY: This function's contract.
            unsafe { $crate::ext::core_exports::cdev_opened::<$core>(vdev) }
        }

        /// `rvfio_device_iommufd_id()` of `include/rvfio/device_abi.h`.
        ///
        /// # Safety
        ///
        /// As [`iommufd_id`]($crate::ext::core_exports::iommufd_id).
        #[no_mangle]
        unsafe extern "C" fn rvfio_device_iommufd_id(
            vdev: *mut $crate::ext::device_abi::RawDevice,
            other: *mut kernel::bindings::device,
        ) -> kernel::ffi::c_int {
            // SAFETY: This function's contract.
            unsafe { $crate::ext::core_exports::iommufd_id::<$core>(vdev, other) }
        }

        /// `rvfio_file_is_group()` of `include/rvfio/device_abi.h`.
        ///
        /// # Safety
        ///
        /// As [`file_is_group`]($crate::ext::core_exports::file_is_group).
        #[no_mangle]
        unsafe extern "C" fn rvfio_file_is_group(file: *mut kernel::bindings::file) -> bool {
            // SAFETY: This function's contract.
            unsafe { $crate::ext::core_exports::file_is_group::<$core>(file) }
        }

        /// `rvfio_file_has_dev()` of `include/rvfio/device_abi.h`.
        ///
        /// # Safety
        ///
        /// As [`file_has_dev`]($crate::ext::core_exports::file_has_dev).
        #[no_mangle]
        unsafe extern "C" fn rvfio_file_has_dev(
            file: *mut kernel::bindings::file,
            dev: *mut kernel::bindings::device,
        ) -> bool {
            // SAFETY: This function's contract.
            unsafe { $crate::ext::core_exports::file_has_dev::<$core>(file, dev) }
        }

        /// `vfio_file_is_valid()` of `<linux/vfio.h>`.
        ///
        /// # Safety
        ///
        /// As [`kvm_file_is_valid`]($crate::ext::core_exports::kvm_file_is_valid).
        #[no_mangle]
        unsafe extern "C" fn vfio_file_is_valid(file: *mut kernel::bindings::file) -> bool {
            // SAFETY: This function's contract.
            unsafe { $crate::ext::core_exports::kvm_file_is_valid::<$kvm>(file) }
        }

        /// `vfio_file_enforced_coherent()` of `<linux/vfio.h>`.
        ///
        /// # Safety
        ///
        /// As [`kvm_file_enforced_coherent`]($crate::ext::core_exports::kvm_file_enforced_coherent).
        #[no_mangle]
        unsafe extern "C" fn vfio_file_enforced_coherent(
            file: *mut kernel::bindings::file,
        ) -> bool {
            // SAFETY: This function's contract.
            unsafe { $crate::ext::core_exports::kvm_file_enforced_coherent::<$kvm>(file) }
        }

        /// `vfio_file_set_kvm()` of `<linux/vfio.h>`.
        ///
        /// # Safety
        ///
        /// As [`kvm_file_set_kvm`]($crate::ext::core_exports::kvm_file_set_kvm).
        #[no_mangle]
        unsafe extern "C" fn vfio_file_set_kvm(
            file: *mut kernel::bindings::file,
            kvm: *mut $crate::ext::kvm::RawKvm,
        ) {
            // SAFETY: This function's contract.
            unsafe { $crate::ext::core_exports::kvm_file_set_kvm::<$kvm>(file, kvm) }
        }

        /// `vfio_file_iommu_group()` of `<linux/vfio.h>`: the IOMMU group of a group file,
        /// for KVM's SPAPR TCE code. As upstream, null on every kernel without
        /// `CONFIG_SPAPR_TCE_IOMMU` (ppc64 only), which is every kernel rvfio builds for.
        #[no_mangle]
        extern "C" fn vfio_file_iommu_group(
            _file: *mut kernel::bindings::file,
        ) -> *mut kernel::bindings::iommu_group {
            core::ptr::null_mut()
        }
    };
}

pub(crate) use export_core_abi;

/// Registers `dev` with the callbacks `ops` called with `cookie`; the registration, or an
/// `ERR_PTR`.
///
/// # Safety
///
/// `dev` is null or a live device; `ops` and `cookie` satisfy the ABI contract: valid until
/// the matching `rvfio_unregister_device()` returns.
pub(crate) unsafe fn register_device<T: CoreAbi>(
    dev: *mut bindings::device,
    ops: *const RawDeviceOps,
    cookie: *mut c_void,
) -> *mut RawDevice {
    let result = (|| {
        if dev.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: The caller keeps `ops` and `cookie` valid until unregistration, which
        // waits for every device fd to close, so no callback runs after that.
        let callbacks = unsafe { BusCallbacks::new(ops, cookie) }?;
        // SAFETY: `dev` is a live device (caller contract); device release may run on any
        // thread.
        let dev = unsafe { Device::get_device(dev) };
        T::register(dev, callbacks)
    })();
    match result {
        Ok(registration) => KBox::into_raw(registration).cast(),
        Err(e) => e.to_ptr(),
    }
}

/// Unregisters a device.
///
/// # Safety
///
/// `vdev` is a handle [`register_device::<T>`] returned and not unregistered yet.
pub(crate) unsafe fn unregister_device<T: CoreAbi>(vdev: *mut RawDevice) {
    // SAFETY: `vdev` came from `KBox::into_raw` in `register_device`, and this call takes it
    // back, once (caller contract).
    let registration = unsafe { KBox::from_raw(vdev.cast::<T::Registration>()) };
    T::unregister(registration);
}

/// Revokes the mmaps of a range of a device's fds.
///
/// # Safety
///
/// `vdev` is a handle [`register_device::<T>`] returned and not unregistered yet.
pub(crate) unsafe fn unmap_mmaps<T: CoreAbi>(vdev: *mut RawDevice, start: u64, len: u64) {
    // SAFETY: `vdev` is a live registration (caller contract), borrowed for the call.
    let registration = unsafe { &*vdev.cast::<T::Registration>() };
    T::unmap_mmaps(registration, start, len);
}

/// Whether a device is open through its cdev.
///
/// # Safety
///
/// `vdev` is a handle [`register_device::<T>`] returned and not unregistered yet.
pub(crate) unsafe fn cdev_opened<T: CoreAbi>(vdev: *mut RawDevice) -> bool {
    // SAFETY: `vdev` is a live registration (caller contract), borrowed for the call.
    let registration = unsafe { &*vdev.cast::<T::Registration>() };
    T::cdev_opened(registration)
}

/// The iommufd id of the device `other` in the context `vdev`'s device is bound to, or
/// -errno.
///
/// # Safety
///
/// `vdev` is a handle [`register_device::<T>`] returned and not unregistered yet; `other` a
/// live device the caller holds a reference to for the call.
pub(crate) unsafe fn iommufd_id<T: CoreAbi>(
    vdev: *mut RawDevice,
    other: *mut bindings::device,
) -> kernel::ffi::c_int {
    // SAFETY: A live registration (caller contract), borrowed for the call.
    let registration = unsafe { &*vdev.cast::<T::Registration>() };
    // SAFETY: A live device (caller contract), borrowed for the call.
    let other = unsafe { Device::from_raw(other) };
    match T::iommufd_id(registration, other) {
        // CAST: iommufd's object ids are below `i32::MAX` (an xarray limited to `INT_MAX`).
        Ok(id) => id as kernel::ffi::c_int,
        Err(e) => e.to_errno(),
    }
}

/// Borrows a file a caller passes.
///
/// # Safety
///
/// `file` is a live file, referenced by the caller for the duration of `'a`.
unsafe fn borrow_file<'a>(file: *mut bindings::file) -> &'a File {
    // SAFETY: Live and referenced for `'a` (caller contract); no `fdget_pos` region is
    // involved, only the file's operations and private data are looked at.
    unsafe { File::from_raw_file(file) }
}

/// Whether `file` is a group file.
///
/// # Safety
///
/// `file` is a live file, referenced by the caller for the call.
pub(crate) unsafe fn file_is_group<T: CoreAbi>(file: *mut bindings::file) -> bool {
    // SAFETY: The caller's contract.
    T::file_is_group(unsafe { borrow_file(file) })
}

/// Whether `file` is the group file of `dev`'s group.
///
/// # Safety
///
/// `file` is a live file and `dev` a live device, both referenced by the caller for the
/// call.
pub(crate) unsafe fn file_has_dev<T: CoreAbi>(
    file: *mut bindings::file,
    dev: *mut bindings::device,
) -> bool {
    // SAFETY: The caller's contract.
    let file = unsafe { borrow_file(file) };
    // SAFETY: A live device (caller contract), borrowed for the call.
    let dev = unsafe { Device::from_raw(dev) };
    T::file_has_dev(file, dev)
}

/// Whether KVM may add `file` to a VM.
///
/// # Safety
///
/// `file` is a live file, referenced by the caller (KVM holds it) for the call.
pub(crate) unsafe fn kvm_file_is_valid<T: KvmFileAbi>(file: *mut bindings::file) -> bool {
    // SAFETY: The caller's contract.
    T::is_valid(unsafe { borrow_file(file) })
}

/// Whether the DMA `file` gives access to is cache coherent whatever devices ask for.
///
/// # Safety
///
/// `file` is a live file, referenced by the caller (KVM holds it) for the call.
pub(crate) unsafe fn kvm_file_enforced_coherent<T: KvmFileAbi>(file: *mut bindings::file) -> bool {
    // SAFETY: The caller's contract.
    T::enforced_coherent(unsafe { borrow_file(file) })
}

/// Links `file` with `kvm` (null: unlinks it).
///
/// # Safety
///
/// `file` is a live file, referenced by the caller for the call; `kvm` is null or a VM that
/// stays allocated until KVM calls this again for `file` (KVM's kvm-vfio device does so
/// before the VM goes, when the file is deleted from it or it is destroyed).
pub(crate) unsafe fn kvm_file_set_kvm<T: KvmFileAbi>(file: *mut bindings::file, kvm: *mut RawKvm) {
    // SAFETY: The caller's contract; the handle is only kept in the file's slot.
    let kvm = unsafe { KvmHandle::from_raw(kvm) };
    // SAFETY: The caller's contract.
    T::set_kvm(unsafe { borrow_file(file) }, kvm);
}
