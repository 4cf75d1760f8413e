// SPDX-License-Identifier: GPL-2.0

//! Anonymous-inode files handed to userspace as new fds, like upstream's device fds
//! (`anon_inode_getfile_fmode("[vfio-device]", ...)`).
//!
//! 7.3's bindings lack `linux/anon_inodes.h` and the `FMODE_*` cast macros, so both are
//! declared here. A file's data is a [`ForeignOwnable`] owned by the file from creation to
//! release; its operations are those of a [`FileOps`] kind whose table is
//! [`anon_table`].

use kernel::{
    bindings,
    ffi::{
        c_char,
        c_int,
        c_uint,
        c_void, //
    },
    fs::file::{
        File,
        FileDescriptorReservation, //
    },
    prelude::*,
    sync::aref::ARef,
    types::ForeignOwnable,
};

use super::file_ops::{
    FileOps,
    FileOpsTable, //
};

// `struct file_operations`/`struct file` have zero-sized members that trip the lint; only
// pointers cross here.
#[allow(improper_ctypes)]
extern "C" {
    fn anon_inode_getfile_fmode(
        name: *const c_char,
        fops: *const bindings::file_operations,
        private: *mut c_void,
        flags: c_int,
        f_mode: c_uint,
    ) -> *mut bindings::file;
}

/// `FMODE_PREAD` of `include/linux/fs.h`.
const FMODE_PREAD: c_uint = 1 << 3;
/// `FMODE_PWRITE` of `include/linux/fs.h`.
const FMODE_PWRITE: c_uint = 1 << 4;

/// The operations table of anonymous files of kind `T`: no `open`, as they are created
/// open, by [`install_fd`].
pub(crate) const fn anon_table<T: FileOps>() -> FileOpsTable<T> {
    // SAFETY: No `open` is given.
    unsafe { FileOpsTable::new(None) }
}

/// Creates an anonymous file `name` (opened read-write, with `pread`/`pwrite`) owning
/// `data`, lets `prepare` adjust it while no one else can see it, and installs it at a new
/// close-on-exec fd, which is returned. On failure `data` goes to [`FileOps::release`],
/// as if the file had been closed.
pub(crate) fn install_fd<T: FileOps>(
    name: &'static CStr,
    data: T::Data,
    prepare: impl FnOnce(&File),
) -> Result<u32> {
    let reservation = match FileDescriptorReservation::get_unused_fd_flags(bindings::O_CLOEXEC) {
        Ok(reservation) => reservation,
        Err(e) => {
            T::release(data);
            return Err(e);
        }
    };
    let private = data.into_foreign();
    // CAST: O_RDWR is a small flag.
    // SAFETY: `name` and the table are static; `private` is owned by the file on success,
    // which makes it a file of kind `T` holding its `T::Data`.
    let raw = unsafe {
        anon_inode_getfile_fmode(
            name.as_char_ptr(),
            T::TABLE.as_raw(),
            private.cast(),
            bindings::O_RDWR as c_int,
            FMODE_PREAD | FMODE_PWRITE,
        )
    };
    let raw = match kernel::error::from_err_ptr(raw) {
        Ok(raw) => raw,
        Err(e) => {
            // SAFETY: The file was not created, so `private` is still ours, once.
            T::release(unsafe { T::Data::from_foreign(private) });
            return Err(e);
        }
    };
    // SAFETY: `anon_inode_getfile_fmode` returned a new file with one reference, which the
    // `ARef` takes over; `File` is a transparent wrapper of `struct file`.
    let file: ARef<File> = unsafe { ARef::from_raw(core::ptr::NonNull::new_unchecked(raw).cast()) };
    prepare(&file);
    let fd = reservation.reserved_fd();
    reservation.fd_install(file);
    Ok(fd)
}
