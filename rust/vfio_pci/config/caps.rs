// SPDX-License-Identifier: GPL-2.0

//! The capabilities vfio-pci knows, as two tables: for each id, how long the capability is,
//! and how its bytes are accessed (upstream's `pci_cap_length`, `pci_ext_cap_length` and
//! per-id `perm_bits` with their write handlers, in `vfio_pci_config.c`). A capability
//! missing from its table is hidden: unlinked from the chain the user sees.

use kernel::{
    bindings,
    prelude::*, //
};

use super::{
    le_get,
    le_put,
    ConfigEffect,
    ConfigSpace, //
};
use crate::ext::pci_raw::{
    PciFunction,
    Width, //
};

/// A capability id, of either list.
pub(super) trait CapId: Copy + PartialEq + 'static {
    /// The table of the capabilities of this list.
    const TABLE: &'static [CapType<Self>];
    /// Whether these are the extended capabilities.
    const EXTENDED: bool;
}

impl CapId for u8 {
    const TABLE: &'static [CapType<u8>] = &CAPS;
    const EXTENDED: bool = false;
}

impl CapId for u16 {
    const TABLE: &'static [CapType<u16>] = &ECAPS;
    const EXTENDED: bool = true;
}

/// What vfio-pci does with the capabilities of one id.
pub(super) struct CapType<Id> {
    /// The capability id (`PCI_CAP_ID_*` or `PCI_EXT_CAP_ID_*`).
    id: Id,
    /// How many bytes it covers.
    pub(super) len: Len,
    /// How they are accessed.
    pub(super) access: Access,
}

/// The table entry of capability `id`, if vfio-pci shows capabilities of that id.
pub(super) fn cap_type<Id: CapId>(id: Id) -> Option<&'static CapType<Id>> {
    Id::TABLE.iter().find(|t| t.id == id)
}

/// How long a capability is.
pub(super) enum Len {
    /// Always this many bytes.
    Fixed(usize),
    /// As the capability at the given offset says.
    Read(fn(&PciFunction, usize) -> Result<usize>),
}

impl Len {
    /// The length of the capability at `pos`.
    pub(super) fn at(&self, function: &PciFunction, pos: usize) -> Result<usize> {
        match self {
            Len::Fixed(len) => Ok(*len),
            Len::Read(read) => read(function, pos),
        }
    }
}

/// Sets the permission masks of a capability at `pos` and virtualises its fields at open.
pub(super) type PermsFn = fn(&mut ConfigSpace, &PciFunction, usize) -> Result;

/// Carries out a write of `n` bytes of `value` at `pos` into the capability at `start`.
pub(super) type WriteFn = fn(&mut ConfigSpace, &PciFunction, CapWrite, &mut ConfigEffect) -> Result;

/// A write into a capability.
#[derive(Clone, Copy)]
pub(super) struct CapWrite {
    /// Where the capability starts.
    pub(super) start: usize,
    /// Where the write starts.
    pub(super) pos: usize,
    /// Its width in bytes.
    pub(super) n: usize,
    /// What is written.
    pub(super) value: u32,
}

impl CapWrite {
    /// The offset of the write into the capability.
    fn offset(&self) -> usize {
        self.pos - self.start
    }
}

/// How the bytes of a capability are accessed.
#[derive(Clone, Copy)]
pub(super) enum Access {
    /// Through the permission masks `perms` sets at open: virtual bits from the virtual
    /// copy, writable bits to it or to the device; `write` does that and any side effect.
    Masked { perms: PermsFn, write: WriteFn },
    /// Read from the device with the chain header virtualised; writes go to the device
    /// when `raw_write`, else are dropped.
    Direct { raw_write: bool },
}

/// Read-only but for the chain header.
const DIRECT: Access = Access::Direct { raw_write: false };
/// Vendor-specific: read and written as the device has it.
const RAW: Access = Access::Direct { raw_write: true };

