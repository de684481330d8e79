/*
 * sandbox - what the worker gives up before it touches a job: core
 * files, new processes, file growth, dumpability, capabilities, new
 * privileges, and every syscall outside a short allow-list.
 */
#ifndef PAMOP_SANDBOX_H
#define PAMOP_SANDBOX_H

/* sandbox_enter - mode "on" (violation kills the process), "debug"
 * (violation is reported as SIGSYS naming the syscall) or "off"
 * (development only). Returns 0, or -1 if any step failed. */
int sandbox_enter(const char *mode);

/* sandbox_test_violation - make a syscall the filter forbids (test
 * job); does not return when the sandbox is on. */
void sandbox_test_violation(void);

#endif
