// SPDX-License-Identifier: GPL-2.0

//! Power management of an open device: the user's low-power entry and exit
//! (`VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY[_WITH_WAKEUP]`, `_EXIT`) and the runtime PM
//! callbacks, as upstream's `vfio_pci_runtime_pm_entry()` and `vfio_pci_core_runtime_*()`.
//!
//! An open device is held active ([`PowerHold::Active`]) until the user enters low power.
//! Then nothing holds it but the ioctls, reads and writes in progress, each for its own
//! duration ([`VfioPciDevice::awake`]): the PM core suspends it (D3hot) when idle and
//! resumes it for the next access. BAR mmaps are revoked and fault SIGBUS until the user
//! exits low power or, with a wakeup eventfd, until the device next resumes, which signals
//! the eventfd and exits by itself.
//!
//! Locking: the resume callback takes the memory lock, the suspend callback tries the state
//! lock and then takes the memory lock. So no one resumes this device (or waits for its
//! suspend to end) while holding its memory lock; holding its state lock is allowed, as a
//! suspend that finds that lock taken gives up (-EBUSY) and the device stays active.

use kernel::prelude::*;

use crate::{
    device::{
        MemoryGate,
        VfioPciDevice, //
    },
    ext::{
        eventfd::EventFd,
        pci_raw::{
            PciFunction,
            PowerState, //
        },
        runtime_pm::{
            PmActive,
            PmAwake, //
        },
    },
};

/// What holds an open device out of runtime suspend.
#[derive(Default)]
pub(crate) enum PowerHold {
    /// Not open: the device suspends when idle (idle D3) unless `disable_idle_d3`.
    #[default]
    Closed,
    /// Open and held in D0, as from open until the user enters low power.
    Active { _open: PmActive },
    /// Open, and the user entered low power: the device suspends when idle. `wake`, if
    /// given, is signalled when it next resumes, which exits low power. `idle_hold`: the
    /// binding's hold of `disable_idle_d3` was given up too (as upstream, where that
    /// parameter only keeps the device from suspending while not in use).
    LowPower {
        wake: Option<EventFd>,
        idle_hold: bool,
    },
}

impl PowerHold {
    /// Whether the user has the device in low power (its mmaps fault SIGBUS).
    pub(crate) fn is_low_power(&self) -> bool {
        matches!(self, PowerHold::LowPower { .. })
    }

    /// The eventfd to signal when a device in low power resumes.
    fn wake(&self) -> Option<&EventFd> {
        match self {
            PowerHold::LowPower { wake, .. } => wake.as_ref(),
            _ => None,
        }
    }
}

impl VfioPciDevice {
    /// Holds the device awake for one access (an ioctl, a read or write), as upstream's
    /// core does around each; -EIO if it cannot be resumed.
    pub(crate) fn awake(&self) -> Result<PmAwake<'_>> {
        PmAwake::get(&self.function).map_err(|_| EIO)
    }

    /// Enters low power for the user (`LOW_POWER_ENTRY[_WITH_WAKEUP]`); -EINVAL if it is
    /// in low power already. The caller holds the device awake until it returns.
    pub(crate) fn enter_low_power(&self, wake: Option<EventFd>) -> Result {
        self.zap_bars();
        let mut memory = self.lock_memory();
        match memory.power {
            PowerHold::Active { .. } => {}
            PowerHold::LowPower { .. } => return Err(EINVAL),
            PowerHold::Closed => return Err(ENODEV),
        }
        // Gives up the open's hold (and the binding's); the caller's keeps the device up
        // until it is done.
        let idle_hold = memory.idle_hold.take().is_some();
        memory.power = PowerHold::LowPower { wake, idle_hold };
        Ok(())
    }

    /// Leaves the user's low power, if entered (`LOW_POWER_EXIT`, close): the open holds
    /// the device again and the wakeup eventfd, if any, is dropped unsignalled. Resuming a
    /// suspended device is the caller's (an ioctl's [`Self::awake`] has done it already).
    pub(crate) fn exit_low_power(&self) {
        self.lock_memory().exit_low_power(&self.function);
    }

    /// The runtime suspend callback: an open device goes back to D0 first if the user put
    /// it into D3hot through config space (so the PCI core saves its state there, and a
    /// device without No_Soft_Reset gets its own back), and INTx is masked until resume.
    pub(crate) fn runtime_suspend(&self) -> Result {
        // Not waiting for the state lock: its holder may be waiting for this suspend to end.
        let mut state = self.try_lock_open()?;
        let mut memory = self.lock_memory();
        let Some(open) = (*state).as_mut() else {
            return Ok(());
        };
        // As upstream, a failure leaves the power state to the PCI core.
        let _ = self.set_power_state(open, PowerState::D0);
        memory.intx_suspended = open.irqs.mask_intx_for_suspend();
        Ok(())
    }

    /// The runtime resume callback: signals the user's wakeup eventfd, which exits low
    /// power, and unmasks INTx if the suspend masked it.
    pub(crate) fn runtime_resume(&self) {
        let mut memory = self.lock_memory();
        if let Some(wake) = memory.power.wake() {
            wake.signal();
            // The device is resuming: the open holds it from here.
            memory.exit_low_power(&self.function);
        }
        if let Some(mask) = memory.intx_suspended.take() {
            mask.unmask();
        }
    }
}

impl MemoryGate {
    /// Takes back the holds that low power gave up, if in low power.
    fn exit_low_power(&mut self, function: &PciFunction) {
        if let PowerHold::LowPower { idle_hold, .. } = self.power {
            if idle_hold {
                self.idle_hold = Some(PmActive::get_noresume(function));
            }
            self.power = PowerHold::Active {
                _open: PmActive::get_noresume(function),
            };
        }
    }
}