/// `id` as a standard capability id.
const fn cap(id: u32) -> u8 {
    // CAST: capability ids are 8-bit values.
    id as u8
}

/// `id` as an extended capability id.
const fn ecap(id: u32) -> u16 {
    // CAST: extended capability ids are 16-bit values.
    id as u16
}

/// `value` as a 16-bit register mask.
const fn bits16(value: u32) -> u16 {
    // CAST: the `PCI_*` masks of 16-bit registers.
    value as u16
}

/// The standard capabilities.
static CAPS: [CapType<u8>; 11] = [
    CapType {
        id: cap(bindings::PCI_CAP_ID_PM),
        len: Len::Fixed(bindings::PCI_PM_SIZEOF as usize),
        access: Access::Masked {
            perms: pm_perms,
            write: pm_write,
        },
    },
    CapType {
        id: cap(bindings::PCI_CAP_ID_AGP),
        len: Len::Fixed(bindings::PCI_AGP_SIZEOF as usize),
        access: DIRECT,
    },
    CapType {
        id: cap(bindings::PCI_CAP_ID_VPD),
        len: Len::Fixed(bindings::PCI_CAP_VPD_SIZEOF as usize),
        access: Access::Masked {
            perms: vpd_perms,
            write: masked_write,
        },
    },
    CapType {
        id: cap(bindings::PCI_CAP_ID_MSI),
        len: Len::Read(msi_len),
        access: Access::Masked {
            perms: msi_perms,
            write: msi_write,
        },
    },
    CapType {
        id: cap(bindings::PCI_CAP_ID_PCIX),
        len: Len::Read(pcix_len),
        access: Access::Masked {
            perms: pcix_perms,
            write: masked_write,
        },
    },
    CapType {
        id: cap(bindings::PCI_CAP_ID_HT),
        len: Len::Read(ht_len),
        access: DIRECT,
    },
    CapType {
        id: cap(bindings::PCI_CAP_ID_VNDR),
        len: Len::Read(vndr_len),
        access: RAW,
    },
    CapType {
        id: cap(bindings::PCI_CAP_ID_EXP),
        len: Len::Read(exp_len),
        access: Access::Masked {
            perms: exp_perms,
            write: exp_write,
        },
    },
    CapType {
        id: cap(bindings::PCI_CAP_ID_MSIX),
        len: Len::Fixed(bindings::PCI_CAP_MSIX_SIZEOF as usize),
        access: DIRECT,
    },
    CapType {
        id: cap(bindings::PCI_CAP_ID_SATA),
        len: Len::Read(sata_len),
        access: DIRECT,
    },
    CapType {
        id: cap(bindings::PCI_CAP_ID_AF),
        len: Len::Fixed(bindings::PCI_CAP_AF_SIZEOF as usize),
        access: Access::Masked {
            perms: af_perms,
            write: af_write,
        },
    },
];

/// The extended capabilities.
static ECAPS: [CapType<u16>; 18] = [
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_ERR),
        len: Len::Fixed(bindings::PCI_ERR_ROOT_COMMAND as usize),
        access: Access::Masked {
            perms: err_perms,
            write: masked_write,
        },
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_VC),
        len: Len::Read(vc_len),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_DSN),
        len: Len::Fixed(bindings::PCI_EXT_CAP_DSN_SIZEOF as usize),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_PWR),
        len: Len::Fixed(bindings::PCI_EXT_CAP_PWR_SIZEOF as usize),
        access: Access::Masked {
            perms: pwr_perms,
            write: masked_write,
        },
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_MFVC),
        len: Len::Read(vc_len),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_VC9),
        len: Len::Read(vc_len),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_VNDR),
        len: Len::Read(vsec_len),
        access: RAW,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_ACS),
        len: Len::Read(acs_len),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_ARI),
        len: Len::Fixed(bindings::PCI_EXT_CAP_ARI_SIZEOF as usize),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_ATS),
        len: Len::Fixed(bindings::PCI_EXT_CAP_ATS_SIZEOF as usize),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_SRIOV),
        len: Len::Fixed(bindings::PCI_EXT_CAP_SRIOV_SIZEOF as usize),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_MCAST),
        len: Len::Fixed(bindings::PCI_EXT_CAP_MCAST_ENDPOINT_SIZEOF as usize),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_PRI),
        len: Len::Fixed(bindings::PCI_EXT_CAP_PRI_SIZEOF as usize),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_REBAR),
        len: Len::Read(rebar_len),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_DPA),
        len: Len::Read(dpa_len),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_TPH),
        len: Len::Read(tph_len),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_LTR),
        len: Len::Fixed(bindings::PCI_EXT_CAP_LTR_SIZEOF as usize),
        access: DIRECT,
    },
    CapType {
        id: ecap(bindings::PCI_EXT_CAP_ID_DVSEC),
        len: Len::Read(vsec_len),
        access: RAW,
    },
];

