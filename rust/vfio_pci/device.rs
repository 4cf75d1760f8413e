// SPDX-License-Identifier: GPL-2.0

//! A PCI device bound to vfio-pci: its state, and opening and closing it for userspace
//! (upstream's `vfio_pci_core_enable` / `vfio_pci_core_disable`).
//!
//! Locking: a device has two locks, taken only through [`VfioPciDevice::lock_open`] and
//! [`VfioPciDevice::lock_memory`] (and their `try_` forms), in this order: the open device
//! (config space, interrupts; upstream's `igate`), then the memory gate (BAR access and mmap
//! faults; upstream's `memory_lock`), alone or under the first, never the other way round
//! (lockdep checks it in the debug kernel's runs). Neither is ever held across a user copy,
//! since the user buffer may itself be a mapping of the device whose fault takes the memory
//! gate.

use kernel::{
    bindings, new_mutex,
    prelude::*,
    sync::{
        lock::{
            mutex::MutexBackend,
            Guard, //
        },
        Arc,
        ArcBorrow,
        Mutex, //
    },
    uaccess::UserPtr,
};

use crate::{
    config::{
        regs::{
            Command,
            PmControl, //
        },
        ConfigEffect,
        ConfigSpace, //
    },
    ext::{
        bar_map::{
            BarMap,
            PageRestReservation, //
        },
        core_abi::{
            CoreLink,
            DeviceOps, //
        },
        pci_params,
        pci_raw::{
            PciFunction,
            PowerState,
            Resource,
            SavedState,
            Width, //
        },
        pfn_mmap::{
            Fault,
            FaultResult,
            MmapGeometry,
            PfnFault, //
        },
        reset_scope::DevSetKey,
        runtime_pm::PmActive,
    },
    intrs::{
        IrqMode,
        Notifier,
        SuspendMask, //
    },
    ioeventfd::IoEventFds,
    power::PowerHold,
    regions,
    sriov::SriovRole,
    uuid::Uuid,
};

// CAST: config-space offsets and capability IDs, all below 256.
const COMMAND: usize = bindings::PCI_COMMAND as usize;
const CAP_MSI: u8 = bindings::PCI_CAP_ID_MSI as u8;
/// Message Control of the MSI capability.
const MSI_FLAGS: usize = bindings::PCI_MSI_FLAGS as usize;
const CAP_MSIX: u8 = bindings::PCI_CAP_ID_MSIX as u8;
const MSIX_FLAGS: usize = bindings::PCI_MSIX_FLAGS as usize;
const MSIX_TABLE: usize = bindings::PCI_MSIX_TABLE as usize;
const CAP_PM: u8 = bindings::PCI_CAP_ID_PM as u8;
const PM_CTRL: usize = bindings::PCI_PM_CTRL as usize;

/// COMMAND as read from the device (a 16-bit read; 0 if it fails).
fn read_command(function: &PciFunction) -> Command {
    // CAST: a 16-bit read.
    Command::from_raw(function.config_read(COMMAND, Width::W16).unwrap_or(0) as u16)
}

/// Writes COMMAND to the device.
fn write_command(function: &PciFunction, cmd: Command) {
    let _ = function.config_write(COMMAND, Width::W16, cmd.into_raw().into());
}

/// Where the MSI-X table lives: userspace cannot reach it through read/write.
#[derive(Clone, Copy)]
pub(crate) struct MsixTable {
    /// The BAR holding it.
    pub(crate) bar: u32,
    /// Its offset in the BAR.
    pub(crate) offset: u64,
    /// Its size in bytes.
    pub(crate) size: u64,
}

/// State of an open device.
pub(crate) struct OpenDevice {
    /// The virtual config space.
    pub(crate) config: ConfigSpace,
    /// Config state saved at open, restored at close.
    saved: Option<SavedState>,
    /// Whether a function reset works (it did at open).
    pub(crate) reset_works: bool,
    /// Enabled interrupts.
    pub(crate) irqs: IrqMode,
    /// The user disabled INTx in the virtual COMMAND register.
    pub(crate) virq_disabled: bool,
    /// INTx is masked at the device (PCI 2.3 COMMAND.INTX_DISABLE), not at the interrupt
    /// chip: the device supports it and `nointxmask` was off when it was bound.
    pub(crate) pci_2_3: bool,
    /// Config state saved on the way into D3hot, for the way back (`needs_pm_restore`).
    pm_save: Option<SavedState>,
    /// The ioeventfds (`VFIO_DEVICE_IOEVENTFD`), freed at close.
    pub(crate) ioeventfds: IoEventFds,
}

