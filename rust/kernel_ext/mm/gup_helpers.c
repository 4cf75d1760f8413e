// SPDX-License-Identifier: GPL-2.0
/*
 * Static inlines and macros of the memory-management API that 7.3's Rust bindings lack;
 * used only by rust/kernel_ext/mm/gup.rs.
 */
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/mm_inline.h>
#include <linux/sched/signal.h>

unsigned long rvfio_contiguous_pages(struct page **pages, unsigned long npages,
				     unsigned long *pfn);
bool rvfio_pin_checkpoint(void);

/*
 * Between two pinning batches: give the CPU up if asked, and tell whether the task has been
 * killed. GUP's slow path stops on a fatal signal by itself; its fast path, which finds
 * prefaulted pages without faulting, never looks, so a long MAP_DMA checks here.
 */
bool rvfio_pin_checkpoint(void)
{
	cond_resched();
	return fatal_signal_pending(current);
}
bool rvfio_access_ok(unsigned long addr, unsigned long size);

/* access_ok(): whether [@addr, @addr + @size) is a user address range at all. */
bool rvfio_access_ok(unsigned long addr, unsigned long size)
{
	return access_ok((void __user *)addr, size);
}

struct page *rvfio_pfn_to_page(unsigned long pfn);

/*
 * How many of the @npages (at least one) pages from @pages[0] are physically contiguous,
 * with the first one's frame number in *@pfn. One call covers a whole huge page where a
 * per-page loop across the language boundary would cost hundreds of calls.
 */
unsigned long rvfio_contiguous_pages(struct page **pages, unsigned long npages,
				     unsigned long *pfn)
{
	unsigned long first = page_to_pfn(pages[0]), n = 1;

	/* num_pages_contiguous() may stop early where struct pages are not contiguous. */
	while (n < npages) {
		unsigned long more = num_pages_contiguous(&pages[n - 1], npages - n + 1) - 1;

		if (!more) {
			if (page_to_pfn(pages[n]) != first + n)
				break;
			more = 1;
		}
		n += more;
	}
	*pfn = first;
	return n;
}

struct page *rvfio_pfn_to_page(unsigned long pfn)
{
	return pfn_to_page(pfn);
}


long rvfio_follow_pfnmap(struct mm_struct *mm, unsigned long vaddr,
			 unsigned long npages, bool write, unsigned long *pfn);

/*
 * The frames behind @vaddr of @mm when it lies in a VM_PFNMAP VMA (another device's BAR
 * mmap), as upstream type1's follow_fault_pfn(): faulting the page in if needed. Called
 * with the mmap lock held for reading. Returns how many of the @npages frames from *@pfn
 * are contiguous within the same leaf entry; -EFAULT if @vaddr is not in a PFN mapping of
 * non-RAM frames or not writable for @write; -EAGAIN if the fault dropped (and retook) the
 * mmap lock, so the VMA must be looked up again.
 */
long rvfio_follow_pfnmap(struct mm_struct *mm, unsigned long vaddr,
			 unsigned long npages, bool write, unsigned long *pfn)
{
	struct vm_area_struct *vma = vma_lookup(mm, vaddr);
	struct follow_pfnmap_args args = { .vma = vma, .address = vaddr };
	unsigned long addr_mask, end_pfn;
	int ret;

	if (!vma || !(vma->vm_flags & VM_PFNMAP))
		return -EFAULT;

	ret = follow_pfnmap_start(&args);
	if (ret) {
		bool unlocked = false;

		ret = fixup_user_fault(mm, vaddr,
				       FAULT_FLAG_REMOTE | (write ? FAULT_FLAG_WRITE : 0),
				       &unlocked);
		if (unlocked)
			return -EAGAIN;
		if (ret)
			return ret;
		ret = follow_pfnmap_start(&args);
		if (ret)
			return ret;
	}
	if (write && !args.writable) {
		follow_pfnmap_end(&args);
		return -EFAULT;
	}
	*pfn = args.pfn;
	addr_mask = args.addr_mask;
	follow_pfnmap_end(&args);

	/* Only device memory: RAM must go through pinning. */
	if (pfn_valid(*pfn) && !PageReserved(pfn_to_page(*pfn)))
		return -EFAULT;

	end_pfn = (*pfn | (~addr_mask >> PAGE_SHIFT)) + 1;
	return min(npages, end_pfn - *pfn);
}

bool rvfio_in_pfnmap(struct mm_struct *mm, unsigned long vaddr);

/* Whether @vaddr of @mm lies in a VM_PFNMAP VMA (a BAR mmap). Takes the mmap lock. */
bool rvfio_in_pfnmap(struct mm_struct *mm, unsigned long vaddr)
{
	struct vm_area_struct *vma;
	bool pfnmap;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, vaddr);
	pfnmap = vma && (vma->vm_flags & VM_PFNMAP);
	mmap_read_unlock(mm);
	return pfnmap;
}
