/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Runs a fuzz target over its corpus without libFuzzer, so that every corpus
 * is a ctest entry in the plain and the sanitizer builds. Each argument is a
 * file or a directory of files; a run that finds no input fails, since a
 * corpus that is not read tests nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define REPLAY_MAX_INPUT (1u << 20)

/* Feeds one file to the target. 0 or -errno. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;
	int err = 0;

	if (!f)
		return -errno;
	buf = malloc(REPLAY_MAX_INPUT);
	if (!buf) {
		err = -ENOMEM;
		goto err_close_file;
	}
	n = fread(buf, 1, REPLAY_MAX_INPUT, f);
	if (ferror(f)) {
		err = -EIO;
		goto err_free_buf;
	}
	/* An exact-size copy, so that ASan sees reads past the input's end. */
	{
		uint8_t *exact = malloc(n ? n : 1);

		if (!exact) {
			err = -ENOMEM;
			goto err_free_buf;
		}
		memcpy(exact, buf, n);
		LLVMFuzzerTestOneInput(exact, n);
		free(exact);
	}
err_free_buf:
	free(buf);
err_close_file:
	fclose(f);
	return err;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every regular file of dir, in name order. Inputs run, or -errno. */
static long replay_dir(const char *dir)
{
	struct dirent *de;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0;
	long done = 0;
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **grown = realloc(names, (cap ? cap * 2 : 64) * sizeof(*names));

			if (!grown) {
				done = -ENOMEM;
				goto err_free_names;
			}
			names = grown;
			cap = cap ? cap * 2 : 64;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			done = -ENOMEM;
			goto err_free_names;
		}
		n++;
	}
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		int err;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		err = replay_file(path);
		if (err) {
			fprintf(stderr, "replay: %s: %s\n", path, strerror(-err));
			done = err;
			goto err_free_names;
		}
		done++;
	}
err_free_names:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return done;
}

int main(int argc, char **argv)
{
	long total = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		long n;

		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode)) {
			n = replay_dir(argv[i]);
		} else {
			int err = replay_file(argv[i]);

			n = err ? err : 1;
		}
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror((int)-n));
			return 1;
		}
		total += n;
	}
	if (!total) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	printf("replay: %ld inputs, no crash\n", total);
	return 0;
}
