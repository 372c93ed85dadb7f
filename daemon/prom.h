/* SPDX-License-Identifier: GPL-2.0 */
/* Prometheus text exposition: the lines /metrics is made of. */
#ifndef SONDE_PROM_H
#define SONDE_PROM_H

#include <stdint.h>

#include "strbuf.h"

/* "# HELP" and "# TYPE" lines of a family. 0 or -ENOMEM. */
int prom__family(struct strbuf *out, const char *name, const char *type, const char *help);
/* One sample line; labels is NULL or like `code="200"`. 0 or -ENOMEM. */
int prom__sample(struct strbuf *out, const char *name, const char *labels, uint64_t value);
/* One sample line with a fractional value, e.g. seconds. 0 or -ENOMEM. */
int prom__sample_f(struct strbuf *out, const char *name, const char *labels, double value);
/* A family of one unlabelled sample. 0 or -ENOMEM. */
int prom__metric(struct strbuf *out, const char *name, const char *type, const char *help,
		 uint64_t value);
/* The same with a fractional value, e.g. seconds. 0 or -ENOMEM. */
int prom__metric_f(struct strbuf *out, const char *name, const char *type, const char *help,
		   double value);

#endif
