// SPDX-License-Identifier: GPL-2.0

//! What `VFIO_DEVICE_SET_IRQS` does once its argument is validated (`ioctl.rs`): upstream's
//! `vfio_pci_set_irqs_ioctl()` and the handlers of each index and action.

use kernel::prelude::*;

use super::{
    IrqData,
    ERR,
    INTX,
    MSI,
    MSIX,
    REQ, //
};
use crate::{
    device::{
        opened,
        OpenDevice,
        VfioPciDevice,
        NOTIFY_ERR,
        NOTIFY_REQ, //
    },
    ext::eventfd::EventFd,
    uapi,
};

/// `SET_IRQS` with `action` on `count` interrupts of `index` from `start`, with `data`.
pub(crate) fn set_irqs(
    device: &VfioPciDevice,
    index: u32,
    action: u32,
    start: u32,
    count: u32,
    data: &IrqData<'_>,
) -> Result<isize> {
    match (index, action) {
        (ERR | REQ, uapi::VFIO_IRQ_SET_ACTION_TRIGGER) => {
            if start != 0 || count > 1 {
                return Err(EINVAL);
            }
            let which = if index == ERR { NOTIFY_ERR } else { NOTIFY_REQ };
            device.notifiers.lock()[which].set(count, data)?;
            Ok(0)
        }
        (INTX, _) => set_intx(device, action, start, count, data),
        (MSI | MSIX, uapi::VFIO_IRQ_SET_ACTION_TRIGGER) => {
            set_msi(device, index == MSIX, start, count, data)
        }
        _ => Err(ENOTTY),
    }
}

/// `SET_IRQS` on the INTx index.
fn set_intx(
    device: &VfioPciDevice,
    action: u32,
    start: u32,
    count: u32,
    data: &IrqData<'_>,
) -> Result<isize> {
    let function = &device.function;
    let mut state = device.lock_open();
    let open = opened(&mut state)?;
    let intx = open.irqs.is_intx();
    match action {
        uapi::VFIO_IRQ_SET_ACTION_MASK | uapi::VFIO_IRQ_SET_ACTION_UNMASK => {
            if !intx || start != 0 || count != 1 {
                return Err(EINVAL);
            }
            let act = match data {
                IrqData::None => true,
                IrqData::Bool(b) => b.first().is_some_and(|&v| v != 0),
                // The unmask eventfd (KVM's resamplefd); a mask eventfd does not exist
                // upstream either.
                IrqData::EventFd(fds) => {
                    if action == uapi::VFIO_IRQ_SET_ACTION_MASK {
                        return Err(ENOTTY);
                    }
                    open.irqs
                        .set_intx_unmask_fd(fds.first().copied().ok_or(EINVAL)?)?;
                    false
                }
            };
            if act {
                if action == uapi::VFIO_IRQ_SET_ACTION_MASK {
                    open.irqs.mask_intx();
                } else {
                    open.irqs.unmask_intx();
                }
            }
            Ok(0)
        }
        uapi::VFIO_IRQ_SET_ACTION_TRIGGER => {
            if intx && count == 0 && matches!(data, IrqData::None) {
                open.irqs.disable();
                return Ok(0);
            }
            if !open.irqs.accepts(INTX) || start != 0 || count != 1 {
                return Err(EINVAL);
            }
            match data {
                IrqData::EventFd(fds) => {
                    let fd = fds.first().copied().ok_or(EINVAL)?;
                    let trigger = if fd >= 0 {
                        Some(EventFd::from_fd(fd)?)
                    } else {
                        None
                    };
                    if intx {
                        open.irqs.set_intx_trigger(trigger)?;
                    } else {
                        open.irqs.enable_intx(
                            function,
                            trigger,
                            open.virq_disabled,
                            open.pci_2_3,
                        )?;
                    }
                }
                _ if !intx => return Err(EINVAL),
                IrqData::None => open.irqs.fire_intx()?,
                IrqData::Bool(b) => {
                    if b.first().is_some_and(|&v| v != 0) {
                        open.irqs.fire_intx()?;
                    }
                }
            }
            Ok(0)
        }
        _ => Err(ENOTTY),
    }
}

/// `SET_IRQS` TRIGGER on the MSI or MSI-X index.
fn set_msi(
    device: &VfioPciDevice,
    msix: bool,
    start: u32,
    count: u32,
    data: &IrqData<'_>,
) -> Result<isize> {
    let function = &device.function;
    let index = if msix { MSIX } else { MSI };
    let mut state = device.lock_open();
    let open = opened(&mut state)?;
    let enabled = open.irqs.msi_enabled(msix);
    // Disabling forgets the virtual MSI vector count too.
    let disable = |open: &mut OpenDevice| {
        device.with_memory_enabled(|| open.irqs.disable());
        open.config.set_msi(false, 0);
    };
    if enabled && count == 0 && matches!(data, IrqData::None) {
        disable(open);
        return Ok(0);
    }
    if !open.irqs.accepts(index) {
        return Err(EINVAL);
    }
    match data {
        IrqData::EventFd(fds) => {
            let msix_dyn = device.msix_dyn;
            if enabled {
                return device
                    .with_memory_enabled(|| open.irqs.set_msi_block(function, start, fds, msix_dyn))
                    .map(|()| 0);
            }
            let nvec = start + count;
            let short =
                device.with_memory_enabled(|| open.irqs.enable_msi(function, nvec, msix))?;
            if let Some(available) = short {
                // As upstream: the number of vectors the device could give.
                return Ok(available as isize);
            }
            if !msix {
                open.config.set_msi(true, nvec);
            }
            let set = device
                .with_memory_enabled(|| open.irqs.set_msi_block(function, start, fds, msix_dyn));
            if let Err(e) = set {
                disable(open);
                return Err(e);
            }
            Ok(0)
        }
        _ => {
            open.irqs.fire_msi(msix, start, count, data)?;
            Ok(0)
        }
    }
}
