// SPDX-License-Identifier: GPL-2.0

//! Capability chains of the VFIO `*_GET_INFO` ioctls, and the argsz-growth protocol.
//!
//! A chain is a list of `struct vfio_info_cap_header`-prefixed records placed after the
//! info struct; each `next` is an offset from the start of the info struct, 0 ending the
//! chain. Records are padded to 8 bytes. When the caller's `argsz` is too small for the
//! chain, the reply carries the `argsz` needed and no chain (`cap_offset` 0), and userspace
//! asks again: upstream's `vfio_info_cap_add()` / `vfio_info_cap_shift()` behaviour.

use kernel::{
    prelude::*,
    transmute::AsBytes,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

use crate::uapi::vfio_info_cap_header;

/// Size of a capability header.
const HEADER_SIZE: usize = core::mem::size_of::<vfio_info_cap_header>();

/// A capability chain being built; offsets are relative to the chain until written out.
pub(crate) struct InfoCaps {
    buf: KVec<u8>,
    /// Offset of the last record's header in `buf`, to link the next one.
    last: Option<usize>,
}

impl InfoCaps {
    /// An empty chain.
    pub(crate) fn new() -> Self {
        Self {
            buf: KVec::new(),
            last: None,
        }
    }

    /// Total size of the chain in bytes.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Appends capability `id` of `version`: `body` is everything after the header (a
    /// capability struct without its header, in its in-memory layout).
    pub(crate) fn add(&mut self, id: u16, version: u16, body: &[u8]) -> Result {
        let start = self.buf.len();
        let size = (HEADER_SIZE + body.len()).next_multiple_of(8);
        self.buf.resize(start + size, 0, GFP_KERNEL)?;
        self.buf[start..start + 2].copy_from_slice(&id.to_ne_bytes());
        self.buf[start + 2..start + 4].copy_from_slice(&version.to_ne_bytes());
        self.buf[start + HEADER_SIZE..start + HEADER_SIZE + body.len()].copy_from_slice(body);
        if let Some(last) = self.last {
            // CAST: capability chains are a few hundred bytes at most.
            self.buf[last + 4..last + 8].copy_from_slice(&(start as u32).to_ne_bytes());
        }
        self.last = Some(start);
        Ok(())
    }

    /// Appends a capability given as a whole struct: its leading header is filled in here.
    pub(crate) fn add_struct<T: AsBytes>(&mut self, id: u16, version: u16, cap: &T) -> Result {
        let bytes = cap.as_bytes();
        self.add(id, version, bytes.get(HEADER_SIZE..).ok_or(EINVAL)?)
    }

    /// Moves the chain to `offset` bytes after the start of the info struct.
    fn shift(&mut self, offset: usize) {
        let mut at = 0;
        while at + HEADER_SIZE <= self.buf.len() {
            let mut next = [0u8; 4];
            next.copy_from_slice(&self.buf[at + 4..at + 8]);
            let next = u32::from_ne_bytes(next) as usize;
            if next == 0 {
                break;
            }
            // CAST: see `add`.
            self.buf[at + 4..at + 8].copy_from_slice(&((next + offset) as u32).to_ne_bytes());
            at = next;
        }
    }
}

/// The reply of an info ioctl with a capability chain.
pub(crate) struct InfoReply<'a> {
    /// User address of the info struct.
    pub(crate) arg: usize,
    /// `argsz` as the caller gave it.
    pub(crate) argsz: u32,
    /// Size of the full info struct (where the chain goes).
    pub(crate) info_size: usize,
    /// The chain (possibly empty).
    pub(crate) caps: &'a mut InfoCaps,
}

impl InfoReply<'_> {
    /// Decides where the chain goes, following upstream: with a chain, `CAPS` must be set in
    /// the flags by the caller; if `argsz` is too small, the needed size is returned in
    /// `Err(needed)` and no chain is written; otherwise the chain is written right after the
    /// info struct and its offset returned.
    pub(crate) fn place_chain(&mut self) -> Result<core::result::Result<u32, u32>> {
        let needed = self.info_size + self.caps.len();
        // CAST: `needed` is a few hundred bytes.
        let needed = needed as u32;
        if self.argsz < needed {
            return Ok(Err(needed));
        }
        self.caps.shift(self.info_size);
        UserSlice::new(
            UserPtr::from_addr(self.arg + self.info_size),
            self.caps.len(),
        )
        .writer()
        .write_slice(&self.caps.buf)?;
        // CAST: as above.
        Ok(Ok(self.info_size as u32))
    }
}

/// Writes the first `min(argsz, size_of::<T>())` bytes of `info` back to `arg`, the
/// amount every VFIO info ioctl copies out.
pub(crate) fn write_info<T: AsBytes>(arg: usize, argsz: u32, info: &T) -> Result {
    let bytes = info.as_bytes();
    let len = bytes.len().min(argsz as usize);
    UserSlice::new(UserPtr::from_addr(arg), len)
        .writer()
        .write_slice(&bytes[..len])
}
