// SPDX-License-Identifier: GPL-2.0

//! Load-time check that bindgen's struct layouts match the C compiler's.
//!
//! Rust code that reads a C struct field uses bindgen's offset; on a GCC-built kernel that
//! can differ from GCC's (it does for `task_struct::mm` on the 7.3 test kernel). Each module
//! lists the offsets and sizes its Rust code depends on, in the order of its C twin in
//! `include/rvfio/layout.h`, and refuses to load if any differs.

use kernel::prelude::*;

/// One dependency: a name for the log and bindgen's value.
pub(crate) struct LayoutEntry {
    /// What is measured, e.g. `"device.devt"`.
    pub(crate) name: &'static str,
    /// bindgen's offset or size.
    pub(crate) rust: usize,
}

/// A C table lookup of `include/rvfio/layout.h` (`RVFIO_DEFINE_LAYOUT_TABLE`).
pub(crate) type CTable = unsafe extern "C" fn(index: u32) -> usize;

/// Compares `entries` with the C compiler's values from `c_table` (`usize::MAX` past its
/// end). Logs every mismatch; -EINVAL if there is any.
pub(crate) fn check(c_table: CTable, entries: &[LayoutEntry]) -> Result {
    // SAFETY: `RVFIO_DEFINE_LAYOUT_TABLE` lookups read a static table, for any index.
    let c_entry = |index: u32| unsafe { c_table(index) };
    let mut ok = true;
    for (index, entry) in entries.iter().enumerate() {
        // CAST: the tables have a few dozen entries.
        let c = c_entry(index as u32);
        if c != entry.rust {
            pr_err!(
                "struct layout mismatch: {} is {} for C but {} for Rust\n",
                entry.name,
                c,
                entry.rust
            );
            ok = false;
        }
    }
    // CAST: as above.
    if c_entry(entries.len() as u32) != usize::MAX {
        pr_err!("struct layout tables of C and Rust differ in length\n");
        ok = false;
    }
    if ok {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// A [`LayoutEntry`] for a field offset or a struct size, named after the expression.
#[macro_export]
macro_rules! layout_entry {
    (size $t:ident) => {
        $crate::ext::layout::LayoutEntry {
            name: stringify!($t),
            rust: core::mem::size_of::<kernel::bindings::$t>(),
        }
    };
    ($t:ident . $($field:tt).+) => {
        $crate::ext::layout::LayoutEntry {
            name: concat!(stringify!($t), ".", stringify!($($field).+)),
            rust: core::mem::offset_of!(kernel::bindings::$t, $($field).+),
        }
    };
}