/// A byte of the device's config space.
fn byte(function: &PciFunction, at: usize) -> Result<usize> {
    // CAST: a byte read.
    Ok(function.config_read(at, Width::W8)? as usize)
}

/// A 16-bit register of the device's config space.
fn word(function: &PciFunction, at: usize) -> Result<u16> {
    // CAST: a 16-bit read.
    Ok(function.config_read(at, Width::W16)? as u16)
}

/// A 32-bit register of the device's config space.
fn dword(function: &PciFunction, at: usize) -> Result<u32> {
    function.config_read(at, Width::W32)
}

// Lengths of the capabilities whose fields say how long they are.

fn msi_len(function: &PciFunction, pos: usize) -> Result<usize> {
    let flags = word(function, pos + bindings::PCI_MSI_FLAGS as usize)?;
    let mut len = 10;
    if flags & bits16(bindings::PCI_MSI_FLAGS_64BIT) != 0 {
        len += 4;
    }
    if flags & bits16(bindings::PCI_MSI_FLAGS_MASKBIT) != 0 {
        len += 10;
    }
    Ok(len)
}

fn pcix_len(function: &PciFunction, pos: usize) -> Result<usize> {
    // Mode 2 capable (266 or 533 MHz): the ECC registers too.
    let cmd = word(function, pos + bindings::PCI_X_CMD as usize)?;
    Ok(if (cmd >> 12) & 3 != 0 {
        bindings::PCI_CAP_PCIX_SIZEOF_V2 as usize
    } else {
        bindings::PCI_CAP_PCIX_SIZEOF_V0 as usize
    })
}

fn vndr_len(function: &PciFunction, pos: usize) -> Result<usize> {
    byte(function, pos + bindings::PCI_CAP_FLAGS as usize)
}

fn exp_len(function: &PciFunction, pos: usize) -> Result<usize> {
    let flags = word(function, pos + bindings::PCI_EXP_FLAGS as usize)?;
    let v1 = flags & bits16(bindings::PCI_EXP_FLAGS_VERS) == 1;
    let rc_end = (flags & bits16(bindings::PCI_EXP_FLAGS_TYPE)) >> 4
        == bits16(bindings::PCI_EXP_TYPE_RC_END);
    Ok(match (v1, rc_end) {
        (true, true) => bindings::PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V1 as usize,
        (true, false) => bindings::PCI_CAP_EXP_ENDPOINT_SIZEOF_V1 as usize,
        (false, true) => bindings::PCI_CAP_EXP_RC_ENDPOINT_SIZEOF_V2 as usize,
        (false, false) => bindings::PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 as usize,
    })
}

fn ht_len(function: &PciFunction, pos: usize) -> Result<usize> {
    // A 3-bit capability type (slave or host) has the short layout (upstream's
    // `HT_3BIT_CAP_MASK`, `HT_CAP_SIZEOF_SHORT`/`_LONG`).
    Ok(if byte(function, pos + 3)? & 0xe0 != 0 {
        24
    } else {
        28
    })
}