/// What BAR accesses and mmap faults need, under the memory lock.
#[derive(Default)]
pub(crate) struct MemoryGate {
    /// Memory decode is on in the virtual COMMAND register.
    pub(crate) enabled: bool,
    /// The BARs, mapped while the device is open.
    pub(crate) bars: [Option<BarMap>; 6],
    /// The rest of the page of each BAR smaller than a page that could be reserved while
    /// the device is open: such a BAR may be mmapped then, the whole page.
    pub(crate) page_rests: [Option<PageRestReservation>; 6],
    /// What holds the device out of runtime suspend: the open, or nothing in the user's
    /// low power (then mmap faults get SIGBUS).
    pub(crate) power: PowerHold,
    /// INTx masked by a runtime suspend, for the resume to unmask.
    pub(crate) intx_suspended: Option<SuspendMask>,
    /// With `disable_idle_d3`, what keeps the bound device out of runtime suspend while
    /// it is not in the user's low power.
    pub(crate) idle_hold: Option<PmActive>,
}

/// The per-device state of vfio-pci.
#[pin_data]
pub(crate) struct VfioPciDevice {
    pub(crate) function: PciFunction,
    #[pin]
    link: CoreLink,
    /// The open device, `None` while no fd is open: the first lock ([`Self::lock_open`]).
    #[pin]
    state: Mutex<Option<OpenDevice>>,
    /// The second lock ([`Self::lock_memory`]).
    #[pin]
    memory: Mutex<MemoryGate>,
    /// The ERR and REQ eventfds.
    #[pin]
    pub(crate) notifiers: Mutex<[Notifier; 2]>,
    /// A PF with VFs enabled stays in D0 while they exist (upstream's sriov_configure).
    #[pin]
    pub(crate) vfs_active: Mutex<Option<PmActive>>,
    /// The BARs and the ROM (`pdev->resource[0..=6]`) as assigned when the device was
    /// bound: the PCI core does not move them while a driver is bound, and reading the copy
    /// keeps the hot BAR access path off `struct pci_dev`.
    resources: [Resource; 7],
    /// Which BARs may be mmapped whenever the device is open: memory BARs of a page or
    /// more (those smaller may be while their page's rest is reserved, [`Self::mmappable`]).
    pub(crate) bar_mmap: [bool; 6],
    /// Where the MSI-X table is, if the device has one.
    pub(crate) msix: Option<MsixTable>,
    /// Whether MSI-X vectors can be added while enabled.
    pub(crate) msix_dyn: bool,
    /// MSI vectors the device can have (0: no MSI capability); fixed by the hardware, so
    /// read once rather than walking the capability list on every `SET_IRQS`.
    pub(crate) msi_vectors: u32,
    /// The size of its config space (fixed at enumeration), which bounds every access.
    pub(crate) config_size: usize,
    /// The device's part in SR-IOV.
    pub(crate) sriov: SriovRole,
    /// The set of devices sharing its slot or bus reset.
    pub(crate) dev_set: DevSetKey,
    /// `nointxmask` as it was when the device was bound (upstream latches it then).
    nointxmask: bool,
    /// The device loses its config space going to D3hot and back (its PMCSR has no
    /// No_Soft_Reset): save it on the way down, restore it on the way up.
    needs_pm_restore: bool,
}

/// Index of the ERR notifier in `notifiers`.
pub(crate) const NOTIFY_ERR: usize = 0;
/// Index of the REQ notifier in `notifiers`.
pub(crate) const NOTIFY_REQ: usize = 1;

/// The open device's lock, held: the first of a device's two locks.
pub(crate) type OpenGuard<'a> = Guard<'a, Option<OpenDevice>, MutexBackend>;

/// The memory gate's lock, held: the second.
pub(crate) type MemoryGuard<'a> = Guard<'a, MemoryGate, MutexBackend>;

/// The open device under its lock; -ENODEV when no fd has it open.
pub(crate) fn opened<'a>(state: &'a mut OpenGuard<'_>) -> Result<&'a mut OpenDevice> {
    (**state).as_mut().ok_or(ENODEV)
}

impl VfioPciDevice {
    /// AER found an error on the device: the user's ERR eventfd, if any, is signalled
    /// (QEMU then stops the VM rather than let it run on a broken device).
    pub(crate) fn error_detected(&self) {
        self.notifiers.lock()[NOTIFY_ERR].signal();
    }

    /// Whether BAR `index` may be mmapped now (`memory` is the memory gate, held).
    pub(crate) fn mmappable(&self, memory: &MemoryGate, index: u32) -> bool {
        // CAST: callers pass BAR indices, below 6.
        let i = index as usize;
        self.bar_mmap[i] || memory.page_rests[i].is_some()
    }

