// SPDX-License-Identifier: GPL-2.0

//! Load-time check that bindgen's struct layouts match the C compiler's.
//!
//! Rust code that reads a C struct field uses bindgen's offset; on a GCC-built kernel that
//! can differ from GCC's (it does for `task_struct::mm` on the 7.3 test kernel). Each module
//! lists the offsets and sizes its Rust code depends on, and a C twin (`rust/*/layout.c`,
//! `include/rvfio/layout.h`) lists the same by the same names; the module refuses to load
//! if a value differs or a name is on one side only.

use kernel::{
    ffi::c_char,
    prelude::*, //
};

/// One dependency: its name, as C's table has it, and bindgen's value.
pub(crate) struct LayoutEntry {
    /// What is measured, e.g. `"device.devt"` or `"size device"`.
    pub(crate) name: &'static str,
    /// bindgen's offset or size.
    pub(crate) rust: usize,
}

/// A C table lookup of `include/rvfio/layout.h` (`RVFIO_DEFINE_LAYOUT_TABLE`): entry
/// `index`'s value, with its name in `*name`; `usize::MAX` past the end.
pub(crate) type CTable = unsafe extern "C" fn(index: u32, name: *mut *const c_char) -> usize;

/// The entries of a C table, in its order.
fn c_entries(c_table: CTable) -> impl Iterator<Item = (&'static CStr, usize)> {
    (0u32..).map_while(move |index| {
        let mut name: *const c_char = core::ptr::null();
        // SAFETY: `RVFIO_DEFINE_LAYOUT_TABLE` lookups read a static table, for any index,
        // and store a static string's address in `name` for the indexes they hold.
        let value = unsafe { c_table(index, &mut name) };
        if value == usize::MAX || name.is_null() {
            return None;
        }
        // SAFETY: `name` is a NUL-terminated string literal of the C table.
        Some((unsafe { CStr::from_char_ptr(name) }, value))
    })
}

/// Compares `entries` with the C compiler's values from `c_table`, by name. Logs every
/// mismatch and every name only one side has; -EINVAL if there is any.
pub(crate) fn check(c_table: CTable, entries: &[LayoutEntry]) -> Result {
    let mut ok = true;
    for entry in entries {
        let c = c_entries(c_table).find(|(name, _)| name.to_bytes() == entry.name.as_bytes());
        match c {
            Some((_, c)) if c == entry.rust => {}
            Some((_, c)) => {
                pr_err!(
                    "struct layout mismatch: {} is {} for C but {} for Rust\n",
                    entry.name,
                    c,
                    entry.rust
                );
                ok = false;
            }
            None => {
                pr_err!("struct layout: C's table has no {}\n", entry.name);
                ok = false;
            }
        }
    }
    for (name, _) in c_entries(c_table) {
        if !entries.iter().any(|e| e.name.as_bytes() == name.to_bytes()) {
            pr_err!(
                "struct layout: Rust does not check {}\n",
                name.to_str().unwrap_or("?")
            );
            ok = false;
        }
    }
    if ok {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// A [`LayoutEntry`] for a struct size or a field offset, named as C's table names it:
/// `size device`, `device.devt`; `as "inode.i_cdev"` gives the C name of a field bindgen
/// renamed.
#[macro_export]
macro_rules! layout_entry {
    (size $t:ident) => {
        $crate::ext::layout::LayoutEntry {
            name: concat!("size ", stringify!($t)),
            rust: core::mem::size_of::<kernel::bindings::$t>(),
        }
    };
    ($t:ident . $($field:tt).+ as $name:literal) => {
        $crate::ext::layout::LayoutEntry {
            name: $name,
            rust: core::mem::offset_of!(kernel::bindings::$t, $($field).+),
        }
    };
    ($t:ident . $($field:tt).+) => {
        $crate::ext::layout::LayoutEntry {
            name: concat!(stringify!($t), ".", stringify!($($field).+)),
            rust: core::mem::offset_of!(kernel::bindings::$t, $($field).+),
        }
    };
}
