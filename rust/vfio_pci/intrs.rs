// SPDX-License-Identifier: GPL-2.0

//! Device interrupts to eventfds: INTx, MSI and MSI-X, one mode at a time
//! (`VFIO_DEVICE_SET_IRQS`, upstream's `vfio_pci_intrs.c`).
//!
//! INTx is masked by its handler when it fires and unmasked by the user after servicing, so
//! a level-triggered line never storms: with PCI 2.3 masking at the device
//! (COMMAND.INTX_DISABLE) on a possibly shared line, else (`nointxmask`, devices without
//! it) at the interrupt chip, on a line the device has to itself. MSI and MSI-X vectors
//! each get an eventfd of their own.

mod set_irqs;
pub(crate) use set_irqs::set_irqs;

use kernel::{
    new_spinlock_irq,
    prelude::*,
    str::CString,
    sync::{
        Arc,
        SpinLockIrq, //
    },
};

use crate::ext::{
    eventfd::{
        BypassProducer,
        EventFd,
        Virqfd,
        VirqfdHandler, //
    },
    irq::{
        self,
        IrqHandler,
        IrqRegistration,
        IrqSharing, //
    },
    irq_vectors::IrqVectors,
    pci_raw::PciFunction,
};

/// An INTx line shared between the hard-IRQ handler and the ioctls.
#[pin_data]
struct IntxLine {
    function: PciFunction,
    /// The line's Linux IRQ number.
    irq: u32,
    /// Masked at the device (PCI 2.3) rather than at the interrupt chip.
    pci_2_3: bool,
    #[pin]
    state: SpinLockIrq<IntxState>,
}

/// What the INTx handler and the ioctls share.
struct IntxState {
    /// The line is masked at the device until the user unmasks it.
    masked: bool,
    /// Where interrupts go; none after the user removed it (the line stays set up).
    trigger: Option<EventFd>,
    /// The user disabled INTx in the virtual COMMAND register: no unmasking.
    user_disabled: bool,
}

impl IntxLine {
    /// Signals the user, if anyone listens.
    fn notify(state: &IntxState) {
        if let Some(trigger) = &state.trigger {
            trigger.signal();
        }
    }

    /// Unmasks the line unless the user disabled INTx; an interrupt still pending is
    /// signalled again instead (the line stays masked).
    fn unmask(&self) {
        let mut state = self.state.lock();
        if state.masked && !state.user_disabled {
            if !self.pci_2_3 {
                irq::enable(self.irq);
                state.masked = false;
            } else if self.function.check_and_unmask_intx() {
                state.masked = false;
            } else {
                IntxLine::notify(&state);
            }
        }
    }

    /// Masks the line, always (not only when the device asserts it); whether it was
    /// unmasked.
    fn mask(&self) -> bool {
        let mut state = self.state.lock();
        if state.masked {
            return false;
        }
        if self.pci_2_3 {
            self.function.intx(false);
        } else {
            irq::disable_nosync(self.irq);
        }
        state.masked = true;
        true
    }
}

/// INTx masked across a runtime suspend (upstream's `pm_intx_masked`): a suspended device
/// must not be asked, from a shared line's handler, whether it interrupted.
pub(crate) struct SuspendMask(Arc<IntxLine>);

impl SuspendMask {
    /// Unmasks the line again, on resume.
    pub(crate) fn unmask(self) {
        self.0.unmask();
    }
}

/// The unmask eventfd's action (KVM's resamplefd: the guest acknowledged the interrupt).
struct IntxUnmask(Arc<IntxLine>);

impl VirqfdHandler for IntxUnmask {
    fn fire(&self) {
        self.0.unmask();
    }
}

/// The hard-IRQ handler of INTx.
struct IntxHandler(Arc<IntxLine>);

