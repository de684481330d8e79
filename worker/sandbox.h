/*
 * sandbox - what the worker gives up before it touches a job: core
 * files, new processes, new files, file growth, dumpability,
 * capabilities, new privileges, executable memory, and every syscall
 * outside a short allow-list. See docs/security.md.
 */
#ifndef PAMOP_SANDBOX_H
#define PAMOP_SANDBOX_H

#include <stdbool.h>

/* sandbox_enter - mode "on" (a violation kills the whole process by
 * SIGSYS), "debug" (a violation names the syscall on stderr, then the
 * process dies by SIGSYS too) or "off" (development only). Returns 0,
 * or -1 if any step failed: the caller must then refuse to run. */
int sandbox_enter(const char *mode);

/* sandbox_fsize_limited - true when RLIMIT_FSIZE is 0 (no standard
 * descriptor was a regular file; see limits() in sandbox.c). */
bool sandbox_fsize_limited(void);

/* sandbox_test_violation - make a syscall the filter forbids (test
 * job); does not return when the sandbox is on. */
void sandbox_test_violation(void);

#endif
