// SPDX-License-Identifier: GPL-2.0
/* Disk names from a sysfs tree made here, and the fallbacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockdev.h"
#include "testutil.h"

#define DEVT(major, minor) ((uint32_t)(major) << BLOCKDEV_MINOR_BITS | (uint32_t)(minor))

static void test_parse(void)
{
	char name[16];

	CHECK(blockdev__parse_uevent("MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n", name,
				     sizeof(name)) == 0);
	CHECK_STR(name, "vda");
	CHECK(blockdev__parse_uevent("DEVNAME=nvme0n1", name, sizeof(name)) == 0);
	CHECK_STR(name, "nvme0n1");
	CHECK(blockdev__parse_uevent("MAJOR=8\nMINOR=0\n", name, sizeof(name)) == -ENOENT);
	CHECK(blockdev__parse_uevent("DEVNAME=\n", name, sizeof(name)) == -ENOENT);
	CHECK(blockdev__parse_uevent("XDEVNAME=sda\n", name, sizeof(name)) == -ENOENT);
	/* Longer than the buffer: not cut, refused. */
	CHECK(blockdev__parse_uevent("DEVNAME=0123456789abcdef\n", name, sizeof(name)) == -ENOENT);
	CHECK(blockdev__parse_uevent("", name, sizeof(name)) == -ENOENT);
}

static int write_uevent(const char *root, const char *majmin, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/dev", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/dev/block", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/dev/block/%s", root, majmin);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/dev/block/%s/uevent", root, majmin);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	fclose(f);
	return 0;
}

static void test_names(void)
{
	char root[] = "/tmp/sonde-blockdev.XXXXXX", buf[64], cmd[128];
	struct blockdev *bd;

	CHECK(mkdtemp(root) != NULL);
	CHECK(write_uevent(root, "254:0", "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n") == 0);
	CHECK(write_uevent(root, "259:3", "MAJOR=259\nMINOR=3\nDEVNAME=nvme1n1\n") == 0);
	CHECK(write_uevent(root, "8:16", "MAJOR=8\nMINOR=16\n") == 0);
	bd = blockdev__new(root);
	CHECK(bd != NULL);

	CHECK_STR(blockdev__name(bd, DEVT(254, 0), buf, sizeof(buf)), "vda");
	CHECK_STR(blockdev__name(bd, DEVT(259, 3), buf, sizeof(buf)), "nvme1n1");
	/* No DEVNAME, or no such device: major:minor. */
	CHECK_STR(blockdev__name(bd, DEVT(8, 16), buf, sizeof(buf)), "8:16");
	CHECK_STR(blockdev__name(bd, DEVT(7, 1048575), buf, sizeof(buf)), "7:1048575");
	/* Cached: the name stays while the file is gone. */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/dev", root);
	CHECK(system(cmd) == 0);
	CHECK_STR(blockdev__name(bd, DEVT(254, 0), buf, sizeof(buf)), "vda");
	/* A short buffer gets a cut, terminated name. */
	CHECK_STR(blockdev__name(bd, DEVT(259, 3), buf, 5), "nvme");
	/* More devices than the cache holds: still right, the oldest evicted. */
	for (uint32_t minor = 0; minor < 100; minor++) {
		char want[32];

		snprintf(want, sizeof(want), "9:%u", minor);
		CHECK_STR(blockdev__name(bd, DEVT(9, minor), buf, sizeof(buf)), want);
	}
	blockdev__free(bd);
	blockdev__free(NULL);
	CHECK_STR(blockdev__name(NULL, DEVT(254, 0), buf, sizeof(buf)), "254:0");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	test_parse();
	test_names();
	return test__finish("test_blockdev");
}
