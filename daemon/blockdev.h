/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Names of block devices: the kernel's dev_t of a disk (major << 20 | minor)
 * to the name under /dev, read from /sys/dev/block/MAJ:MIN/uevent (DEVNAME)
 * and cached. Devices come and go, so a name is read again after a minute.
 *
 * Never includes libbpf or libmicrohttpd headers.
 */
#ifndef SONDE_BLOCKDEV_H
#define SONDE_BLOCKDEV_H

#include <stddef.h>
#include <stdint.h>

struct blockdev;

#define BLOCKDEV_MINOR_BITS 20

/* sysfs_root: "/sys" unless a test says otherwise. NULL on allocation failure. */
struct blockdev *blockdev__new(const char *sysfs_root);
void blockdev__free(struct blockdev *bd);

/*
 * Writes the name of dev into buf ("vda", "nvme0n1") and returns buf; when
 * the device has no uevent with a DEVNAME, "MAJ:MIN". bd may be NULL (no
 * look-ups, always "MAJ:MIN").
 */
const char *blockdev__name(struct blockdev *bd, uint32_t dev, char *buf, size_t len);

/* The DEVNAME= value of a uevent file's text. 0, or -ENOENT when there is none. */
int blockdev__parse_uevent(const char *text, char *name, size_t len);

#endif
