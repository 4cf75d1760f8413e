// SPDX-License-Identifier: GPL-2.0
/*
 * The eventfd side of interrupts (rust/kernel_ext/irq/eventfd.rs): virqfds and IRQ bypass
 * producers, made of static inlines, macros and structures no Rust code should lay out.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/irqbypass.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

/*
 * An eventfd whose signals run a callback in process context: the INTx unmask eventfd
 * (KVM's resamplefd), upstream's virqfd. Wait-queue entries and poll tables are static
 * inlines and macros, hence C; rust/kernel_ext/irq/eventfd.rs wraps it. The eventfd context
 * is referenced until the free; once its file is released (EPOLLHUP) the virqfd is dead
 * (upstream's deactivates itself then): it fires no more and rvfio_virqfd_closed() says so.
 */
struct rvfio_virqfd {
	struct eventfd_ctx *eventfd;
	wait_queue_entry_t wait;
	poll_table pt;
	struct work_struct work;
	void (*fire)(void *data);
	void *data;
	bool closed;
};

struct rvfio_virqfd *rvfio_virqfd_new(int fd, void (*fire)(void *data), void *data);
void rvfio_virqfd_free(struct rvfio_virqfd *virqfd);
bool rvfio_virqfd_closed(struct rvfio_virqfd *virqfd);

static void rvfio_virqfd_work(struct work_struct *work)
{
	struct rvfio_virqfd *virqfd = container_of(work, struct rvfio_virqfd, work);

	virqfd->fire(virqfd->data);
}

static int rvfio_virqfd_wakeup(wait_queue_entry_t *wait, unsigned int mode, int sync,
			       void *key)
{
	struct rvfio_virqfd *virqfd = container_of(wait, struct rvfio_virqfd, wait);

	/* Under the eventfd's wait-queue lock, as every wakeup. */
	if (key_to_poll(key) & EPOLLHUP)
		WRITE_ONCE(virqfd->closed, true);
	if ((key_to_poll(key) & EPOLLIN) && !READ_ONCE(virqfd->closed)) {
		u64 count;

		eventfd_ctx_do_read(virqfd->eventfd, &count);
		schedule_work(&virqfd->work);
	}
	return 0;
}

static void rvfio_virqfd_queue(struct file *file, wait_queue_head_t *wqh, poll_table *pt)
{
	struct rvfio_virqfd *virqfd = container_of(pt, struct rvfio_virqfd, pt);

	add_wait_queue(wqh, &virqfd->wait);
}

struct rvfio_virqfd *rvfio_virqfd_new(int fd, void (*fire)(void *data), void *data)
{
	struct rvfio_virqfd *virqfd;
	struct eventfd_ctx *ctx;
	__poll_t events;
	CLASS(fd, file)(fd);

	if (fd_empty(file))
		return ERR_PTR(-EBADF);
	ctx = eventfd_ctx_fileget(fd_file(file));
	if (IS_ERR(ctx))
		return ERR_CAST(ctx);
	virqfd = kzalloc(sizeof(*virqfd), GFP_KERNEL);
	if (!virqfd) {
		eventfd_ctx_put(ctx);
		return ERR_PTR(-ENOMEM);
	}
	virqfd->eventfd = ctx;
	virqfd->fire = fire;
	virqfd->data = data;
	INIT_WORK(&virqfd->work, rvfio_virqfd_work);
	init_waitqueue_func_entry(&virqfd->wait, rvfio_virqfd_wakeup);
	init_poll_funcptr(&virqfd->pt, rvfio_virqfd_queue);
	events = vfs_poll(fd_file(file), &virqfd->pt);
	/* Signalled before we were listening: act on it now. */
	if (events & EPOLLIN)
		schedule_work(&virqfd->work);
	return virqfd;
}

/* Whether the eventfd's file has been released (the virqfd then never fires again). */
bool rvfio_virqfd_closed(struct rvfio_virqfd *virqfd)
{
	return READ_ONCE(virqfd->closed);
}

void rvfio_virqfd_free(struct rvfio_virqfd *virqfd)
{
	u64 count;

	eventfd_ctx_remove_wait_queue(virqfd->eventfd, &virqfd->wait, &count);
	cancel_work_sync(&virqfd->work);
	eventfd_ctx_put(virqfd->eventfd);
	kfree(virqfd);
}

/*
 * IRQ bypass producers (rust/kernel_ext/irq/eventfd.rs): an MSI/MSI-X vector's Linux IRQ
 * announced under its eventfd, so that a consumer of the same eventfd (KVM's irqfd) can
 * take the interrupt without the eventfd (posted interrupts), as upstream's
 * vfio_msi_set_vector_signal(). The producer is allocated here so that no Rust code
 * depends on the structure's layout. Without the bypass manager there is no consumer to
 * pair with either (KVM selects it): NULL, no producer.
 */
struct irq_bypass_producer *rvfio_irq_bypass_register(struct eventfd_ctx *trigger, int irq);
void rvfio_irq_bypass_unregister(struct irq_bypass_producer *producer);

struct irq_bypass_producer *rvfio_irq_bypass_register(struct eventfd_ctx *trigger, int irq)
{
#if IS_ENABLED(CONFIG_IRQ_BYPASS_MANAGER)
	struct irq_bypass_producer *producer;
	int ret;

	producer = kzalloc(sizeof(*producer), GFP_KERNEL_ACCOUNT);
	if (!producer)
		return ERR_PTR(-ENOMEM);
	ret = irq_bypass_register_producer(producer, trigger, irq);
	if (ret) {
		kfree(producer);
		return ERR_PTR(ret);
	}
	return producer;
#else
	return NULL;
#endif
}

void rvfio_irq_bypass_unregister(struct irq_bypass_producer *producer)
{
#if IS_ENABLED(CONFIG_IRQ_BYPASS_MANAGER)
	irq_bypass_unregister_producer(producer);
	kfree(producer);
#endif
}
