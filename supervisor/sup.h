/*
 * sup - the supervisor's shared state. One mutex guards the index, the
 * queue and the worker table; watch threads and nng callbacks take it
 * briefly, the main loop (supervisor/main.c) does the rest. The index
 * holds names, specs, hashes and resourceVersions only: no Secret data
 * is ever read by this process (managed Secrets are watched as
 * metadata).
 */
#ifndef PAMOP_SUP_H
#define PAMOP_SUP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <nng/nng.h>

#include "hmap.h"
#include "kube.h"
#include "proto.h"
#include "queue.h"
#include "ratelimit.h"
#include "scope.h"

#define FINALIZER "pam.monofor.com/finalizer"
#define ANN_RELOAD_ON "pam.monofor.com/reload-on"
/* With --enable-test-jobs only: a new value of this annotation on a
 * MonoSecret sends one test job ("forbidden-syscall" or
 * "malformed-result", optionally followed by ":anything" to repeat). */
#define ANN_TEST_JOB "pam.monofor.com/test-job"

struct cond {                  /* one status condition as last written */
	char status[8];            /* "True", "False", "Unknown", "" if none */
	char *reason, *message, *ltt;
	int64_t observed_gen;
};

struct msec {
	char *ns, *name, *uid;
	int64_t generation;
	char *spec_json;           /* compact .spec, what a worker needs */
	char *store;               /* spec.monoStoreRef.name */
	char *target;              /* spec.target.name */
	int64_t refresh_ms;        /* 0: no timer */
	char *spec_reason;         /* non-NULL: spec invalid, with message */
	char *spec_message;
	bool deleting, has_finalizer;
	char *rollout;             /* Mode A targets "Kind/name\n" (if enabled) */
	/* status as seen on the object */
	char *status_hash;
	char *refresh_time;
	struct cond ready, roll;
	/* runtime */
	char *synced_target;       /* target last written, for rename cleanup */
	char *secret_rv;           /* resourceVersion our last job left */
	char *drift_rv;            /* target changed while a job ran: judged at its result */
	int64_t synced_gen;        /* generation of the last good sync */
	int64_t job_gen;           /* generation the sync in flight was sent with */
	int failures;
	int roll_failures;         /* rollout retries in a row, for backoff */
	/* A sync asks PAM only when need_full is set (spec, store or target
	 * gone, a failure) or the refresh is due; otherwise the worker checks
	 * the Secret against its data hash and repairs it without PAM. */
	bool need_full;
	int64_t next_full_ms;      /* monotonic; INT64_MAX: no refresh timer */
	struct ev_mark {           /* Events sent lately, to avoid floods */
		char reason[64];
		int64_t ms;
	} ev[8];
	char *test_job, *test_fired; /* ANN_TEST_JOB wanted, and last sent */
};

struct mstore {
	char *ns, *name, *uid;
	int64_t generation;
	char *url, *key_ns, *key_name, *key_key;
	char *spec_reason, *spec_message;
	struct cond ready;
	int failures;
	bool checked;              /* a check finished since the spec last changed */
};

enum wstate { W_DOWN, W_STARTING, W_IDLE, W_BUSY, W_DYING /* killed, not yet reaped */ };

struct wslot {
	int idx;
	pid_t pid;
	enum wstate state;
	nng_socket sock;
	nng_aio *rx;
	char url[256];
	char *job_key;             /* queue key of the job it holds */
	int64_t job_id, job_start;
	uint64_t job_token;        /* version of the token the job carries */
	int64_t started;           /* when spawned, to bound the start-up */
	int64_t chan_lost;         /* when its channel closed, 0 if open */
	const char *kill_cause;    /* why we killed it, for the restart metric */
	int crashes;               /* deaths before finishing a job */
	int64_t restart_at;
	bool finished_one;
};

struct result_msg {            /* a result received, waiting for the main loop */
	struct result_msg *next;
	int slot;
	unsigned char *buf;
	size_t len;
};

struct options {
	const char *kubeconfig;
	bool leader_elect;
	const char *lease_name, *lease_ns;
	const char *metrics_addr, *health_addr;
	int workers;
	const char *pam_ca_file;
	const char *worker_path;
	const char *log_format, *log_level;
	const char *sandbox;
	int64_t job_timeout_ms;
	bool allow_cross_ns_keys;
	struct scope scope;        /* --namespaces; n == 0: whole cluster */
	bool test_jobs;
	double qps;
	int burst;
};

