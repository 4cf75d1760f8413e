#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Hands QEMU monitor commands the guest asks for to QEMU's human monitor.

    monitor-relay.py CONTROL_SOCKET MONITOR_SOCKET LOG [--aer AER_ID]... ID...

The guest writes one command per line on its third serial port (/dev/ttyS2), which QEMU
connects to CONTROL_SOCKET; this relay passes the command to the monitor at MONITOR_SOCKET
and logs both sides to LOG. Only hot-plug commands on the devices named by ID and AER error
injection into the devices named by AER_ID are passed:

    device_del ID
    device_add DRIVER,id=ID,bus=BUS[,netdev=NETDEV]
    pcie_aer_inject_error [-c] AER_ID ERROR

That is how a guest test unplugs a device (QEMU's `device_del`, as an operator would)
while a VFIO user holds it, and plugs it back afterwards, or has a device report a PCIe
error (uncorrectable, or correctable with -c; ERROR is one of QEMU's names, such as
POISON_TLP, or a number, which -c requires) to the guest's AER driver. The relay ends with QEMU.
"""

import re
import socket
import sys
import time

PROMPT = b"(qemu) "
PROMPT_TEXT = "(qemu)"


def connect(path, deadline_s=120.0):
    """Connects to the UNIX socket QEMU serves at `path`, waiting for QEMU to create it."""
    end = time.monotonic() + deadline_s
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


def read_until_prompt(monitor):
    """What the monitor printed up to its next prompt, without its line-editing echo."""
    out = b""
    while not out.endswith(PROMPT):
        chunk = monitor.recv(4096)
        if not chunk:
            break
        out += chunk
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out.decode(errors="replace"))
    lines = text.replace("\r", "").split("\n")
    # The first line is the command as the monitor echoed it, key by key.
    return "\n".join(line for line in lines[1:] if line.strip() not in ("", PROMPT_TEXT))


def allowed(command, ids, aer_ids):
    """Whether `command` is a hot-plug command on one of `ids` or an AER injection into one
    of `aer_ids`."""
    name = r"[A-Za-z0-9_.-]+"
    m = re.fullmatch(rf"pcie_aer_inject_error (-c )?({name}) ([A-Z_]+|0x[0-9a-f]+)", command)
    if m:
        return m.group(2) in aer_ids
    m = re.fullmatch(rf"device_del ({name})", command)
    if m:
        return m.group(1) in ids
    m = re.fullmatch(rf"device_add {name},id=({name}),bus=({name})(,netdev={name})?", command)
    return bool(m) and m.group(1) in ids


def main():
    control_path, monitor_path, log_path, *args = sys.argv[1:]
    ids, aer_ids = [], []
    while args:
        arg = args.pop(0)
        if arg == "--aer":
            aer_ids.append(args.pop(0))
        else:
            ids.append(arg)
    with open(log_path, "a", buffering=1) as log:
        control = connect(control_path)
        monitor = connect(monitor_path)
        read_until_prompt(monitor)
        pending = b""
        while True:
            chunk = control.recv(4096)
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                command = line.decode(errors="replace").strip()
                if not command:
                    continue
                if not allowed(command, ids, aer_ids):
                    log.write(f"guest asked for '{command}': refused\n")
                    continue
                log.write(f"guest: {command}\n")
                monitor.sendall(command.encode() + b"\n")
                log.write(read_until_prompt(monitor) + "\n")


if __name__ == "__main__":
    main()
