// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conffile.h"

#define LINE_MAX_LEN 4096
#define KEY_MAX_LEN  64

/* One setting from the file or the environment; a later source replaces an earlier one. */
struct setting {
	char key[KEY_MAX_LEN];
	char *value;
	char origin[CONFIG_PATH_MAX + 32]; /* "FILE:LINE" or "SONDE_NAME" */
};

struct settings {
	struct setting *v;
	size_t n, cap;
};

static void settings_release(struct settings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].value);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Options that only make sense on the command line. */
static bool command_line_only(const char *key)
{
	return strcmp(key, "help") == 0 || strcmp(key, "version") == 0 ||
	       strcmp(key, "config") == 0 || strcmp(key, "check-config") == 0;
}

static int settings_put(struct settings *s, const char *key, const char *value, const char *origin)
{
	struct setting *st;
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].key, key))
			continue;
		/* Replaced: drop the old one and keep the order of first appearance. */
		free(s->v[i].value);
		s->v[i].value = copy;
		snprintf(s->v[i].origin, sizeof(s->v[i].origin), "%s", origin);
		return 0;
	}
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct setting *nv = realloc(s->v, ncap * sizeof(*nv));

		if (!nv) {
			free(copy);
			return -ENOMEM;
		}
		s->v = nv;
		s->cap = ncap;
	}
	st = &s->v[s->n++];
	snprintf(st->key, sizeof(st->key), "%s", key);
	st->value = copy;
	snprintf(st->origin, sizeof(st->origin), "%s", origin);
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	*end = '\0';
	return s;
}

/* Parses one line of the file into settings. 0, or -EINVAL with the reason in err. */
static int parse_line(struct settings *s, char *line, const char *origin, char *err, size_t err_len)
{
	char *eq, *key, *value;
	size_t vlen;

	line = trim(line);
	if (!*line || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq) {
		snprintf(err, err_len, "%s: expected 'key = value'", origin);
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	vlen = strlen(value);
	/* A value may be quoted to keep leading or trailing blanks. */
	if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
		value[vlen - 1] = '\0';
		value++;
	}
	if (!*key) {
		snprintf(err, err_len, "%s: expected 'key = value'", origin);
		return -EINVAL;
	}
	if (strlen(key) >= KEY_MAX_LEN || config__option_arg(key) < 0) {
		snprintf(err, err_len,
			 "%s: unknown key '%.64s' (keys are the long options, see --help)", origin,
			 key);
		return -EINVAL;
	}
	if (command_line_only(key)) {
		snprintf(err, err_len, "%s: '%s' is a command-line option only", origin, key);
		return -EINVAL;
	}
	if (settings_put(s, key, value, origin)) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int read_file(struct settings *s, const char *path, bool must_exist, char *err,
		     size_t err_len)
{
	char line[LINE_MAX_LEN + 2], origin[CONFIG_PATH_MAX + 32];
	unsigned int lineno = 0;
	int rc = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		if (rc == -ENOENT && !must_exist)
			return -ENOENT;
		snprintf(err, err_len, "cannot read settings file %s: %s", path, strerror(-rc));
		return rc;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		snprintf(origin, sizeof(origin), "%s:%u", path, lineno);
		if (strlen(line) > LINE_MAX_LEN) {
			snprintf(err, err_len, "%s: line longer than %d characters", origin,
				 LINE_MAX_LEN);
			rc = -EINVAL;
			break;
		}
		rc = parse_line(s, line, origin, err, err_len);
		if (rc)
			break;
	}
	if (!rc && ferror(f)) {
		rc = -EIO;
		snprintf(err, err_len, "cannot read settings file %s: %s", path, strerror(EIO));
	}
	fclose(f);
	return rc;
}

/* SONDE_OFFCPU_MIN → offcpu-min; 0, or -ENOENT when the name is not of that form. */
static int env_key(const char *name, size_t name_len, char *key, size_t key_len)
{
	if (name_len <= 6 || strncmp(name, "SONDE_", 6) || name_len - 6 >= key_len)
		return -ENOENT;
	for (size_t i = 6; i < name_len; i++) {
		char c = name[i];

		if (c == '_')
			c = '-';
		else if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		else if (!(c >= '0' && c <= '9'))
			return -ENOENT;
		key[i - 6] = c;
	}
	key[name_len - 6] = '\0';
	return 0;
}

