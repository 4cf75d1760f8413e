// SPDX-License-Identifier: GPL-2.0

//! The struct layouts vfio.ko's Rust code depends on, by the names of their C twins in
//! `rust/vfio/layout.c`; checked against C at module load.

use kernel::prelude::*;

use crate::{
    ext::layout,
    layout_entry, //
};

extern "C" {
    /// Entry `i` of the C table (`rust/vfio/layout.c`).
    fn rvfio_core_layout(i: u32, name: *mut *const kernel::ffi::c_char) -> usize;
}

/// Fails module load if bindgen and the C compiler disagree on any layout we use.
pub(crate) fn check() -> Result {
    let entries = [
        layout_entry!(size device),
        layout_entry!(device.class),
        layout_entry!(device.devt),
        layout_entry!(device.release),
        layout_entry!(size cdev),
        layout_entry!(cdev.owner),
        layout_entry!(class.name),
        layout_entry!(class.devnode),
        layout_entry!(inode.__bindgen_anon_5 as "inode.i_cdev"),
        layout_entry!(file.f_op),
        layout_entry!(file.private_data),
        layout_entry!(size miscdevice),
        layout_entry!(miscdevice.minor),
        layout_entry!(miscdevice.nodename),
        layout_entry!(miscdevice.mode),
        layout_entry!(miscdevice.name),
        layout_entry!(miscdevice.fops),
        layout_entry!(size file_operations),
        layout_entry!(file_operations.owner),
        layout_entry!(file_operations.open),
        layout_entry!(file_operations.release),
        layout_entry!(file_operations.unlocked_ioctl),
        layout_entry!(file_operations.compat_ioctl),
        layout_entry!(file_operations.read),
        layout_entry!(file_operations.write),
        layout_entry!(file_operations.mmap),
    ];
    layout::check(rvfio_core_layout, &entries)
}
