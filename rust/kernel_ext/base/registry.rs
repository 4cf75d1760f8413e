// SPDX-License-Identifier: GPL-2.0

//! Module-wide registries of shared objects: a global `Mutex<KVec<Arc<T>>>` that module init
//! sets up and module exit empties, declared by [`arc_registry!`].

/// Declares `static $name`, a global lock over a `KVec<Arc<$item>>`, and `$handle`, the
/// module's handle on it, as [`module_lock!`] does; dropping the handle (after the driver
/// is unregistered, when every object has left) frees the vector's storage. The vector is
/// replaced, not cleared: the static itself is never dropped, so only dropping the old
/// vector frees its buffer.
macro_rules! arc_registry {
    ($(#[$meta:meta])* static $name:ident: $item:ty; handle $handle:ident;) => {
        $crate::ext::module_lock::module_lock! {
            $(#[$meta])*
            static $name: KVec<Arc<$item>> = KVec::new();
            handle $handle;
        }

        impl Drop for $handle {
            fn drop(&mut self) {
                *$name.lock() = KVec::new();
            }
        }
    };
}

pub(crate) use arc_registry;
