// SPDX-License-Identifier: GPL-2.0

//! Shared helpers for rvfio's Rust userspace tests: a minimal TAP reporter and the VFIO
//! ioctl numbers, written from the uAPI (`include/uapi/linux/vfio.h`) with no rvfio code.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// `VFIO_API_VERSION`.
pub const VFIO_API_VERSION: i32 = 0;

/// `_IO(VFIO_TYPE, VFIO_BASE + nr)`: `VFIO_TYPE` is ';', `VFIO_BASE` is 100.
pub const fn vfio_io(nr: u64) -> u64 {
    ((b';' as u64) << 8) | (100 + nr)
}

/// `VFIO_GET_API_VERSION`.
pub const VFIO_GET_API_VERSION: u64 = vfio_io(0);
/// `VFIO_CHECK_EXTENSION`.
pub const VFIO_CHECK_EXTENSION: u64 = vfio_io(1);
/// `VFIO_GROUP_GET_STATUS`.
pub const VFIO_GROUP_GET_STATUS: u64 = vfio_io(3);
/// `VFIO_GROUP_SET_CONTAINER`.
pub const VFIO_GROUP_SET_CONTAINER: u64 = vfio_io(4);
/// `VFIO_GROUP_FLAGS_VIABLE`.
pub const VFIO_GROUP_FLAGS_VIABLE: u32 = 1 << 0;
/// `VFIO_GROUP_FLAGS_CONTAINER_SET`.
pub const VFIO_GROUP_FLAGS_CONTAINER_SET: u32 = 1 << 1;

/// `struct vfio_group_status`.
#[repr(C)]
#[derive(Default)]
pub struct GroupStatus {
    /// Size of this struct, set by the caller.
    pub argsz: u32,
    /// `VFIO_GROUP_FLAGS_*`.
    pub flags: u32,
}

extern "C" {
    fn ioctl(fd: i32, request: u64, ...) -> i32;
}

/// `ioctl(fd, request, arg)`, with errno turned into an `io::Error`.
pub fn ioctl_val(file: &File, request: u64, arg: u64) -> io::Result<i32> {
    // SAFETY: The VFIO ioctls used here take an integer argument (or none): nothing is read
    // from or written to our memory.
    let ret = unsafe { ioctl(file.as_raw_fd(), request, arg) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `ioctl(fd, request, ptr)` for ioctls that read or write `*ptr`.
pub fn ioctl_ptr<T>(file: &File, request: u64, ptr: &mut T) -> io::Result<i32> {
    // SAFETY: `ptr` is a live, exclusive reference to a `T` the caller chose to match the
    // ioctl's argument layout; the kernel accesses at most `size_of::<T>()` bytes of it.
    let ret = unsafe { ioctl(file.as_raw_fd(), request, ptr as *mut T) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `VFIO_GROUP_GET_STATUS`: the group's flags.
pub fn group_flags(group: &File) -> io::Result<u32> {
    let mut status = GroupStatus { argsz: std::mem::size_of::<GroupStatus>() as u32, flags: 0 };
    ioctl_ptr(group, VFIO_GROUP_GET_STATUS, &mut status)?;
    Ok(status.flags)
}

/// A TAP reporter: `check` records one assertion, `finish` prints the plan and exits
/// non-zero if anything failed.
#[derive(Default)]
pub struct Tap {
    count: u32,
    failed: u32,
}

impl Tap {
    /// Records one check.
    pub fn check(&mut self, ok: bool, what: &str) {
        self.count += 1;
        if ok {
            println!("ok {} {}", self.count, what);
        } else {
            self.failed += 1;
            println!("not ok {} {}", self.count, what);
        }
    }

    /// Prints the plan and the totals, and exits with the verdict.
    pub fn finish(self) -> ! {
        println!("1..{}", self.count);
        println!("# {} passed, {} failed", self.count - self.failed, self.failed);
        std::process::exit(if self.failed == 0 && self.count > 0 { 0 } else { 1 })
    }
}
