// SPDX-License-Identifier: GPL-2.0
#include <errno.h>

#include "prom.h"

int prom__family(struct strbuf *out, const char *name, const char *type, const char *help)
{
	return strbuf__appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int prom__sample(struct strbuf *out, const char *name, const char *labels, uint64_t value)
{
	if (labels)
		return strbuf__appendf(out, "%s{%s} %llu\n", name, labels,
				       (unsigned long long)value);
	return strbuf__appendf(out, "%s %llu\n", name, (unsigned long long)value);
}

int prom__sample_f(struct strbuf *out, const char *name, const char *labels, double value)
{
	if (labels)
		return strbuf__appendf(out, "%s{%s} %.9f\n", name, labels, value);
	return strbuf__appendf(out, "%s %.9f\n", name, value);
}

int prom__metric(struct strbuf *out, const char *name, const char *type, const char *help,
		 uint64_t value)
{
	int err = prom__family(out, name, type, help);

	return err ? err : prom__sample(out, name, NULL, value);
}

int prom__metric_f(struct strbuf *out, const char *name, const char *type, const char *help,
		   double value)
{
	int err = prom__family(out, name, type, help);

	return err ? err : prom__sample_f(out, name, NULL, value);
}