fn sata_len(function: &PciFunction, pos: usize) -> Result<usize> {
    Ok(if byte(function, pos + 4)? & 0xf == 0xf {
        bindings::PCI_SATA_SIZEOF_LONG as usize
    } else {
        bindings::PCI_SATA_SIZEOF_SHORT as usize
    })
}

fn vsec_len(function: &PciFunction, pos: usize) -> Result<usize> {
    // CAST: the 12-bit length field.
    Ok((dword(function, pos + bindings::PCI_VNDR_HEADER as usize)? >> 20) as usize)
}

fn vc_len(function: &PciFunction, pos: usize) -> Result<usize> {
    // CAST: a 3-bit field.
    let evcc = (dword(function, pos + bindings::PCI_VC_PORT_CAP1 as usize)? & 0x7) as usize;
    let cap2 = dword(function, pos + bindings::PCI_VC_PORT_CAP2 as usize)?;
    let phases = if cap2 & bindings::PCI_VC_CAP2_128_PHASE != 0 {
        128
    } else if cap2 & bindings::PCI_VC_CAP2_64_PHASE != 0 {
        64
    } else if cap2 & bindings::PCI_VC_CAP2_32_PHASE != 0 {
        32
    } else {
        0
    };
    let mut len = bindings::PCI_CAP_VC_BASE_SIZEOF as usize
        + (1 + evcc) * bindings::PCI_CAP_VC_PER_VC_SIZEOF as usize;
    if phases != 0 {
        len = len.next_multiple_of(16) + phases * 4 / 8;
    }
    Ok(len)
}

fn acs_len(function: &PciFunction, pos: usize) -> Result<usize> {
    let cap = byte(function, pos + bindings::PCI_ACS_CAP as usize)?;
    if cap & bindings::PCI_ACS_EC as usize == 0 {
        return Ok(8);
    }
    let bits = byte(function, pos + bindings::PCI_ACS_CAP as usize + 1)?;
    let bits = if bits != 0 {
        bits.next_multiple_of(32)
    } else {
        256
    };
    Ok(8 + bits / 8)
}

fn rebar_len(function: &PciFunction, pos: usize) -> Result<usize> {
    let ctrl = byte(function, pos + bindings::PCI_REBAR_CTRL as usize)?;
    Ok(4 + ((ctrl & 0xe0) >> 5) * 8)
}

fn dpa_len(function: &PciFunction, pos: usize) -> Result<usize> {
    let cap = byte(function, pos + bindings::PCI_DPA_CAP as usize)?;
    Ok(bindings::PCI_DPA_BASE_SIZEOF as usize + (cap & 0x1f) + 1)
}

fn tph_len(function: &PciFunction, pos: usize) -> Result<usize> {
    let cap = dword(function, pos + bindings::PCI_TPH_CAP as usize)?;
    if cap & bindings::PCI_TPH_CAP_LOC_MASK != bindings::PCI_TPH_LOC_CAP {
        return Ok(bindings::PCI_TPH_BASE_SIZEOF as usize);
    }
    // CAST: an 11-bit field.
    let entries = ((cap >> 16) & 0x7ff) as usize;
    Ok(bindings::PCI_TPH_BASE_SIZEOF as usize + entries * 2 + 2)
}

// Permissions of the capabilities with masks. Every such standard capability also has a
// virtual next pointer, set by the layout walk, so capabilities can be unlinked.

