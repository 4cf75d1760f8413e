// SPDX-License-Identifier: GPL-2.0

//! Slot and bus resets: `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO` and `VFIO_DEVICE_PCI_HOT_RESET`
//! (upstream's `vfio_pci_ioctl_get_pci_hot_reset_info()`, `vfio_pci_ioctl_pci_hot_reset()`
//! and `vfio_pci_dev_set_hot_reset()`).
//!
//! A slot reset when the device's slot has one, else a secondary bus reset, reaches every
//! function there. The user may do it only if every one of them is bound to vfio-pci in the
//! device's reset set and the user owns it: through a group whose fd the user passes, or,
//! for a device open through its cdev (which passes none), through the iommufd the device
//! is bound to (bound there too, or in a group a device bound there owns). Across the reset,
//! every device of the set has its BAR mmaps revoked and its BAR accesses held off, and is
//! brought to D0 first; the PCI core saves and restores the config space of every function.

use kernel::{
    prelude::*,
    sync::{
        Arc,
        MutexGuard, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    args::read_args,
    dev_set,
    device::{
        MemoryGate,
        OpenDevice,
        VfioPciDevice, //
    },
    ext::{
        core_abi::{
            DeviceOps,
            GroupFile, //
        },
        pci_raw::PowerState,
        reset_scope::{
            ResetScope,
            ScopeFunction, //
        },
        runtime_pm::PmActive,
    },
    uapi,
};

/// Size of the fixed part of both structs (`offsetofend(..., count)`), where the
/// dependent-device and group-fd arrays start.
const HEADER: usize = core::mem::size_of::<uapi::vfio_pci_hot_reset_info>();
/// Size of one dependent-device record.
const DEVICE_SIZE: usize = core::mem::size_of::<uapi::vfio_pci_dependent_device>();

const _: () = assert!(HEADER == core::mem::size_of::<uapi::vfio_pci_hot_reset>());

/// The scope of a hot reset of `device` and how many functions it reaches.
fn scope_of(device: &VfioPciDevice) -> Result<(ResetScope, usize)> {
    let function = &device.function;
    let scope = function.reset_scope()?;
    let mut count = 0usize;
    function.for_each_in_scope(scope, |_| {
        count += 1;
        Ok(())
    })?;
    Ok((scope, count))
}

/// What `device`, open through its cdev, reports of a function `f` its reset reaches: the
/// function's iommufd id if it is bound to the same iommufd, `VFIO_PCI_DEVID_OWNED` if that
/// iommufd owns it anyway, else `VFIO_PCI_DEVID_NOT_OWNED` (upstream's
/// `vfio_pci_fill_devs()`).
fn devid_of(device: &VfioPciDevice, members: &[Arc<VfioPciDevice>], f: &ScopeFunction<'_>) -> u32 {
    let id = members
        .iter()
        .find(|m| f.is(&m.function))
        .map(|m| device.core_link().iommufd_id_of(m.function.dev()));
    match id {
        Some(Ok(id)) => id,
        Some(Err(e)) if e == ENOENT => uapi::VFIO_PCI_DEVID_OWNED,
        // CAST: the uAPI's -1 in the `__u32` field.
        _ => uapi::VFIO_PCI_DEVID_NOT_OWNED as u32,
    }
}

/// `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO`: the functions a hot reset of `device` reaches,
/// each with its address and IOMMU group, or for a device open through its cdev its
/// iommufd id (`DEV_ID` flag; `DEV_ID_OWNED` if the user owns all of them); -ENOSPC with
/// the count when the array is short.
pub(crate) fn get_info(device: &VfioPciDevice, arg: usize) -> Result<isize> {
    let mut hdr: uapi::vfio_pci_hot_reset_info = read_args(arg, HEADER)?;
    hdr.flags = 0;
    let (scope, count) = scope_of(device)?;
    let set = device
        .core_link()
        .cdev_opened()
        .then(|| dev_set::of(device))
        .transpose()?;
    // Locked before the walk holds the PCI core's bus lock, as `dev_set_reset` locks it.
    let by_devid = set.as_ref().map(|set| set.members.lock());
    // Never: the device itself is in its scope.
    if count == 0 {
        return Err(ERANGE);
    }
    if count > (hdr.argsz as usize - HEADER) / DEVICE_SIZE {
        // CAST: functions on one bus number in the hundreds.
        hdr.count = count as u32;
        write_header(arg, &hdr)?;
        return Err(ENOSPC);
    }
    if by_devid.is_some() {
        hdr.flags =
            uapi::VFIO_PCI_HOT_RESET_FLAG_DEV_ID | uapi::VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
    }
    let mut devices = KVec::with_capacity(count, GFP_KERNEL)?;
    device.function.for_each_in_scope(scope, |f| {
        // The topology changed since the count.
        if devices.len() >= count {
            return Err(EAGAIN);
        }
        let (segment, bus, devfn) = f.location();
        let mut record = uapi::vfio_pci_dependent_device {
            segment,
            bus,
            devfn,
            ..Default::default()
        };
        match &by_devid {
            Some(members) => {
                let devid = devid_of(device, members, f);
                // CAST: the uAPI's -1 in the `__u32` field.
                if devid == uapi::VFIO_PCI_DEVID_NOT_OWNED as u32 {
                    hdr.flags &= !uapi::VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED;
                }
                record.__bindgen_anon_1.devid = devid;
            }
            // As upstream: a function outside any IOMMU group cannot be reset by a user.
            None => record.__bindgen_anon_1.group_id = f.iommu_group_id().ok_or(EPERM)?,
        }
        devices.push(record, GFP_KERNEL)?;
        Ok(())
    })?;
    let mut writer = UserSlice::new(
        UserPtr::from_addr(arg + HEADER),
        devices.len() * DEVICE_SIZE,
    )
    .writer();
    for record in devices.iter() {
        writer.write(record)?;
    }
    // CAST: bounded by `count`, as above.
    hdr.count = devices.len() as u32;
    write_header(arg, &hdr)?;
    Ok(0)
}

/// Writes the fixed part of `VFIO_DEVICE_GET_PCI_HOT_RESET_INFO`'s reply.
fn write_header(arg: usize, hdr: &uapi::vfio_pci_hot_reset_info) -> Result {
    UserSlice::new(UserPtr::from_addr(arg), HEADER)
        .writer()
        .write(hdr)
}

/// What shows that the user owns the devices a hot reset reaches.
enum Ownership {
    /// The fds of their groups.
    Groups(KVec<GroupFile>),
    /// For a device open through its cdev: the iommufd it is bound to.
    Iommufd,
}

/// `VFIO_DEVICE_PCI_HOT_RESET`: `arg` carries the fds of the groups the user owns, or for a
/// device open through its cdev none (its iommufd must own them).
pub(crate) fn reset(device: &VfioPciDevice, arg: usize) -> Result<isize> {
    let hdr: uapi::vfio_pci_hot_reset = read_args(arg, HEADER)?;
    if hdr.flags != 0 {
        return Err(EINVAL);
    }
    // An empty array for a device open through its cdev, and only for one.
    if (hdr.count == 0) != device.core_link().cdev_opened() {
        return Err(EINVAL);
    }
    let (_, count) = scope_of(device)?;
    if hdr.count == 0 {
        dev_set_reset(device, &Ownership::Iommufd)?;
        return Ok(0);
    }
    // At most one group per function: no larger copy than that.
    // CAST: `u32` fits `usize`.
    let fds_len = hdr.count as usize;
    if fds_len > count {
        return Err(EINVAL);
    }
    let mut bytes = KVec::from_elem(0u8, fds_len * 4, GFP_KERNEL)?;
    UserSlice::new(UserPtr::from_addr(arg + HEADER), bytes.len())
        .reader()
        .read_slice(&mut bytes)?;
    // Each group file stays referenced, so its group stays, until the reset is over.
    let mut groups = KVec::with_capacity(fds_len, GFP_KERNEL)?;
    for fd in bytes.chunks_exact(4) {
        let fd = i32::from_ne_bytes([fd[0], fd[1], fd[2], fd[3]]);
        groups.push(GroupFile::get(fd)?, GFP_KERNEL)?;
    }
    dev_set_reset(device, &Ownership::Groups(groups))?;
    Ok(0)
}

/// The locks of one device of the set, held across the reset, with the device out of idle
/// D3 (upstream's `vfio_pci_dev_set_pm_runtime_get()`): a bus reset of a suspended
/// function would lose the state the PCI core saved for its resume.
struct Held<'a> {
    device: &'a VfioPciDevice,
    state: MutexGuard<'a, Option<OpenDevice>>,
    _memory: MutexGuard<'a, MemoryGate>,
    _active: PmActive,
}

