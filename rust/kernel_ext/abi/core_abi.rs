// SPDX-License-Identifier: GPL-2.0

//! The bus-driver side of the device ABI (`include/rvfio/device_abi.h`): registering a
//! device with vfio.ko and serving its callbacks.
//!
//! A bus driver implements [`DeviceOps`] for its per-device state; [`OpsTable`] turns that
//! into the C callback table, with one `extern "C"` trampoline per callback that turns the
//! cookie back into a `&T`. This file is the whole FFI boundary of vfio-pci's device logic.

use core::{
    marker::PhantomData,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    device::Device,
    error::{
        from_err_ptr,
        from_result, //
    },
    ffi::{
        c_int,
        c_long,
        c_uint,
        c_ulong,
        c_void, //
    },
    fs::LocalFile,
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        ArcBorrow,
        Mutex, //
    },
    uaccess::UserPtr,
};

use crate::uuid::Uuid;

use super::{
    device_abi::{
        RawDevice,
        RawDeviceOps,
        ABI_VERSION, //
    },
    pfn_mmap::{
        MmapGeometry,
        MmapRequest,
        PfnFault, //
    },
    raw::device_ptr,
};

// `struct device` has a zero-sized member that trips the lint; only pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    fn rvfio_register_device(
        dev: *mut bindings::device,
        ops: *const RawDeviceOps,
        cookie: *mut c_void,
    ) -> *mut RawDevice;
    fn rvfio_unregister_device(vdev: *mut RawDevice);
    fn rvfio_device_unmap_mmaps(vdev: *mut RawDevice, start: u64, len: u64);
    fn rvfio_device_cdev_opened(vdev: *mut RawDevice) -> bool;
    fn rvfio_device_iommufd_id(vdev: *mut RawDevice, other: *mut bindings::device) -> c_int;
    fn rvfio_file_is_group(file: *mut bindings::file) -> bool;
    fn rvfio_file_has_dev(file: *mut bindings::file, dev: *mut bindings::device) -> bool;
}

/// What a bus driver does for each device fd operation. Every method runs in process
/// context, possibly concurrently with the others (except that `open_device` and
/// `close_device` bracket everything else).
pub(crate) trait DeviceOps: PfnFault + Send + Sync + 'static {
    /// The device's link back to the core.
    fn core_link(&self) -> &CoreLink;
    /// First open of a device fd.
    fn open_device(&self) -> Result;
    /// Last close of a device fd.
    fn close_device(&self);
    /// A device ioctl the core does not handle; `this` may be kept beyond the call.
    fn ioctl(this: ArcBorrow<'_, Self>, cmd: u32, arg: usize) -> Result<isize>;
    /// `pread()` of `len` bytes at file offset `pos` into `buf`.
    fn read(&self, buf: UserPtr, len: usize, pos: u64) -> Result<usize>;
    /// `pwrite()` of `len` bytes at file offset `pos` from `buf`.
    fn write(&self, buf: UserPtr, len: usize, pos: u64) -> Result<usize>;
    /// Vets an `mmap()`; on success the VMA becomes a PFN mapping whose faults
    /// [`PfnFault::fault`] serves.
    fn mmap(&self, request: &MmapGeometry) -> Result;
    /// The core wants the device back; `count` counts the requests so far.
    fn request(&self, count: u32);
    /// Checks the VF token given to `GET_DEVICE_FD` (`None`: none given).
    fn match_token(&self, uuid: Option<&Uuid>) -> Result;
}

/// A registration handle the core gave out.
#[derive(Clone, Copy)]
struct Handle(NonNull<RawDevice>);

// SAFETY: The core's entry points taking a handle are thread safe.
unsafe impl Send for Handle {}

/// A device's link to its registration with the core, for calls from the bus driver into
/// vfio.ko (revoking mmaps).
///
/// # Invariants
///
/// `handle`, when set, is a live registration: [`CoreRegistration`] sets it after
/// registering and clears it after unregistering.
#[pin_data]
pub(crate) struct CoreLink {
    #[pin]
    handle: Mutex<Option<Handle>>,
}

