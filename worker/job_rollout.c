/*
 * job_rollout.c - restart the workloads that use a Secret whose data
 * just changed, by stamping their pod template with the time (what
 * `kubectl rollout restart` does). The supervisor sends the list
 * already de-duplicated and confined to the MonoSecret's namespace; a
 * failure on one workload does not stop the others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"

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

/* restart_one - 0 on success, else the HTTP code (or -1 for a bad kind). */
static long restart_one(struct job_ctx *c, const char *kind, const char *name,
    const char *stamp)
{
	const char *res = resource_of(kind);
	char path[1024], body[256];
	struct kube_resp r;

	if (res == NULL)
		return -1;
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/%s/%s", c->job->ns, res, name);
	snprintf(body, sizeof(body), "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":"
	    "{\"" ANN_RESTARTED_AT "\":\"%s\"}}}}}", stamp);
	kube_request(c->kube, "PATCH", path, "application/merge-patch+json", NULL, body, 0, &r);
	kube_resp_free(&r);
	return r.code == 200 ? 0 : r.code;
}

void job_rollout(struct job_ctx *c)
{
	char *list = strdup(c->job->rollout), *save = NULL, stamp[32];
	time_t now = (time_t)(c->job->now_ms / 1000);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	for (char *l = strtok_r(list, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *slash = strchr(l, '/');
		long code;

		if (slash == NULL)
			continue;
		*slash = '\0';
		code = restart_one(c, l, slash + 1, stamp);
		if (code == 0) {
			c->res->restarts_ok++;
			continue;
		}
		c->res->restarts_failed++;
		if (c->res->rollout_reason[0] != '\0')
			continue;   /* the first failure names the problem */
		free(c->res->rollout_reason);
		free(c->res->rollout_message);
		c->res->rollout_reason = strdup(code == 404 ? "RolloutTargetNotFound" :
		    code == -1 ? "RolloutTargetUnsupported" : "RolloutFailed");
		char msg[512];
		snprintf(msg, sizeof(msg), "restarting %s %s/%s: %s", l, c->job->ns, slash + 1,
		    code == 404 ? "not found" : code == -1 ? "unsupported kind" :
		    code == 403 ? "forbidden" : "request failed");
		if (code > 0 && code != 404 && code != 403)
			snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " (HTTP %ld)", code);
		c->res->rollout_message = strdup(msg);
	}
	free(list);
}
