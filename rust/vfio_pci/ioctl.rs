// SPDX-License-Identifier: GPL-2.0

//! Device fd ioctls of vfio-pci: device, region and IRQ info, `SET_IRQS`'s argument and reset
//! (upstream's `vfio_pci_core_ioctl` and the core's `vfio_get_region_info`); what `SET_IRQS`
//! then does is `intrs/set_irqs.rs`'s.

use kernel::{
    bindings,
    prelude::*,
    sync::ArcBorrow,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    args::read_args,
    device::{
        opened,
        VfioPciDevice, //
    },
    ext::{
        eventfd::EventFd,
        pci_raw::PowerState, //
    },
    info_caps::{
        write_info,
        InfoCaps,
        InfoReply, //
    },
    intrs::{
        IrqData,
        ERR,
        INTX,
        MSI,
        MSIX,
        NUM_IRQS,
        REQ, //
    },
    regions::{
        self,
        CONFIG,
        NUM_REGIONS,
        ROM,
        VGA, //
    },
    uapi,
    uuid::Uuid,
};

/// Routes a device ioctl.
pub(crate) fn dispatch(this: ArcBorrow<'_, VfioPciDevice>, cmd: u32, arg: usize) -> Result<isize> {
    let device = &*this;
    match cmd {
        uapi::VFIO_DEVICE_GET_INFO => get_info(device, arg),
        uapi::VFIO_DEVICE_GET_REGION_INFO => get_region_info(device, arg),
        uapi::VFIO_DEVICE_GET_IRQ_INFO => get_irq_info(device, arg),
        uapi::VFIO_DEVICE_SET_IRQS => set_irqs(device, arg),
        uapi::VFIO_DEVICE_RESET => reset(device),
        uapi::VFIO_DEVICE_GET_PCI_HOT_RESET_INFO => crate::hot_reset::get_info(device, arg),
        uapi::VFIO_DEVICE_PCI_HOT_RESET => crate::hot_reset::reset(device, arg),
        uapi::VFIO_DEVICE_IOEVENTFD => crate::ioeventfd::ioctl(this.into(), arg),
        uapi::VFIO_DEVICE_FEATURE => feature(device, arg),
        _ => Err(ENOTTY),
    }
}

/// `VFIO_DEVICE_GET_INFO`.
fn get_info(device: &VfioPciDevice, arg: usize) -> Result<isize> {
    const MINSZ: usize = core::mem::offset_of!(uapi::vfio_device_info, cap_offset);
    let argsz = read_args::<uapi::vfio_device_info>(arg, MINSZ)?.argsz;
    let reset_works = device.lock_open().as_ref().ok_or(ENODEV)?.reset_works;
    let mut info = uapi::vfio_device_info {
        argsz,
        flags: uapi::VFIO_DEVICE_FLAGS_PCI,
        num_regions: NUM_REGIONS,
        num_irqs: NUM_IRQS,
        ..Default::default()
    };
    if reset_works {
        info.flags |= uapi::VFIO_DEVICE_FLAGS_RESET;
    }
    let mut caps = InfoCaps::new();
    let atomic = device.function.atomic_ops_to_root();
    if atomic != 0 {
        let flags = ATOMIC_COMPLETION
            .iter()
            .filter(|&&(devcap2, _)| atomic & devcap2 != 0)
            .fold(0u32, |flags, &(_, vfio)| flags | vfio);
        let cap = uapi::vfio_device_info_cap_pci_atomic_comp {
            flags,
            ..Default::default()
        };
        caps.add_struct(uapi::VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP as u16, 1, &cap)?;
    }
    if caps.len() != 0 {
        info.flags |= uapi::VFIO_DEVICE_FLAGS_CAPS;
        let mut reply = InfoReply {
            arg,
            argsz,
            info_size: core::mem::size_of::<uapi::vfio_device_info>(),
            caps: &mut caps,
        };
        match reply.place_chain()? {
            Ok(offset) => info.cap_offset = offset,
            Err(needed) => info.argsz = needed,
        }
    }
    write_info(arg, argsz, &info)?;
    Ok(0)
}

