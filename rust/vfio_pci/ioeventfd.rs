// SPDX-License-Identifier: GPL-2.0

//! `VFIO_DEVICE_IOEVENTFD`: a BAR write the kernel does on the user's behalf each time an
//! eventfd is signalled (upstream's `vfio_pci_ioeventfd()`), so that a VMM can have a guest's
//! doorbell write reach the device without coming back to userspace.
//!
//! An ioeventfd is keyed by BAR, offset, width and data: registering the same one twice is
//! -EEXIST, fd -1 removes it (-ENODEV if there is none). At most
//! [`MAX`] per device; all are freed at close. The write is done under the memory lock and,
//! for memory BARs, dropped while memory decode is off or the device is in D3, like any BAR
//! access; the MSI-X table is out of reach.

use kernel::{
    prelude::*,
    sync::Arc, //
};

use crate::{
    args::read_args,
    device::{
        opened,
        VfioPciDevice, //
    },
    ext::{
        eventfd::{
            Virqfd,
            VirqfdHandler, //
        },
        pci_raw::Width,
    },
    regions::{
        self,
        BAR5, //
    },
    uapi,
};

/// Ioeventfds per device (`VFIO_PCI_IOEVENTFD_MAX`).
const MAX: usize = 1000;

/// What identifies an ioeventfd: BAR, offset, width and data.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    bar: u32,
    pos: u64,
    width: Width,
    data: u64,
}

/// The write an ioeventfd does.
struct IoEventWrite {
    device: Arc<VfioPciDevice>,
    key: Key,
    /// A memory BAR: written only while memory decode is on.
    test_mem: bool,
}

impl VirqfdHandler for IoEventWrite {
    fn fire(&self) {
        let device = &self.device;
        let memory = device.lock_memory();
        if self.test_mem && (!memory.enabled || device.function.in_d3()) {
            return;
        }
        // CAST: a BAR index, below 6.
        if let Some(bar) = memory.bars[self.key.bar as usize].as_ref() {
            // Checked against the BAR's size at registration.
            let _ = bar.write(self.key.pos, self.key.width, self.key.data);
        }
    }
}

/// One registered ioeventfd; dropping it stops it (waiting for a write in progress).
struct IoEventFd {
    key: Key,
    _virqfd: Virqfd<IoEventWrite>,
}

/// The ioeventfds of an open device.
#[derive(Default)]
pub(crate) struct IoEventFds(KVec<IoEventFd>);

/// `VFIO_DEVICE_IOEVENTFD`, validated as upstream's `vfio_pci_ioctl_ioeventfd()`.
pub(crate) fn ioctl(device: Arc<VfioPciDevice>, arg: usize) -> Result<isize> {
    // `offsetofend(struct vfio_device_ioeventfd, fd)`: `reserved` need not be there.
    const MINSZ: usize = core::mem::offset_of!(uapi::vfio_device_ioeventfd, reserved);
    let uapi::vfio_device_ioeventfd {
        flags,
        offset,
        data,
        fd,
        ..
    } = read_args(arg, MINSZ)?;
    if flags & !uapi::VFIO_DEVICE_IOEVENTFD_SIZE_MASK != 0 {
        return Err(EINVAL);
    }
    let width = match flags {
        uapi::VFIO_DEVICE_IOEVENTFD_8 => Width::W8,
        uapi::VFIO_DEVICE_IOEVENTFD_16 => Width::W16,
        uapi::VFIO_DEVICE_IOEVENTFD_32 => Width::W32,
        uapi::VFIO_DEVICE_IOEVENTFD_64 => Width::W64,
        _ => return Err(EINVAL),
    };
    if fd < -1 {
        return Err(EINVAL);
    }
    set(device, offset, data, width, fd)?;
    Ok(0)
}

/// Adds (`fd` >= 0) or removes (`fd` -1) the ioeventfd writing `data` of `width` at device
/// fd offset `offset`.
fn set(device: Arc<VfioPciDevice>, offset: u64, data: u64, width: Width, fd: i32) -> Result {
    let (index, pos) = regions::split_offset(offset);
    // BARs only.
    if index > u64::from(BAR5) {
        return Err(EINVAL);
    }
    // CAST: below 6.
    let bar = index as u32;
    let resource = device.resource(bar);
    let end = pos.checked_add(width.bytes() as u64).ok_or(EINVAL)?;
    if end > resource.len {
        return Err(EINVAL);
    }
    // Never a way around the MSI-X table.
    if let Some(msix) = device.msix {
        if msix.bar == bar && end > msix.offset && pos < msix.offset + msix.size {
            return Err(EINVAL);
        }
    }
    let key = Key {
        bar,
        pos,
        width,
        data,
    };
    let mut state = device.lock_open();
    let open = opened(&mut state)?;
    // The BAR is mapped while the device is open; writes go through that mapping.
    // CAST: below 6.
    if device.lock_memory().bars[bar as usize].is_none() {
        return Err(ENOMEM);
    }
    let list = &mut open.ioeventfds.0;
    if let Some(i) = list.iter().position(|e| e.key == key) {
        if fd != -1 {
            return Err(EEXIST);
        }
        // Stopped once the lock is released: its write may wait for the memory lock.
        let removed = list.remove(i)?;
        drop(state);
        drop(removed);
        return Ok(());
    }
    if fd < 0 {
        return Err(ENODEV);
    }
    if list.len() >= MAX {
        return Err(ENOSPC);
    }
    let write = Arc::new(
        IoEventWrite {
            test_mem: resource.is_mem(),
            key,
            device: device.clone(),
        },
        GFP_KERNEL,
    )?;
    let virqfd = Virqfd::new(fd, write)?;
    list.push(
        IoEventFd {
            key,
            _virqfd: virqfd,
        },
        GFP_KERNEL,
    )?;
    Ok(())
}