impl CoreLink {
    /// A link not registered yet.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            handle <- new_mutex!(None),
        })
    }

    /// Whether the device is open through its cdev, bound to an iommufd (`false` while not
    /// registered).
    pub(crate) fn cdev_opened(&self) -> bool {
        let handle = self.handle.lock();
        // SAFETY: Live while set (type invariant), and the lock keeps it set.
        handle.is_some_and(|h| unsafe { rvfio_device_cdev_opened(h.0.as_ptr()) })
    }

    /// The id of the device `other` (possibly this one) in the iommufd this device is bound
    /// to: -ENOENT if it is not bound there but its IOMMU group is owned by it, -ENODEV
    /// otherwise (or if this device is not registered).
    pub(crate) fn iommufd_id_of(&self, other: &Device) -> Result<u32> {
        let guard = self.handle.lock();
        let handle = (*guard).ok_or(ENODEV)?;
        // SAFETY: Live while set (type invariant), and `guard` keeps it set; `other` is
        // borrowed for the call.
        let id = unsafe { rvfio_device_iommufd_id(handle.0.as_ptr(), device_ptr(other)) };
        u32::try_from(id).map_err(|_| Error::from_errno(id))
    }

    /// Zaps every user mapping of device fd offsets `[start, start + len)` (`len` 0: to the
    /// end); later accesses fault back into [`PfnFault::fault`].
    pub(crate) fn unmap_mmaps(&self, start: u64, len: u64) {
        let handle = self.handle.lock();
        if let Some(handle) = *handle {
            // SAFETY: Live while set (type invariant), and the lock keeps it set.
            unsafe { rvfio_device_unmap_mmaps(handle.0.as_ptr(), start, len) };
        }
    }
}

/// The C callback table for devices of type `T`.
pub(crate) struct OpsTable<T: DeviceOps>(PhantomData<T>);

impl<T: DeviceOps> OpsTable<T> {
    /// The table `rvfio_register_device()` gets.
    const OPS: RawDeviceOps = RawDeviceOps {
        abi_version: ABI_VERSION,
        open_device: Some(Self::open_device),
        close_device: Some(Self::close_device),
        ioctl: Some(Self::ioctl),
        read: Some(Self::read),
        write: Some(Self::write),
        mmap: Some(Self::mmap),
        request: Some(Self::request),
        owner: kernel::module::this_module::<crate::LocalModule>().as_ptr(),
        match_token: Some(Self::match_token),
    };

    /// The device behind a cookie.
    ///
    /// # Safety
    ///
    /// `cookie` must be the cookie a [`CoreRegistration<T>`] registered, called back by the
    /// core while registered (the ABI guarantees no callback after unregistration).
    unsafe fn device<'a>(cookie: *mut c_void) -> &'a T {
        // SAFETY: The cookie is `Arc::as_ptr` of the registration's `Arc<T>`, live while
        // registered (caller contract).
        unsafe { &*cookie.cast::<T>() }
    }

    /// # Safety
    ///
    /// Called by the core with our cookie (see [`Self::device`]).
    unsafe extern "C" fn open_device(cookie: *mut c_void) -> c_int {
        // SAFETY: Caller contract.
        let device = unsafe { Self::device(cookie) };
        from_result(|| device.open_device().map(|()| 0))
    }

    /// # Safety
    ///
    /// As for `open_device`.
    unsafe extern "C" fn close_device(cookie: *mut c_void) {
        // SAFETY: Caller contract.
        unsafe { Self::device(cookie) }.close_device();
    }