/// The AtomicOp completion sizes of Device Capabilities 2 and the flags of
/// `VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP` that report them.
const ATOMIC_COMPLETION: [(u32, u32); 3] = [
    (
        bindings::PCI_EXP_DEVCAP2_ATOMIC_COMP32,
        uapi::VFIO_PCI_ATOMIC_COMP32,
    ),
    (
        bindings::PCI_EXP_DEVCAP2_ATOMIC_COMP64,
        uapi::VFIO_PCI_ATOMIC_COMP64,
    ),
    (
        bindings::PCI_EXP_DEVCAP2_ATOMIC_COMP128,
        uapi::VFIO_PCI_ATOMIC_COMP128,
    ),
];

/// `VFIO_DEVICE_GET_REGION_INFO`.
fn get_region_info(device: &VfioPciDevice, arg: usize) -> Result<isize> {
    const MINSZ: usize = core::mem::size_of::<uapi::vfio_region_info>();
    let mut info: uapi::vfio_region_info = read_args(arg, MINSZ)?;
    let mut caps = InfoCaps::new();
    let index = info.index;
    info.offset = regions::index_offset(index);
    info.flags = 0;
    info.size = 0;
    // Without a capability chain `cap_offset` goes back as the caller gave it, as upstream's
    // `vfio_get_region_info()` does.
    let rw = uapi::VFIO_REGION_INFO_FLAG_READ | uapi::VFIO_REGION_INFO_FLAG_WRITE;
    match index {
        0..=5 => {
            let resource = device.resource(index);
            info.size = resource.len;
            if resource.len != 0 {
                info.flags = rw;
                if device.mmappable(&device.lock_memory(), index) {
                    info.flags |= uapi::VFIO_REGION_INFO_FLAG_MMAP;
                    if device.msix.is_some_and(|m| m.bar == index) {
                        caps.add(uapi::VFIO_REGION_INFO_CAP_MSIX_MAPPABLE as u16, 1, &[])?;
                    }
                }
            }
        }
        ROM => {
            let resource = device.resource(ROM);
            if resource.start != 0 {
                // Only if the ROM can actually be mapped; report the BAR size.
                let readable = device.with_memory_enabled(|| device.function.map_rom().is_some());
                if readable {
                    info.flags = uapi::VFIO_REGION_INFO_FLAG_READ;
                    info.size = resource.len;
                }
            }
        }
        CONFIG => {
            let size = device.lock_open().as_ref().ok_or(ENODEV)?.config.size();
            info.size = size as u64;
            info.flags = rw;
        }
        // No VGA device is ever exposed as such.
        VGA => return Err(EINVAL),
        _ => return Err(EINVAL),
    }
    if caps.len() != 0 {
        info.flags |= uapi::VFIO_REGION_INFO_FLAG_CAPS;
        let mut reply = InfoReply {
            arg,
            argsz: info.argsz,
            info_size: MINSZ,
            caps: &mut caps,
        };
        match reply.place_chain()? {
            Ok(offset) => info.cap_offset = offset,
            Err(needed) => {
                info.argsz = needed;
                info.cap_offset = 0;
            }
        }
    }
    write_info(arg, MINSZ as u32, &info)?;
    Ok(0)
}

/// Number of interrupts of index `index` (upstream's `vfio_pci_get_irq_count`).
fn irq_count(device: &VfioPciDevice, index: u32) -> Result<u32> {
    Ok(match index {
        INTX => {
            let state = device.lock_open();
            u32::from(state.as_ref().ok_or(ENODEV)?.config.interrupt_pin() != 0)
        }
        MSI => device.msi_vectors,
        // CAST: at most 2048 entries of 16 bytes.
        MSIX => device.msix.map_or(0, |table| (table.size / 16) as u32),
        ERR | REQ => 1,
        _ => 0,
    })
}

