/*
 * job.c - run one job from the supervisor: parse, then the steps of a
 * sync (or a cleanup, or a store check), and fill the result. Nothing
 * that reaches the result names a value: reasons, key names, vault
 * ids, HTTP codes and hashes only.
 */
#include "job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pam_api.h"
#include "util.h"

void job_fail(struct job_ctx *c, const char *reason, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(c->res->reason);
	free(c->res->message);
	c->res->reason = strdup(reason);
	c->res->message = strdup(msg);
}

/* resolve_line_ok - host:port:addresses, from a conservative alphabet:
 * the supervisor writes these, so anything else is a bug on its side. */
static bool resolve_line_ok(const char *l, size_t n)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789.-_:[],";
	size_t colons = 0;

	for (size_t i = 0; i < n; i++) {
		if (memchr(ok, l[i], sizeof(ok) - 1) == NULL)
			return false;
		colons += l[i] == ':';
	}
	return n > 4 && colons >= 2 && l[0] != ':' && l[0] != '-';
}

struct curl_slist *job_resolve_list(const char *lines, char *err, size_t errlen)
{
	struct curl_slist *l = NULL, *t;
	char line[1024];

	for (const char *p = lines; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n >= sizeof(line) || !resolve_line_ok(p, n)) {
			snprintf(err, errlen, "resolve: a line is not host:port:addresses");
			curl_slist_free_all(l);
			return NULL;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		if ((t = curl_slist_append(l, line)) == NULL) {
			snprintf(err, errlen, "resolve: out of memory");
			curl_slist_free_all(l);
			return NULL;
		}
		l = t;
		p += n + (nl != NULL);
	}
	if (l == NULL)
		snprintf(err, errlen, "resolve: no lines");
	return l;
}

static void set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = strdup(s ? s : "");
}

/* job_count_pam - see job.h. One entry per request while the table
 * has room; past that, a request is merged into an entry of its code
 * (the count stays exact, only durations blur into their mean). */
void job_count_pam(struct job_ctx *c, int code, int64_t ms)
{
	const size_t cap = sizeof(c->pamt) / sizeof(c->pamt[0]);
	size_t i;

	if (c->npam < cap) {
		i = c->npam++;
		c->pamt[i].code = code;
		c->pamt[i].n = 0;
		c->pamt[i].ms = 0;
	} else {
		for (i = cap - 1; i > 0 && c->pamt[i].code != code; i--)
			;
		c->pamt[i].code = code;   /* none of that code: the last one yields */
	}
	c->pamt[i].n++;
	c->pamt[i].ms += ms;
}

/* count_kube - the kube client's hook: tally each request for the result,
 * so the supervisor can count them and charge its API rate limit. */
static void count_kube(const char *method, const char *path, long code, void *ud)
{
	struct job_ctx *c = ud;
	char verb[8], res[40];
	size_t i;

	kube_classify(method, path, verb, sizeof(verb), res, sizeof(res));
	for (i = 0; i < c->nkube; i++)
		if (c->kubet[i].code == code && strcmp(c->kubet[i].verb, verb) == 0 &&
		    strcmp(c->kubet[i].res, res) == 0)
			break;
	if (i == sizeof(c->kubet) / sizeof(c->kubet[0])) {
		c->kubet[i - 1].n++;   /* full: lumped with the last rather than lost */
		return;
	}
	if (i == c->nkube) {
		c->nkube++;
		snprintf(c->kubet[i].verb, sizeof(c->kubet[i].verb), "%s", verb);
		snprintf(c->kubet[i].res, sizeof(c->kubet[i].res), "%s", res);
		c->kubet[i].code = (int)code;
	}
	c->kubet[i].n++;
}

static void cut_partial(char *s, bool cut)
{
	char *nl = strrchr(s, '\n');

	if (cut)
		*(nl ? nl + 1 : s) = '\0';
}