impl IrqHandler for IntxHandler {
    fn handle(&self) -> bool {
        let line = &self.0;
        let mut state = line.state.lock();
        if !line.pci_2_3 {
            // The line is ours alone: mask it at the chip until the user unmasks (once: a
            // mask by ioctl may have raced with this interrupt, and each disable needs an
            // enable).
            if !state.masked {
                irq::disable_nosync(line.irq);
            }
        } else if state.masked || !line.function.check_and_mask_intx() {
            // Shared: ours only if the device asserts it; masked until the user unmasks.
            return false;
        }
        state.masked = true;
        IntxLine::notify(&state);
        true
    }
}

/// The hard-IRQ handler of one MSI/MSI-X vector.
struct MsiHandler {
    trigger: Arc<EventFd>,
}

impl IrqHandler for MsiHandler {
    fn handle(&self) -> bool {
        self.trigger.signal();
        true
    }
}

/// The enabled INTx line.
pub(crate) struct Intx {
    line: Arc<IntxLine>,
    /// The unmask eventfd, if the user set one.
    unmask_fd: Option<Virqfd<IntxUnmask>>,
    _registration: IrqRegistration<IntxHandler>,
}

/// An MSI/MSI-X vector with an eventfd attached.
struct MsiVector {
    /// The vector announced as its eventfd's source, for KVM to post it to a guest
    /// directly; withdrawn before the line is freed (field order), as upstream.
    _bypass: Option<BypassProducer>,
    registration: IrqRegistration<MsiHandler>,
}

/// Enabled MSI or MSI-X vectors.
pub(crate) struct Msi {
    msix: bool,
    /// Vectors the user attached an eventfd to, by index.
    vectors: KVec<Option<MsiVector>>,
    /// The allocated vectors: declared after `vectors`, so their lines are freed first.
    allocated: IrqVectors,
}

/// The interrupt mode of an open device.
#[derive(Default)]
pub(crate) enum IrqMode {
    /// No interrupts.
    #[default]
    None,
    /// INTx.
    Intx(Intx),
    /// MSI or MSI-X.
    Msi(Msi),
}

/// `VFIO_PCI_*_IRQ_INDEX`: INTx.
pub(crate) const INTX: u32 = crate::uapi::VFIO_PCI_INTX_IRQ_INDEX;
/// MSI.
pub(crate) const MSI: u32 = crate::uapi::VFIO_PCI_MSI_IRQ_INDEX;
/// MSI-X.
pub(crate) const MSIX: u32 = crate::uapi::VFIO_PCI_MSIX_IRQ_INDEX;
/// AER errors.
pub(crate) const ERR: u32 = crate::uapi::VFIO_PCI_ERR_IRQ_INDEX;
/// Device requests.
pub(crate) const REQ: u32 = crate::uapi::VFIO_PCI_REQ_IRQ_INDEX;
/// Number of IRQ indexes.
pub(crate) const NUM_IRQS: u32 = crate::uapi::VFIO_PCI_NUM_IRQS;

/// The data of a `VFIO_DEVICE_SET_IRQS` call.
pub(crate) enum IrqData<'a> {
    /// `DATA_NONE`.
    None,
    /// `DATA_BOOL`: one byte per vector.
    Bool(&'a [u8]),
    /// `DATA_EVENTFD`: one fd per vector (-1: remove).
    EventFd(&'a [i32]),
}

impl IrqData<'_> {
    /// Whether vector `i` (relative to `start`) is to be triggered by a loopback.
    fn fires(&self, i: usize) -> bool {
        match self {
            IrqData::None => true,
            IrqData::Bool(b) => b.get(i).is_some_and(|&v| v != 0),
            IrqData::EventFd(_) => false,
        }
    }
}

/// A name for an interrupt line of `function`.
fn irq_name(kind: &str, vector: Option<u32>, function: &PciFunction) -> Result<CString> {
    let dev = function.dev().name();
    Ok(match vector {
        Some(v) => CString::try_from_fmt(fmt!("vfio-{kind}[{v}]({dev})"))?,
        None => CString::try_from_fmt(fmt!("vfio-{kind}({dev})"))?,
    })
}