/// `VFIO_DEVICE_GET_IRQ_INFO`.
fn get_irq_info(device: &VfioPciDevice, arg: usize) -> Result<isize> {
    const MINSZ: usize = core::mem::size_of::<uapi::vfio_irq_info>();
    let mut info: uapi::vfio_irq_info = read_args(arg, MINSZ)?;
    if info.index >= NUM_IRQS {
        return Err(EINVAL);
    }
    info.flags = uapi::VFIO_IRQ_INFO_EVENTFD;
    info.count = irq_count(device, info.index)?;
    if info.index == INTX {
        info.flags |= uapi::VFIO_IRQ_INFO_MASKABLE | uapi::VFIO_IRQ_INFO_AUTOMASKED;
    } else if info.index != MSIX || !device.msix_dyn {
        info.flags |= uapi::VFIO_IRQ_INFO_NORESIZE;
    }
    write_info(arg, MINSZ as u32, &info)?;
    Ok(0)
}

/// The data type and action bits of `SET_IRQS` flags.
const DATA_MASK: u32 = uapi::VFIO_IRQ_SET_DATA_TYPE_MASK;
const ACTION_MASK: u32 = uapi::VFIO_IRQ_SET_ACTION_TYPE_MASK;

/// `VFIO_DEVICE_SET_IRQS`, validated as upstream's `vfio_set_irqs_validate_and_prepare`.
fn set_irqs(device: &VfioPciDevice, arg: usize) -> Result<isize> {
    const MINSZ: usize = core::mem::size_of::<uapi::vfio_irq_set>();
    let hdr: uapi::vfio_irq_set = read_args(arg, MINSZ)?;
    let max = irq_count(device, hdr.index)?;
    if hdr.index >= NUM_IRQS
        || hdr.count >= u32::MAX - hdr.start
        || hdr.flags & !(DATA_MASK | ACTION_MASK) != 0
    {
        return Err(EINVAL);
    }
    if hdr.start >= max || hdr.start + hdr.count > max {
        return Err(EINVAL);
    }
    let elem = match hdr.flags & DATA_MASK {
        uapi::VFIO_IRQ_SET_DATA_NONE => 0,
        uapi::VFIO_IRQ_SET_DATA_BOOL => 1,
        uapi::VFIO_IRQ_SET_DATA_EVENTFD => 4,
        _ => return Err(EINVAL),
    };
    // CAST: `count` is below the vector count, at most 2048.
    let data_size = hdr.count as usize * elem;
    if (hdr.argsz as usize - MINSZ) < data_size {
        return Err(EINVAL);
    }
    let mut bytes = KVec::from_elem(0u8, data_size, GFP_KERNEL)?;
    UserSlice::new(UserPtr::from_addr(arg + MINSZ), data_size)
        .reader()
        .read_slice(&mut bytes)?;
    let mut fds = KVec::new();
    let data = match hdr.flags & DATA_MASK {
        uapi::VFIO_IRQ_SET_DATA_NONE => IrqData::None,
        uapi::VFIO_IRQ_SET_DATA_BOOL => IrqData::Bool(&bytes),
        _ => {
            for fd in bytes.chunks_exact(4) {
                fds.push(i32::from_ne_bytes([fd[0], fd[1], fd[2], fd[3]]), GFP_KERNEL)?;
            }
            IrqData::EventFd(&fds)
        }
    };
    crate::intrs::set_irqs(
        device,
        hdr.index,
        hdr.flags & ACTION_MASK,
        hdr.start,
        hdr.count,
        &data,
    )
}

