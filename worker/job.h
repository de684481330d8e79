/*
 * job - what a worker keeps while it serves one job, and the steps a
 * sync is made of. Each step fills ctx->res on failure and returns -1.
 */
#ifndef PAMOP_JOB_H
#define PAMOP_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "datamap.h"
#include "kube.h"
#include "proto.h"
#include "secret.h"
#include "spec.h"

/* Labels and annotations the operator puts on Secrets it writes. */
#define LABEL_MANAGED_BY   "app.kubernetes.io/managed-by"
#define MANAGED_BY_VALUE   "pam-operator"
#define ANN_DATA_HASH      "pam.monofor.com/data-hash"
#define ANN_MANAGED_KEYS   "pam.monofor.com/managed-keys"
#define ANN_OWNER          "pam.monofor.com/monosecret"
#define ANN_MANAGED_META   "pam.monofor.com/managed-metadata"
#define ANN_RESTARTED_AT   "pam.monofor.com/restartedAt"
/* On the Secret: the data hash whose workload restarts are still owed. */
#define ANN_ROLLOUT_PENDING "pam.monofor.com/rollout-pending"
/* On a workload: "monosecret=hash,..." changes it was restarted for. */
#define ANN_RESTARTED_FOR  "pam.monofor.com/restarted-for"
#define SA_TOKEN_TYPE      "kubernetes.io/service-account-token"

struct job_ctx {
	struct kube_client *kube;
	CURL *pam;
	const struct proto_job *job;
	struct proto_result *res;
	cJSON *spec_root;
	struct msec_spec spec;
	struct secret key;         /* PAM access key */
	struct datamap data;
	char hash[65];
	char rollout_for[65];      /* change owed a rollout ("" if none), set
	                            * by job_write_target from the Secret */
	struct {                   /* PAM answers, one per request while they fit */
		int code, n;
		int64_t ms;
	} pamt[64];
	size_t npam;
	struct {                   /* Kubernetes requests by verb, resource, code */
		char verb[8], res[40];
		int code, n;
	} kubet[24];
	size_t nkube;
};

/* job_count_pam - one PAM answer (HTTP code, 0 if none) and its duration,
 * for the supervisor's metrics. */
void job_count_pam(struct job_ctx *c, int code, int64_t ms);

/* job_fail - record reason and message (printf) in the result. */
void job_fail(struct job_ctx *c, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* job_send_secret - POST or PUT a Secret (the body is wiped after); on
 * success records its resourceVersion in the result, else puts the API
 * server's words in msg. Returns the HTTP code (0: no answer). */
long job_send_secret(struct job_ctx *c, const char *method, const char *path, cJSON *obj,
    char *msg, size_t msglen);

/* Steps (job_*.c). */
int job_read_access_key(struct job_ctx *c);
int job_fetch(struct job_ctx *c);                /* PAM -> c->data */
int job_verify_target(struct job_ctx *c);        /* Secret -> c->data; 1 if intact */
int job_write_target(struct job_ctx *c);         /* c->data -> Secret */
void job_rollout(struct job_ctx *c);             /* patch restart targets */
int job_cleanup(struct job_ctx *c);              /* deletion policy */

/* Ownership of a target Secret (job_target.c). */
bool job_owned_by(const cJSON *obj, const char *uid);
bool job_drop_owner_ref(cJSON *md, const char *uid);
/* job_set_str - map[k] = v; sets *changed when it was different. */
void job_set_str(cJSON *map, const char *k, const char *v, bool *changed);

/* Template labels/annotations on a shared Secret (job_template.c):
 * apply them, and remove those we set that the template dropped; or,
 * on cleanup, remove all we set. */
void job_template_shared(struct job_ctx *c, cJSON *labels, cJSON *ann, bool *changed);
void job_template_drop(cJSON *md);
/* job_resolve_list - the job's "host:port:addr[,addr]" lines as a list for
 * CURLOPT_RESOLVE; NULL with err set when a line is not of that shape. */
struct curl_slist *job_resolve_list(const char *lines, char *err, size_t errlen);

/* Entry points used by the main loop. */
void job_run(struct kube_client *kube, CURL *pam, const struct proto_job *j,
    struct proto_result *r);

#endif
