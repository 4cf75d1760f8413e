// SPDX-License-Identifier: GPL-2.0

//! Config-space virtualisation: what userspace sees and may change in a device's config
//! space, with upstream vfio-pci's semantics (`drivers/vfio/pci/vfio_pci_config.c`).
//!
//! At open, the capability chains are walked and every byte of config space gets an
//! [`Area`] (which structure it belongs to) and two permission masks: `virt` bits are
//! served from the virtual copy `vconfig`, `write` bits may be written (virtual bits to
//! `vconfig`, the others to the device). Structures without a permission table are read
//! from the device with their chain header virtualised and are read-only (vendor-specific
//! ones are raw read-write); bytes outside every structure are raw read-write, as upstream
//! (some devices hide registers there). Capabilities upstream hides (length 0) are unlinked
//! from the virtual chain.
//!
//! Side effects of writes (memory decode, INTx masking, power state, function-level reset,
//! MSI enable) are reported to the caller as [`ConfigEffect`]s rather than performed here,
//! so this module is pure bookkeeping over the device's config accessors.

use kernel::prelude::*;

use crate::ext::pci_raw::{
    PciFunction,
    Resource,
    Width, //
};

/// Size of the standard header.
const HEADER_SIZE: usize = 64;
/// Size of legacy (non-extended) config space.
const LEGACY_SIZE: usize = 256;

const COMMAND: usize = 0x04;
const STATUS: usize = 0x06;
const BAR0: usize = 0x10;
const ROM_ADDRESS: usize = 0x30;
const CAPABILITY_LIST: usize = 0x34;
const INTERRUPT_PIN: usize = 0x3d;

const COMMAND_IO: u16 = 0x1;
const COMMAND_MEMORY: u16 = 0x2;
const COMMAND_INTX_DISABLE: u16 = 0x400;
const STATUS_CAP_LIST: u16 = 0x10;
const ROM_ADDRESS_ENABLE: u32 = 0x1;

const CAP_PM: u8 = 0x01;
const CAP_AGP: u8 = 0x02;
const CAP_VPD: u8 = 0x03;
const CAP_MSI: u8 = 0x05;
const CAP_PCIX: u8 = 0x07;
const CAP_HT: u8 = 0x08;
const CAP_VNDR: u8 = 0x09;
const CAP_EXP: u8 = 0x10;
const CAP_MSIX: u8 = 0x11;
const CAP_SATA: u8 = 0x12;
const CAP_AF: u8 = 0x13;

const ECAP_ERR: u16 = 0x01;
const ECAP_VC: u16 = 0x02;
const ECAP_DSN: u16 = 0x03;
const ECAP_PWR: u16 = 0x04;
const ECAP_MFVC: u16 = 0x08;
const ECAP_VC9: u16 = 0x09;
const ECAP_VNDR: u16 = 0x0b;
const ECAP_ACS: u16 = 0x0d;
const ECAP_ARI: u16 = 0x0e;
const ECAP_ATS: u16 = 0x0f;
const ECAP_SRIOV: u16 = 0x10;
const ECAP_MCAST: u16 = 0x12;
const ECAP_PRI: u16 = 0x13;
const ECAP_REBAR: u16 = 0x15;
const ECAP_DPA: u16 = 0x16;
const ECAP_TPH: u16 = 0x17;
const ECAP_LTR: u16 = 0x18;
const ECAP_DVSEC: u16 = 0x23;

const PM_PMC: usize = 2;
const PM_CTRL: usize = 4;
const PM_CAP_PME_MASK: u16 = 0xf800;
const PM_CTRL_STATE_MASK: u32 = 0x3;
const PM_CTRL_PME_ENABLE: u32 = 0x100;
const PM_CTRL_PME_STATUS: u32 = 0x8000;

const MSI_FLAGS: usize = 2;
const MSI_FLAGS_ENABLE: u16 = 0x1;
const MSI_FLAGS_QSIZE: u16 = 0x70;
const MSI_FLAGS_64BIT: u16 = 0x80;
const MSI_FLAGS_MASKBIT: u16 = 0x100;

const EXP_DEVCAP: usize = 4;
const EXP_DEVCAP_FLR: u32 = 0x1000_0000;
const EXP_DEVCTL: usize = 8;
const EXP_DEVCTL_BCR_FLR: u16 = 0x8000;
const EXP_DEVCTL_PAYLOAD: u16 = 0x00e0;
const EXP_DEVCTL_READRQ: u16 = 0x7000;
const EXP_DEVCTL_PHANTOM: u16 = 0x0200;
const EXP_DEVCTL2: usize = 0x28;
const EXP_DEVCTL2_ARI: u16 = 0x0020;
const EXP_TYPE_RC_END: u16 = 0x9;

const AF_CAP: usize = 3;
const AF_CTRL: usize = 4;
const AF_CAP_TP: u8 = 0x01;
const AF_CAP_FLR: u8 = 0x02;
const AF_CTRL_FLR: u8 = 0x01;

const PCIX_CMD: usize = 2;
const PCIX_ECC_CSR: usize = 4;

