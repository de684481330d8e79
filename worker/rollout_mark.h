/*
 * rollout_mark - read and update the restarted-for record a workload
 * carries, so that a retried rollout skips what it already restarted.
 */
#ifndef PAMOP_ROLLOUT_MARK_H
#define PAMOP_ROLLOUT_MARK_H

#include <stdbool.h>

/* rollout_mark_has - true if marks (may be NULL) records msec=hash. */
bool rollout_mark_has(const char *marks, const char *msec, const char *hash);
/* rollout_mark_set - a malloc'd copy of marks with msec's entry set to
 * hash (appended last); NULL only when out of memory. */
char *rollout_mark_set(const char *marks, const char *msec, const char *hash);

#endif
