// SPDX-License-Identifier: GPL-2.0

//! Module-wide state behind a global lock that module init sets up, declared by
//! [`module_lock!`].

/// Declares `static $name`, a global lock over a `$t` that starts as `$init`, and `$handle`,
/// the module's handle on it: `$handle::new()` initialises the lock and must be called
/// once, from module init, before anything else uses it.
macro_rules! module_lock {
    ($(#[$meta:meta])* static $name:ident: $t:ty = $init:expr; handle $handle:ident;) => {
        kernel::sync::global_lock! {
            $(#[$meta])*
            // SAFETY: Initialised by `$handle::new()` in module init, before any other use.
            unsafe(uninit) static $name: Mutex<$t> = $init;
        }

        #[doc = concat!(
            "The module's handle on [`",
            stringify!($name),
            "`]: set up at init."
        )]
        pub(crate) struct $handle;

        impl $handle {
            /// Called once, from module init, before the lock is used.
            pub(crate) fn new() -> Self {
                // SAFETY: Called once, from module init, before any other use.
                unsafe { $name.init() };
                Self
            }
        }
    };
}

pub(crate) use module_lock;
