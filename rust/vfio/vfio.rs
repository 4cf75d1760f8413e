// SPDX-License-Identifier: GPL-2.0

//! rvfio core, `vfio.ko`: the VFIO container (`/dev/vfio/vfio`), IOMMU groups and the device
//! registration ABI that bus drivers such as vfio-pci use.

use kernel::prelude::*;

#[path = "../uapi/args.rs"]
mod args;
mod backend;
mod bus;
mod container;
mod device;
mod ext;
mod group;
#[path = "../uapi/info_caps.rs"]
mod info_caps;
mod kvm;
mod layout_table;
mod type1;
#[path = "../uapi/vfio_uapi.rs"]
mod uapi;
#[path = "../uapi/uuid.rs"]
mod uuid;

use container::Container;
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
    params: {
        dma_entry_limit: u32 {
            default: 65535,
            description: "Maximum number of user DMA mappings per container (type1)",
        },
        disable_hugepages: bool {
            default: false,
            description: "Map user memory with CPU-page-sized IOMMU pages only (type1)",
        },
        allow_unsafe_interrupts: bool {
            default: false,
            description: "Allow groups without MSI isolation (interrupt remapping) (type1)",
        },
    },
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
}

impl kernel::InPlaceModule for VfioModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _groups: {
                layout_table::check()?;
                group::RegistryHandle::new()?
            },
            container_dev <- FixedMiscRegistration::register(FixedMiscOptions {
                name: c"vfio",
                minor: VFIO_MINOR,
                nodename: c"vfio/vfio",
                mode: 0o666,
            }),
        })
    }
}
