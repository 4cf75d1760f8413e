// SPDX-License-Identifier: GPL-2.0

//! Anonymous-inode files handed to userspace as new fds, like upstream's device fds
//! (`anon_inode_getfile_fmode("[vfio-device]", ...)`).
//!
//! 7.3's bindings lack `linux/anon_inodes.h` and the `FMODE_*` cast macros, so both are
//! declared here. A file's private data is a [`ForeignOwnable`] owned by the file from
//! creation to `release`; the trampolines below turn the raw callbacks into calls of
//! [`AnonFileOps`] with borrowed data.

use core::marker::PhantomData;
use kernel::{
    bindings,
    ffi::{
        c_char,
        c_int,
        c_long,
        c_uint,
        c_ulong,
        c_void, //
    },
    fs::file::{
        File,
        FileDescriptorReservation, //
    },
    prelude::*,
    sync::aref::ARef,
    types::ForeignOwnable,
    uaccess::UserPtr,
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

/// A VMA being set up by `mmap()`, only to be passed on to whoever maps it.
///
/// # Invariants
///
/// Points to the VMA of an `mmap()` call in progress, for the duration of that call.
pub(crate) struct MmapVma<'a> {
    raw: *mut bindings::vm_area_struct,
    _call: PhantomData<&'a ()>,
}

impl MmapVma<'_> {
    /// The VMA pointer, valid for the `mmap()` call this value lives in.
    pub(crate) fn as_ptr(&self) -> *mut bindings::vm_area_struct {
        self.raw
    }
}

/// What an anonymous file does.
pub(crate) trait AnonFileOps: 'static {
    /// Per-file state, owned by the file.
    type Data: ForeignOwnable + Send + Sync;

    /// `ioctl()`.
    fn ioctl(
        data: <Self::Data as ForeignOwnable>::Borrowed<'_>,
        cmd: u32,
        arg: usize,
    ) -> Result<isize>;
    /// `read()`/`pread()` of `len` bytes at `pos` into user memory `buf`.
    fn read(
        data: <Self::Data as ForeignOwnable>::Borrowed<'_>,
        buf: UserPtr,
        len: usize,
        pos: i64,
    ) -> Result<usize>;
    /// `write()`/`pwrite()` of `len` bytes at `pos` from user memory `buf`.
    fn write(
        data: <Self::Data as ForeignOwnable>::Borrowed<'_>,
        buf: UserPtr,
        len: usize,
        pos: i64,
    ) -> Result<usize>;
    /// `mmap()`.
    fn mmap(data: <Self::Data as ForeignOwnable>::Borrowed<'_>, vma: &MmapVma<'_>) -> Result;
    /// Last close: the data comes back.
    fn release(data: Self::Data);
}