static int read_env(struct settings *s, char *const *envp, char *err, size_t err_len)
{
	char key[KEY_MAX_LEN], origin[KEY_MAX_LEN + 8];

	for (; envp && *envp; envp++) {
		const char *eq = strchr(*envp, '=');

		if (!eq || env_key(*envp, (size_t)(eq - *envp), key, sizeof(key)))
			continue;
		if (config__option_arg(key) < 0 || command_line_only(key))
			continue; /* SONDE_BIN, SONDE_CONFIG and friends */
		snprintf(origin, sizeof(origin), "%.*s", (int)(eq - *envp), *envp);
		if (settings_put(s, key, eq + 1, origin)) {
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Applies one setting through the option parser, so that it is validated the same way. */
static int apply(struct config *cfg, const struct setting *st, char *err, size_t err_len)
{
	char opt[KEY_MAX_LEN + 3], reason[512];
	char *argv[3] = {"sonde", NULL, NULL};
	char *arg = NULL;
	bool on;
	int rc;

	if (config__option_arg(st->key) == 0) {
		if (parse_bool(st->value, &on)) {
			snprintf(err, err_len, "%s: invalid %s '%.64s': expected true or false",
				 st->origin, st->key, st->value);
			return -EINVAL;
		}
		/* Every switch turns on what is off by default: false leaves the default. */
		if (!on)
			return 0;
		snprintf(opt, sizeof(opt), "--%s", st->key);
		argv[1] = opt;
	} else {
		if (!*st->value) {
			snprintf(err, err_len, "%s: %s needs a value", st->origin, st->key);
			return -EINVAL;
		}
		if (asprintf(&arg, "--%s=%s", st->key, st->value) < 0) {
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
		argv[1] = arg;
	}
	rc = config__parse_args(cfg, 2, argv, reason, sizeof(reason));
	free(arg);
	if (rc < 0) {
		snprintf(err, err_len, "%s: %s", st->origin, reason);
		return rc;
	}
	return 0;
}

/* Applies every setting to a scratch configuration, for the errors alone. */
static int validate(const struct settings *s, char *err, size_t err_len)
{
	struct config *scratch = malloc(sizeof(*scratch));
	int rc = 0;

	if (!scratch) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	config__defaults(scratch);
	for (size_t i = 0; !rc && i < s->n; i++)
		rc = apply(scratch, &s->v[i], err, err_len);
	free(scratch);
	return rc;
}

int conffile__load(struct config *cfg, int argc, char **argv, char *const *envp,
		   const char *default_file, char *err, size_t err_len)
{
	struct settings file = {0}, env = {0};
	struct config flags;
	const char *path = default_file;
	bool must_exist = false;
	int rc;

	/* The command line first, alone: its own errors, --help, and which file to read. */
	config__defaults(&flags);
	rc = config__parse_args(&flags, argc, argv, err, err_len);
	if (rc != CONFIG_RUN)
		return rc;
	if (flags.config_file[0]) {
		path = flags.config_file;
		must_exist = true;
	} else {
		for (char *const *e = envp; e && *e; e++) {
			if (strncmp(*e, "SONDE_CONFIG=", 13) == 0) {
				path = *e + 13;
				must_exist = true;
			}
		}
	}
	if (!*path) {
		snprintf(err, err_len, "SONDE_CONFIG is set but empty");
		return -EINVAL;
	}

	config__defaults(cfg);
	rc = read_file(&file, path, must_exist, err, err_len);
	if (rc == 0)
		snprintf(cfg->config_file, sizeof(cfg->config_file), "%s", path);
	else if (rc != -ENOENT || must_exist)
		goto out_release;
	/*
	 * Every value is checked, even one that a higher source overrides: a bad
	 * line must not wait for the day its override is removed.
	 */
	rc = read_env(&env, envp, err, err_len) ?: validate(&file, err, err_len)
						?: validate(&env, err, err_len);
	for (size_t i = 0; !rc && i < env.n; i++) {
		rc = settings_put(&file, env.v[i].key, env.v[i].value, env.v[i].origin);
		if (rc)
			snprintf(err, err_len, "out of memory");
	}
	/* The merged settings, in the order the keys first appeared; env values replaced file ones.
	 */
	for (size_t i = 0; !rc && i < file.n; i++)
		rc = apply(cfg, &file.v[i], err, err_len);
	if (rc)
		goto out_release;
	rc = config__parse_args(cfg, argc, argv, err, err_len);
	if (rc == CONFIG_RUN)
		rc = conffile__validate(cfg, err, err_len);

out_release:
	settings_release(&env);
	settings_release(&file);
	return rc;
}

int conffile__validate(const struct config *cfg, char *err, size_t err_len)
{
	if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
		snprintf(err, err_len, "%s is set without %s: HTTPS needs both",
			 cfg->tls_cert[0] ? "tls-cert" : "tls-key",
			 cfg->tls_cert[0] ? "tls-key" : "tls-cert");
		return -EINVAL;
	}
	return 0;
}
