# SPDX-License-Identifier: GPL-2.0
# irqbypass.sh rvfio|upstream: IRQ bypass producers (c/irqbypass_test.c) on that stack,
# watched by the test consumer irqbypass_probe.ko (selftests/kmod), loaded around the run.
. /guest/lib.sh

stack=$1
case $stack in
rvfio | upstream) ;;
*) fail "usage: irqbypass.sh rvfio|upstream" ;;
esac
insmod /lib/modules/test/irqbypass_probe.ko || fail "insmod irqbypass_probe.ko"
sh /guest/with-vfio.sh "$stack" /tests/c/irqbypass_test
rc=$?
rmmod irqbypass_probe || fail "rmmod irqbypass_probe"
exit $rc
