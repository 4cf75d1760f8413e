// SPDX-License-Identifier: GPL-2.0

//! The `vfio-pci` PCI driver: binds devices (by `driver_override` or `new_id`) and
//! registers each with the VFIO core.

use kernel::{
    device::Core,
    pci,
    prelude::*,
    sync::{
        Arc,
        SetOnce, //
    },
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
        runtime_pm::{
            PmActive,
            RuntimePm, //
        },
    },
    params, sriov,
};

/// What vfio-pci keeps per bound device: its registration with the core, whose drop
/// (at unbind) waits until userspace has let go of the device, and its runtime PM.
pub(crate) struct Binding {
    device: Arc<VfioPciDevice>,
    registration: Option<CoreRegistration<VfioPciDevice>>,
    /// Runtime PM (idle D3, user low power) from the end of probe until remove has closed
    /// everything.
    runtime_pm: SetOnce<RuntimePm>,
}

/// The vfio-pci driver.
pub(crate) struct VfioPciDriver;

impl PciDriver for VfioPciDriver {
    type Data = Binding;

    fn probe(pdev: &pci::Device<Core<'_>>, function: PciFunction) -> Result<Binding> {
        if params::denylisted(pdev) {
            return Err(EINVAL);
        }
        // As upstream: normal functions only, bridges are not for userspace.
        if pci_raw::header_type(pdev) != pci_raw::HEADER_TYPE_NORMAL {
            return Err(EINVAL);
        }
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
        Ok(Binding {
            device,
            registration: Some(registration),
            runtime_pm: SetOnce::new(),
        })
    }

    fn bound(binding: &Binding) {
        // Last, as upstream's registration, and once the PM callbacks find the binding: from
        // here an idle device suspends (D3hot) unless `disable_idle_d3` was set.
        let function = &binding.device.function;
        if pci_params::disable_idle_d3() {
            binding.device.lock_memory().idle_hold = Some(PmActive::get_noresume(function));
        }
        binding.runtime_pm.populate(RuntimePm::allow(function));
    }

    fn remove(pdev: &pci::Device<Core<'_>>, mut binding: Binding) {
        // VFs go first (they may hold the PF's state), then unregistering from the core
        // waits until every device fd is closed.
        sriov::disable(&binding.device);
        drop(binding.registration.take());
        dev_set::leave(&binding.device);
        // Every other holder of the device active is gone with its fds and VFs: runtime PM
        // goes with the binding, and the adapter waits for the device's last handle.
        drop(binding.device.lock_memory().idle_hold.take());
        drop(binding);
        dev_info!(pdev.as_ref(), "unbound from vfio-pci\n");
    }

    fn runtime_suspend(binding: &Binding) -> Result {
        binding.device.runtime_suspend()
    }

    fn runtime_resume(binding: &Binding) -> Result {
        binding.device.runtime_resume();
        Ok(())
    }

    fn sriov_configure(
        _pdev: &pci::Device<Core<'_>>,
        binding: &Binding,
        count: u32,
    ) -> Result<u32> {
        sriov::configure(&binding.device, count)
    }

    fn error_detected(binding: &Binding) {
        binding.device.error_detected();
    }
}