impl IrqMode {
    /// Whether INTx is enabled.
    pub(crate) fn is_intx(&self) -> bool {
        matches!(self, IrqMode::Intx(_))
    }

    /// The index of the enabled mode, if any.
    pub(crate) fn index(&self) -> Option<u32> {
        match self {
            IrqMode::None => None,
            IrqMode::Intx(_) => Some(INTX),
            IrqMode::Msi(m) => Some(if m.msix { MSIX } else { MSI }),
        }
    }

    /// Enables INTx, masked at first if the user disabled INTx in COMMAND; `pci_2_3`: mask
    /// it at the device, on a shared line, rather than at the interrupt chip.
    pub(crate) fn enable_intx(
        &mut self,
        function: &PciFunction,
        trigger: Option<EventFd>,
        virq_disabled: bool,
        pci_2_3: bool,
    ) -> Result {
        if !matches!(self, IrqMode::None) {
            return Err(EINVAL);
        }
        let irq = function.irq();
        if irq == 0 {
            return Err(ENODEV);
        }
        let line = Arc::pin_init(
            pin_init!(IntxLine {
                function: function.clone(),
                irq,
                pci_2_3,
                state <- new_spinlock_irq!(IntxState {
                    masked: virq_disabled,
                    trigger,
                    user_disabled: virq_disabled,
                }),
            }),
            GFP_KERNEL,
        )?;
        let sharing = if pci_2_3 {
            function.intx(!virq_disabled);
            IrqSharing::Shared
        } else {
            // Masking must take effect at once: the device keeps asserting the line.
            irq::set_disable_unlazy(irq, true);
            if virq_disabled {
                IrqSharing::ExclusiveDisabled
            } else {
                IrqSharing::Exclusive
            }
        };
        let registration = IrqRegistration::new(
            irq,
            sharing,
            irq_name("intx", None, function)?,
            IntxHandler(line.clone()),
        );
        let registration = match registration {
            Ok(registration) => registration,
            Err(e) => {
                if !pci_2_3 {
                    irq::set_disable_unlazy(irq, false);
                }
                return Err(e);
            }
        };
        *self = IrqMode::Intx(Intx {
            line,
            unmask_fd: None,
            _registration: registration,
        });
        Ok(())
    }

    /// Replaces (or removes) the INTx eventfd.
    pub(crate) fn set_intx_trigger(&mut self, trigger: Option<EventFd>) -> Result {
        let IrqMode::Intx(intx) = self else {
            return Err(EINVAL);
        };
        let old = core::mem::replace(&mut intx.line.state.lock().trigger, trigger);
        drop(old);
        Ok(())
    }

    /// Loopback: signals the INTx eventfd.
    pub(crate) fn fire_intx(&self) -> Result {
        let IrqMode::Intx(intx) = self else {
            return Err(EINVAL);
        };
        IntxLine::notify(&intx.line.state.lock());
        Ok(())
    }

    /// Masks INTx (no-op unless INTx is enabled and unmasked).
    pub(crate) fn mask_intx(&self) {
        if let IrqMode::Intx(intx) = self {
            intx.line.mask();
        }
    }

    /// Masks INTx for a runtime suspend; what the resume unmasks, if INTx is enabled and
    /// was unmasked.
    pub(crate) fn mask_intx_for_suspend(&self) -> Option<SuspendMask> {
        match self {
            IrqMode::Intx(intx) if intx.line.mask() => Some(SuspendMask(intx.line.clone())),
            _ => None,
        }
    }

    /// Unmasks INTx unless the user disabled it in COMMAND; an interrupt still pending is
    /// signalled again instead (the line stays masked).
    pub(crate) fn unmask_intx(&self) {
        if let IrqMode::Intx(intx) = self {
            intx.line.unmask();
        }
    }

