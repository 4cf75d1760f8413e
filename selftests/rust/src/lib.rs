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