const ERR_UNCOR_STATUS: usize = 0x04;
const ERR_UNCOR_MASK: usize = 0x08;
const ERR_UNCOR_SEVER: usize = 0x0c;
const ERR_COR_STATUS: usize = 0x10;
const ERR_COR_MASK: usize = 0x14;
const ERR_CAP: usize = 0x18;
/// The uncorrectable errors userspace may mask, clear or re-grade (upstream's list).
const ERR_UNC_WRITABLE: u32 = 0x0000_0010 // data link protocol
    | 0x0000_0020 // surprise down
    | 0x0000_1000 // poisoned TLP
    | 0x0000_2000 // flow control protocol
    | 0x0000_4000 // completion timeout
    | 0x0000_8000 // completer abort
    | 0x0001_0000 // unexpected completion
    | 0x0002_0000 // receiver overflow
    | 0x0004_0000 // malformed TLP
    | 0x0008_0000 // ECRC
    | 0x0010_0000 // unsupported request
    | 0x0020_0000 // ACS violation
    | 0x0040_0000 // internal
    | 0x0080_0000 // MC blocked TLP
    | 0x0100_0000 // atomic egress blocked
    | 0x0200_0000 // TLP prefix blocked
    | 0x0000_0001; // undefined
/// The correctable errors userspace may mask or clear.
const ERR_COR_WRITABLE: u32 = 0x0000_0001 | 0x40 | 0x80 | 0x100 | 0x1000 | 0x2000 | 0x4000 | 0x8000;
/// ECRC generation and check enables.
const ERR_CAP_WRITABLE: u32 = 0x40 | 0x100;
const PWR_DATA: usize = 0x04;

/// What a byte of config space belongs to, which decides how it is accessed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Outside every structure: raw read-write.
    Unassigned,
    /// The standard header.
    Header,
    /// A capability with a permission table (`virt`/`write` masks), and its id.
    Perm(u8),
    /// An extended capability with a permission table, and its id.
    PermExt(u16),
    /// A capability read from the device with its chain header virtualised; writes go
    /// to the device when `raw_write`, else are dropped.
    Direct {
        /// Vendor-specific: writes pass through.
        raw_write: bool,
    },
}

/// Which structure a byte belongs to, and where that structure starts.
#[derive(Clone, Copy, Debug)]
struct Area {
    kind: Kind,
    start: u16,
}

/// Side effects of a config write that the device must carry out.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct ConfigEffect {
    /// COMMAND was written: the new virtual memory/I/O enables.
    pub(crate) command: Option<u16>,
    /// COMMAND was written: the virtual INTx disable is now this.
    pub(crate) intx_disabled: Option<bool>,
    /// A power state was requested through the PM capability.
    pub(crate) power_state: Option<u8>,
    /// A function-level reset was requested (PCIe or AF FLR).
    pub(crate) flr: bool,
    /// The max read request size to program, in bytes.
    pub(crate) readrq: Option<u32>,
}

/// The virtual config space of an open device.
pub(crate) struct ConfigSpace {
    size: usize,
    vconfig: KVec<u8>,
    virt: KVec<u8>,
    write: KVec<u8>,
    areas: KVec<Area>,
    /// The BARs and ROM BAR as found at open, to restore after a backdoor reset.
    saved_bars: [u32; 7],
    /// The virtual BARs need their size masks and flags re-applied before being read.
    bars_dirty: bool,
    /// Resources 0-6, for BAR sizing.
    resources: [Resource; 7],
    /// log2 of the MSI vectors last enabled: the largest Multiple Message Enable userspace
    /// may write.
    msi_qmax: u8,
    /// Whether MSI is the active interrupt mode (the MSI enable bit may stay set).
    msi_active: bool,
}

/// Reads `width` little-endian bytes of `bytes` at `at`.
fn le_get(bytes: &[u8], at: usize, width: usize) -> u32 {
    (0..width).fold(0, |v, i| v | (u32::from(bytes[at + i]) << (8 * i)))
}

/// Writes the low `width` bytes of `value` into `bytes` at `at`, little-endian.
fn le_put(bytes: &mut [u8], at: usize, width: usize, value: u32) {
    for i in 0..width {
        // CAST: one byte of `value`.
        bytes[at + i] = (value >> (8 * i)) as u8;
    }
}

/// A width in bytes as a [`Width`].
fn width_of(bytes: usize) -> Width {
    match bytes {
        1 => Width::W8,
        2 => Width::W16,
        _ => Width::W32,
    }
}

/// The mask of the low `width` bytes.
fn bytes_mask(width: usize) -> u32 {
    if width >= 4 {
        u32::MAX
    } else {
        (1u32 << (8 * width)) - 1
    }
}