fn pm_perms(config: &mut ConfigSpace, _function: &PciFunction, pos: usize) -> Result {
    let pmc = pos + bindings::PCI_PM_PMC as usize;
    let ctrl = pos + bindings::PCI_PM_CTRL as usize;
    // PME cannot reach the user: PME support, status and enable are virtual and read 0.
    // The power state is trapped into the real operation (`pm_write`).
    config.perm(pmc, 2, bindings::PCI_PM_CAP_PME_MASK, 0);
    let ctrl_virt = bindings::PCI_PM_CTRL_PME_ENABLE | bindings::PCI_PM_CTRL_PME_STATUS;
    config.perm(
        ctrl,
        4,
        ctrl_virt,
        !(ctrl_virt | bindings::PCI_PM_CTRL_STATE_MASK),
    );
    let value = le_get(&config.vconfig, pmc, 2) & !bindings::PCI_PM_CAP_PME_MASK;
    le_put(&mut config.vconfig, pmc, 2, value);
    let value = le_get(&config.vconfig, ctrl, 2) & !ctrl_virt;
    le_put(&mut config.vconfig, ctrl, 2, value);
    Ok(())
}

fn vpd_perms(config: &mut ConfigSpace, _function: &PciFunction, pos: usize) -> Result {
    // Address and data are virtual. rvfio does not proxy VPD accesses to
    // pci_read_vpd()/pci_write_vpd() yet: they read back what was written.
    config.perm(pos + bindings::PCI_VPD_ADDR as usize, 2, 0xffff, 0xffff);
    config.perm(pos + bindings::PCI_VPD_DATA as usize, 4, u32::MAX, u32::MAX);
    Ok(())
}

fn pcix_perms(config: &mut ConfigSpace, function: &PciFunction, pos: usize) -> Result {
    config.perm(pos + bindings::PCI_X_CMD as usize, 2, 0, 0xffff);
    // The ECC control and status register is there in the mode 2 layout only.
    if pcix_len(function, pos)? > bindings::PCI_X_ECC_CSR as usize {
        config.perm(pos + bindings::PCI_X_ECC_CSR as usize, 4, 0, u32::MAX);
    }
    Ok(())
}

fn exp_perms(config: &mut ConfigSpace, _function: &PciFunction, pos: usize) -> Result {
    // Device control is writable except phantom functions; FLR, payload size and read
    // request size are virtual (FLR and MRRS are trapped by `exp_write`).
    let virt = bindings::PCI_EXP_DEVCTL_BCR_FLR
        | bindings::PCI_EXP_DEVCTL_PAYLOAD
        | bindings::PCI_EXP_DEVCTL_READRQ;
    config.perm(
        pos + bindings::PCI_EXP_DEVCTL as usize,
        2,
        virt,
        0xffff & !bindings::PCI_EXP_DEVCTL_PHANTOM,
    );
    config.perm(
        pos + bindings::PCI_EXP_DEVCTL2 as usize,
        2,
        0,
        0xffff & !bindings::PCI_EXP_DEVCTL2_ARI,
    );
    Ok(())
}

fn af_perms(config: &mut ConfigSpace, _function: &PciFunction, pos: usize) -> Result {
    let flr = bindings::PCI_AF_CTRL_FLR;
    config.perm(pos + bindings::PCI_AF_CTRL as usize, 1, flr, flr);
    Ok(())
}

fn msi_perms(config: &mut ConfigSpace, function: &PciFunction, pos: usize) -> Result {
    let flags = word(function, pos + bindings::PCI_MSI_FLAGS as usize)?;
    config.perm(pos + bindings::PCI_MSI_FLAGS as usize, 1, 0xff, 0xff);
    config.perm(
        pos + bindings::PCI_MSI_ADDRESS_LO as usize,
        4,
        u32::MAX,
        u32::MAX,
    );
    let (data, mask) = if flags & bits16(bindings::PCI_MSI_FLAGS_64BIT) != 0 {
        config.perm(
            pos + bindings::PCI_MSI_ADDRESS_HI as usize,
            4,
            u32::MAX,
            u32::MAX,
        );
        (bindings::PCI_MSI_DATA_64, bindings::PCI_MSI_MASK_64)
    } else {
        (bindings::PCI_MSI_DATA_32, bindings::PCI_MSI_MASK_32)
    };
    config.perm(pos + data as usize, 2, 0xffff, 0xffff);
    if flags & bits16(bindings::PCI_MSI_FLAGS_MASKBIT) != 0 {
        // Mask and pending bits go to the device.
        config.perm(pos + mask as usize, 4, 0, u32::MAX);
        config.perm(pos + mask as usize + 4, 4, 0, u32::MAX);
    }
    Ok(())
}

