// SPDX-License-Identifier: GPL-2.0

//! Rust mirror of `include/rvfio/device_abi.h`, the ABI between vfio.ko and bus drivers.
//!
//! The layout is checked at compile time on both sides against the same numbers: here with
//! `const` assertions, in C by `static_assert`s in `rust/vfio/exports.c`.

use core::mem::offset_of;
use kernel::{
    bindings,
    ffi::{
        c_int,
        c_long,
        c_uint,
        c_ulong,
        c_void, //
    },
};

/// `RVFIO_DEVICE_ABI_VERSION`.
pub(crate) const ABI_VERSION: u32 = 3;

/// `struct rvfio_device_ops`: the callbacks of a bus driver.
#[repr(C)]
pub(crate) struct RawDeviceOps {
    /// Must be [`ABI_VERSION`].
    pub(crate) abi_version: u32,
    /// First open of a device fd.
    pub(crate) open_device: Option<unsafe extern "C" fn(cookie: *mut c_void) -> c_int>,
    /// Last close of a device fd.
    pub(crate) close_device: Option<unsafe extern "C" fn(cookie: *mut c_void)>,
    /// Device ioctls not handled by the core.
    pub(crate) ioctl:
        Option<unsafe extern "C" fn(cookie: *mut c_void, cmd: c_uint, arg: c_ulong) -> c_long>,
    /// `pread()` on the device fd.
    pub(crate) read: Option<
        unsafe extern "C" fn(cookie: *mut c_void, buf: *mut u8, count: usize, pos: i64) -> isize,
    >,
    /// `pwrite()` on the device fd.
    pub(crate) write: Option<
        unsafe extern "C" fn(cookie: *mut c_void, buf: *const u8, count: usize, pos: i64) -> isize,
    >,
    /// `mmap()` of a region.
    pub(crate) mmap: Option<
        unsafe extern "C" fn(cookie: *mut c_void, vma: *mut bindings::vm_area_struct) -> c_int,
    >,
    /// The core wants the device back.
    pub(crate) request: Option<unsafe extern "C" fn(cookie: *mut c_void, count: c_uint)>,
    /// The bus driver's module, held while a device fd is open.
    pub(crate) owner: *mut bindings::module,
    /// Checks the VF token of `GET_DEVICE_FD` (NULL: none given).
    pub(crate) match_token:
        Option<unsafe extern "C" fn(cookie: *mut c_void, uuid: *const u8) -> c_int>,
}

// SAFETY: A table of function pointers and a module pointer, shared read-only.
unsafe impl Sync for RawDeviceOps {}

// The numbers `rust/vfio/exports.c` asserts for the C definition.
const _: () = {
    assert!(offset_of!(RawDeviceOps, open_device) == 8);
    assert!(offset_of!(RawDeviceOps, close_device) == 16);
    assert!(offset_of!(RawDeviceOps, ioctl) == 24);
    assert!(offset_of!(RawDeviceOps, read) == 32);
    assert!(offset_of!(RawDeviceOps, write) == 40);
    assert!(offset_of!(RawDeviceOps, mmap) == 48);
    assert!(offset_of!(RawDeviceOps, request) == 56);
    assert!(offset_of!(RawDeviceOps, owner) == 64);
    assert!(offset_of!(RawDeviceOps, match_token) == 72);
    assert!(core::mem::size_of::<RawDeviceOps>() == 80);
};

/// `struct rvfio_device`: opaque to bus drivers; the core's handle for a registration.
#[repr(C)]
pub(crate) struct RawDevice {
    _opaque: [u8; 0],
}
