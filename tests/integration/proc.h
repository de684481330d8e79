/*
 * proc - look at a running process from outside, as an auditor would
 * with /proc: status fields, owners, children, open descriptors and
 * the bytes of its memory.
 */
#ifndef PAMOP_ITEST_PROC_H
#define PAMOP_ITEST_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* proc_status - the value of "name:" in /proc/pid/status ("" if absent). */
void proc_status(pid_t pid, const char *name, char *out, size_t n);
/* proc_owner - the uid owning /proc/pid/<file>; -1 if gone. */
int proc_owner(pid_t pid, const char *file);
/* proc_children - pids whose parent is ppid and whose comm is comm (up
 * to max); returns how many. */
size_t proc_children(pid_t ppid, const char *comm, pid_t *out, size_t max);
/* proc_alive - true while pid exists and is not a zombie. */
bool proc_alive(pid_t pid);
/* proc_shared_open_file - the first socket, pipe or file that both a and
 * b hold open on a descriptor above 2, into what; false if none. */
bool proc_shared_open_file(pid_t a, pid_t b, char *what, size_t n);

/* proc_mem_find - search every readable mapping of pid (up to 1 GiB
 * each) for each needle; returns the first needle found or NULL, and
 * the bytes read in *scanned. */
const char *proc_mem_find(pid_t pid, const char *const *needles, size_t *scanned);

#endif
