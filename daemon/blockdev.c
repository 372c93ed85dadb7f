// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "blockdev.h"

#define BLOCKDEV_CACHE	  64
#define BLOCKDEV_TTL_NS	  (60ull * 1000000000ull)
#define BLOCKDEV_NAME_LEN 64

struct blockdev_entry {
	uint32_t dev;
	bool used;
	uint64_t read_ns; /* when the name was read, CLOCK_MONOTONIC */
	char name[BLOCKDEV_NAME_LEN];
};

struct blockdev {
	char sysfs_root[256];
	struct blockdev_entry cache[BLOCKDEV_CACHE];
};

struct blockdev *blockdev__new(const char *sysfs_root)
{
	struct blockdev *bd = calloc(1, sizeof(*bd));

	if (!bd)
		return NULL;
	snprintf(bd->sysfs_root, sizeof(bd->sysfs_root), "%s", sysfs_root ? sysfs_root : "/sys");
	return bd;
}

void blockdev__free(struct blockdev *bd)
{
	free(bd);
}

int blockdev__parse_uevent(const char *text, char *name, size_t len)
{
	const char *p = text;

	while (p && *p) {
		const char *end = strchr(p, '\n');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > 8 && strncmp(p, "DEVNAME=", 8) == 0 && n - 8 < len) {
			memcpy(name, p + 8, n - 8);
			name[n - 8] = '\0';
			return 0;
		}
		p = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

/* Reads DEVNAME of MAJ:MIN into name. 0 or -errno. */
static int read_name(const struct blockdev *bd, uint32_t major, uint32_t minor, char *name,
		     size_t len)
{
	char path[320], text[1024];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/dev/block/%u:%u/uevent", bd->sysfs_root, major, minor);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return blockdev__parse_uevent(text, name, len);
}

const char *blockdev__name(struct blockdev *bd, uint32_t dev, char *buf, size_t len)
{
	uint32_t major = dev >> BLOCKDEV_MINOR_BITS,
		 minor = dev & ((1u << BLOCKDEV_MINOR_BITS) - 1);
	struct blockdev_entry *slot = NULL;
	uint64_t now;

	snprintf(buf, len, "%u:%u", major, minor);
	if (!bd)
		return buf;
	now = clock__monotonic_ns();
	for (size_t i = 0; i < BLOCKDEV_CACHE; i++) {
		struct blockdev_entry *e = &bd->cache[i];

		if (e->used && e->dev == dev) {
			slot = e;
			break;
		}
		/* Otherwise a free slot, else the oldest. */
		if (!slot || (slot->used && (!e->used || e->read_ns < slot->read_ns)))
			slot = e;
	}
	if (!slot->used || slot->dev != dev || now - slot->read_ns >= BLOCKDEV_TTL_NS) {
		slot->used = true;
		slot->dev = dev;
		slot->read_ns = now;
		/* A failed read is cached too: "MAJ:MIN" until the next try. */
		if (read_name(bd, major, minor, slot->name, sizeof(slot->name)))
			snprintf(slot->name, sizeof(slot->name), "%u:%u", major, minor);
	}
	snprintf(buf, len, "%s", slot->name);
	return buf;
}