/* tally_out - the counts as text lines for the result. */
static void tally_out(const struct job_ctx *c, struct proto_result *r)
{
	char pam[1024] = "", kube[1024] = "";
	size_t pl = 0, kl = 0;

	for (size_t i = 0; i < c->npam && pl < sizeof(pam); i++)
		pl += (size_t)snprintf(pam + pl, sizeof(pam) - pl, "%d %d %lld\n", c->pamt[i].code,
		    c->pamt[i].n, (long long)c->pamt[i].ms);
	for (size_t i = 0; i < c->nkube && kl < sizeof(kube); i++)
		kl += (size_t)snprintf(kube + kl, sizeof(kube) - kl, "%s %s %d %d\n", c->kubet[i].verb,
		    c->kubet[i].res, c->kubet[i].code, c->kubet[i].n);
	/* A line cut by the cap would be misread: keep whole lines only. */
	cut_partial(pam, pl >= sizeof(pam));
	cut_partial(kube, kl >= sizeof(kube));
	set_str(&r->pam_codes, pam);
	set_str(&r->kube_codes, kube);
}

/* check_store - read the access key and ask PAM whether it accepts it. */
static void check_store(struct job_ctx *c)
{
	struct pam_result pr;

	if (job_read_access_key(c) != 0)
		return;
	c->res->pam_requests++;
	int64_t t0 = util_mono_ms();
	int rc = pam_ping(c->pam, c->job->store_url, &c->key, &pr);
	job_count_pam(c, pr.http_code, util_mono_ms() - t0);
	if (rc != 0) {
		job_fail(c, pam_status_reason(pr.status), "%s", pr.message);
		c->res->retry_after = pr.retry_after;
		return;
	}
	set_str(&c->res->message, "PAM accepted the access key");
}

static void sync(struct job_ctx *c)
{
	if (job_read_access_key(c) != 0)
		return;
	/* A check for drift: if our keys are intact, repair from them. */
	if (!((c->job->flags & JOBF_VERIFY) && job_verify_target(c) == 1) && job_fetch(c) != 0)
		return;
	if (job_write_target(c) != 0)
		return;
	set_str(&c->res->data_hash, c->hash);
	/* The write said whether a change (this one, or an older one whose
	 * rollout did not finish) owes the workloads a restart. */
	if (c->rollout_for[0] != '\0')
		job_rollout(c);
}

void job_run(struct kube_client *kube, CURL *pam, const struct proto_job *j,
    struct proto_result *r)
{
	struct job_ctx c = { .kube = kube, .pam = pam, .job = j, .res = r };
	const char *reason = NULL;
	char msg[512];
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kube->on_request = count_kube;
	kube->on_request_ud = &c;
	r->id = j->id;
	r->kind = j->kind;
	r->retry_after = -1;
	set_str(&r->reason, "");
	set_str(&r->message, "");

	if (j->kind == JOB_CHECK_STORE) {
		check_store(&c);
		goto out;
	}
	c.spec_root = cJSON_Parse(j->spec_json);
	if (c.spec_root == NULL ||
	    spec_msec_parse(c.spec_root, &c.spec, &reason, msg, sizeof(msg)) != 0) {
		if (j->kind == JOB_CLEANUP) {
			/* Deletion must always complete, even with a spec we cannot
			 * read: the policy is read leniently, and who owns the
			 * Secret is read from the Secret itself. */
			memset(&c.spec, 0, sizeof(c.spec));
			c.spec.deletion = spec_deletion_policy(c.spec_root);
			c.spec.target = j->target;
			job_cleanup(&c);
			goto out;
		}
		job_fail(&c, reason ? reason : "InvalidSpec", "%s",
		    c.spec_root ? msg : "spec is not JSON");
		goto out;
	}
	if (j->kind == JOB_SYNC)
		sync(&c);
	else if (j->kind == JOB_CLEANUP)
		job_cleanup(&c);
	else
		job_fail(&c, "InternalError", "unknown job kind %lld", (long long)j->kind);
out:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->duration_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	kube->on_request = NULL;
	kube->on_request_ud = NULL;
	tally_out(&c, r);
	dm_free(&c.data);
	secret_free(&c.key);
	spec_msec_free(&c.spec);
	cJSON_Delete(c.spec_root);
}
