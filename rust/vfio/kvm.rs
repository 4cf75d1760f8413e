// SPDX-License-Identifier: GPL-2.0

//! What KVM asks of VFIO: the exports its kvm-vfio device (`virt/kvm/vfio.c`) looks up with
//! `symbol_get()` when userspace adds a VFIO file to a VM (`KVM_DEV_VFIO_FILE_ADD`), with
//! upstream's names, signatures and semantics (`drivers/vfio/vfio_main.c`, `group.c`).
//!
//! [`KvmFiles`] answers them; the `extern "C"` exports, which turn KVM's raw pointers into
//! safe types, are `kernel_ext`'s (`abi/core_exports.rs`).

use kernel::{
    fs::File,
    sync::ArcBorrow, //
};

use crate::{
    cdev::CdevFile,
    device::DeviceFile,
    ext::{core_exports::KvmFileAbi, iommu_dma_owner, kvm::KvmHandle},
    group::Group,
};

/// A file handed to KVM, as VFIO sees it.
enum VfioFile<'a> {
    /// A group file, `/dev/vfio/<group>`.
    Group(ArcBorrow<'a, Group>),
    /// A device fd (`VFIO_GROUP_GET_DEVICE_FD`).
    Device(&'a DeviceFile),
    /// A file of a device's cdev, `/dev/vfio/devices/vfio<N>`, bound or not.
    Cdev(core::pin::Pin<&'a CdevFile>),
    /// Anything else.
    Other,
}

impl<'a> VfioFile<'a> {
    fn of(file: &'a File) -> Self {
        if let Some(group) = Group::of_file(file) {
            VfioFile::Group(group)
        } else if let Some(device) = DeviceFile::of_file(file) {
            VfioFile::Device(device)
        } else if let Some(cdev) = CdevFile::of_file(file) {
            VfioFile::Cdev(cdev)
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
            VfioFile::Device(device) => {
                iommu_dma_owner::enforces_cache_coherency(device.device().device())
            }
            VfioFile::Cdev(cdev) => {
                iommu_dma_owner::enforces_cache_coherency(cdev.device().device())
            }
            VfioFile::Other => true,
        }
    }

    /// Associates the file with a VM (or none): devices of a group opened meanwhile, or
    /// the device of a cdev file bound meanwhile, hold a reference on it. A group's device
    /// fd is open already, so there is nothing to record for it.
    fn set_kvm(&self, kvm: Option<KvmHandle>) {
        match self {
            VfioFile::Group(group) => group.set_kvm(kvm),
            VfioFile::Cdev(cdev) => cdev.set_kvm(kvm),
            VfioFile::Device(_) | VfioFile::Other => {}
        }
    }
}

/// The files KVM's kvm-vfio device is handed, as VFIO answers for them.
pub(crate) struct KvmFiles;

impl KvmFileAbi for KvmFiles {
    fn is_valid(file: &File) -> bool {
        VfioFile::of(file).is_valid()
    }

    fn enforced_coherent(file: &File) -> bool {
        VfioFile::of(file).enforced_coherent()
    }

    fn set_kvm(file: &File, kvm: Option<KvmHandle>) {
        VfioFile::of(file).set_kvm(kvm);
    }
}
