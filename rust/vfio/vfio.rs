// SPDX-License-Identifier: GPL-2.0

//! rvfio core, `vfio.ko`: the VFIO container (`/dev/vfio/vfio`), IOMMU groups, the device
//! registration ABI that bus drivers such as vfio-pci use and the IOMMU backend ABI that
//! `vfio_iommu_type1` implements.

use kernel::prelude::*;

#[path = "../uapi/args.rs"]
mod args;
mod bus;
mod cdev;
mod container;
mod device;
mod ext;
mod group;
mod kvm;
mod layout_table;
mod noiommu;
#[path = "../uapi/vfio_uapi.rs"]
mod uapi;
#[path = "../uapi/uuid.rs"]
mod uuid;

use container::Container;
use ext::iommu_drivers::IommuDriversHandle;
use ext::misc::{
    FixedMiscOptions,
    FixedMiscRegistration, //
};

module! {
    type: VfioModule,
    name: "vfio",
    authors: ["rvfio developers"],
    description: "VFIO core (rvfio): containers, IOMMU groups, device fds",
    license: "GPL",
}

ext::core_exports::export_core_abi!(bus::Core, kvm::KvmFiles);

/// `VFIO_MINOR` of `include/linux/miscdevice.h`.
const VFIO_MINOR: u32 = kernel::bindings::VFIO_MINOR;

/// The module's registrations; dropping them (in field order) is module exit.
#[pin_data]
struct VfioModule {
    /// `/dev/vfio/vfio`.
    #[pin]
    container_dev: FixedMiscRegistration<Container>,
    /// The group registry and the `vfio` class of `/dev/vfio/<group>` nodes.
    _groups: group::RegistryHandle,
    /// The `vfio-dev` class of `/dev/vfio/devices/vfio<N>` nodes.
    _cdevs: cdev::RegistryHandle,
    /// The IOMMU backend drivers modules register; every such module depends on this one,
    /// so none is left when it goes.
    _iommu_drivers: IommuDriversHandle,
}

impl kernel::InPlaceModule for VfioModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _groups: {
                layout_table::check()?;
                group::RegistryHandle::new()?
            },
            _cdevs: cdev::RegistryHandle::new()?,
            _iommu_drivers: IommuDriversHandle::new(),
            container_dev <- FixedMiscRegistration::register(FixedMiscOptions {
                name: c"vfio",
                minor: VFIO_MINOR,
                nodename: c"vfio/vfio",
                mode: 0o666,
            }),
        })
    }
}
