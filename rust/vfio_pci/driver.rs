// SPDX-License-Identifier: GPL-2.0

//! The `vfio-pci` PCI driver: binds devices (by `driver_override` or `new_id`) and
//! registers each with the VFIO core.

use kernel::{
    pci,
    prelude::*,
    sync::Arc, //
};

use crate::{
    dev_set,
    device::VfioPciDevice,
    ext::{
        core_abi::CoreRegistration,
        pci_driver::PciDriver,
        pci_params,
        pci_raw::{
            self,
            PciFunction, //
        },
        runtime_pm::RuntimePm,
    },
    params, sriov,
};

/// What vfio-pci keeps per bound device: its registration with the core, whose drop
/// (at unbind) waits until userspace has let go of the device, and its runtime PM.
pub(crate) struct Binding {
    device: Arc<VfioPciDevice>,
    registration: Option<CoreRegistration<VfioPciDevice>>,
    /// Idle D3 from the end of probe until remove has closed everything.
    runtime_pm: Option<RuntimePm>,
}

/// The vfio-pci driver.
pub(crate) struct VfioPciDriver;

impl PciDriver for VfioPciDriver {
    type Data = KBox<Binding>;

    fn probe(pdev: &pci::Device) -> Result<KBox<Binding>> {
        if params::denylisted(pdev) {
            return Err(EINVAL);
        }
        // As upstream: normal functions only, bridges are not for userspace.
        if pci_raw::header_type(pdev) != pci_raw::HEADER_TYPE_NORMAL {
            return Err(EINVAL);
        }
        let function = PciFunction::new(pdev);
        // As upstream: VFs created by another driver stay with it.
        if function.is_physfn() && function.num_vf() > 0 {
            dev_warn!(pdev.as_ref(), "Cannot bind to PF with SR-IOV enabled\n");
            return Err(EBUSY);
        }
        let device = VfioPciDevice::new(function)?;
        dev_set::join(&device)?;
        let registration = match CoreRegistration::new(pdev.as_ref(), device.clone()) {
            Ok(registration) => registration,
            Err(e) => {
                dev_set::leave(&device);
                return Err(e);
            }
        };
        dev_info!(
            pdev.as_ref(),
            "bound to vfio-pci ({:04x}:{:04x})\n",
            pdev.vendor_id().as_raw(),
            pdev.device_id()
        );
        // Last, as upstream's registration: from here an idle device may suspend (D3hot)
        // unless `disable_idle_d3` was set.
        let runtime_pm = RuntimePm::allow(&device.function, !pci_params::disable_idle_d3());
        Ok(KBox::new(
            Binding {
                device,
                registration: Some(registration),
                runtime_pm: Some(runtime_pm),
            },
            GFP_KERNEL,
        )?)
    }

    fn remove(pdev: &pci::Device, mut binding: KBox<Binding>) {
        // VFs go first (they may hold the PF's state), then unregistering from the core
        // waits until every device fd is closed.
        sriov::disable(&binding.device);
        drop(binding.registration.take());
        dev_set::leave(&binding.device);
        // Every holder of the device active is gone with its fds and VFs.
        drop(binding.runtime_pm.take());
        dev_info!(pdev.as_ref(), "unbound from vfio-pci\n");
    }

    fn sriov_configure(_pdev: &pci::Device, binding: &Binding, count: u32) -> Result<u32> {
        sriov::configure(&binding.device, count)
    }
}