/// The uncorrectable errors userspace may mask, clear or re-grade (upstream's list).
const ERR_UNC_WRITABLE: u32 = bindings::PCI_ERR_UNC_UND
    | bindings::PCI_ERR_UNC_DLP
    | bindings::PCI_ERR_UNC_SURPDN
    | bindings::PCI_ERR_UNC_POISON_TLP
    | bindings::PCI_ERR_UNC_FCP
    | bindings::PCI_ERR_UNC_COMP_TIME
    | bindings::PCI_ERR_UNC_COMP_ABORT
    | bindings::PCI_ERR_UNC_UNX_COMP
    | bindings::PCI_ERR_UNC_RX_OVER
    | bindings::PCI_ERR_UNC_MALF_TLP
    | bindings::PCI_ERR_UNC_ECRC
    | bindings::PCI_ERR_UNC_UNSUP
    | bindings::PCI_ERR_UNC_ACSV
    | bindings::PCI_ERR_UNC_INTN
    | bindings::PCI_ERR_UNC_MCBTLP
    | bindings::PCI_ERR_UNC_ATOMEG
    | bindings::PCI_ERR_UNC_TLPPRE;

/// The correctable errors userspace may mask or clear.
const ERR_COR_WRITABLE: u32 = bindings::PCI_ERR_COR_RCVR
    | bindings::PCI_ERR_COR_BAD_TLP
    | bindings::PCI_ERR_COR_BAD_DLLP
    | bindings::PCI_ERR_COR_REP_ROLL
    | bindings::PCI_ERR_COR_REP_TIMER
    | bindings::PCI_ERR_COR_ADV_NFAT
    | bindings::PCI_ERR_COR_INTERNAL
    | bindings::PCI_ERR_COR_LOG_OVER;

fn err_perms(config: &mut ConfigSpace, _function: &PciFunction, pos: usize) -> Result {
    // The header is virtual (the chain the user sees).
    config.perm(pos, 4, u32::MAX, 0);
    for (reg, writable) in [
        (bindings::PCI_ERR_UNCOR_STATUS, ERR_UNC_WRITABLE),
        (bindings::PCI_ERR_UNCOR_MASK, ERR_UNC_WRITABLE),
        (bindings::PCI_ERR_UNCOR_SEVER, ERR_UNC_WRITABLE),
        (bindings::PCI_ERR_COR_STATUS, ERR_COR_WRITABLE),
        (bindings::PCI_ERR_COR_MASK, ERR_COR_WRITABLE),
        // ECRC generation and check enables.
        (
            bindings::PCI_ERR_CAP,
            bindings::PCI_ERR_CAP_ECRC_GENE | bindings::PCI_ERR_CAP_ECRC_CHKE,
        ),
    ] {
        config.perm(pos + reg as usize, 4, 0, writable);
    }
    Ok(())
}

fn pwr_perms(config: &mut ConfigSpace, _function: &PciFunction, pos: usize) -> Result {
    config.perm(pos, 4, u32::MAX, 0);
    // The data select register may be written; what it selects stays read-only.
    config.perm(pos + bindings::PCI_PWR_DSR as usize, 1, 0, 0xff);
    Ok(())
}

// Writes into the capabilities with masks.

/// The permission masks alone: no side effect.
fn masked_write(
    config: &mut ConfigSpace,
    function: &PciFunction,
    write: CapWrite,
    _effect: &mut ConfigEffect,
) -> Result {
    config.default_write(function, write.pos, write.n, write.value)
}

