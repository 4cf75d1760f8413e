// SPDX-License-Identifier: GPL-2.0

//! SR-IOV: VFs of a PF bound to vfio-pci, and the VF token.
//!
//! A PF's user may hand its VFs to other users; the VF token, a UUID the PF's user sets,
//! is the shared secret that keeps the PF's user in control (upstream's
//! `vfio_pci_core_match_token_uuid`). VFs created while the PF is bound to vfio-pci are
//! captured for vfio-pci (`driver_override`) and find their PF through the registry of PFs
//! with SR-IOV enabled.

use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        Arc,
        Mutex, //
    },
};

use crate::{
    device::VfioPciDevice,
    ext::{
        pci_raw::{
            PciFunction,
            PowerState, //
        },
        runtime_pm::PmActive,
        sriov_raw::VfCapture,
        uuid::random_uuid,
    },
    uuid::Uuid,
};

crate::ext::registry::arc_registry! {
    /// Every PF bound to vfio-pci with SR-IOV enabled.
    static SRIOV_PFS: VfioPciDevice;
    handle RegistryHandle;
}

/// The token of a PF and how many of its VFs are open.
struct VfToken {
    uuid: Uuid,
    users: u32,
}

/// What a PF bound to vfio-pci keeps for SR-IOV.
#[pin_data]
pub(crate) struct PfState {
    #[pin]
    token: Mutex<VfToken>,
    /// Gives new VFs the `vfio-pci` driver override while the PF is bound.
    _capture: VfCapture,
}

/// A device's part in SR-IOV.
pub(crate) enum SriovRole {
    /// Neither PF nor VF.
    None,
    /// A PF.
    Pf(Pin<KBox<PfState>>),
    /// A VF, with its PF if that is bound to vfio-pci with SR-IOV enabled.
    Vf(Option<Arc<VfioPciDevice>>),
}

impl SriovRole {
    /// The role of `function`, just bound.
    pub(crate) fn of(function: &PciFunction) -> Result<Self> {
        if function.is_virtfn() {
            let pfs = SRIOV_PFS.lock();
            let pf = pfs
                .iter()
                .find(|pf| pf.function.is_physfn_of(function))
                .cloned();
            return Ok(SriovRole::Vf(pf));
        }
        if function.is_physfn() {
            return Ok(SriovRole::Pf(KBox::pin_init(
                try_pin_init!(PfState {
                    token <- new_mutex!(VfToken {
                        uuid: random_uuid(),
                        users: 0,
                    }),
                    _capture: function.capture_vfs()?,
                }),
                GFP_KERNEL,
            )?));
        }
        Ok(SriovRole::None)
    }

    /// A VF was opened (`true`) or closed: its PF counts its users.
    pub(crate) fn vf_opened(&self, opened: bool) {
        if let SriovRole::Vf(Some(pf)) = self {
            if let SriovRole::Pf(state) = &pf.sriov {
                let mut token = state.token.lock();
                if opened {
                    token.users += 1;
                } else {
                    token.users = token.users.saturating_sub(1);
                }
            }
        }
    }

    /// `VFIO_DEVICE_FEATURE_PCI_VF_TOKEN` SET; -ENOTTY unless a PF.
    pub(crate) fn set_token(&self, uuid: Uuid) -> Result {
        match self {
            SriovRole::Pf(state) => {
                state.token.lock().uuid = uuid;
                Ok(())
            }
            _ => Err(ENOTTY),
        }
    }

    /// Whether `VFIO_DEVICE_FEATURE_PCI_VF_TOKEN` applies (a PF).
    pub(crate) fn has_token(&self) -> bool {
        matches!(self, SriovRole::Pf(_))
    }

    /// Checks the token given to `GET_DEVICE_FD`, as upstream.
    pub(crate) fn match_token(&self, function: &PciFunction, uuid: Option<&Uuid>) -> Result {
        match self {
            SriovRole::Vf(None) => {
                if uuid.is_some() {
                    dev_info!(
                        function.dev(),
                        "VF token incorrectly provided, PF not bound to vfio-pci\n"
                    );
                    return Err(EINVAL);
                }
                Ok(())
            }
            SriovRole::Vf(Some(pf)) => {
                let SriovRole::Pf(state) = &pf.sriov else {
                    return Err(EINVAL);
                };
                let Some(uuid) = uuid else {
                    dev_info!(function.dev(), "VF token required to access device\n");
                    return Err(EACCES);
                };
                if state.token.lock().uuid != *uuid {
                    dev_info!(function.dev(), "Incorrect VF token provided for device\n");
                    return Err(EACCES);
                }
                Ok(())
            }
            SriovRole::Pf(state) => {
                let mut token = state.token.lock();
                match uuid {
                    _ if token.users == 0 => {
                        if let Some(uuid) = uuid {
                            token.uuid = *uuid;
                        }
                        Ok(())
                    }
                    None => {
                        dev_info!(function.dev(), "VF token required to access device\n");
                        Err(EACCES)
                    }
                    Some(uuid) if token.uuid != *uuid => {
                        dev_info!(function.dev(), "Incorrect VF token provided for device\n");
                        Err(EACCES)
                    }
                    Some(_) => Ok(()),
                }
            }
            SriovRole::None => {
                if uuid.is_some() {
                    dev_info!(
                        function.dev(),
                        "VF token incorrectly provided, not a PF or VF\n"
                    );
                    return Err(EINVAL);
                }
                Ok(())
            }
        }
    }
}

/// `sriov_configure` of a PF bound to vfio-pci: `count` VFs, or none.
pub(crate) fn configure(device: &Arc<VfioPciDevice>, count: u32) -> Result<u32> {
    if !crate::ext::pci_params::enable_sriov() {
        return Err(ENOENT);
    }
    let function = &device.function;
    if count == 0 {
        disable(device);
        return Ok(0);
    }
    {
        let mut pfs = SRIOV_PFS.lock();
        if pfs.iter().any(|pf| Arc::ptr_eq(pf, device)) {
            return Err(EINVAL);
        }
        pfs.push(device.clone(), GFP_KERNEL)?;
    }
    // Out of idle D3 while the VFs exist, as upstream.
    let active = match PmActive::get(function) {
        Ok(active) => active,
        Err(e) => {
            SRIOV_PFS.lock().retain(|pf| !Arc::ptr_eq(pf, device));
            return Err(e);
        }
    };
    {
        let _memory = device.lock_memory();
        let _ = function.set_power_state(PowerState::D0);
    }
    if let Err(e) = function.enable_sriov(count) {
        SRIOV_PFS.lock().retain(|pf| !Arc::ptr_eq(pf, device));
        return Err(e);
    }
    *device.vfs_active.lock() = Some(active);
    Ok(count)
}

/// Removes the VFs of `device` (a PF), if any.
pub(crate) fn disable(device: &Arc<VfioPciDevice>) {
    if device.function.num_vf() > 0 {
        device.function.disable_sriov();
    }
    drop(device.vfs_active.lock().take());
    SRIOV_PFS.lock().retain(|pf| !Arc::ptr_eq(pf, device));
}
