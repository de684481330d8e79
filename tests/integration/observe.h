/*
 * observe - looking at a running operator from outside, for the
 * supervisor suites: its /metrics through a real Prometheus parser,
 * its health endpoints, its worker processes and the Lease it holds.
 */
#ifndef PAMOP_OBSERVE_H
#define PAMOP_OBSERVE_H

#include <sys/types.h>

#include "harness.h"

/* prom - sum of the samples named sample on m's /metrics whose labels
 * pass filters ("kind=MonoSecret result!=error code~2.."; space
 * separated, may be ""); -1 if none matched. Fails the test if the page
 * does not parse. */
double prom(const struct manager *m, const char *sample, const char *filters);
/* prom_wait - until prom(...) >= want; returns the value. */
double prom_wait(const struct manager *m, const char *sample, const char *filters,
    double want, int timeout_ms);
/* http_status - the HTTP status of GET 127.0.0.1:port path (0: no answer). */
int http_status(int port, const char *path);
/* worker_pids - the manager's child processes (its workers). */
int worker_pids(const struct manager *m, pid_t *out, int max);
/* lease_holder - spec.holderIdentity of the Lease ("" if none or empty). */
char *lease_holder(const char *ns, const char *name);
/* log_count - lines of m's log containing every one of the needles
 * (NULL-terminated). */
int log_count(const struct manager *m, ...) __attribute__((sentinel));
/* deployment_reloading - a Deployment named name in ns, annotated to
 * be restarted when Secret secret changes (the seed's Mode B). No
 * kubelet runs its pods; its generation counts template changes. */
void deployment_reloading(const char *ns, const char *name, const char *secret);
/* generation_of - metadata.generation of a Deployment. */
long generation_of(const char *ns, const char *name);
/* msec_one - a MonoSecret name -> Secret target with one key, key,
 * from property prop of vault, refreshed every refresh. */
void msec_one(const char *ns, const char *name, const char *target, const char *refresh,
    const char *key, const char *vault, const char *prop);
/* vaults_json - a pamsim vault file: a SecretText item text_id holding
 * text (left out if text_id is NULL) and a UserNamePassword item user_id
 * with user "app" and password pw. */
char *vaults_json(const char *text_id, const char *text, const char *user_id, const char *pw);
/* pamsim_total - API requests pamsim has received (counted on arrival,
 * before any latency fault holds the answer). */
long pamsim_total(struct pamsim *p);
/* pam_objects_quiesce - delete every MonoSecret and MonoStore in the
 * cluster, stripping finalizers no operator is left to remove, so that a
 * suite that counts starts from nothing. */
void pam_objects_quiesce(void);

#endif
