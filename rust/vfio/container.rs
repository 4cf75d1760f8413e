// SPDX-License-Identifier: GPL-2.0

//! The container, `/dev/vfio/vfio`: every open creates one.
//!
//! A container gathers groups that share one IOMMU context. Until an IOMMU backend is
//! attached (`VFIO_SET_IOMMU`), it answers the API version and extension queries only, and
//! everything else fails with `-EINVAL`, exactly as upstream's `vfio_fops_unl_ioctl()`.

use kernel::{
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    prelude::*,
    sync::{
        Arc,
        ArcBorrow, //
    },
};

use crate::uapi;

/// One open of `/dev/vfio/vfio`.
pub(crate) struct Container {}

impl Container {
    /// Dispatches a container ioctl.
    fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::VFIO_GET_API_VERSION => Ok(uapi::VFIO_API_VERSION as isize),
            uapi::VFIO_CHECK_EXTENSION => Ok(self.check_extension(arg).into()),
            // No IOMMU backend yet: upstream answers every other ioctl with -EINVAL
            // (VFIO_SET_IOMMU with no group attached included).
            _ => Err(EINVAL),
        }
    }

    /// `VFIO_CHECK_EXTENSION`: 1 when supported, 0 otherwise. No IOMMU backend is
    /// registered yet, so nothing is.
    fn check_extension(&self, _extension: usize) -> u8 {
        0
    }
}

#[vtable]
impl MiscDevice for Container {
    type Ptr = Arc<Container>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Container>> {
        Ok(Arc::new(Container {}, GFP_KERNEL)?)
    }

    fn ioctl(this: ArcBorrow<'_, Container>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        this.ioctl(cmd, arg)
    }
}
