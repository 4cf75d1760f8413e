// SPDX-License-Identifier: GPL-2.0

//! The no-IOMMU backend (`VFIO_NOIOMMU_IOMMU`), the only one a container of no-IOMMU groups
//! can set, as upstream's `vfio_noiommu_ops`: it maps nothing (userspace programs the device
//! with physical addresses) and answers no ioctl but `VFIO_CHECK_EXTENSION`.
//!
//! Groups are no-IOMMU groups when the device had no IOMMU group and
//! `enable_unsafe_noiommu_mode` was on at its registration (`crate::bus`).

use kernel::{
    device::Device,
    prelude::*,
    sync::{
        aref::ARef,
        Arc, //
    },
};

use crate::{
    ext::{
        current::{
            self,
            Capability, //
        },
        iommu_abi::IommuBackend,
        iommu_group::IommuGroup,
        noiommu,
    },
    uapi,
};

/// Whether the backend offers `extension`: only `VFIO_NOIOMMU_IOMMU`, and only while
/// no-IOMMU mode is on (read at each call, as upstream).
pub(crate) fn offers(extension: usize) -> bool {
    noiommu::enabled() && extension == uapi::VFIO_NOIOMMU_IOMMU as usize
}

/// `VFIO_SET_IOMMU` of a no-IOMMU container: needs `CAP_SYS_RAWIO`.
pub(crate) fn open(iommu_type: usize) -> Result<Arc<dyn IommuBackend>> {
    if iommu_type != uapi::VFIO_NOIOMMU_IOMMU as usize {
        return Err(EINVAL);
    }
    if !current::capable(Capability::SysRawio) {
        return Err(EPERM);
    }
    Ok(Arc::new(NoIommuBackend, GFP_KERNEL)?)
}

/// A container's no-IOMMU backend: nothing to keep.
struct NoIommuBackend;

impl IommuBackend for NoIommuBackend {
    fn check_extension(&self, extension: usize) -> bool {
        offers(extension)
    }

    fn attach_group(&self, _group: &ARef<IommuGroup>, _dev: &Device) -> Result {
        Ok(())
    }

    fn detach_group(&self, _group: &IommuGroup) {}

    fn ioctl(&self, _cmd: u32, _arg: usize) -> Result<isize> {
        Err(ENOTTY)
    }
}