/// A write of the power state is a request for the real transition.
fn pm_write(
    config: &mut ConfigSpace,
    function: &PciFunction,
    write: CapWrite,
    effect: &mut ConfigEffect,
) -> Result {
    config.default_write(function, write.pos, write.n, write.value)?;
    if write.offset() == bindings::PCI_PM_CTRL as usize {
        // CAST: two bits.
        effect.power_state = Some((write.value & bindings::PCI_PM_CTRL_STATE_MASK) as u8);
    }
    Ok(())
}

/// Initiate FLR and the max read request size are trapped.
fn exp_write(
    config: &mut ConfigSpace,
    function: &PciFunction,
    write: CapWrite,
    effect: &mut ConfigEffect,
) -> Result {
    let ctrl_at = write.start + bindings::PCI_EXP_DEVCTL as usize;
    let readrq_mask = bindings::PCI_EXP_DEVCTL_READRQ;
    let old_readrq = le_get(&config.vconfig, ctrl_at, 2) & readrq_mask;
    config.default_write(function, write.pos, write.n, write.value)?;
    let ctrl = le_get(&config.vconfig, ctrl_at, 2);
    let flr = bindings::PCI_EXP_DEVCTL_BCR_FLR;
    if ctrl & flr != 0 {
        // Reads as zero, always; the reset itself only if the device has FLR.
        le_put(&mut config.vconfig, ctrl_at, 2, ctrl & !flr);
        let devcap = dword(function, write.start + bindings::PCI_EXP_DEVCAP as usize)?;
        effect.flr |= devcap & bindings::PCI_EXP_DEVCAP_FLR != 0;
    }
    let readrq = ctrl & readrq_mask;
    if readrq != old_readrq {
        effect.readrq = Some(128 << (readrq >> 12));
    }
    Ok(())
}

/// Initiate FLR of the Advanced Features capability is trapped.
fn af_write(
    config: &mut ConfigSpace,
    function: &PciFunction,
    write: CapWrite,
    effect: &mut ConfigEffect,
) -> Result {
    config.default_write(function, write.pos, write.n, write.value)?;
    let ctrl_at = write.start + bindings::PCI_AF_CTRL as usize;
    // CAST: an 8-bit mask.
    let flr = bindings::PCI_AF_CTRL_FLR as u8;
    if config.vconfig[ctrl_at] & flr != 0 {
        config.vconfig[ctrl_at] &= !flr;
        let cap = byte(function, write.start + bindings::PCI_AF_CAP as usize)?;
        effect.flr |= cap & bindings::PCI_AF_CAP_FLR as usize != 0
            && cap & bindings::PCI_AF_CAP_TP as usize != 0;
    }
    Ok(())
}

/// MSI is only enabled through `VFIO_DEVICE_SET_IRQS`, with at most the vectors it enabled.
fn msi_write(
    config: &mut ConfigSpace,
    function: &PciFunction,
    write: CapWrite,
    _effect: &mut ConfigEffect,
) -> Result {
    config.default_write(function, write.pos, write.n, write.value)?;
    let flags_at = bindings::PCI_MSI_FLAGS as usize;
    if write.offset() > flags_at || write.offset() + write.n < flags_at {
        return Ok(());
    }
    let at = write.start + flags_at;
    // CAST: a 16-bit field.
    let mut flags = le_get(&config.vconfig, at, 2) as u16;
    if !config.msi_active {
        flags &= !bits16(bindings::PCI_MSI_FLAGS_ENABLE);
    }
    let qsize = bits16(bindings::PCI_MSI_FLAGS_QSIZE);
    if (flags & qsize) >> 4 > u16::from(config.msi_qmax) {
        flags = (flags & !qsize) | (u16::from(config.msi_qmax) << 4);
    }
    le_put(&mut config.vconfig, at, 2, flags.into());
    function.config_write(at, Width::W16, flags.into())
}
