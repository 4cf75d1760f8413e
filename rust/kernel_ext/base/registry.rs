// SPDX-License-Identifier: GPL-2.0

//! Module-wide registries of shared objects: a global `Mutex<KVec<Arc<T>>>` that module init
//! sets up and module exit empties, declared by [`arc_registry!`].

/// Declares `static $name`, a global lock over a `KVec<Arc<$item>>`, and `$handle`, the
/// module's handle on it.
///
/// `$handle::new()` initialises the registry and must be called once, from module init,
/// before anything else uses it; dropping the handle (after the driver is unregistered, when
/// every object has left) frees the vector's storage. The vector is replaced, not cleared:
/// the static itself is never dropped, so only dropping the old vector frees its buffer.
macro_rules! arc_registry {
    ($(#[$meta:meta])* static $name:ident: $item:ty; handle $handle:ident;) => {
        kernel::sync::global_lock! {
            $(#[$meta])*
            // SAFETY: Initialised by `$handle::new()` in module init, before any other use.
            unsafe(uninit) static $name: Mutex<KVec<Arc<$item>>> = KVec::new();
        }

        #[doc = concat!(
            "The module's handle on [`",
            stringify!($name),
            "`]: sets it up at init, frees its storage at exit."
        )]
        pub(crate) struct $handle;

        impl $handle {
            /// Called once, from module init, before the registry is used.
            pub(crate) fn new() -> Self {
                // SAFETY: Called once, from module init, before any other use.
                unsafe { $name.init() };
                Self
            }
        }

        impl Drop for $handle {
            fn drop(&mut self) {
                *$name.lock() = KVec::new();
            }
        }
    };
}

pub(crate) use arc_registry;