/// Creates an anonymous file `name` (opened read-write, with `pread`/`pwrite`) owning
/// `data`, lets `prepare` adjust it while no one else can see it, and installs it at a new
/// close-on-exec fd, which is returned. On failure `data` goes to [`AnonFileOps::release`],
/// as if the file had been closed.
pub(crate) fn install_fd<T: AnonFileOps>(
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
    // SAFETY: `name` and the vtable are static; `private` is owned by the file on success.
    let raw = unsafe {
        anon_inode_getfile_fmode(
            name.as_char_ptr(),
            Vtable::<T>::build(),
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

/// The data of `file` if it is an anonymous file of kind `T`: how a caller handed some file
/// (KVM's kvm-vfio device) tells whether it is one of ours.
pub(crate) fn open_state<T: AnonFileOps>(
    file: &File,
) -> Option<<T::Data as ForeignOwnable>::Borrowed<'_>> {
    // SAFETY: `file` is a live file for the borrow; `f_op` is set when the file is created
    // and never changes afterwards.
    let fops = unsafe { (*file.as_ptr()).f_op };
    if !core::ptr::eq(fops, Vtable::<T>::build()) {
        return None;
    }
    // SAFETY: Files with `T`'s operations are ours, their private data the `T::Data` that
    // `install_fd` stored; it stays there until release, which cannot run while the
    // caller holds `file`.
    Some(unsafe { Vtable::<T>::data(file.as_ptr()) })
}

/// The `file_operations` of anonymous files of kind `T`.
struct Vtable<T: AnonFileOps>(PhantomData<T>);

impl<T: AnonFileOps> Vtable<T> {
    const VTABLE: bindings::file_operations = bindings::file_operations {
        owner: kernel::module::this_module::<crate::LocalModule>().as_ptr(),
        release: Some(Self::release),
        unlocked_ioctl: Some(Self::ioctl),
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: bindings::compat_ptr_ioctl,
        read: Some(Self::read),
        write: Some(Self::write),
        mmap: Some(Self::mmap),
        // SAFETY: All-zero is the valid "no operation" value of every other field.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };

    const fn build() -> &'static bindings::file_operations {
        &Self::VTABLE
    }

    /// The borrowed private data of a live file.
    ///
    /// # Safety
    ///
    /// `raw_file` is one of our files, not yet released, for the duration of `'a`.
    unsafe fn data<'a>(raw_file: *mut bindings::file) -> <T::Data as ForeignOwnable>::Borrowed<'a> {
        // SAFETY: The private data is the `T::Data` stored by `install_fd`, live until
        // release (caller contract).
        unsafe { T::Data::borrow((*raw_file).private_data.cast()) }
    }

    /// # Safety
    ///
    /// Called by the VFS once, when the last reference to one of our files goes.
    unsafe extern "C" fn release(
        _inode: *mut bindings::inode,
        raw_file: *mut bindings::file,
    ) -> c_int {
        // SAFETY: The private data is the `T::Data` stored by `install_fd`, taken back once.
        T::release(unsafe { T::Data::from_foreign((*raw_file).private_data.cast()) });
        0
    }

    /// # Safety
    ///
    /// Called by the VFS for one of our live files.
    unsafe extern "C" fn ioctl(raw_file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: A live file of ours for the call.
        let data = unsafe { Self::data(raw_file) };
        match T::ioctl(data, cmd, arg) {
            // CAST: ioctl results fit a `c_long` (`isize`).
            Ok(ret) => ret as c_long,
            // CAST: errnos are small negative `c_int`s.
            Err(e) => e.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for one of our live files, with a valid position pointer.
    unsafe extern "C" fn read(
        raw_file: *mut bindings::file,
        buf: *mut c_char,
        len: usize,
        ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: A live file of ours, and `ppos` valid, for the call.
        let (data, pos) = unsafe { (Self::data(raw_file), *ppos) };
        let done = T::read(data, UserPtr::from_ptr(buf.cast()), len, pos);
        // SAFETY: `ppos` is valid for the call.
        unsafe { Self::advance(done, ppos) }
    }

    /// # Safety
    ///
    /// Called by the VFS for one of our live files, with a valid position pointer.
    unsafe extern "C" fn write(
        raw_file: *mut bindings::file,
        buf: *const c_char,
        len: usize,
        ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: A live file of ours, and `ppos` valid, for the call.
        let (data, pos) = unsafe { (Self::data(raw_file), *ppos) };
        let done = T::write(data, UserPtr::from_ptr(buf.cast_mut().cast()), len, pos);
        // SAFETY: `ppos` is valid for the call.
        unsafe { Self::advance(done, ppos) }
    }

    /// The `ssize_t` result of a read or write, moving the file position past what was
    /// transferred.
    ///
    /// # Safety
    ///
    /// `ppos` is the valid position pointer of the call being completed.
    unsafe fn advance(done: Result<usize>, ppos: *mut bindings::loff_t) -> isize {
        match done {
            Ok(done) => {
                // SAFETY: `ppos` is valid (caller contract); the VFS serialises position
                // updates.
                // CAST: at most the requested length, which the VFS caps at `MAX_RW_COUNT`.
                unsafe { *ppos += done as i64 };
                // CAST: as above.
                done as isize
            }
            // CAST: errnos fit `isize`.
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// Called by the VFS for one of our live files, with a VMA being set up.
    unsafe extern "C" fn mmap(
        raw_file: *mut bindings::file,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: A live file of ours for the call.
        let data = unsafe { Self::data(raw_file) };
        // INVARIANT: `vma` is the VMA of this `mmap()` call, and `MmapVma` does not outlive it.
        let vma = MmapVma {
            raw: vma,
            _call: PhantomData,
        };
        match T::mmap(data, &vma) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }
}
