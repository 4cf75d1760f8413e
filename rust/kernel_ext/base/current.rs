// SPDX-License-Identifier: GPL-2.0

//! What vfio.ko asks of the calling task beyond what 7.3's `Task` offers: a capability
//! check that counts as a use of the capability (`capable()`), and the command name and pid
//! that upstream's warnings print.

use kernel::{
    bindings,
    str::BStr, //
};

// `current_helpers.c`: `task_struct`'s fields are read in C (bindgen's offsets are wrong on
// a GCC-built kernel, `abi/layout.rs`).
extern "C" {
    fn rvfio_current_comm(buf: *mut u8, size: usize);
    fn rvfio_current_pid() -> i32;
}

/// A capability a VFIO call may need (`include/uapi/linux/capability.h`).
#[derive(Clone, Copy)]
#[repr(u32)]
pub(crate) enum Capability {
    /// `CAP_SYS_RAWIO`: what no-IOMMU mode asks of its users.
    SysRawio = bindings::CAP_SYS_RAWIO,
}

/// Whether the calling task has `cap` in its effective set (`capable()`, which also marks
/// the task as having used it, for audit).
pub(crate) fn capable(cap: Capability) -> bool {
    // CAST: capability numbers are small.
    // SAFETY: `capable` checks the current task's credentials, valid in process context.
    unsafe { bindings::capable(cap as i32) }
}

/// The calling task's command name (`current->comm`).
pub(crate) fn comm() -> CommName {
    let mut name = [0u8; COMM_LEN];
    // SAFETY: The buffer is `COMM_LEN` bytes, which the helper fills, NUL terminated.
    unsafe { rvfio_current_comm(name.as_mut_ptr(), COMM_LEN) };
    CommName(name)
}

/// The calling task's pid, as seen from the initial namespace (`task_pid_nr(current)`).
pub(crate) fn pid() -> i32 {
    // SAFETY: No precondition.
    unsafe { rvfio_current_pid() }
}

/// `TASK_COMM_LEN`.
const COMM_LEN: usize = bindings::TASK_COMM_LEN as usize;

/// A task's command name, copied.
pub(crate) struct CommName([u8; COMM_LEN]);

impl CommName {
    /// The name without its terminating NUL.
    pub(crate) fn as_bstr(&self) -> &BStr {
        let len = self.0.iter().position(|&c| c == 0).unwrap_or(COMM_LEN);
        BStr::from_bytes(&self.0[..len])
    }
}
