/*
 * job_rollout.c - restart the workloads that use a Secret whose data
 * changed, by stamping their pod template with the time (what
 * `kubectl rollout restart` does), once per workload per change.
 *
 * The change is c->rollout_for: the hash the Secret's rollout-pending
 * annotation names, written together with the new data (job_target.c).
 * Each workload records the changes it was restarted for in its own
 * restarted-for annotation, and the record and the restart are one
 * PATCH, conditional on the resourceVersion just read. So a rollout
 * retried after a crash, a timeout or a failed target skips every
 * workload already done, and two writers cannot both restart one. When
 * no target failed, the pending annotation is removed.
 *
 * The supervisor sends the targets de-duplicated, as "Kind/name" lines;
 * the namespace is always the job's, so no target can lie elsewhere.
 * Each target gives one report line "<outcome> <HTTP code> Kind/name".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "rollout_mark.h"

#define META_ACCEPT "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1," \
	"application/json"
#define REPORT_CAP (120 * 1024)   /* under the proto cap; counts stay exact */
#define ATTEMPTS 4                /* conflicts tolerated per workload */

/* resource_of - the apps/v1 resource of a kind we restart, or NULL. */
static const char *resource_of(const char *kind)
{
	if (strcmp(kind, "Deployment") == 0)
		return "deployments";
	if (strcmp(kind, "DaemonSet") == 0)
		return "daemonsets";
	if (strcmp(kind, "StatefulSet") == 0)
		return "statefulsets";
	return NULL;
}

/* read_marks - the workload's resourceVersion and restarted-for record,
 * from its metadata only. Returns the HTTP code; 0 when the answer was
 * missing or unreadable. */
static long read_marks(struct job_ctx *c, const char *path, char *rv, size_t rvlen,
    char **marks)
{
	struct kube_resp r;
	long code;

	*marks = NULL;
	kube_request(c->kube, "GET", path, NULL, META_ACCEPT, NULL, 0, &r);
	code = r.code;
	if (code == 200) {
		cJSON *o = cJSON_ParseWithLength(r.body, r.len);
		const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
		const char *v = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(md, "resourceVersion"));
		const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(md, "annotations"), ANN_RESTARTED_FOR));

		/* without a version the patch would not be conditional */
		if (v == NULL || *v == '\0' || strlen(v) >= rvlen)
			code = 0;
		else
			snprintf(rv, rvlen, "%s", v);
		*marks = m ? strdup(m) : NULL;
		cJSON_Delete(o);
	}
	kube_resp_free(&r);
	return code;
}

/* patch_restart - stamp the template and record the change, only if the
 * workload is still at rv. Returns the HTTP code. */
static long patch_restart(struct job_ctx *c, const char *path, const char *rv,
    const char *marks, const char *stamp)
{
	cJSON *p = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(p, "metadata");
	cJSON *tpl = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "spec"), "template");
	struct kube_resp r;
	char *body;

	cJSON_AddStringToObject(md, "resourceVersion", rv);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"), ANN_RESTARTED_FOR,
	    marks);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(tpl,
	    "metadata"), "annotations"), ANN_RESTARTED_AT, stamp);
	body = cJSON_PrintUnformatted(p);
	cJSON_Delete(p);
	if (body == NULL)
		return 0;
	/* The answer is the whole workload, whose pod template may hold
	 * literal env values: keep it in guarded memory. */
	kube_request(c->kube, "PATCH", path, "application/merge-patch+json", NULL, body,
	    KUBE_SENSITIVE, &r);
	cJSON_free(body);
	kube_resp_free(&r);
	return r.code;
}

/* restart_one - restart one target unless it was already restarted for
 * this change; returns the outcome word and sets *code. */