impl<'a> Held<'a> {
    /// Takes the locks of `device` (waiting for them when `wait`, else -EBUSY if taken)
    /// and revokes its BAR mmaps.
    fn take(device: &'a VfioPciDevice, wait: bool) -> Result<Self> {
        let active = PmActive::get(&device.function)?;
        let (state, memory) = if wait {
            (device.lock_open(), device.lock_memory())
        } else {
            let state = device.try_lock_open()?;
            (state, device.try_lock_memory()?)
        };
        // Under the memory lock, so no fault maps them back before the reset is over.
        device.zap_bars();
        Ok(Self {
            device,
            state,
            _memory: memory,
            _active: active,
        })
    }
}

/// Resets the slot or bus of `device`'s reset set if the set covers it and the user owns
/// the set (upstream's `vfio_pci_dev_set_hot_reset()`).
fn dev_set_reset(device: &VfioPciDevice, ownership: &Ownership) -> Result {
    let set = dev_set::of(device)?;
    let members = set.members.lock();
    // Every function the reset reaches must be in the set: bound to vfio-pci, so no other
    // driver is surprised by it (upstream's `vfio_pci_dev_set_resettable()`).
    let first = &members.first().ok_or(EINVAL)?.function;
    let scope = first.reset_scope().map_err(|_| EINVAL)?;
    first
        .for_each_in_scope(scope, |f| {
            if members.iter().any(|m| f.is(&m.function)) {
                Ok(())
            } else {
                Err(EINVAL)
            }
        })
        .map_err(|_| EINVAL)?;
    // And the user must own every device of the set.
    for member in members.iter() {
        let owned = match ownership {
            Ownership::Groups(groups) => groups.iter().any(|g| g.has_dev(member.function.dev())),
            Ownership::Iommufd => match device.core_link().iommufd_id_of(member.function.dev()) {
                Ok(_) => true,
                Err(e) => e == ENOENT,
            },
        };
        if !owned {
            return Err(EINVAL);
        }
    }
    // The calling device waits for its own locks (another of its ioctls may be running);
    // the others are only tried, as upstream: waiting on several devices could deadlock.
    let mut held = KVec::with_capacity(members.len(), GFP_KERNEL)?;
    held.push(Held::take(device, true)?, GFP_KERNEL)?;
    for member in members.iter() {
        if !core::ptr::eq::<VfioPciDevice>(&**member, device) {
            held.push(Held::take(member, false)?, GFP_KERNEL)?;
        }
    }
    // A reset brings every function to D0 behind our back: do it ourselves first, so a
    // device that loses its config space in D3hot gets it back.
    for h in held.iter_mut() {
        if let Some(open) = (*h.state).as_mut() {
            let _ = h.device.set_power_state(open, PowerState::D0);
        }
    }
    first.reset_bus()
}
