/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Least privilege after start-up. Loading BPF programs and opening perf
 * events need CAP_BPF and CAP_PERFMON; afterwards sonde only needs to
 *   - read its BPF maps (CAP_BPF: kernels before 6.5 check it on every bpf(2)
 *     call when unprivileged BPF is disabled, Debian's default),
 *   - read /proc/PID/maps and /proc/PID/root of every process (CAP_SYS_PTRACE:
 *     the ptrace read-access check),
 *   - open binaries that are not world-readable (CAP_DAC_READ_SEARCH),
 *   - read kernel addresses in /proc/kallsyms when kptr_restrict is 1, or 0 with
 *     perf_event_paranoid > 1 (CAP_SYSLOG).
 * privs__drop() keeps those of them the process has, and no others, and can
 * switch to another user first.
 */
#ifndef SONDE_PRIVS_H
#define SONDE_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

/* Looks a user up. 0, or -ENOENT / -errno with a one-line reason in err. */
int privs__lookup(const char *name, uid_t *uid, gid_t *gid, char *err, size_t err_len);

/*
 * Switches to user (when not NULL or empty: uid, gid, no supplementary
 * groups) keeping only the run-time capabilities above, in the permitted and
 * effective sets; clears the inheritable and ambient sets, the bounding set as
 * far as CAP_SETPCAP allows, and sets no_new_privs. 0 or -errno with a
 * one-line reason in err.
 */
int privs__drop(const char *user, char *err, size_t err_len);

/* The process's capabilities as text ("cap_bpf,cap_syslog=ep"), into buf. */
void privs__describe(char *buf, size_t len);

#endif
