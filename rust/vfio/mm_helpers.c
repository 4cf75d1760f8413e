// SPDX-License-Identifier: GPL-2.0
/*
 * Static inlines and macros of the memory-management API that 7.3's Rust bindings lack;
 * used only by rust/kernel_ext/gup.rs.
 */
#include <linux/mm.h>

unsigned long rvfio_page_to_pfn(struct page *page);
struct page *rvfio_pfn_to_page(unsigned long pfn);

unsigned long rvfio_page_to_pfn(struct page *page)
{
	return page_to_pfn(page);
}

struct page *rvfio_pfn_to_page(unsigned long pfn)
{
	return pfn_to_page(pfn);
}

