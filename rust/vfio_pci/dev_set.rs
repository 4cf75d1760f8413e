// SPDX-License-Identifier: GPL-2.0

//! Sets of vfio-pci devices that one slot or bus reset reaches together (upstream's
//! `vfio_device_set`, assigned in `vfio_pci_core_register_device()`).
//!
//! A device on a root bus and a VF are each a set of their own; any other device shares the
//! set of its slot when the slot has a reset, else of its bus. A hot reset holds its set's
//! lock from the ownership checks to the end of the reset, so no device joins or leaves the
//! set meanwhile.

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
    ext::reset_scope::DevSetKey, //
};

/// The vfio-pci devices sharing a reset.
#[pin_data]
pub(crate) struct DevSet {
    key: DevSetKey,
    /// The devices of the set, bound to vfio-pci.
    #[pin]
    pub(crate) members: Mutex<KVec<Arc<VfioPciDevice>>>,
}

crate::ext::registry::arc_registry! {
    /// Every reset set with a device bound to vfio-pci.
    static DEV_SETS: DevSet;
    handle RegistryHandle;
}

/// Adds `device`, just bound, to its set (creating the set if it is the first).
pub(crate) fn join(device: &Arc<VfioPciDevice>) -> Result {
    let mut sets = DEV_SETS.lock();
    if let Some(set) = sets.iter().find(|s| s.key == device.dev_set) {
        set.members.lock().push(device.clone(), GFP_KERNEL)?;
        return Ok(());
    }
    let mut members = KVec::new();
    members.push(device.clone(), GFP_KERNEL)?;
    let set = Arc::pin_init(
        pin_init!(DevSet {
            key: device.dev_set,
            members <- new_mutex!(members),
        }),
        GFP_KERNEL,
    )?;
    sets.push(set, GFP_KERNEL)?;
    Ok(())
}

/// Removes `device`, being unbound, from its set; the last device takes the set with it.
pub(crate) fn leave(device: &Arc<VfioPciDevice>) {
    let mut sets = DEV_SETS.lock();
    let mut empty = false;
    if let Some(set) = sets.iter().find(|s| s.key == device.dev_set) {
        let mut members = set.members.lock();
        members.retain(|d| !Arc::ptr_eq(d, device));
        empty = members.is_empty();
    }
    if empty {
        sets.retain(|s| s.key != device.dev_set);
    }
}

/// The set of `device` (bound to vfio-pci, so a member of one).
pub(crate) fn of(device: &VfioPciDevice) -> Result<Arc<DevSet>> {
    DEV_SETS
        .lock()
        .iter()
        .find(|s| s.key == device.dev_set)
        .cloned()
        .ok_or(ENODEV)
}
