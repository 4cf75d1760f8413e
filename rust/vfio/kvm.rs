// SPDX-License-Identifier: GPL-2.0

//! What KVM asks of VFIO: the exports its kvm-vfio device (`virt/kvm/vfio.c`) looks up with
//! `symbol_get()` when userspace adds a VFIO file to a VM (`KVM_DEV_VFIO_FILE_ADD`), with
//! upstream's names, signatures and semantics (`drivers/vfio/vfio_main.c`, `group.c`).
//!
//! The `extern "C"` functions are the whole FFI boundary: each turns its raw file into a
//! [`VfioFile`] and calls safe code.

use kernel::{
    bindings,
    fs::File,
    sync::ArcBorrow, //
};

use crate::{
    device::DeviceFile,
    ext::{
        iommu,
        kvm::{
            KvmHandle,
            RawKvm, //
        },
    },
    group::Group,
};

/// A file handed to KVM, as VFIO sees it.
enum VfioFile<'a> {
    /// A group file, `/dev/vfio/<group>`.
    Group(ArcBorrow<'a, Group>),
    /// A device fd (`VFIO_GROUP_GET_DEVICE_FD`).
    Device(&'a DeviceFile),
    /// Anything else.
    Other,
}

impl<'a> VfioFile<'a> {
    fn of(file: &'a File) -> Self {
        if let Some(group) = Group::of_file(file) {
            VfioFile::Group(group)
        } else if let Some(device) = DeviceFile::of_file(file) {
            VfioFile::Device(device)
        } else {
            VfioFile::Other
        }
    }

    /// Whether KVM may add the file to a VM.
    fn is_valid(&self) -> bool {
        !matches!(self, VfioFile::Other)
    }

    /// Whether the DMA the file gives access to is cache coherent whatever devices ask for
    /// (true for files that give none, as upstream).
    fn enforced_coherent(&self) -> bool {
        match self {
            VfioFile::Group(group) => group.enforced_coherent(),
            VfioFile::Device(device) => iommu::enforces_cache_coherency(device.device().device()),
            VfioFile::Other => true,
        }
    }

    /// Associates the file with a VM (or none). Devices of a group opened meanwhile hold a
    /// reference on it. Upstream records it for a device fd too, where only binding a
    /// device opened through its cdev uses it; rvfio's device fds all come from groups and
    /// are open already, so there is nothing to record.
    fn set_kvm(&self, kvm: Option<KvmHandle>) {
        if let VfioFile::Group(group) = self {
            group.set_kvm(kvm);
        }
    }
}

/// Borrows the file KVM passes for the call.
///
/// # Safety
///
/// `file` is a live file, referenced by the caller (KVM holds it) for the duration of `'a`.
unsafe fn borrow_file<'a>(file: *mut bindings::file) -> &'a File {
    // SAFETY: Live and referenced for `'a` (caller contract); no `fdget_pos` region is
    // involved, only the file's operations and private data are looked at.
    unsafe { File::from_raw_file(file) }
}

/// `vfio_file_is_valid()`: whether `file` is a VFIO group or device file.
///
/// # Safety
///
/// `file` is a live file referenced by the caller for the call.
#[no_mangle]
unsafe extern "C" fn vfio_file_is_valid(file: *mut bindings::file) -> bool {
    // SAFETY: As this function's contract.
    VfioFile::of(unsafe { borrow_file(file) }).is_valid()
}

/// `vfio_file_enforced_coherent()`: whether the IOMMU enforces cache coherency for every
/// device `file` gives DMA access to.
///
/// # Safety
///
/// `file` is a live file referenced by the caller for the call.
#[no_mangle]
unsafe extern "C" fn vfio_file_enforced_coherent(file: *mut bindings::file) -> bool {
    // SAFETY: As this function's contract.
    VfioFile::of(unsafe { borrow_file(file) }).enforced_coherent()
}

/// `vfio_file_set_kvm()`: links `file` with `kvm` (null: unlinks it).
///
/// # Safety
///
/// `file` is a live file referenced by the caller for the call; `kvm` is null or a VM
/// that stays allocated until KVM calls this again for `file` (KVM's kvm-vfio device does
/// so before the VM goes, when the file is deleted from it or it is destroyed).
#[no_mangle]
unsafe extern "C" fn vfio_file_set_kvm(file: *mut bindings::file, kvm: *mut RawKvm) {
    // SAFETY: As this function's contract; the handle is only kept in the file's slot.
    let kvm = unsafe { KvmHandle::from_raw(kvm) };
    // SAFETY: As this function's contract.
    VfioFile::of(unsafe { borrow_file(file) }).set_kvm(kvm);
}

/// `vfio_file_iommu_group()`: the IOMMU group of a group file, referenced, for KVM's
/// SPAPR TCE code. As upstream, null on every kernel without `CONFIG_SPAPR_TCE_IOMMU`
/// (ppc64 only), which is every kernel rvfio builds for.
///
/// # Safety
///
/// `file` is a live file referenced by the caller for the call.
#[no_mangle]
unsafe extern "C" fn vfio_file_iommu_group(
    _file: *mut bindings::file,
) -> *mut bindings::iommu_group {
    core::ptr::null_mut()
}
