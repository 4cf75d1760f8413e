// SPDX-License-Identifier: GPL-2.0

//! Device regions: `pread`/`pwrite` of config space, BARs and the ROM at
//! `index << 40 | offset`, and BAR mmaps (upstream's `vfio_pci_rdwr.c` and
//! `vfio_pci_core_mmap`).
//!
//! BAR and ROM accesses are split into naturally aligned 1/2/4/8-byte device accesses
//! (4 at most for the ROM). The MSI-X table reads as 0xff and ignores writes. Accesses that
//! reach a memory BAR answer -EIO while memory decode is off or the device is in D3 (the
//! MSI-X table, never accessed, reads and writes as usual, as upstream's per-access check);
//! their mmaps fault in page by page under the same check and are zapped whenever it stops
//! holding.

use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::{
    device::{
        opened,
        MemoryGate,
        VfioPciDevice, //
    },
    ext::{
        pci_raw::Width,
        pfn_mmap::{
            Fault,
            FaultResult,
            MmapGeometry, //
        },
    },
};

/// Region indexes (`VFIO_PCI_*_REGION_INDEX`): the last BAR.
pub(crate) const BAR5: u32 = crate::uapi::VFIO_PCI_BAR5_REGION_INDEX;
/// The expansion ROM.
pub(crate) const ROM: u32 = crate::uapi::VFIO_PCI_ROM_REGION_INDEX;
/// Config space.
pub(crate) const CONFIG: u32 = crate::uapi::VFIO_PCI_CONFIG_REGION_INDEX;
/// Legacy VGA ranges.
pub(crate) const VGA: u32 = crate::uapi::VFIO_PCI_VGA_REGION_INDEX;
/// Number of regions.
pub(crate) const NUM_REGIONS: u32 = 9;

/// `VFIO_PCI_OFFSET_SHIFT`: regions are this far apart in the device fd.
const OFFSET_SHIFT: u32 = 40;
/// Offsets within a region.
const OFFSET_MASK: u64 = (1 << OFFSET_SHIFT) - 1;
/// Bytes moved per round of a BAR access (bounded so the bounce buffer stays small).
const CHUNK: usize = 4096;

/// The buffer between user memory and the device for one access: register-sized accesses,
/// nearly all of them, stay on the stack instead of costing an allocation each.
enum Bounce {
    /// Up to [`Bounce::SMALL`] bytes: the first `.1` of the array.
    Small([u8; Bounce::SMALL], usize),
    /// Larger accesses.
    Large(KVec<u8>),
}

impl Bounce {
    /// The largest access kept on the stack: a register (QEMU's accesses are at most 8
    /// bytes).
    const SMALL: usize = 8;

    /// A zeroed buffer of `len` bytes.
    fn new(len: usize) -> Result<Self> {
        Ok(if len <= Self::SMALL {
            Bounce::Small([0; Self::SMALL], len)
        } else {
            Bounce::Large(KVec::from_elem(0u8, len, GFP_KERNEL)?)
        })
    }

    /// The buffer.
    fn as_mut(&mut self) -> &mut [u8] {
        match self {
            Bounce::Small(bytes, len) => &mut bytes[..*len],
            Bounce::Large(bytes) => bytes,
        }
    }
}

/// The region index and the offset in it of device fd offset `pos`.
pub(crate) fn split_offset(pos: u64) -> (u64, u64) {
    (pos >> OFFSET_SHIFT, pos & OFFSET_MASK)
}

/// The device fd offset of region `index`.
pub(crate) fn index_offset(index: u32) -> u64 {
    u64::from(index) << OFFSET_SHIFT
}

/// `pread` (`write` false) or `pwrite` of `len` bytes at `pos`.
pub(crate) fn rw(
    device: &VfioPciDevice,
    buf: UserPtr,
    len: usize,
    pos: u64,
    write: bool,
) -> Result<usize> {
    // As upstream, an empty access succeeds before anything is checked.
    if len == 0 {
        return Ok(0);
    }
    let index = pos >> OFFSET_SHIFT;
    if index >= u64::from(NUM_REGIONS) {
        return Err(EINVAL);
    }
    // CAST: below `NUM_REGIONS`.
    let index = index as u32;
    let offset = pos & OFFSET_MASK;
    // Out of runtime suspend for the access (upstream's `vfio_pci_rw()`).
    let _awake = device.awake()?;
    match index {
        CONFIG => config_rw(device, buf, len, offset, write),
        ROM if write => Err(EINVAL),
        0..=ROM => bar_rw(device, index, buf, len, offset, write),
        // rvfio exposes no VGA region (no VGA device is bound).
        _ => Err(EINVAL),
    }
}