struct sup {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct options opt;
	struct kube_creds creds;
	volatile int stop;
	_Atomic bool leader;        /* read by every thread, set by the election */
	int informers_synced;      /* count of informers past their first list */
	int informers_total;
	_Atomic int64_t last_loop_ms;  /* for /healthz */
	struct ratelimit rl;       /* --kube-api-qps/--kube-api-burst */
	struct hmap msecs;         /* "ns/name" -> struct msec */
	struct hmap stores;        /* "ns/name" -> struct mstore */
	struct hmap secret_rv;     /* "ns/name" of managed Secrets -> rv string */
	struct hmap reloaders;     /* "ns/Kind/name" -> reload-on value */
	struct hmap reload_by_secret; /* "ns/secret" -> struct hmap of "Kind/name" */
	struct hmap roll_waiting;  /* "ns/Kind/name" not found by a rollout -> queue key */
	struct queue q;
	struct wslot *slots;
	struct result_msg *results, **results_tail;
	char ipc_dir[128];
	int64_t job_seq;
	char *identity;
};

extern struct sup S;

/* Queue keys: "m/ns/name" for MonoSecrets, "s/ns/name" for MonoStores.
 * sup_enqueue_msec asks for a full sync (PAM is asked); the _verify form
 * only checks the target Secret, for edits made by others. */
void sup_enqueue_msec(const char *ns, const char *name, int64_t delay_ms);
void sup_enqueue_msec_verify(const char *ns, const char *name);
void sup_enqueue_store(const char *ns, const char *name, int64_t delay_ms);
void sup_wake(void);
/* sup_leading - we may write: elected (or no election) and within the
 * renew deadline. */
bool sup_leading(void);
bool sup_rv_older(const char *a, const char *b);
/* sup_key_kind - "MonoSecret" or "MonoStore" for a queue key, for logs. */
const char *sup_key_kind(const char *key);

/* kclient.c: the supervisor's API clients (rate limit, token, metrics). */
struct skube {
	struct kube_client k;
	uint64_t token_gen;        /* token version this client holds */
	bool limited;              /* waits for the API rate limit */
	bool main_thread;          /* keeps /healthz fed while it waits */
};
int skube_init(struct skube *c, bool limited, bool main_thread);
void skube_free(struct skube *c);
bool token_reload(bool after_401);
/* token_dup - the token for a job ("" unless a token file is in use;
 * wipe after) and its version. */
char *token_dup(uint64_t *gen);
bool token_newer(uint64_t gen);

/* informer.c */
int informers_start(void);
/* informer_feed - hand one watch-stream line (an event, or a Status) to
 * informer number which (modulo their count: monostores, monosecrets,
 * secrets, deployments, daemonsets, statefulsets) as if it had arrived.
 * Returns non-zero when the watch would end. */
int informer_feed(size_t which, char *line, size_t len);

/* index.c: apply watch events (caller holds S.mu). */
struct cJSON;
void index_msec_upsert(const struct cJSON *obj);
void index_msec_delete(const struct cJSON *obj);
/* index_msec_resume - schedule from status alone: the next PAM request when
 * refreshTime + refreshInterval comes, if status shows a good sync. */
void index_msec_resume(struct msec *m);
void index_store_upsert(const struct cJSON *obj);
void index_store_delete(const struct cJSON *obj);
void index_secret_upsert(const struct cJSON *obj);
void index_secret_delete(const struct cJSON *obj);
void index_workload_upsert(const char *kind, const struct cJSON *obj);
void index_workload_delete(const char *kind, const struct cJSON *obj);
void msec_free(struct msec *m);
void mstore_free(struct mstore *s);

/* pool.c */
int pool_init(void);
void pool_reap(int64_t now);          /* waitpid + respawn, S.mu held */
int pool_idle_slot(void);             /* -1 if none */
int pool_send(int slot, const char *key, struct proto_job *j); /* S.mu held */
void pool_check_deadlines(int64_t now);
int64_t pool_next_event(void);
void pool_shutdown(void);
int pool_ready_count(void);
void pool_kill_all(void);             /* lease lost: stop every job now */
void pool_kill_slot(int slot, const char *cause);