static const char *restart_one(struct job_ctx *c, const char *kind, const char *name,
    const char *stamp, long *code)
{
	const char *res = resource_of(kind);
	char path[1024], rv[64];

	*code = 0;
	if (res == NULL || !spec_valid_name(name))
		return "unsupported";
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/%s/%s", c->job->ns, res, name);
	for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
		char *marks, *next;

		*code = read_marks(c, path, rv, sizeof(rv), &marks);
		if (*code != 200)
			break;
		if (rollout_mark_has(marks, c->job->name, c->rollout_for)) {
			free(marks);
			return "skipped";
		}
		next = rollout_mark_set(marks, c->job->name, c->rollout_for);
		free(marks);
		if (next == NULL) {
			*code = 0;
			break;
		}
		*code = patch_restart(c, path, rv, next, stamp);
		free(next);
		if (*code == 200)
			return "restarted";
		if (*code != 409)
			break;   /* 409: it changed since we read it; read again */
	}
	return *code == 404 ? "notfound" : *code == 403 ? "forbidden" : "failed";
}

/* clear_pending - every target is done: drop the Secret's pending mark,
 * unless a newer change replaced it meanwhile. Read and replaced with
 * its resourceVersion, as every Secret write is (no patch right on
 * Secrets). A failure is harmless: the next sync finds every workload
 * done and tries again. */
static void clear_pending(struct job_ctx *c)
{
	char path[1024], msg[300];

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", c->job->ns,
	    c->spec.target);
	for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
		struct kube_resp r;
		cJSON *obj, *ann;
		const char *pend;
		long code;

		kube_request(c->kube, "GET", path, NULL, NULL, NULL, KUBE_SENSITIVE, &r);
		obj = r.code == 200 ? cJSON_ParseWithLength(r.body, r.len) : NULL;
		kube_resp_free(&r);
		ann = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj,
		    "metadata"), "annotations");
		pend = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ann,
		    ANN_ROLLOUT_PENDING));
		if (pend == NULL || strcmp(pend, c->rollout_for) != 0) {
			cJSON_Delete(obj);
			return;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(ann, ANN_ROLLOUT_PENDING);
		/* on success the result carries the version we leave, or the
		 * supervisor would take our own write for someone else's edit */
		code = job_send_secret(c, "PUT", path, obj, msg, sizeof(msg));
		cJSON_Delete(obj);
		if (code != 409)
			return;
	}
}

/* stamp_of - RFC 3339 with milliseconds, so that two changes within one
 * second still give two different templates (and two rollouts). */
static void stamp_of(int64_t ms, char out[40])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char sec[32];

	gmtime_r(&t, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%s.%03dZ", sec, (int)(ms % 1000));
}

/* job_rollout - every target once for c->rollout_for; see the top. */
void job_rollout(struct job_ctx *c)
{
	char *list = strdup(c->job->rollout), *save = NULL, stamp[40];
	char *rep = calloc(1, REPORT_CAP);
	size_t len = 0;

	if (list == NULL || rep == NULL) {
		free(list);
		free(rep);
		c->res->restarts_failed++;   /* nothing done: the mark stays, retried */
		return;
	}
	stamp_of(c->job->now_ms, stamp);
	for (char *l = strtok_r(list, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *slash = strchr(l, '/');
		const char *word, *name = "";
		long code = 0;

		if (slash) {
			*slash = '\0';
			name = slash + 1;
		}
		word = slash ? restart_one(c, l, name, stamp, &code) : "unsupported";
		if (strcmp(word, "restarted") == 0)
			c->res->restarts_ok++;
		else if (strcmp(word, "skipped") != 0)
			c->res->restarts_failed++;
		int n = snprintf(rep + len, REPORT_CAP - len, "%s %ld %s/%s\n", word, code, l,
		    name);
		if (n > 0 && (size_t)n < REPORT_CAP - len)
			len += (size_t)n;
		else
			rep[len] = '\0';   /* full: the line is dropped, not cut */
	}
	free(list);
	free(c->res->rollouts);
	c->res->rollouts = rep;
	if (c->res->restarts_failed == 0)
		clear_pending(c);
}