    /// # Safety
    ///
    /// As for `open_device`.
    unsafe extern "C" fn ioctl(cookie: *mut c_void, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: The cookie is `Arc::as_ptr` of the registration's `Arc<T>`, the pointer
        // `Arc::into_raw` gives too, and that `Arc` outlives the call (caller contract).
        let device = unsafe { ArcBorrow::from_raw(cookie.cast::<T>()) };
        match T::ioctl(device, cmd, arg) {
            // CAST: ioctl results fit a `long`.
            Ok(ret) => ret as c_long,
            // CAST: errnos fit a `long`.
            Err(e) => e.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// As for `open_device`; `buf` is a user pointer.
    unsafe extern "C" fn read(cookie: *mut c_void, buf: *mut u8, len: usize, pos: i64) -> isize {
        // SAFETY: Caller contract.
        let device = unsafe { Self::device(cookie) };
        let Ok(pos) = u64::try_from(pos) else {
            return EINVAL.to_errno() as isize;
        };
        byte_count(device.read(UserPtr::from_ptr(buf.cast()), len, pos))
    }

    /// # Safety
    ///
    /// As for `open_device`; `buf` is a user pointer.
    unsafe extern "C" fn write(cookie: *mut c_void, buf: *const u8, len: usize, pos: i64) -> isize {
        // SAFETY: Caller contract.
        let device = unsafe { Self::device(cookie) };
        let Ok(pos) = u64::try_from(pos) else {
            return EINVAL.to_errno() as isize;
        };
        byte_count(device.write(UserPtr::from_ptr(buf.cast_mut().cast()), len, pos))
    }

    /// # Safety
    ///
    /// As for `open_device`; `vma` is the VMA of an `mmap()` of one of the device's fds.
    unsafe extern "C" fn mmap(cookie: *mut c_void, vma: *mut bindings::vm_area_struct) -> c_int {
        // SAFETY: Caller contract.
        let device = unsafe { Self::device(cookie) };
        // SAFETY: The VMA of the `mmap()` call this callback serves, live for the call.
        let request = unsafe { MmapRequest::from_raw(vma) };
        if let Err(e) = device.mmap(&request.geometry()) {
            return e.to_errno();
        }
        // SAFETY: A VMA keeps its device fd, and so the device's registration and the
        // cookie, alive until it is unmapped (ABI contract in `device_abi.h`); copies and
        // splits of the VMA hold the file too.
        unsafe { request.setup_pfnmap(device) };
        0
    }

    /// # Safety
    ///
    /// As for `open_device`; `uuid` is NULL or points to 16 readable bytes.
    unsafe extern "C" fn match_token(cookie: *mut c_void, uuid: *const u8) -> c_int {
        // SAFETY: Caller contract.
        let device = unsafe { Self::device(cookie) };
        // CAST: `Uuid` is `repr(transparent)` over its 16 bytes.
        // SAFETY: Caller contract: NULL or 16 bytes, borrowed for the call.
        let uuid = unsafe { uuid.cast::<Uuid>().as_ref() };
        from_result(|| device.match_token(uuid).map(|()| 0))
    }

    /// # Safety
    ///
    /// As for `open_device`.
    unsafe extern "C" fn request(cookie: *mut c_void, count: c_uint) {
        // SAFETY: Caller contract.
        unsafe { Self::device(cookie) }.request(count);
    }
}

/// A read/write result as `ssize_t`.
fn byte_count(done: Result<usize>) -> isize {
    match done {
        // CAST: at most the requested length, which the VFS caps at `MAX_RW_COUNT`.
        Ok(n) => n as isize,
        // CAST: errnos fit `isize`.
        Err(e) => e.to_errno() as isize,
    }
}

/// A device registered with vfio.ko; dropping it unregisters the device (waiting until
/// every device fd is closed).
///
/// # Invariants
///
/// `handle` is the live registration of `device` (as cookie, with `OpsTable::<T>::OPS`);
/// it is unregistered exactly once, in [`Drop`], before `device` is released.
pub(crate) struct CoreRegistration<T: DeviceOps> {
    handle: NonNull<RawDevice>,
    device: Arc<T>,
}

// SAFETY: The handle may be unregistered from any thread; `T` is `Send + Sync`.
unsafe impl<T: DeviceOps> Send for CoreRegistration<T> {}
// SAFETY: No `&self` method touches the handle.
unsafe impl<T: DeviceOps> Sync for CoreRegistration<T> {}

impl<T: DeviceOps> CoreRegistration<T> {
    /// Registers `dev` with the core, served by `device`.
    pub(crate) fn new(dev: &Device, device: Arc<T>) -> Result<Self> {
        let cookie = Arc::as_ptr(&device).cast_mut().cast::<c_void>();
        // SAFETY: `dev` is live; the table is static; `cookie` stays valid until `Drop` has
        // unregistered, because `Self` keeps the `Arc` until then.
        let handle = from_err_ptr(unsafe {
            rvfio_register_device(device_ptr(dev), &OpsTable::<T>::OPS, cookie)
        })?;
        let handle = NonNull::new(handle).ok_or(EINVAL)?;
        // INVARIANT (of `CoreLink`): set while registered.
        *device.core_link().handle.lock() = Some(Handle(handle));
        // INVARIANT: `handle` is a fresh, live registration for `device`.
        Ok(Self { handle, device })
    }
}

impl<T: DeviceOps> Drop for CoreRegistration<T> {
    fn drop(&mut self) {
        // SAFETY: `handle` is live and unregistered only here (type invariant).
        unsafe { rvfio_unregister_device(self.handle.as_ptr()) };
        // INVARIANT (of `CoreLink`): cleared once unregistered.
        *self.device.core_link().handle.lock() = None;
    }
}

/// An open VFIO group file userspace handed in as proof that it owns the group (the group
/// fds of `VFIO_DEVICE_PCI_HOT_RESET`), referenced while this value lives.
///
/// # Invariants
///
/// `file` is a VFIO group file (`rvfio_file_is_group()` said so).
pub(crate) struct GroupFile {
    file: ARef<LocalFile>,
}

impl GroupFile {
    /// The group file at `fd` of the calling process: -EBADF if there is no such file,
    /// -EINVAL if it is not a VFIO group file (upstream's errnos).
    pub(crate) fn get(fd: i32) -> Result<Self> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        let file = LocalFile::fget(fd)?;
        // SAFETY: `file` is referenced for the call.
        if !unsafe { rvfio_file_is_group(file.as_ptr()) } {
            return Err(EINVAL);
        }
        // INVARIANT: checked just now.
        Ok(Self { file })
    }

    /// Whether `dev` is registered in this group.
    pub(crate) fn has_dev(&self, dev: &Device) -> bool {
        // SAFETY: Both are referenced for the call (`self.file` by `self`, `dev` by the
        // borrow).
        unsafe { rvfio_file_has_dev(self.file.as_ptr(), device_ptr(dev)) }
    }
}