    /// Locks the open device: never with the memory gate held (module doc).
    pub(crate) fn lock_open(&self) -> OpenGuard<'_> {
        self.state.lock()
    }

    /// Locks the open device if it is free; -EBUSY if not.
    pub(crate) fn try_lock_open(&self) -> Result<OpenGuard<'_>> {
        self.state.try_lock().ok_or(EBUSY)
    }

    /// Locks the memory gate: alone, or with the open device's lock held.
    pub(crate) fn lock_memory(&self) -> MemoryGuard<'_> {
        self.memory.lock()
    }

    /// Locks the memory gate if it is free; -EBUSY if not.
    pub(crate) fn try_lock_memory(&self) -> Result<MemoryGuard<'_>> {
        self.memory.try_lock().ok_or(EBUSY)
    }

    /// The state of a device just bound.
    pub(crate) fn new(function: PciFunction) -> Result<Arc<Self>> {
        // CAST: 0..7.
        let resources: [Resource; 7] = core::array::from_fn(|i| function.resource(i as u32));
        let mut bar_mmap = [false; 6];
        for (mmap, r) in bar_mmap.iter_mut().zip(&resources) {
            *mmap = r.is_mem() && r.len >= kernel::page::PAGE_SIZE as u64;
        }
        let msix = msix_table(&function)?;
        let msix_dyn = msix.is_some() && function.msix_can_alloc_dyn();
        let msi_vectors = msi_vectors(&function)?;
        let config_size = crate::config::config_size(&function);
        let sriov = SriovRole::of(&function)?;
        let dev_set = function.dev_set_key();
        // As upstream's `vfio_pci_probe_power_state()`.
        let needs_pm_restore = match usize::from(function.find_capability(CAP_PM)) {
            0 => false,
            pm => function
                .config_read(pm + PM_CTRL, Width::W16)
                // CAST: a 16-bit read.
                .is_ok_and(|pmcsr| !PmControl::from_raw(pmcsr as u16).no_soft_reset()),
        };
        Arc::pin_init(
            try_pin_init!(Self {
                function,
                link <- CoreLink::new(),
                state <- new_mutex!(None),
                memory <- new_mutex!(MemoryGate::default()),
                notifiers <- new_mutex!([Notifier::default(), Notifier::default()]),
                vfs_active <- new_mutex!(None),
                resources,
                bar_mmap,
                msix,
                msix_dyn,
                msi_vectors,
                config_size,
                sriov,
                dev_set,
                nointxmask: pci_params::nointxmask(),
                needs_pm_restore,
            }),
            GFP_KERNEL,
        )
    }

    /// BAR `index` (0-5) or the ROM (6) as assigned at bind time; an empty resource for
    /// any other index.
    pub(crate) fn resource(&self, index: u32) -> Resource {
        // CAST: a `u32` fits `usize`.
        self.resources
            .get(index as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Writes `data` at `pos` of the virtual config space and carries out what the write
    /// asks of the device ([`ConfigEffect`]): memory decode, INTx masking, power state, FLR.
    pub(crate) fn write_config(&self, pos: usize, data: &[u8]) -> Result {
        let function = &self.function;
        let mut state = self.lock_open();
        let open = opened(&mut state)?;
        let mut effect = ConfigEffect::default();
        let touches_command = pos < COMMAND + 2 && pos + data.len() > COMMAND;
        if touches_command {
            // Memory decode may go off: revoke the mmaps first, and hold off BAR accesses
            // and faults until the new state is recorded.
            self.zap_bars();
            let mut memory = self.lock_memory();
            let written = open.config.write(function, pos, data, &mut effect);
            if let Some(cmd) = effect.command {
                memory.enabled = cmd.memory();
            }
            written?;
        } else {
            open.config.write(function, pos, data, &mut effect)?;
        }
        if let Some(disabled) = effect.intx_disabled {
            // Without INTx enabled, the hardware bit follows the virtual one (as upstream),
            // on devices masked that way.
            if !open.irqs.is_intx() && open.pci_2_3 && disabled != open.virq_disabled {
                function.intx(!disabled);
            }
            if disabled && !open.virq_disabled {
                open.virq_disabled = true;
                open.irqs.set_intx_user_disabled(true);
                open.irqs.mask_intx();
            } else if !disabled && open.virq_disabled {
                open.virq_disabled = false;
                open.irqs.set_intx_user_disabled(false);
                open.irqs.unmask_intx();
            }
        }
        if let Some(state) = effect.power_state {
            let target = PowerState::from_pmcsr(state);
            if target >= PowerState::D3Hot {
                self.zap_bars();
            }
            let _memory = self.lock_memory();
            let _ = self.set_power_state(open, target);
        }
        if effect.flr {
            self.zap_bars();
            let _memory = self.lock_memory();
            let _ = function.try_reset();
        }
        Ok(())
    }

    /// Moves the open device to power state `target`, as upstream's
    /// `vfio_pci_set_power_state()`: a device that loses its config space in D3hot
    /// ([`Self::needs_pm_restore`]) has it saved on the way in and restored on the way out.
    /// The caller holds the state lock (`open`) and keeps BAR accesses off.
    pub(crate) fn set_power_state(&self, open: &mut OpenDevice, target: PowerState) -> Result {
        let function = &self.function;
        let was_d3 = function.in_d3();
        let save = self.needs_pm_restore && !was_d3 && target >= PowerState::D3Hot;
        let restore = self.needs_pm_restore && was_d3 && target == PowerState::D0;
        if save {
            function.resave_state();
        }
        function.set_power_state(target)?;
        if save && function.in_d3() {
            open.pm_save = function.store_saved_state();
        } else if restore {
            if let Some(saved) = open.pm_save.take() {
                // On failure the PCI core's own saved state is restored: what upstream
                // does too.
                let _ = function.load_saved_state(saved);
            }
            function.restore_state();
        }
        Ok(())
    }

    /// Zaps every BAR mapping of every process (they fault back in while memory is on).
    pub(crate) fn zap_bars(&self) {
        self.link
            .unmap_mmaps(0, regions::index_offset(regions::ROM));
    }

    /// Runs `f` with memory decode forced on (MSI-X table writes and ROM reads need it),
    /// holding the memory lock.
    pub(crate) fn with_memory_enabled<R>(&self, f: impl FnOnce() -> R) -> R {
        let _memory = self.lock_memory();
        let cmd = read_command(&self.function);
        if !cmd.memory() {
            write_command(&self.function, cmd.with_memory(true));
        }
        let result = f();
        write_command(&self.function, cmd);
        result
    }

    /// First open: enable, reset and save the device, snapshot its config space.
    fn open(&self) -> Result<OpenDevice> {
        let function = &self.function;
        // Out of idle D3 for as long as it is open.
        let active = PmActive::get(function)?;
        // The saved state must not include bus mastering.
        function.clear_master();
        function.enable()?;
        let reset = function.try_reset();
        if let Err(e) = reset {
            if e == EAGAIN {
                function.disable();
                return Err(e);
            }
        }
        let saved = function.save_state();
        let pci_2_3 = !self.nointxmask && function.intx_mask_supported();
        // INTx is masked through COMMAND (PCI 2.3); start unmasked.
        let cmd = read_command(function);
        if pci_2_3 && cmd.intx_disable() {
            write_command(function, cmd.with_intx_disable(false));
        }
        let opened = (|| {
            let config = ConfigSpace::new(function, function.irq() != 0)?;
            Ok(OpenDevice {
                config,
                saved,
                reset_works: reset.is_ok(),
                irqs: IrqMode::None,
                virq_disabled: false,
                pci_2_3,
                pm_save: None,
                ioeventfds: IoEventFds::default(),
            })
        })();
        match opened {
            Ok(open) => {
                let mut memory = self.lock_memory();
                memory.enabled = open.config.command().memory();
                for (i, bar) in memory.bars.iter_mut().enumerate() {
                    // CAST: 0..6. BARs that cannot be mapped fail their accesses.
                    *bar = function.map_bar(i as u32).ok();
                }
                for (i, rest) in memory.page_rests.iter_mut().enumerate() {
                    // CAST: 0..6.
                    *rest = function.reserve_page_rest(i as u32);
                }
                memory.power = PowerHold::Active { _open: active };
                Ok(open)
            }
            Err(e) => {
                function.disable();
                Err(e)
            }
        }
    }

    /// Last close: quiesce, restore and reset the device. The runtime PM holds come back
    /// to the caller, to be dropped once the open device's lock is released.
    fn close(&self, mut open: OpenDevice) -> ClosedHolds {
        let function = &self.function;
        // Out of the user's low power and awake, as upstream's `vfio_pci_core_disable()`;
        // the open's hold goes last, after the device is disabled.
        self.exit_low_power();
        let holds = ClosedHolds {
            _awake: PmActive::get(function),
            _open: core::mem::take(&mut self.lock_memory().power),
        };
        // No more writes on the user's behalf.
        drop(core::mem::take(&mut open.ioeventfds));
        // Back to D0 first, as upstream's `vfio_pci_core_disable()`: a PM reset needs D0,
        // and a device without No_Soft_Reset gets the state it had before D3hot back.
        let _ = self.set_power_state(&mut open, PowerState::D0);
        // No more DMA.
        function.clear_master();
        open.irqs.disable();
        {
            let mut memory = self.lock_memory();
            memory.enabled = false;
            memory.bars = Default::default();
            memory.page_rests = Default::default();
        }
        let restored = match open.saved.take() {
            Some(saved) => function.load_saved_state(saved),
            None => Err(EINVAL),
        };
        if restored.is_err() {
            dev_info!(function.dev(), "couldn't reload saved state\n");
            if !open.reset_works {
                function.disable();
                return holds;
            }
            function.resave_state();
        }
        // No interrupts during the reset (as `pci_reset_function()` does).
        write_command(function, Command::from_raw(0).with_intx_disable(true));
        if open.reset_works && !function.try_reset_locked() {
            dev_info!(function.dev(), "reset at close did not happen\n");
        }
        function.restore_state();
        function.disable();
        holds
    }
}

/// The runtime PM holds of a device just closed. Dropped while the open device's lock is
/// held, they would let the idle suspend run into it: the suspend callback does not wait
/// for that lock (its holder may be waiting for the suspend), gives up with -EBUSY, and the
/// PM core does not retry, so the closed function would stay in D0 (the likely cause of igb
/// staying in D0 after a close once, in `runtime_pm` on Debian's kernel in a loaded run).
#[must_use]
struct ClosedHolds {
    _awake: Result<PmActive>,
    _open: PowerHold,
}

impl DeviceOps for VfioPciDevice {
    fn core_link(&self) -> &CoreLink {
        &self.link
    }

    fn open_device(&self) -> Result {
        let mut state = self.lock_open();
        if state.is_some() {
            return Err(EBUSY);
        }
        *state = Some(self.open()?);
        self.sriov.vf_opened(true);
        Ok(())
    }

    fn close_device(&self) {
        let mut state = self.lock_open();
        let holds = state.take().map(|open| {
            self.sriov.vf_opened(false);
            self.close(open)
        });
        drop(state);
        // Only now may the function suspend (`ClosedHolds`).
        drop(holds);
        for notifier in self.notifiers.lock().iter_mut() {
            notifier.clear();
        }
    }

    fn ioctl(this: ArcBorrow<'_, Self>, cmd: u32, arg: usize) -> Result<isize> {
        let _awake = this.awake()?;
        crate::ioctl::dispatch(this, cmd, arg)
    }

    fn read(&self, buf: UserPtr, len: usize, pos: u64) -> Result<usize> {
        regions::rw(self, buf, len, pos, false)
    }

    fn write(&self, buf: UserPtr, len: usize, pos: u64) -> Result<usize> {
        regions::rw(self, buf, len, pos, true)
    }

    fn mmap(&self, request: &MmapGeometry) -> Result {
        regions::check_mmap(self, request)
    }

    fn match_token(&self, uuid: Option<&Uuid>) -> Result {
        self.sriov.match_token(&self.function, uuid)
    }

    fn request(&self, count: u32) {
        let notifiers = self.notifiers.lock();
        if notifiers[NOTIFY_REQ].signal() {
            if count % 10 == 0 {
                dev_notice!(
                    self.function.dev(),
                    "Relaying device request to user (#{})\n",
                    count
                );
            }
        } else if count == 0 {
            dev_warn!(
                self.function.dev(),
                "No device request channel registered, blocked until released by user\n"
            );
        }
    }
}

impl PfnFault for VfioPciDevice {
    fn fault(&self, fault: &mut Fault<'_>) -> FaultResult {
        regions::fault(self, fault)
    }
}

/// The number of MSI vectors `function` can have: its Multiple Message Capable field.
fn msi_vectors(function: &PciFunction) -> Result<u32> {
    Ok(match usize::from(function.find_capability(CAP_MSI)) {
        0 => 0,
        pos => 1 << ((function.config_read(pos + MSI_FLAGS, Width::W16)? & 0xe) >> 1),
    })
}

/// Finds the MSI-X table of `function` (fixed by the hardware).
fn msix_table(function: &PciFunction) -> Result<Option<MsixTable>> {
    let pos = usize::from(function.find_capability(CAP_MSIX));
    if pos == 0 {
        return Ok(None);
    }
    let flags = function.config_read(pos + MSIX_FLAGS, Width::W16)?;
    let table = function.config_read(pos + MSIX_TABLE, Width::W32)?;
    Ok(Some(MsixTable {
        bar: table & 0x7,
        offset: u64::from(table & !0x7),
        size: (u64::from(flags & 0x7ff) + 1) * 16,
    }))
}