/* rollout.c (S.mu held) */
/* rollout_workload_set - kind/name in ns now reloads on secret (NULL: none). */
void rollout_workload_set(const char *ns, const char *kind, const char *name,
    const char *secret);
/* rollout_targets - m's restart targets, "Kind/name\n" each once (malloc'd). */
char *rollout_targets(const struct msec *m);
enum { RK_DEPLOYMENT, RK_DAEMONSET, RK_STATEFULSET, RK_OTHER, RK_N };
enum { RR_SUCCESS, RR_SKIPPED, RR_ERROR, RR_N };
struct rollout_summary {
	int targets, restarted, skipped, failed;
	int count[RK_N][RR_N];     /* by kind and result, for metrics */
	const char *reason;        /* condition reason of the first failure */
	char message[1024];        /* condition and Event text */
};
/* rollout_summarize - read a worker's report (proto.h) for secret;
 * returns the number of targets it names. */
int rollout_summarize(const char *report, const char *secret, struct rollout_summary *s);
/* rollout_await - remember the targets m's rollout did not find, so
 * that their appearance retries it at once. */
void rollout_await(const struct msec *m, const char *report);
/* rollout_count - add the summary to pamop_rollouts_total{kind,result}. */
void rollout_count(const struct rollout_summary *s);
/* resolve.c: host names resolved for the sandboxed workers. */
enum { RESOLVE_OK = 0, RESOLVE_PENDING = 1, RESOLVE_FAILED = -1 };
struct addrinfo;
int resolve_start(void);
void resolve_stop(void);
/* resolve_line - the CURLOPT_RESOLVE line "host:port:a,b" for url's host
 * into out ("" when the host is an IP address). RESOLVE_PENDING: a lookup
 * is under way, ask again shortly; RESOLVE_FAILED: err says why. */
int resolve_line(const char *url, char *out, size_t n, char *err, size_t errlen);
/* resolve_url_host - host (IPv6 in brackets) and port (scheme default if
 * none) of url: 0 for a name, 1 for an IP address, -1 if unparsable. */
int resolve_url_host(const char *url, char *host, size_t hn, long *port);
/* resolve_format - up to 8 distinct addresses of ai as "a,b,[v6]"; returns the count. */
size_t resolve_format(const struct addrinfo *ai, char *out, size_t n);
/* resolve_job - the lines a job needs (the API server's host, and PAM's
 * when pam_url is set) into buf, and j->resolve = buf. On RESOLVE_FAILED,
 * reason and msg name the host, the field and why. */
struct proto_job;
int resolve_job(struct proto_job *j, const char *pam_url, char *buf, size_t n,
    const char **reason, char *msg, size_t msglen);

/* reconcile.c */
void reconcile_dispatch(int64_t now);  /* S.mu held */
void reconcile_result(struct result_msg *rm); /* S.mu held; may unlock for I/O */
void reconcile_worker_lost(const char *key, const char *cause); /* S.mu held */
void reconcile_shutdown(void);         /* short timeouts for the last writes */

/* status.c: status and event writes (called without S.mu). */
struct status_update {
	const char *kind;             /* "monosecrets" or "monostores" */
	char *ns, *name, *uid;
	int64_t generation;
	struct cond ready, roll;      /* desired conditions */
	bool has_roll;
	char *hash;                   /* secretDataHash or NULL to keep */
	bool set_refresh;
};
/* status_write - 0 if written (or the object is gone), -2 if the failure
 * may pass (worth a retry), -1 if not. */
int status_write(struct kube_client *k, struct status_update *u);
void event_emit(struct kube_client *k, const char *kind, const char *ns, const char *name,
    const char *uid, const char *type, const char *reason, const char *message);
int finalizer_set(struct kube_client *k, const char *ns, const char *name, bool add);

/* leader.c */
int leader_start(void);
bool leader_expired(int64_t now);     /* renew deadline passed: step down */
void leader_release(int64_t deadline);

/* http.c and metrics.c */
int http_start(void);
void http_stop(void);
void metrics_init(void);
void metrics_inc(const char *name, const char *labels, double v);
void metrics_observe(const char *name, const char *labels, double v);
void metrics_set(const char *name, const char *labels, double v);
char *metrics_render(void);
void metrics_kube_count(const char *verb, const char *resource, long code, double n);
double metrics_worker_tally(const char *pam_codes, const char *kube_codes);

#endif
