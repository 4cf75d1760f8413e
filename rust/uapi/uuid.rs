// SPDX-License-Identifier: GPL-2.0

//! UUIDs as VFIO carries them: the VF token, 16 bytes in `VFIO_DEVICE_FEATURE_PCI_VF_TOKEN`
//! and across the device ABI (the group parses the text form of `VFIO_GROUP_GET_DEVICE_FD`).

/// A UUID, in the byte order of the kernel's `uuid_t`.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Uuid([u8; 16]);

impl Uuid {
    /// The UUID of these 16 bytes.
    pub(crate) const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}
