// SPDX-License-Identifier: GPL-2.0

//! The head of VFIO's extensible ioctl arguments: `argsz` first, then the fields every
//! caller must pass (`minsz` bytes in all), then what `argsz` may add (capability chains,
//! arrays, payloads).

use kernel::{
    prelude::*,
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// Reads the first `minsz` bytes of the `T` at user address `arg`, the rest of `T` left
/// zero, and checks that the user's `argsz` (the first field of every such structure)
/// covers them: -EFAULT when they cannot be read, then -EINVAL when `argsz < minsz`, as
/// upstream's `copy_from_user(&x, arg, minsz); if (x.argsz < minsz) return -EINVAL;`.
pub(crate) fn read_args<T: FromBytes + AsBytes + Default>(arg: usize, minsz: usize) -> Result<T> {
    let mut args = T::default();
    let head = args.as_bytes_mut().get_mut(..minsz).ok_or(EINVAL)?;
    UserSlice::new(UserPtr::from_addr(arg), minsz)
        .reader()
        .read_slice(head)?;
    let argsz = head
        .first_chunk()
        .map(|b| u32::from_ne_bytes(*b))
        .ok_or(EINVAL)?;
    // CAST: `u32` fits `usize`.
    if (argsz as usize) < minsz {
        return Err(EINVAL);
    }
    Ok(args)
}
