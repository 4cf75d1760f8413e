// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of rust/kernel_ext/base/current.rs: the calling task's name and pid, read in C
 * because bindgen's task_struct offsets are wrong on a GCC-built kernel (see
 * rust/kernel_ext/abi/layout.rs): 7.3's Task::pid() reads a field before pid there.
 */
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/string.h>

void rvfio_current_comm(char *buf, size_t size);
pid_t rvfio_current_pid(void);

/* As get_task_comm(): a NUL-terminated, zero-padded copy (the name may change meanwhile). */
void rvfio_current_comm(char *buf, size_t size)
{
	strscpy_pad(buf, current->comm, size);
}

/* task_pid_nr(current): the global pid, as upstream's warnings print it. */
pid_t rvfio_current_pid(void)
{
	return task_pid_nr(current);
}
