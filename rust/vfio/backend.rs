// SPDX-License-Identifier: GPL-2.0

//! The IOMMU backends a container can be set to (upstream's `vfio_iommu_driver_ops` and
//! its list of registered drivers). Type1 is the only one today; noiommu and iommufd's
//! compat path are backends of the same shape.

use kernel::{
    device::Device,
    prelude::*,
    sync::{
        aref::ARef,
        Arc, //
    },
};

use crate::ext::iommu::IommuGroup;

/// A container's IOMMU backend, once `VFIO_SET_IOMMU` chose it: it gets the container's
/// groups and every ioctl the container does not answer itself.
pub(crate) trait IommuBackend: Send + Sync {
    /// `VFIO_CHECK_EXTENSION` of a container set to this backend.
    fn check_extension(&self, extension: usize) -> bool;

    /// Adds `group`, whose DMA ownership the caller holds; `dev` is one of its devices.
    fn attach_group(&self, group: &ARef<IommuGroup>, dev: &Device) -> Result;

    /// Removes a group added by [`IommuBackend::attach_group`].
    fn detach_group(&self, group: &IommuGroup);

    /// An ioctl of the container that is the backend's (`-ENOTTY` for one it does not know).
    fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize>;
}

/// A backend before any container is set to it.
pub(crate) struct BackendDriver {
    /// `VFIO_CHECK_EXTENSION` of a container without a backend: what this one could offer.
    pub(crate) check_extension: fn(extension: usize) -> bool,
    /// `VFIO_SET_IOMMU` with an extension it claims: a new backend without groups, or
    /// -EINVAL for an extension that is not a type it opens (such as `VFIO_UNMAP_ALL`).
    pub(crate) open: fn(iommu_type: usize) -> Result<Arc<dyn IommuBackend>>,
}

/// Every backend, in the order `VFIO_SET_IOMMU` tries them.
pub(crate) static DRIVERS: [&BackendDriver; 1] = [&crate::type1::DRIVER];

/// `VFIO_CHECK_EXTENSION` of a container without a backend: whether any backend offers it.
pub(crate) fn any_offers(extension: usize) -> bool {
    DRIVERS
        .iter()
        .any(|driver| (driver.check_extension)(extension))
}
