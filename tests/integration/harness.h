/*
 * harness - what the integration suites share: running kubectl against
 * the real control plane, starting pamsim and the manager as separate
 * processes, and waiting for the cluster to reach a state. Every wait
 * is bounded and fails the test with what it last saw.
 */
#ifndef PAMOP_HARNESS_H
#define PAMOP_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>

/* sh - run a shell command; returns its exit status. */
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* sh_out - run and capture stdout (trailing newline trimmed) into a malloc'd string. */
char *sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* kubectl_apply - pipe YAML (printf format) to kubectl apply -f -; 0 on success. */
int kubectl_apply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* jp - kubectl get KIND NAME -n NS -o jsonpath=PATH; "" if absent. */
char *jp(const char *ns, const char *kind, const char *name, const char *path);
/* secret_value - decoded .data[key] of a Secret, NULL if absent. */
char *secret_value(const char *ns, const char *name, const char *key);

/* kq - kubectl get GET_ARGS -o json, then the Python expression expr
 * with the object (or list) as o; "<absent>" when kubectl fails. The
 * one way to read exact maps (labels, annotations, data, owners). */
char *kq(const char *get_args, const char *expr);
/* kq_obj - kq on one object: kind name -n ns. */
char *kq_obj(const char *ns, const char *kind, const char *name, const char *expr);
/* Expressions for kq: labels as "k=v,...", annotation keys, data keys. */
#define KQ_LABELS "\",\".join(k+\"=\"+v for k,v in sorted(o[\"metadata\"].get(\"labels\",{}).items()))"
#define KQ_ANN_KEYS "\",\".join(k for k in sorted(o[\"metadata\"].get(\"annotations\",{})))"
#define KQ_RV "o[\"metadata\"][\"resourceVersion\"]"
/* assert_str_free - got equals want; got is freed. */
void assert_str_free(char *got, const char *want);
/* wait_kq - until kq_obj(...) equals want, or fail after timeout_ms. */
int64_t wait_kq(const char *ns, const char *kind, const char *name, const char *expr,
    const char *want, int timeout_ms);
/* secret_b64 - the raw base64 of .data[key]; "<absent>" if not there. */
char *secret_b64(const char *ns, const char *name, const char *key);
/* secret_keys - the Secret's data keys, sorted, comma-separated. */
char *secret_keys(const char *ns, const char *name);
/* events_of - "Type/Reason" of each Event about object name, oldest first,
 * comma-separated. */
char *events_of(const char *ns, const char *name);
/* msec_apply - a MonoSecret: spec_yaml is the body of spec (2-space
 * indented lines); monoStoreRef {name: pam} is added unless present. */
int msec_apply(const char *ns, const char *name, const char *spec_yaml);

/* wait_jp - until jp(...) equals want, or fail after timeout_ms. Returns ms waited. */
int64_t wait_jp(const char *ns, const char *kind, const char *name, const char *path,
    const char *want, int timeout_ms);
/* ready_reason - "Status/Reason" of the Ready condition, e.g. "True/Synced". */
char *ready_of(const char *ns, const char *kind, const char *name);
int64_t wait_ready(const char *ns, const char *kind, const char *name, const char *want,
    int timeout_ms);

/* ready_field - one field (message, lastTransitionTime, observedGeneration,
 * reason, status) of the Ready condition. */
char *ready_field(const char *ns, const char *kind, const char *name, const char *field);
/* expect_failure - wait for Ready False/reason, then check the message
 * holds every needle (NULL-terminated list). */
void expect_failure(const char *ns, const char *kind, const char *name, const char *reason,
    const char *const *needles, int timeout_ms);
/* still_for - check for ms that kq_obj(...) keeps equal to want. */
void still_for(const char *ns, const char *kind, const char *name, const char *expr,
    const char *want, int ms);

/* ns_new - a fresh namespace with a unique name for one test. */
char *ns_new(const char *prefix);
void ns_delete(const char *ns);
/* ns_done - ns_delete, then free the name. */
void ns_done(char *ns);
struct pamsim;
/* ns_with_store - ns_new plus store_setup: a namespace with MonoStore "pam". */
char *ns_with_store(const char *prefix, struct pamsim *p, const char *key);

/* pamsim */
struct pamsim {
	pid_t pid;
	int port, admin_port;
	char url[64];
	char vaults[256];
	char log[256];
};
/* pamsim_start - on free loopback ports, HTTPS with the suite CA, the
 * given vault JSON and access keys ("k1,k2"). */
void pamsim_start(struct pamsim *p, const char *vault_json, const char *keys);
/* pamsim_start_on - the same on a chosen loopback address, and plain
 * HTTP instead of HTTPS when tls is false. */
void pamsim_start_on(struct pamsim *p, const char *ip, bool tls, const char *vault_json,
    const char *keys);
void pamsim_stop(struct pamsim *p);
/* pamsim_put_vaults - replace the vault set (via the admin API). */
void pamsim_put_vaults(struct pamsim *p, const char *vault_json);
/* pamsim_count - requests PAM got for one vault id. */
long pamsim_count(struct pamsim *p, const char *vault);
void pamsim_fault(struct pamsim *p, const char *json);
void pamsim_clear_faults(struct pamsim *p);
/* pamsim_requests - from pamsim's own log: the time (ms since the epoch,
 * as pamsim stamped it) and HTTP status of each request for vault, in
 * order; returns how many (at most max). Server-side times make gaps
 * exact, where polling from the test would add its own lag. */
int pamsim_requests(struct pamsim *p, const char *vault, int64_t *t_ms, int *status, int max);
/* wait_count - until pamsim_count(vault) >= n; returns the count. */
long wait_count(struct pamsim *p, const char *vault, long n, int timeout_ms);

/* manager (the operator) */
struct manager {
	pid_t pid;
	int metrics_port, health_port;
	char log[256];
};
/* manager_start - the operator on free loopback ports, trusting pamsim's
 * CA, with the kubeconfig in $PAMOP_MANAGER_KUBECONFIG if set (see
 * scripts/run-integration), else $KUBECONFIG (admin); run through the
 * command in $PAMOP_MANAGER_WRAPPER if set (valgrind, strace) and with
 * $PAMOP_MANAGER_ARGS appended. Waits for /readyz. */
void manager_start(struct manager *m, const char *extra_args);
/* manager_spawn - the same, without waiting for /readyz. */
void manager_spawn(struct manager *m, const char *extra_args);
/* manager_start_with, manager_spawn_with - with an explicit wrapper
 * command ("" for none) in place of $PAMOP_MANAGER_WRAPPER. */
void manager_start_with(struct manager *m, const char *wrapper, const char *extra_args);
void manager_spawn_with(struct manager *m, const char *wrapper, const char *extra_args);
/* manager_stop - SIGTERM, wait; returns ms it took to exit. */
int64_t manager_stop(struct manager *m);

/* store_setup - access-key Secret plus MonoStore "pam" in ns for p. */
void store_setup(const char *ns, struct pamsim *p, const char *key);

/* assert_no_leak - none of the values appear in file. */
void assert_file_lacks(const char *file, const char *const *values);

/* logs_dir - where test processes log and tests keep files ($PAMOP_TEST_LOGS). */
const char *logs_dir(void);
int64_t now_ms(void);
void sleep_ms(int ms);
int free_port(void);

#endif