/// Config space access: the whole access is checked (-EFAULT outside config space, as
/// upstream), then done in one go.
fn config_rw(
    device: &VfioPciDevice,
    buf: UserPtr,
    len: usize,
    offset: u64,
    write: bool,
) -> Result<usize> {
    if offset >= device.config_size as u64 || len > device.config_size - offset as usize {
        return Err(EFAULT);
    }
    let mut bounce = Bounce::new(len)?;
    let data = bounce.as_mut();
    if write {
        // The user copy before the device is locked: no lock across a fault.
        UserSlice::new(buf, len).reader().read_slice(data)?;
        // CAST: below the config size, checked above.
        device.write_config(offset as usize, data)?;
    } else {
        {
            let mut state = device.lock_open();
            // CAST: below the config size, checked above.
            opened(&mut state)?
                .config
                .read(&device.function, offset as usize, data)?;
        }
        UserSlice::new(buf, len).writer().write_slice(data)?;
    }
    Ok(len)
}

/// The span `[start, end)` of BAR `index` that accesses must not reach (the MSI-X table).
fn excluded(device: &VfioPciDevice, index: u32) -> Option<(u64, u64)> {
    let msix = device.msix?;
    (msix.bar == index).then_some((msix.offset, msix.offset + msix.size))
}

/// BAR or ROM access.
fn bar_rw(
    device: &VfioPciDevice,
    index: u32,
    buf: UserPtr,
    len: usize,
    offset: u64,
    write: bool,
) -> Result<usize> {
    let resource = device.resource(index);
    if resource.start == 0 {
        return Err(EINVAL);
    }
    if offset >= resource.len {
        return Err(EINVAL);
    }
    // CAST: bounded by `len`.
    let count = (resource.len - offset).min(len as u64) as usize;
    let hole = if index == ROM {
        None
    } else {
        excluded(device, index)
    };
    let test_memory = resource.is_mem();
    let mut bounce = Bounce::new(count.min(CHUNK))?;
    let mut done = 0;
    while done < count {
        let n = (count - done).min(CHUNK);
        let chunk = &mut bounce.as_mut()[..n];
        let at = offset + done as u64;
        let user = buf.wrapping_byte_add(done);
        if write {
            UserSlice::new(user, n).reader().read_slice(chunk)?;
        }
        if index == ROM {
            rom_access(device, at, resource.len, chunk)?;
        } else {
            let memory = device.lock_memory();
            let reachable = !test_memory || (memory.enabled && !device.function.in_d3());
            if let Err((partial, e)) = bar_access(&memory, index, at, chunk, hole, write, reachable)
            {
                drop(memory);
                // Upstream copies each access out as it goes: what was read before the
                // failure reaches the caller first (a bad buffer is -EFAULT, not -EIO).
                if !write {
                    UserSlice::new(user, partial)
                        .writer()
                        .write_slice(&chunk[..partial])?;
                }
                return Err(e);
            }
        }
        if !write {
            UserSlice::new(user, n).writer().write_slice(chunk)?;
        }
        done += n;
    }
    Ok(count)
}

