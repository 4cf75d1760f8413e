// SPDX-License-Identifier: GPL-2.0

//! rvfio `vfio-pci.ko`: the PCI bus driver of VFIO.

use kernel::prelude::*;

#[path = "../uapi/args.rs"]
mod args;
mod config;
mod dev_set;
mod device;
mod driver;
mod ext;
mod hot_reset;
#[path = "../uapi/info_caps.rs"]
mod info_caps;
mod intrs;
mod ioctl;
mod ioeventfd;
mod layout_table;
mod params;
mod power;
mod regions;
mod sriov;
#[path = "../uapi/vfio_uapi.rs"]
mod uapi;
#[path = "../uapi/uuid.rs"]
mod uuid;

use driver::VfioPciDriver;
use ext::pci_driver::PciDriverRegistration;

module! {
    type: VfioPciModule,
    name: "vfio_pci",
    authors: ["rvfio developers"],
    description: "VFIO PCI bus driver (rvfio)",
    license: "GPL",
    imports_ns: ["RVFIO"],
}

/// The module's registrations (dropped in declaration order).
#[pin_data]
struct VfioPciModule {
    /// The `vfio-pci` PCI driver.
    #[pin]
    driver: PciDriverRegistration<VfioPciDriver>,
    /// The SR-IOV PF registry, emptied once the driver (and so every PF) is gone.
    _sriov: sriov::RegistryHandle,
    /// The reset-set registry, emptied once the driver (and so every device) is gone.
    _dev_sets: dev_set::RegistryHandle,
}

impl kernel::InPlaceModule for VfioPciModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let layout = layout_table::check();
        // Module parameters: `rust/vfio_pci/params.c` (upstream's, visible in sysfs).
        try_pin_init!(Self {
            // Before the driver registers: probe may look PFs up.
            _sriov: sriov::RegistryHandle::new(),
            _dev_sets: dev_set::RegistryHandle::new(),
            driver <- {
                layout?;
                PciDriverRegistration::new(c"vfio-pci", module)
            },
        })
        // As upstream: `ids=` once the driver is registered (each ID binds what it matches).
        .pin_chain(|this| {
            params::add_ids(&this.driver);
            Ok(())
        })
    }
}
