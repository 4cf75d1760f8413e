// SPDX-License-Identifier: GPL-2.0

//! The `vfio-pci` PCI driver: binds devices (by `driver_override` or `new_id`) and
//! registers each with the VFIO core.

use kernel::{
    pci,
    prelude::*, //
};

use crate::{
    device::VfioPciDevice,
    ext::{
        core_abi::CoreRegistration,
        pci_driver::PciDriver,
        pci_raw::{
            self,
            PciFunction, //
        },
    },
};

/// What vfio-pci keeps per bound device: its registration with the core, whose drop
/// (at unbind) waits until userspace has let go of the device.
pub(crate) struct Binding {
    _registration: CoreRegistration<VfioPciDevice>,
}

/// The vfio-pci driver.
pub(crate) struct VfioPciDriver;

impl PciDriver for VfioPciDriver {
    type Data = KBox<Binding>;

    fn probe(pdev: &pci::Device) -> Result<KBox<Binding>> {
        // As upstream: normal functions only, bridges are not for userspace.
        if pci_raw::header_type(pdev) != pci_raw::HEADER_TYPE_NORMAL {
            return Err(EINVAL);
        }
        let device = VfioPciDevice::new(PciFunction::new(pdev))?;
        let registration = CoreRegistration::new(pdev.as_ref(), device)?;
        dev_info!(
            pdev.as_ref(),
            "bound to vfio-pci ({:04x}:{:04x})\n",
            pdev.vendor_id().as_raw(),
            pdev.device_id()
        );
        Ok(KBox::new(
            Binding {
                _registration: registration,
            },
            GFP_KERNEL,
        )?)
    }

    fn remove(pdev: &pci::Device, binding: KBox<Binding>) {
        // Unregistering from the core waits until every device fd is closed.
        drop(binding);
        dev_info!(pdev.as_ref(), "unbound from vfio-pci\n");
    }
}
