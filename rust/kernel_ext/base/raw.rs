// SPDX-License-Identifier: GPL-2.0

//! The one place that turns 7.3's `device::Device` into the raw C pointer our wrappers pass
//! to the kernel: `as_raw()` is private to the `kernel` crate.

use kernel::{
    bindings,
    device::{
        Device,
        DeviceContext, //
    }, //
};

/// The `struct device` behind `dev`.
pub(crate) fn device_ptr<Ctx: DeviceContext>(dev: &Device<Ctx>) -> *mut bindings::device {
    // CAST: `Device<Ctx>` is `#[repr(transparent)]` over `Opaque<bindings::device>`, which is
    // `#[repr(transparent)]` over the C struct; the pointer is only used while `dev` lives.
    core::ptr::from_ref(dev).cast_mut().cast()
}