    /// Records whether the user disabled INTx in the virtual COMMAND register.
    pub(crate) fn set_intx_user_disabled(&self, disabled: bool) {
        if let IrqMode::Intx(intx) = self {
            intx.line.state.lock().user_disabled = disabled;
        }
    }

    /// Sets (`fd` >= 0) or removes the INTx unmask eventfd. As upstream's
    /// `vfio_virqfd_enable()`, setting one while another is live (its eventfd still open)
    /// is -EBUSY, after the new fd is checked (-EBADF, -EINVAL).
    pub(crate) fn set_intx_unmask_fd(&mut self, fd: i32) -> Result {
        let IrqMode::Intx(intx) = self else {
            return Err(EINVAL);
        };
        if fd < 0 {
            intx.unmask_fd = None;
            return Ok(());
        }
        if intx.unmask_fd.as_ref().is_some_and(|v| !v.is_closed()) {
            EventFd::from_fd(fd)?;
            return Err(EBUSY);
        }
        let handler = Arc::new(IntxUnmask(intx.line.clone()), GFP_KERNEL)?;
        intx.unmask_fd = Some(Virqfd::new(fd, handler)?);
        Ok(())
    }

    /// Enables MSI or MSI-X with `nvec` vectors allocated; `Ok(Some(n))` when the device
    /// only has `n` (upstream returns that count to userspace).
    pub(crate) fn enable_msi(
        &mut self,
        function: &PciFunction,
        nvec: u32,
        msix: bool,
    ) -> Result<Option<u32>> {
        if !matches!(self, IrqMode::None) {
            return Err(EINVAL);
        }
        let allocated = function.alloc_irq_vectors(1, nvec, msix)?;
        if allocated.count() < nvec {
            return Ok(Some(allocated.count()));
        }
        *self = IrqMode::Msi(Msi {
            msix,
            vectors: KVec::new(),
            allocated,
        });
        Ok(None)
    }

