// SPDX-License-Identifier: GPL-2.0

//! Random UUIDs (`uuid_gen()`), which 7.3's Rust has no wrapper for.

use kernel::bindings;

use crate::uuid::Uuid;

/// A random (version 4) UUID.
pub(crate) fn random_uuid() -> Uuid {
    let mut uuid = bindings::uuid_t::default();
    // SAFETY: `uuid` is a valid, writable `uuid_t` for the duration of the call.
    unsafe { bindings::uuid_gen(&mut uuid) };
    Uuid::from_bytes(uuid.b)
}