/// Moves `chunk` to or from BAR `index` at `offset`, skipping the `hole`; the device itself
/// is only accessed when `reachable` (else -EIO). On failure, how many bytes were done.
fn bar_access(
    memory: &MemoryGate,
    index: u32,
    offset: u64,
    chunk: &mut [u8],
    hole: Option<(u64, u64)>,
    write: bool,
    reachable: bool,
) -> core::result::Result<(), (usize, Error)> {
    // CAST: below 6.
    let bar = memory.bars[index as usize].as_ref().ok_or((0, EIO))?;
    let mut i = 0;
    while i < chunk.len() {
        let at = offset + i as u64;
        let left = chunk.len() - i;
        // How much may go to the device before the hole, or how much of the hole is left.
        let (fillable, in_hole) = match hole {
            Some((start, end)) if at >= start && at < end => {
                // CAST: bounded by `left`.
                ((end - at).min(left as u64) as usize, true)
            }
            // CAST: bounded by `left`.
            Some((start, _)) if at < start => ((start - at).min(left as u64) as usize, false),
            _ => (left, false),
        };
        if in_hole {
            if !write {
                chunk[i..i + fillable].fill(0xff);
            }
            i += fillable;
            continue;
        }
        if !reachable {
            return Err((i, EIO));
        }
        let width = Width::fitting(at, fillable, Width::W64).ok_or((i, EINVAL))?;
        let n = width.bytes();
        if write {
            let mut v = [0u8; 8];
            v[..n].copy_from_slice(&chunk[i..i + n]);
            bar.write(at, width, u64::from_le_bytes(v))
                .map_err(|e| (i, e))?;
        } else {
            let v = bar.read(at, width).map_err(|e| (i, e))?.to_le_bytes();
            chunk[i..i + n].copy_from_slice(&v[..n]);
        }
        i += n;
    }
    Ok(())
}

/// Reads the ROM into `chunk` at `offset` (of a `bar_len`-byte ROM BAR): beyond the image
/// it reads 0xff, as upstream. As upstream's `vfio_pci_bar_rw()`, memory decode is the
/// user's: with it off no image is found (-ENOMEM); only `REGION_INFO`'s size probe turns
/// decode on.
fn rom_access(device: &VfioPciDevice, offset: u64, bar_len: u64, chunk: &mut [u8]) -> Result {
    let _memory = device.lock_memory();
    let rom = device.function.map_rom().ok_or(ENOMEM)?;
    let image = rom.len().min(bar_len);
    let mut i = 0;
    while i < chunk.len() {
        let at = offset + i as u64;
        if at >= image {
            chunk[i..].fill(0xff);
            break;
        }
        // CAST: bounded by the chunk.
        let fillable = (image - at).min((chunk.len() - i) as u64) as usize;
        let width = Width::fitting(at, fillable, Width::W32).ok_or(EINVAL)?;
        let n = width.bytes();
        let v = rom.read(at, width)?.to_le_bytes();
        chunk[i..i + n].copy_from_slice(&v[..n]);
        i += n;
    }
    Ok(())
}

/// Vets a BAR mmap (upstream's checks and errnos).
pub(crate) fn check_mmap(device: &VfioPciDevice, request: &MmapGeometry) -> Result {
    let page_shift = PAGE_SIZE.trailing_zeros();
    let index = request.pgoff >> (OFFSET_SHIFT - page_shift);
    if index >= u64::from(NUM_REGIONS) || request.end < request.start || !request.shared {
        return Err(EINVAL);
    }
    if index >= u64::from(ROM) {
        return Err(EINVAL);
    }
    // CAST: below 6.
    let index = index as u32;
    // Claimed by us (as it is from open to close) and mappable.
    let memory = device.lock_memory();
    if !device.mmappable(&memory, index) {
        return Err(EINVAL);
    }
    let resource = device.resource(index);
    let phys_len = resource.len.next_multiple_of(PAGE_SIZE as u64);
    let start = (request.pgoff & (OFFSET_MASK >> page_shift)) << page_shift;
    let len = request.end - request.start;
    if start.checked_add(len).is_none_or(|end| end > phys_len) {
        return Err(EINVAL);
    }
    // CAST: below 6.
    memory.bars[index as usize].as_ref().ok_or(EIO)?;
    Ok(())
}

/// Maps the faulting page of a BAR mmap, if memory decode is on and the device is in D0
/// and not in the user's low power.
pub(crate) fn fault(device: &VfioPciDevice, fault: &mut Fault<'_>) -> FaultResult {
    let page_shift = PAGE_SIZE.trailing_zeros();
    let pgoff = fault.pgoff();
    let index_shift = OFFSET_SHIFT - page_shift;
    let index = pgoff >> index_shift;
    let page = pgoff & ((1 << index_shift) - 1);
    if index > u64::from(BAR5) {
        return FaultResult::SIGBUS;
    }
    // CAST: below 6.
    let resource = device.resource(index as u32);
    let pfn = (resource.start >> page_shift) + page;
    let memory = device.lock_memory();
    if !memory.enabled || memory.power.is_low_power() || device.function.in_d3() {
        return FaultResult::SIGBUS;
    }
    fault.insert_pfn(pfn)
}
