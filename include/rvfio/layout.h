/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Offsets and sizes of kernel structures that rvfio's Rust code reads, writes or allocates,
 * as the C compiler lays them out. Rust sees these structures through bindgen (clang), and
 * on a GCC-built kernel the two can disagree: on the 7.3 test kernel, task_struct::mm is at
 * 912 for GCC and 864 for bindgen. Each module compares these tables with bindgen's view at
 * load time (rust/kernel_ext/abi/layout.rs) and refuses to load on any difference.
 *
 * Each module's C table (layout.c of rust/vfio and rust/vfio_pci) and its Rust twin
 * (layout_table.rs beside it) name their entries alike ("size device", "device.devt"); the
 * check matches them by name, and an entry either side lacks fails it too.
 */
#ifndef _RVFIO_LAYOUT_H
#define _RVFIO_LAYOUT_H

#include <linux/stddef.h>

/* One entry of a module's table: what is measured, and C's value. */
struct rvfio_layout_entry {
	const char *name;
	unsigned long value;
};

#define RVFIO_SIZE(s) { "size " #s, sizeof(struct s) },
#define RVFIO_OFFSET(s, f) { #s "." #f, offsetof(struct s, f) },

/* Defines @fn(i, &name): entry i of the entries that follow (its value, its name in *name),
 * or ULONG_MAX past their end. */
#define RVFIO_DEFINE_LAYOUT_TABLE(fn, ...)                               \
	static const struct rvfio_layout_entry fn##_table[] = { __VA_ARGS__ }; \
	unsigned long fn(unsigned int i, const char **name);            \
	unsigned long fn(unsigned int i, const char **name)             \
	{                                                               \
		if (i >= ARRAY_SIZE(fn##_table))                        \
			return ULONG_MAX;                               \
		*name = fn##_table[i].name;                             \
		return fn##_table[i].value;                             \
	}

#endif /* _RVFIO_LAYOUT_H */