/// `VFIO_DEVICE_FEATURE`, validated as upstream's core (`vfio_ioctl_device_feature`);
/// vfio-pci serves `PCI_VF_TOKEN` (SET) and the low-power features (SET).
fn feature(device: &VfioPciDevice, arg: usize) -> Result<isize> {
    const MINSZ: usize = core::mem::offset_of!(uapi::vfio_device_feature, data);
    let uapi::vfio_device_feature { argsz, flags, .. } = read_args(arg, MINSZ)?;
    let get = uapi::VFIO_DEVICE_FEATURE_GET;
    let set = uapi::VFIO_DEVICE_FEATURE_SET;
    let probe = uapi::VFIO_DEVICE_FEATURE_PROBE;
    if flags & !(uapi::VFIO_DEVICE_FEATURE_MASK | get | set | probe) != 0 {
        return Err(EINVAL);
    }
    if flags & probe == 0 && flags & set != 0 && flags & get != 0 {
        return Err(EINVAL);
    }
    let request = FeatureRequest {
        flags,
        data: arg + MINSZ,
        // CAST: `u32` fits `usize`; at least `MINSZ`, checked above.
        data_len: argsz as usize - MINSZ,
    };
    match flags & uapi::VFIO_DEVICE_FEATURE_MASK {
        uapi::VFIO_DEVICE_FEATURE_PCI_VF_TOKEN => {
            if !device.sriov.has_token() {
                return Err(ENOTTY);
            }
            if request.check(set, 16)? {
                let mut uuid = [0u8; 16];
                request.reader(16).read_slice(&mut uuid)?;
                device.sriov.set_token(Uuid::from_bytes(uuid))?;
            }
            Ok(0)
        }
        uapi::VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY => {
            if request.check(set, 0)? {
                device.enter_low_power(None)?;
            }
            Ok(0)
        }
        uapi::VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP => {
            type Entry = uapi::vfio_device_low_power_entry_with_wakeup;
            const SIZE: usize = core::mem::size_of::<Entry>();
            if request.check(set, SIZE)? {
                let entry: Entry = request.reader(SIZE).read()?;
                if entry.wakeup_eventfd < 0 {
                    return Err(EINVAL);
                }
                let wake = EventFd::from_fd(entry.wakeup_eventfd)?;
                device.enter_low_power(Some(wake))?;
            }
            Ok(0)
        }
        uapi::VFIO_DEVICE_FEATURE_LOW_POWER_EXIT => {
            if request.check(set, 0)? {
                // The ioctl has the device awake: if it had suspended with a wakeup
                // eventfd, its resume exited low power already, and this does nothing.
                device.exit_low_power();
            }
            Ok(0)
        }
        // The core's answer for a device without pre-copy migration
        // (`vfio_ioctl_device_feature_migration_precopy_info_v2()`); the other migration
        // and DMA-logging features are -ENOTTY there, as here.
        uapi::VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 => Err(EINVAL),
        _ => Err(ENOTTY),
    }
}

/// A `VFIO_DEVICE_FEATURE` request past its header: the flags and the user's data.
struct FeatureRequest {
    flags: u32,
    /// User address of the data.
    data: usize,
    /// Bytes of data (`argsz` less the header).
    data_len: usize,
}

impl FeatureRequest {
    /// Upstream's `vfio_check_feature()` for a feature that serves the `supported` ops and
    /// takes `minsz` bytes of data: whether to go on (false: a PROBE, answered 0).
    fn check(&self, supported: u32, minsz: usize) -> Result<bool> {
        let ops = self.flags & (uapi::VFIO_DEVICE_FEATURE_GET | uapi::VFIO_DEVICE_FEATURE_SET);
        if ops & !supported != 0 {
            return Err(EINVAL);
        }
        if self.flags & uapi::VFIO_DEVICE_FEATURE_PROBE != 0 {
            return Ok(false);
        }
        if ops == 0 || self.data_len < minsz {
            return Err(EINVAL);
        }
        Ok(true)
    }

    /// A reader of the first `len` bytes of data.
    fn reader(&self, len: usize) -> kernel::uaccess::UserSliceReader {
        UserSlice::new(UserPtr::from_addr(self.data), len).reader()
    }
}

/// `VFIO_DEVICE_RESET`: mmaps are zapped and BAR access blocked across the reset.
fn reset(device: &VfioPciDevice) -> Result<isize> {
    let mut state = device.lock_open();
    let open = opened(&mut state)?;
    if !open.reset_works {
        return Err(EINVAL);
    }
    device.zap_bars();
    let _memory = device.lock_memory();
    // D0 first through our own path, as upstream: a device without No_Soft_Reset gets its
    // pre-D3hot state back before the reset saves and restores it.
    let _ = device.set_power_state(open, PowerState::D0);
    device.function.try_reset()?;
    Ok(0)
}