impl ConfigSpace {
    /// Snapshots and lays out the config space of `function`.
    pub(crate) fn new(function: &PciFunction, intx_usable: bool) -> Result<Self> {
        let size = function.cfg_size().clamp(LEGACY_SIZE, 4096);
        let mut this = Self {
            size,
            vconfig: KVec::from_elem(0u8, size, GFP_KERNEL)?,
            virt: KVec::from_elem(0u8, size, GFP_KERNEL)?,
            write: KVec::from_elem(0u8, size, GFP_KERNEL)?,
            areas: KVec::from_elem(
                Area {
                    kind: Kind::Unassigned,
                    start: 0,
                },
                size,
                GFP_KERNEL,
            )?,
            saved_bars: [0; 7],
            bars_dirty: true,
            resources: [Resource::default(); 7],
            msi_qmax: 0,
            msi_active: false,
        };
        for (i, r) in this.resources.iter_mut().enumerate() {
            // CAST: 0..7.
            *r = function.resource(i as u32);
        }
        this.fill(function, 0, HEADER_SIZE)?;
        this.assign(0, HEADER_SIZE, Kind::Header);
        this.header_perms();
        for (i, bar) in this.saved_bars.iter_mut().enumerate() {
            let at = if i < 6 { BAR0 + 4 * i } else { ROM_ADDRESS };
            *bar = le_get(&this.vconfig, at, 4);
        }
        if !intx_usable {
            this.vconfig[INTERRUPT_PIN] = 0;
        }
        let extended = this.init_caps(function)?;
        if extended {
            this.init_ecaps(function)?;
        }
        Ok(this)
    }

    /// Marks `[start, start + len)` as belonging to a structure of `kind`.
    fn assign(&mut self, start: usize, len: usize, kind: Kind) {
        let end = (start + len).min(self.size);
        for area in &mut self.areas[start..end] {
            // CAST: offsets are below 4096.
            *area = Area {
                kind,
                start: start as u16,
            };
        }
    }

    /// Copies `[start, start + len)` of the device's config space into `vconfig`.
    fn fill(&mut self, function: &PciFunction, start: usize, len: usize) -> Result {
        let end = (start + len).min(self.size);
        let mut at = start;
        while at < end {
            let width = Width::fitting(at as u64, end - at, Width::W32).ok_or(EINVAL)?;
            let value = function.config_read(at, width)?;
            le_put(&mut self.vconfig, at, width.bytes(), value);
            at += width.bytes();
        }
        Ok(())
    }

    /// Sets the permission masks of `width` bytes at `at`.
    fn perm(&mut self, at: usize, width: usize, virt: u32, write: u32) {
        if at + width <= self.size {
            le_put(&mut self.virt, at, width, virt);
            le_put(&mut self.write, at, width, write);
        }
    }

    /// The standard header's permissions.
    fn header_perms(&mut self) {
        // Vendor and device IDs: virtual (they read 0xffff on VFs).
        self.perm(0x00, 4, u32::MAX, 0);
        // INTx disable is emulated; the rest of COMMAND goes to the device.
        self.perm(COMMAND, 2, COMMAND_INTX_DISABLE.into(), 0xffff);
        // The capability-list bit is virtual, so capabilities can be hidden.
        self.perm(STATUS, 2, STATUS_CAP_LIST.into(), 0);
        // Cache line size, latency timer, BIST: harmless to write.
        self.perm(0x0c, 1, 0, 0xff);
        self.perm(0x0d, 1, 0, 0xff);
        self.perm(0x0f, 1, 0, 0xff);
        // BARs and the ROM BAR are entirely virtual (sizing is emulated).
        for bar in 0..6 {
            self.perm(BAR0 + 4 * bar, 4, u32::MAX, u32::MAX);
        }
        self.perm(ROM_ADDRESS, 4, u32::MAX, u32::MAX);
        self.perm(CAPABILITY_LIST, 1, 0xff, 0);
        // Interrupt line: scratch for software; pin: virtual so INTx can be hidden.
        self.perm(0x3c, 1, 0xff, 0xff);
        self.perm(INTERRUPT_PIN, 1, 0xff, 0);
    }

    /// Length of the capability `id` at `pos`, 0 to hide it (upstream's table).
    fn cap_len(&self, function: &PciFunction, id: u8, pos: usize) -> Result<usize> {
        let flags = || function.config_read(pos + 2, Width::W16);
        Ok(match id {
            CAP_PM => 8,
            CAP_AGP => 12,
            CAP_VPD => 8,
            CAP_MSIX => 12,
            CAP_AF => 6,
            CAP_MSI => {
                let flags = flags()?;
                10 + if flags & u32::from(MSI_FLAGS_64BIT) != 0 {
                    4
                } else {
                    0
                } + if flags & u32::from(MSI_FLAGS_MASKBIT) != 0 {
                    10
                } else {
                    0
                }
            }
            CAP_PCIX => {
                let cmd = function.config_read(pos + PCIX_CMD, Width::W16)?;
                if (cmd >> 12) & 3 != 0 {
                    24
                } else {
                    8
                }
            }
            // CAST: a byte read.
            CAP_VNDR => function.config_read(pos + 2, Width::W8)? as usize,
            CAP_EXP => {
                // CAST: a 16-bit read.
                let flags = flags()? as u16;
                let rc_end = (flags & 0xf0) >> 4 == EXP_TYPE_RC_END;
                match (flags & 0xf == 1, rc_end) {
                    (true, true) => 0xc,
                    (true, false) => 20,
                    (false, true) => 0x2c,
                    (false, false) => 0x34,
                }
            }
            CAP_HT => {
                if function.config_read(pos + 3, Width::W8)? & 0xe0 != 0 {
                    24
                } else {
                    28
                }
            }
            CAP_SATA => {
                if function.config_read(pos + 4, Width::W8)? & 0xf == 0xf {
                    16
                } else {
                    8
                }
            }
            _ => 0,
        })
    }

