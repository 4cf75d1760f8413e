// SPDX-License-Identifier: GPL-2.0
/*
 * irqbypass_probe: a test-only IRQ bypass consumer, so that guest tests can see which
 * interrupt producers a VFIO stack announces for which eventfds, and when it withdraws
 * them: the pairing KVM's irqfd consumer relies on to post a device's interrupts to a
 * guest directly. It takes nothing over; it only records what the manager tells it.
 *
 * /sys/kernel/debug/irqbypass_probe:
 *   write "add FD"  register a consumer for the writer's eventfd FD
 *   write "del FD"  unregister it
 *   read            one line per consumer: "FD IRQ ADDS DELS", IRQ being the connected
 *                   producer's Linux IRQ or -1, ADDS/DELS how often one connected/left
 */
#include <linux/debugfs.h>
#include <linux/eventfd.h>
#include <linux/irqbypass.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

struct probe {
	struct list_head node;
	struct irq_bypass_consumer consumer;
	struct eventfd_ctx *ctx;
	int fd;
	/* Written by the manager's callbacks (under its lock), read under probes_lock. */
	int irq;
	unsigned int adds, dels;
};

static LIST_HEAD(probes);
static DEFINE_MUTEX(probes_lock);
static struct dentry *probe_file;

static int probe_add_producer(struct irq_bypass_consumer *cons, struct irq_bypass_producer *prod)
{
	struct probe *p = container_of(cons, struct probe, consumer);

	WRITE_ONCE(p->irq, prod->irq);
	WRITE_ONCE(p->adds, p->adds + 1);
	return 0;
}

static void probe_del_producer(struct irq_bypass_consumer *cons, struct irq_bypass_producer *prod)
{
	struct probe *p = container_of(cons, struct probe, consumer);

	WRITE_ONCE(p->irq, -1);
	WRITE_ONCE(p->dels, p->dels + 1);
}

static int probe_add(int fd)
{
	struct probe *p;
	int ret;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	p->ctx = eventfd_ctx_fdget(fd);
	if (IS_ERR(p->ctx)) {
		ret = PTR_ERR(p->ctx);
		kfree(p);
		return ret;
	}
	p->fd = fd;
	p->irq = -1;
	p->consumer.add_producer = probe_add_producer;
	p->consumer.del_producer = probe_del_producer;
	ret = irq_bypass_register_consumer(&p->consumer, p->ctx);
	if (ret) {
		eventfd_ctx_put(p->ctx);
		kfree(p);
		return ret;
	}
	list_add_tail(&p->node, &probes);
	return 0;
}

static void probe_free(struct probe *p)
{
	irq_bypass_unregister_consumer(&p->consumer);
	eventfd_ctx_put(p->ctx);
	list_del(&p->node);
	kfree(p);
}

static int probe_del(int fd)
{
	struct probe *p;

	list_for_each_entry(p, &probes, node) {
		if (p->fd == fd) {
			probe_free(p);
			return 0;
		}
	}
	return -ENOENT;
}

static ssize_t probe_write(struct file *file, const char __user *ubuf, size_t len, loff_t *ppos)
{
	char buf[32], op[4];
	int fd, ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%3s %d", op, &fd) != 2)
		return -EINVAL;
	mutex_lock(&probes_lock);
	if (!strcmp(op, "add"))
		ret = probe_add(fd);
	else if (!strcmp(op, "del"))
		ret = probe_del(fd);
	else
		ret = -EINVAL;
	mutex_unlock(&probes_lock);
	return ret ? ret : len;
}

static int probe_show(struct seq_file *m, void *unused)
{
	struct probe *p;

	mutex_lock(&probes_lock);
	list_for_each_entry(p, &probes, node)
		seq_printf(m, "%d %d %u %u\n", p->fd, READ_ONCE(p->irq), READ_ONCE(p->adds),
			   READ_ONCE(p->dels));
	mutex_unlock(&probes_lock);
	return 0;
}

static int probe_open(struct inode *inode, struct file *file)
{
	return single_open(file, probe_show, NULL);
}

static const struct file_operations probe_fops = {
	.owner = THIS_MODULE,
	.open = probe_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
	.write = probe_write,
};

static int __init probe_init(void)
{
	probe_file = debugfs_create_file("irqbypass_probe", 0600, NULL, NULL, &probe_fops);
	return IS_ERR(probe_file) ? PTR_ERR(probe_file) : 0;
}

static void __exit probe_exit(void)
{
	struct probe *p, *next;

	debugfs_remove(probe_file);
	mutex_lock(&probes_lock);
	list_for_each_entry_safe(p, next, &probes, node)
		probe_free(p);
	mutex_unlock(&probes_lock);
}

module_init(probe_init);
module_exit(probe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("rvfio tests: an IRQ bypass consumer that records its producers");