    /// Attaches eventfds to vectors `start..` (-1 detaches); on failure, every vector of
    /// the block is detached again, as upstream.
    pub(crate) fn set_msi_block(
        &mut self,
        function: &PciFunction,
        start: u32,
        fds: &[i32],
        can_alloc_dyn: bool,
    ) -> Result {
        let IrqMode::Msi(msi) = self else {
            return Err(EINVAL);
        };
        // CAST: vector counts are at most 2048.
        let end = start as usize + fds.len();
        if msi.vectors.len() < end {
            msi.vectors.reserve(end - msi.vectors.len(), GFP_KERNEL)?;
            while msi.vectors.len() < end {
                msi.vectors.push(None, GFP_KERNEL)?;
            }
        }
        for (i, &fd) in fds.iter().enumerate() {
            // CAST: as above.
            let vector = start + i as u32;
            if let Err(e) = msi.set_vector(function, vector, fd, can_alloc_dyn) {
                for v in start..=vector {
                    // CAST: as above.
                    msi.vectors[v as usize] = None;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Loopback: signals the eventfds of vectors `start..start + count` that `data` fires.
    pub(crate) fn fire_msi(
        &self,
        msix: bool,
        start: u32,
        count: u32,
        data: &IrqData<'_>,
    ) -> Result {
        let IrqMode::Msi(msi) = self else {
            return Err(EINVAL);
        };
        if msi.msix != msix {
            return Err(EINVAL);
        }
        for i in 0..count {
            // CAST: vector counts are at most 2048.
            let vector = (start + i) as usize;
            if let Some(Some(v)) = msi.vectors.get(vector) {
                if data.fires(i as usize) {
                    v.registration.handler().trigger.signal();
                }
            }
        }
        Ok(())
    }

    /// Disables whatever is enabled (frees the lines, then the vectors).
    pub(crate) fn disable(&mut self) {
        match core::mem::take(self) {
            IrqMode::None => {}
            IrqMode::Intx(intx) => {
                let (irq, pci_2_3) = (intx.line.irq, intx.line.pci_2_3);
                // The line is freed first: the unlazy masking stays until it is gone.
                drop(intx);
                if !pci_2_3 {
                    irq::set_disable_unlazy(irq, false);
                }
            }
            // The lines, then the vectors (`Msi`'s field order).
            IrqMode::Msi(msi) => drop(msi),
        }
    }

    /// Whether `index` may be configured now: it is the enabled mode, or nothing is.
    pub(crate) fn accepts(&self, index: u32) -> bool {
        match self {
            IrqMode::None => true,
            _ => self.index() == Some(index),
        }
    }

    /// Whether MSI (`msix` false) or MSI-X is the enabled mode.
    pub(crate) fn msi_enabled(&self, msix: bool) -> bool {
        matches!(self, IrqMode::Msi(m) if m.msix == msix)
    }
}

impl Msi {
    /// Attaches `fd` to `vector` (replacing any eventfd), or detaches it when `fd` < 0.
    fn set_vector(
        &mut self,
        function: &PciFunction,
        vector: u32,
        fd: i32,
        dyn_alloc: bool,
    ) -> Result {
        // Free the line first; the vector itself stays allocated until disable.
        // CAST: vector counts are at most 2048.
        self.vectors[vector as usize] = None;
        if fd < 0 {
            return Ok(());
        }
        let irq = match self.allocated.irq(vector) {
            Ok(irq) => irq,
            Err(_) if self.msix && dyn_alloc => self.allocated.alloc_msix_at(vector)?,
            Err(e) => return Err(e),
        };
        let trigger = Arc::new(EventFd::from_fd(fd)?, GFP_KERNEL)?;
        let kind = if self.msix { "msix" } else { "msi" };
        let registration = IrqRegistration::new(
            irq,
            IrqSharing::Exclusive,
            irq_name(kind, Some(vector), function)?,
            MsiHandler {
                trigger: trigger.clone(),
            },
        )?;
        // As upstream, a vector whose eventfd cannot be announced (another producer has it
        // already) still works, through the eventfd.
        let bypass = BypassProducer::register(&trigger, irq).unwrap_or_else(|e| {
            dev_info!(
                function.dev(),
                "irq bypass producer (vector {vector}) registration fails: {}\n",
                e.to_errno()
            );
            None
        });
        // CAST: as above.
        self.vectors[vector as usize] = Some(MsiVector {
            _bypass: bypass,
            registration,
        });
        Ok(())
    }
}

/// A single-eventfd notifier (ERR or REQ).
#[derive(Default)]
pub(crate) struct Notifier {
    trigger: Option<EventFd>,
}

impl Notifier {
    /// Signals the eventfd; whether there was one.
    pub(crate) fn signal(&self) -> bool {
        match &self.trigger {
            Some(t) => {
                t.signal();
                true
            }
            None => false,
        }
    }

    /// Removes the eventfd.
    pub(crate) fn clear(&mut self) {
        self.trigger = None;
    }

    /// `SET_IRQS` on ERR or REQ (upstream's `vfio_pci_set_ctx_trigger_single`).
    pub(crate) fn set(&mut self, count: u32, data: &IrqData<'_>) -> Result {
        match data {
            IrqData::None => {
                if self.trigger.is_none() {
                    return Err(EINVAL);
                }
                if count != 0 {
                    self.signal();
                } else {
                    self.trigger = None;
                }
                Ok(())
            }
            IrqData::Bool(b) => {
                if count == 0 {
                    return Err(EINVAL);
                }
                if b.first().is_some_and(|&v| v != 0) {
                    self.signal();
                }
                Ok(())
            }
            IrqData::EventFd(fds) => {
                let fd = *fds.first().ok_or(EINVAL)?;
                match fd {
                    -1 => self.trigger = None,
                    fd if fd >= 0 => self.trigger = Some(EventFd::from_fd(fd)?),
                    _ => return Err(EINVAL),
                }
                Ok(())
            }
        }
    }
}