    /// Walks the capability list; whether extended capabilities should be walked too.
    fn init_caps(&mut self, function: &PciFunction) -> Result<bool> {
        let mut extended = false;
        let status = function.config_read(STATUS, Width::W16)?;
        if status & u32::from(STATUS_CAP_LIST) == 0 {
            return Ok(false);
        }
        // CAST: a byte read.
        let mut pos = function.config_read(CAPABILITY_LIST, Width::W8)? as usize & !3;
        let mut prev_next = CAPABILITY_LIST;
        let mut found = 0;
        let mut budget = (LEGACY_SIZE - HEADER_SIZE) / 4;
        while (HEADER_SIZE..LEGACY_SIZE).contains(&pos) && budget > 0 {
            budget -= 1;
            // CAST: byte reads.
            let id = function.config_read(pos, Width::W8)? as u8;
            let next = function.config_read(pos + 1, Width::W8)? as usize & !3;
            let len = if id == 0 {
                0
            } else {
                self.cap_len(function, id, pos)?
            };
            if len == 0 {
                // Hidden: unlink it from the virtual chain.
                // CAST: `next` came from a byte.
                self.vconfig[prev_next] = next as u8;
                pos = next;
                continue;
            }
            if matches!(id, CAP_EXP | CAP_PCIX) && self.size > LEGACY_SIZE {
                extended |= function.config_read(LEGACY_SIZE, Width::W32)? != 0;
            }
            let kind = match id {
                CAP_PM | CAP_VPD | CAP_PCIX | CAP_EXP | CAP_AF | CAP_MSI => Kind::Perm(id),
                CAP_VNDR => Kind::Direct { raw_write: true },
                _ => Kind::Direct { raw_write: false },
            };
            self.assign(pos, len, kind);
            self.fill(function, pos, len)?;
            self.cap_perms(function, id, pos)?;
            prev_next = pos + 1;
            pos = next;
            found += 1;
        }
        if found == 0 {
            let status = le_get(&self.vconfig, STATUS, 2) & !u32::from(STATUS_CAP_LIST);
            le_put(&mut self.vconfig, STATUS, 2, status);
        }
        Ok(extended)
    }

    /// Permissions of capability `id` at `pos`.
    fn cap_perms(&mut self, function: &PciFunction, id: u8, pos: usize) -> Result {
        match id {
            CAP_PM | CAP_VPD | CAP_PCIX | CAP_EXP | CAP_AF | CAP_MSI => {
                // The next pointer is virtual, so capabilities can be unlinked.
                self.perm(pos + 1, 1, 0xff, 0);
            }
            _ => {}
        }
        match id {
            CAP_PM => {
                // PME can't reach the user: PME support, status and enable are virtual
                // and read 0. The power state is trapped into the real operation.
                self.perm(pos + PM_PMC, 2, PM_CAP_PME_MASK.into(), 0);
                let ctrl_virt = PM_CTRL_PME_ENABLE | PM_CTRL_PME_STATUS;
                self.perm(
                    pos + PM_CTRL,
                    4,
                    ctrl_virt,
                    !(ctrl_virt | PM_CTRL_STATE_MASK),
                );
                let pmc = le_get(&self.vconfig, pos + PM_PMC, 2) & !u32::from(PM_CAP_PME_MASK);
                le_put(&mut self.vconfig, pos + PM_PMC, 2, pmc);
                let ctrl = le_get(&self.vconfig, pos + PM_CTRL, 2) & !ctrl_virt;
                le_put(&mut self.vconfig, pos + PM_CTRL, 2, ctrl);
            }
            CAP_VPD => {
                // Address and data are virtual. rvfio does not proxy VPD accesses to
                // pci_read_vpd()/pci_write_vpd() yet: they read back what was written.
                self.perm(pos + 2, 2, 0xffff, 0xffff);
                self.perm(pos + 4, 4, u32::MAX, u32::MAX);
            }
            CAP_PCIX => {
                self.perm(pos + PCIX_CMD, 2, 0, 0xffff);
                self.perm(pos + PCIX_ECC_CSR, 4, 0, u32::MAX);
            }
            CAP_EXP => {
                // Device control is writable except phantom functions; FLR, payload
                // size and read request size are virtual (FLR and MRRS are trapped).
                let virt = EXP_DEVCTL_BCR_FLR | EXP_DEVCTL_PAYLOAD | EXP_DEVCTL_READRQ;
                self.perm(
                    pos + EXP_DEVCTL,
                    2,
                    virt.into(),
                    (!EXP_DEVCTL_PHANTOM).into(),
                );
                self.perm(pos + EXP_DEVCTL2, 2, 0, (!EXP_DEVCTL2_ARI).into());
            }
            CAP_AF => {
                self.perm(pos + AF_CTRL, 1, AF_CTRL_FLR.into(), AF_CTRL_FLR.into());
            }
            CAP_MSI => {
                // CAST: a 16-bit read.
                let flags = function.config_read(pos + MSI_FLAGS, Width::W16)? as u16;
                self.perm(pos + MSI_FLAGS, 1, 0xff, 0xff);
                self.perm(pos + 4, 4, u32::MAX, u32::MAX);
                let (data, mask) = if flags & MSI_FLAGS_64BIT != 0 {
                    self.perm(pos + 8, 4, u32::MAX, u32::MAX);
                    (pos + 12, pos + 16)
                } else {
                    (pos + 8, pos + 12)
                };
                self.perm(data, 2, 0xffff, 0xffff);
                if flags & MSI_FLAGS_MASKBIT != 0 {
                    // Mask and pending bits go to the device.
                    self.perm(mask, 4, 0, u32::MAX);
                    self.perm(mask + 4, 4, 0, u32::MAX);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Length of the extended capability `id` at `pos`, 0 to hide it.
    fn ecap_len(&self, function: &PciFunction, id: u16, pos: usize) -> Result<usize> {
        let byte = |off: usize| -> Result<usize> {
            // CAST: a byte read.
            Ok(function.config_read(pos + off, Width::W8)? as usize)
        };
        let dword = |off: usize| function.config_read(pos + off, Width::W32);
        Ok(match id {
            ECAP_ERR => 0x2c,
            ECAP_DSN => 12,
            ECAP_PWR => 0x10,
            ECAP_ARI | ECAP_ATS | ECAP_LTR => 8,
            ECAP_SRIOV => 0x40,
            ECAP_MCAST => 40,
            ECAP_PRI => 16,
            // CAST: a 12-bit field.
            ECAP_VNDR => (dword(4)? >> 20) as usize,
            // CAST: an 18-bit field... of which the low 12 bits hold the length.
            ECAP_DVSEC => (dword(4)? >> 20) as usize,
            ECAP_VC | ECAP_VC9 | ECAP_MFVC => {
                // CAST: a 3-bit field.
                let evcc = (dword(4)? & 0x7) as usize;
                let cap2 = dword(8)?;
                let phases = if cap2 & 0x8 != 0 {
                    128
                } else if cap2 & 0x4 != 0 {
                    64
                } else if cap2 & 0x2 != 0 {
                    32
                } else {
                    0
                };
                let mut len = 0x10 + (1 + evcc) * 0x0c;
                if phases != 0 {
                    len = len.next_multiple_of(16) + phases * 4 / 8;
                }
                len
            }
            ECAP_ACS => {
                if byte(4)? & 0x20 != 0 {
                    let bits = byte(5)?;
                    let bits = if bits != 0 {
                        bits.next_multiple_of(32)
                    } else {
                        256
                    };
                    8 + bits / 8
                } else {
                    8
                }
            }
            ECAP_REBAR => 4 + ((byte(8)? & 0xe0) >> 5) * 8,
            ECAP_DPA => 16 + (byte(4)? & 0x1f) + 1,
            ECAP_TPH => {
                let cap = dword(4)?;
                if cap & 0x600 == 0x200 {
                    // CAST: an 11-bit field.
                    0xc + ((cap >> 16) & 0x7ff) as usize * 2 + 2
                } else {
                    0xc
                }
            }
            _ => 0,
        })
    }

    /// Walks the extended capability list.
    fn init_ecaps(&mut self, function: &PciFunction) -> Result {
        let mut pos = LEGACY_SIZE;
        let mut prev: Option<usize> = None;
        let mut found = 0;
        let mut budget = (self.size - LEGACY_SIZE) / 4;
        while budget > 0 && pos >= LEGACY_SIZE && pos + 4 <= self.size {
            budget -= 1;
            let header = function.config_read(pos, Width::W32)?;
            // CAST: 16-bit and 12-bit fields.
            let id = (header & 0xffff) as u16;
            let next = (header >> 20) as usize & !3;
            let mut len = self.ecap_len(function, id, pos)?;
            let mut hidden = false;
            if len == 0 {
                if let Some(prev) = prev {
                    // Unlink it from the virtual chain.
                    let linked = (le_get(&self.vconfig, prev, 4) & 0x000f_ffff)
                        // CAST: `next` is below 4096.
                        | ((next as u32) << 20);
                    le_put(&mut self.vconfig, prev, 4, linked);
                    pos = next;
                    continue;
                }
                // The first one anchors the list: keep a header with a zero id.
                len = 4;
                hidden = true;
            }
            let kind = match id {
                _ if hidden => Kind::Direct { raw_write: false },
                ECAP_ERR | ECAP_PWR => Kind::PermExt(id),
                ECAP_VNDR | ECAP_DVSEC => Kind::Direct { raw_write: true },
                _ => Kind::Direct { raw_write: false },
            };
            self.assign(pos, len, kind);
            self.fill(function, pos, len)?;
            if hidden {
                let anchored = le_get(&self.vconfig, pos, 4) & 0xfff0_0000;
                le_put(&mut self.vconfig, pos, 4, anchored);
            } else {
                found += 1;
                self.ecap_perms(id, pos);
            }
            prev = Some(pos);
            pos = next;
        }
        if found == 0 {
            le_put(&mut self.vconfig, LEGACY_SIZE, 4, 0);
        }
        Ok(())
    }

    /// Permissions of extended capability `id` at `pos`.
    fn ecap_perms(&mut self, id: u16, pos: usize) {
        match id {
            ECAP_ERR => {
                self.perm(pos, 4, u32::MAX, 0);
                self.perm(pos + ERR_UNCOR_STATUS, 4, 0, ERR_UNC_WRITABLE);
                self.perm(pos + ERR_UNCOR_MASK, 4, 0, ERR_UNC_WRITABLE);
                self.perm(pos + ERR_UNCOR_SEVER, 4, 0, ERR_UNC_WRITABLE);
                self.perm(pos + ERR_COR_STATUS, 4, 0, ERR_COR_WRITABLE);
                self.perm(pos + ERR_COR_MASK, 4, 0, ERR_COR_WRITABLE);
                self.perm(pos + ERR_CAP, 4, 0, ERR_CAP_WRITABLE);
            }
            ECAP_PWR => {
                self.perm(pos, 4, u32::MAX, 0);
                self.perm(pos + PWR_DATA, 1, 0, 0xff);
            }
            _ => {}
        }
    }

    /// Size of config space.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The virtual INTERRUPT_PIN (0: no INTx for the user).
    pub(crate) fn interrupt_pin(&self) -> u8 {
        self.vconfig[INTERRUPT_PIN]
    }

    /// The virtual COMMAND register.
    pub(crate) fn command(&self) -> u16 {
        // CAST: a 16-bit field.
        le_get(&self.vconfig, COMMAND, 2) as u16
    }

    /// Records MSI as (in)active with `nvec` vectors, for the virtual MSI flags.
    pub(crate) fn set_msi(&mut self, active: bool, nvec: u32) {
        self.msi_active = active;
        if active {
            // log2 of the vectors, rounded up (upstream's `fls(nvec * 2 - 1) - 1`).
            // CAST: at most 5.
            self.msi_qmax = (u32::BITS - (nvec.max(1) * 2 - 1).leading_zeros() - 1) as u8;
        }
    }

    /// The BARs to write back after a backdoor reset, at their config offsets.
    fn saved_bars(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.saved_bars
            .iter()
            .enumerate()
            .map(|(i, &v)| (if i < 6 { BAR0 + 4 * i } else { ROM_ADDRESS }, v))
    }

    /// Whether any BAR of the device differs from what it held at open.
    fn bars_changed(&self, function: &PciFunction) -> bool {
        self.saved_bars[..6].iter().enumerate().any(|(i, &saved)| {
            saved != 0 && function.config_read(BAR0 + 4 * i, Width::W32).ok() != Some(saved)
        })
    }

    /// Applies the BAR sizing masks and type flags to the virtual BARs.
    fn fixup_bars(&mut self) {
        if !self.bars_dirty {
            return;
        }
        let mut i = 0;
        while i < 6 {
            let r = self.resources[i];
            let at = BAR0 + 4 * i;
            if r.start == 0 {
                le_put(&mut self.vconfig, at, 4, 0);
                i += 1;
                continue;
            }
            let mask = !(r.len.wrapping_sub(1));
            let flags: u32 = if r.is_io() {
                0x1
            } else {
                (if r.is_prefetch() { 0x8 } else { 0 }) | (if r.is_mem64() { 0x4 } else { 0 })
            };
            // CAST: the low half of the mask.
            let low = (le_get(&self.vconfig, at, 4) & mask as u32 & !0xf) | flags;
            let low = if r.is_io() { (low & !0x3) | 0x1 } else { low };
            le_put(&mut self.vconfig, at, 4, low);
            if r.is_mem64() && i < 5 {
                // CAST: the high half of the mask.
                let high = le_get(&self.vconfig, at + 4, 4) & (mask >> 32) as u32;
                le_put(&mut self.vconfig, at + 4, 4, high);
                i += 1;
            }
            i += 1;
        }
        let rom = self.resources[6];
        let value = if rom.start != 0 {
            // CAST: ROM BARs are 32-bit.
            let mask = !(rom.len.wrapping_sub(1)) as u32 | ROM_ADDRESS_ENABLE;
            le_get(&self.vconfig, ROM_ADDRESS, 4) & mask
        } else {
            0
        };
        le_put(&mut self.vconfig, ROM_ADDRESS, 4, value);
        self.bars_dirty = false;
    }

    /// The length of the access at `pos` of up to `count` bytes: within one structure and
    /// one dword, naturally aligned.
    fn chunk(&self, pos: usize, count: usize) -> usize {
        let area = self.areas[pos];
        let mut same = 1;
        while (pos + same) % 4 != 0
            && pos + same < self.size
            && self.areas[pos + same].kind == area.kind
            && self.areas[pos + same].start == area.start
        {
            same += 1;
        }
        let count = count.min(same);
        if count >= 4 && pos % 4 == 0 {
            4
        } else if count >= 2 && pos % 2 == 0 {
            2
        } else {
            1
        }
    }

    /// Checks a user access of `count` bytes at `pos`: -EFAULT outside config space, as
    /// upstream.
    pub(crate) fn check_range(&self, pos: u64, count: usize) -> Result<usize> {
        let end = pos.checked_add(count as u64).ok_or(EFAULT)?;
        if pos >= self.size as u64 || end > self.size as u64 {
            return Err(EFAULT);
        }
        // CAST: below the config size.
        Ok(pos as usize)
    }

    /// Reads `out.len()` bytes at `pos` (checked by [`Self::check_range`]).
    pub(crate) fn read(&mut self, function: &PciFunction, pos: usize, out: &mut [u8]) -> Result {
        let mut done = 0;
        while done < out.len() {
            let at = pos + done;
            let n = self.chunk(at, out.len() - done);
            let value = self.read_chunk(function, at, n)?;
            le_put(&mut out[done..], 0, n, value);
            done += n;
        }
        Ok(())
    }

    /// Writes `data` at `pos` (checked by [`Self::check_range`]); the side effects the
    /// device must carry out are accumulated into `effect`.
    pub(crate) fn write(
        &mut self,
        function: &PciFunction,
        pos: usize,
        data: &[u8],
        effect: &mut ConfigEffect,
    ) -> Result {
        let mut done = 0;
        while done < data.len() {
            let at = pos + done;
            let n = self.chunk(at, data.len() - done);
            self.write_chunk(function, at, n, le_get(data, done, n), effect)?;
            done += n;
        }
        Ok(())
    }

    /// One aligned read within a structure.
    fn read_chunk(&mut self, function: &PciFunction, pos: usize, n: usize) -> Result<u32> {
        let area = self.areas[pos];
        let offset = pos - usize::from(area.start);
        match area.kind {
            Kind::Unassigned => function.config_read(pos, width_of(n)),
            Kind::Direct { .. } => {
                let mut value = function.config_read(pos, width_of(n))?;
                if pos >= LEGACY_SIZE {
                    if offset < 4 {
                        value = le_get(&self.vconfig, pos, n);
                    }
                } else if offset == 0 && n > 1 {
                    // ID and next pointer come from the virtual chain.
                    let virt = le_get(&self.vconfig, pos, 2);
                    value = (value & !0xffff) | virt;
                } else if offset == 1 {
                    value = (value & !0xff) | u32::from(self.vconfig[pos]);
                }
                Ok(value)
            }
            Kind::Header => {
                if (BAR0..BAR0 + 24).contains(&pos) || (ROM_ADDRESS..ROM_ADDRESS + 4).contains(&pos)
                {
                    self.fixup_bars();
                }
                self.default_read(function, pos, n)
            }
            // The MSI flags read as the virtual copy: Multiple Message Capable is the
            // device's (what QEMU sizes its MSI emulation by) unless userspace wrote it.
            // Upstream's `vfio_msi_config_read()` means to replace it with `msi_qmax` but
            // writes those bits at the capability's start (its non-virtual ID byte), so in
            // effect it never does; replacing it would hide all but one vector of a
            // multi-vector MSI device until MSI is enabled.
            Kind::Perm(_) | Kind::PermExt(_) => self.default_read(function, pos, n),
        }
    }

    /// Virtual bits from `vconfig`, the others from the device.
    fn default_read(&self, function: &PciFunction, pos: usize, n: usize) -> Result<u32> {
        let virt = le_get(&self.virt, pos, n);
        let mut value = le_get(&self.vconfig, pos, n);
        if virt != bytes_mask(n) {
            let phys = function.config_read(pos, width_of(n))?;
            value = (phys & !virt) | (value & virt);
        }
        Ok(value)
    }

    /// Writable virtual bits to `vconfig`, writable physical bits to the device.
    fn default_write(
        &mut self,
        function: &PciFunction,
        pos: usize,
        n: usize,
        value: u32,
    ) -> Result {
        let write = le_get(&self.write, pos, n);
        if write == 0 {
            return Ok(());
        }
        let virt = le_get(&self.virt, pos, n);
        if write & virt != 0 {
            let mut v = le_get(&self.vconfig, pos, n);
            v = (v & !(write & virt)) | (value & write & virt);
            le_put(&mut self.vconfig, pos, n, v);
        }
        if write & !virt != 0 {
            let mut phys = function.config_read(pos, width_of(n))?;
            phys = (phys & !(write & !virt)) | (value & write & !virt);
            function.config_write(pos, width_of(n), phys)?;
        }
        Ok(())
    }

    /// One aligned write within a structure.
    fn write_chunk(
        &mut self,
        function: &PciFunction,
        pos: usize,
        n: usize,
        value: u32,
        effect: &mut ConfigEffect,
    ) -> Result {
        let area = self.areas[pos];
        let start = usize::from(area.start);
        let offset = pos - start;
        match area.kind {
            Kind::Unassigned | Kind::Direct { raw_write: true } => {
                function.config_write(pos, width_of(n), value)
            }
            Kind::Direct { raw_write: false } => Ok(()),
            Kind::Header => self.write_header(function, pos, n, value, effect),
            Kind::Perm(CAP_PM) => {
                self.default_write(function, pos, n, value)?;
                if offset == PM_CTRL {
                    // CAST: two bits.
                    effect.power_state = Some((value & PM_CTRL_STATE_MASK) as u8);
                }
                Ok(())
            }
            Kind::Perm(CAP_EXP) => {
                let ctrl_at = start + EXP_DEVCTL;
                let old_readrq = le_get(&self.vconfig, ctrl_at, 2) & u32::from(EXP_DEVCTL_READRQ);
                self.default_write(function, pos, n, value)?;
                let ctrl = le_get(&self.vconfig, ctrl_at, 2);
                if ctrl & u32::from(EXP_DEVCTL_BCR_FLR) != 0 {
                    // Reads as zero, always; the reset itself only if the device has FLR.
                    le_put(
                        &mut self.vconfig,
                        ctrl_at,
                        2,
                        ctrl & !u32::from(EXP_DEVCTL_BCR_FLR),
                    );
                    let devcap = function.config_read(start + EXP_DEVCAP, Width::W32)?;
                    effect.flr |= devcap & EXP_DEVCAP_FLR != 0;
                }
                let readrq = ctrl & u32::from(EXP_DEVCTL_READRQ);
                if readrq != old_readrq {
                    effect.readrq = Some(128 << (readrq >> 12));
                }
                Ok(())
            }
            Kind::Perm(CAP_AF) => {
                self.default_write(function, pos, n, value)?;
                let ctrl_at = start + AF_CTRL;
                if self.vconfig[ctrl_at] & AF_CTRL_FLR != 0 {
                    self.vconfig[ctrl_at] &= !AF_CTRL_FLR;
                    // CAST: a byte read.
                    let cap = function.config_read(start + AF_CAP, Width::W8)? as u8;
                    effect.flr |= cap & AF_CAP_FLR != 0 && cap & AF_CAP_TP != 0;
                }
                Ok(())
            }
            Kind::Perm(CAP_MSI) => {
                self.default_write(function, pos, n, value)?;
                if offset <= MSI_FLAGS && offset + n >= MSI_FLAGS {
                    let at = start + MSI_FLAGS;
                    // CAST: a 16-bit field.
                    let mut flags = le_get(&self.vconfig, at, 2) as u16;
                    // MSI is only enabled through VFIO_DEVICE_SET_IRQS.
                    if !self.msi_active {
                        flags &= !MSI_FLAGS_ENABLE;
                    }
                    if (flags & MSI_FLAGS_QSIZE) >> 4 > u16::from(self.msi_qmax) {
                        flags = (flags & !MSI_FLAGS_QSIZE) | (u16::from(self.msi_qmax) << 4);
                    }
                    le_put(&mut self.vconfig, at, 2, flags.into());
                    function.config_write(at, Width::W16, flags.into())?;
                }
                Ok(())
            }
            Kind::Perm(_) | Kind::PermExt(_) => self.default_write(function, pos, n, value),
        }
    }

    /// A write to the standard header.
    fn write_header(
        &mut self,
        function: &PciFunction,
        pos: usize,
        n: usize,
        value: u32,
        effect: &mut ConfigEffect,
    ) -> Result {
        let writes_command = pos == COMMAND;
        if writes_command {
            // CAST: 16-bit fields.
            let phys = function.config_read(COMMAND, Width::W16)? as u16;
            let virt = self.command();
            let new = value as u16;
            let mem_lost = new & COMMAND_MEMORY != 0
                && virt & COMMAND_MEMORY != 0
                && phys & COMMAND_MEMORY == 0;
            let io_lost = new & COMMAND_IO != 0 && virt & COMMAND_IO != 0 && phys & COMMAND_IO == 0;
            // The device was reset behind our back: restore its BARs before decoding is
            // enabled again.
            if mem_lost || io_lost || self.bars_changed(function) {
                dev_info!(function.dev(), "reset recovery: restoring BARs\n");
                for (at, value) in self.saved_bars() {
                    function.config_write(at, Width::W32, value)?;
                }
            }
        }
        self.default_write(function, pos, n, value)?;
        if writes_command {
            let keep = COMMAND_MEMORY | COMMAND_IO;
            // CAST: a 16-bit field.
            let cmd = (self.command() & !keep) | (value as u16 & keep);
            le_put(&mut self.vconfig, COMMAND, 2, cmd.into());
            effect.command = Some(cmd);
        }
        if pos <= COMMAND + 1 && pos + n > COMMAND {
            effect.intx_disabled = Some(self.command() & COMMAND_INTX_DISABLE != 0);
        }
        if (BAR0..BAR0 + 24).contains(&pos) || (ROM_ADDRESS..ROM_ADDRESS + 4).contains(&pos) {
            self.bars_dirty = true;
        }
        Ok(())
    }
}
