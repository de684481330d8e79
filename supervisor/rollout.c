/*
 * rollout.c - the supervisor's side of auto-rollout: which workloads a
 * sync may restart (Mode A from the spec, Mode B from the annotated
 * workloads the metadata watches report, each once and only in the
 * MonoSecret's namespace), and what a worker's per-target report says
 * (condition, Event and metrics). Whether a change is owed a restart,
 * and which workloads are already done, is the worker's: it reads both
 * from the cluster, where they survive our crashes (worker/job_rollout.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "spec.h"
#include "sup.h"
#include "util.h"

#define TARGETS_CAP (120 * 1024)   /* under the proto cap of the job field */
#define LIST_MAX 8                 /* workloads named in one message */
#define WAITING_MAX 10000          /* missing targets remembered at once */

/* unindex - drop kind/name from the set of workloads reloading on secret. */
static void unindex(const char *ns, const char *secret, const char *kn)
{
	char skey[520];
	struct hmap *set;

	snprintf(skey, sizeof(skey), "%s/%s", ns, secret);
	if ((set = hmap_get(&S.reload_by_secret, skey)) == NULL)
		return;
	hmap_del(set, kn);
	if (set->n == 0) {
		hmap_del(&S.reload_by_secret, skey);
		hmap_free(set);
		free(set);
	}
}

/* rollout_workload_set - see sup.h; keeps both maps in step. */
void rollout_workload_set(const char *ns, const char *kind, const char *name,
    const char *secret)
{
	char key[600], kn[400], skey[520];
	char *old;
	struct hmap *set;

	if (ns == NULL || name == NULL)
		return;
	snprintf(key, sizeof(key), "%s/%s/%s", ns, kind, name);
	snprintf(kn, sizeof(kn), "%s/%s", kind, name);
	if ((old = hmap_del(&S.roll_waiting, key)) != NULL) {
		/* a target a rollout could not find exists now: retry at once */
		queue_add(&S.q, old, util_mono_ms());
		free(old);
	}
	old = hmap_get(&S.reloaders, key);
	if (old && secret && strcmp(old, secret) == 0)
		return;
	if (old) {
		unindex(ns, old, kn);
		free(hmap_del(&S.reloaders, key));
	}
	if (secret == NULL || !spec_valid_name(secret))
		return;   /* a value that is no Secret name matches no Secret */
	hmap_put(&S.reloaders, key, util_xstrdup(secret));
	snprintf(skey, sizeof(skey), "%s/%s", ns, secret);
	if ((set = hmap_get(&S.reload_by_secret, skey)) == NULL) {
		set = util_xcalloc(1, sizeof(*set));
		hmap_put(&S.reload_by_secret, skey, set);
	}
	hmap_put(set, kn, (void *)1);
}

struct lines {
	char *buf;
	size_t len, cap;
	struct hmap seen;
	bool full;
};

/* add_line - append "kn\n" unless listed already or the job would overflow. */
static void add_line(struct lines *l, const char *kn, size_t knlen)
{
	char key[400];

	if (knlen == 0 || knlen >= sizeof(key))
		return;
	memcpy(key, kn, knlen);
	key[knlen] = '\0';
	if (hmap_get(&l->seen, key))
		return;
	if (l->len + knlen + 2 > TARGETS_CAP) {
		l->full = true;
		return;
	}
	hmap_put(&l->seen, key, (void *)1);
	if (l->len + knlen + 2 > l->cap) {
		l->cap = (l->len + knlen + 2) * 2;
		l->buf = util_xrealloc(l->buf, l->cap);
	}
	memcpy(l->buf + l->len, key, knlen);
	l->len += knlen;
	l->buf[l->len++] = '\n';
	l->buf[l->len] = '\0';
}

/* rollout_targets - Mode A in spec order, then Mode B; see sup.h. */
char *rollout_targets(const struct msec *m)
{
	struct lines l = { .cap = 256 };
	char skey[520];
	const struct hmap *set;

	l.buf = util_xcalloc(1, l.cap);
	for (const char *p = m->rollout; p && *p;) {
		size_t n = strcspn(p, "\n");
		add_line(&l, p, n);
		p += n + (p[n] == '\n');
	}
	snprintf(skey, sizeof(skey), "%s/%s", m->ns, m->target ? m->target : "");
	if ((set = hmap_get(&S.reload_by_secret, skey)) != NULL)
		for (struct hmap_iter i = { 0 }; hmap_next(set, &i);)
			add_line(&l, i.key, strlen(i.key));
	hmap_free(&l.seen);
	if (l.full)
		log_kv(LOG_WARN, "too many restart targets; the rest are left out", "object",
		    m->name, "namespace", m->ns, NULL);
	return l.buf;
}

/* rollout_await - see sup.h. */
void rollout_await(const struct msec *m, const char *report)
{
	char qkey[520];

	snprintf(qkey, sizeof(qkey), "m/%s/%s", m->ns, m->name);
	for (const char *p = report; p && *p;) {
		size_t n = strcspn(p, "\n");
		char key[600];
		/* "notfound 404 Kind/name": the shape was checked by rollout_summarize */
		/* bounded: a worker could name targets it was never sent */
		if (n > 13 && n < 400 && strncmp(p, "notfound 404 ", 13) == 0 &&
		    S.roll_waiting.n < WAITING_MAX) {
			snprintf(key, sizeof(key), "%s/%.*s", m->ns, (int)(n - 13), p + 13);
			free(hmap_put(&S.roll_waiting, key, util_xstrdup(qkey)));
		}
		p += n + (p[n] == '\n');
	}
}

/* kind_index - the metrics row of a kind; anything unknown is "other". */
static int kind_index(const char *kind)
{
	static const char *const kinds[] = { "Deployment", "DaemonSet", "StatefulSet" };

	for (int i = 0; i < 3; i++)
		if (strcmp(kind, kinds[i]) == 0)
			return i;
	return RK_OTHER;
}

/* failure_text - how a failed outcome reads in a message, and its reason. */
static const char *failure_text(const char *word, long code, char *out, size_t n)
{
	if (strcmp(word, "notfound") == 0) {
		snprintf(out, n, "not found");
		return "RolloutTargetNotFound";
	}
	if (strcmp(word, "unsupported") == 0) {
		snprintf(out, n, "kind not supported (Deployment, DaemonSet, StatefulSet)");
		return "RolloutTargetUnsupported";
	}
	if (strcmp(word, "forbidden") == 0) {
		snprintf(out, n, "forbidden (HTTP 403): the operator may not patch it");
		return "RolloutForbidden";
	}
	if (code > 0)
		snprintf(out, n, "patch failed (HTTP %ld)", code);
	else
		snprintf(out, n, "patch failed (no answer from the API server)");
	return "RolloutFailed";
}

/* append_name - add kn to a comma list of at most LIST_MAX names. */
static void append_name(char *list, size_t n, int *count, const char *kn)
{
	if (*count < LIST_MAX)
		snprintf(list + strlen(list), n - strlen(list), "%s%s", *count ? ", " : "", kn);
	else if (*count == LIST_MAX)
		snprintf(list + strlen(list), n - strlen(list), ", ...");
	(*count)++;
}

/* rollout_summarize - counts, first failure and message; see sup.h. */
int rollout_summarize(const char *report, const char *secret, struct rollout_summary *s)
{
	char done[600] = "", failed[900] = "";
	int nd = 0, nf = 0, malformed = 0;

	memset(s, 0, sizeof(*s));
	for (const char *p = report; p && *p;) {
		size_t n = strcspn(p, "\n");
		char line[400], word[16], kind[64], name[254], text[120];

		if (n == 0) {
			p++;
			continue;
		}
		long code;
		int used = -1;

		/* A worker is trusted with values, not with our memory: every
		 * line must have exactly the shape job_rollout.c writes. */
		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			if (sscanf(line, "%15[a-z] %ld %63[A-Za-z]/%253[a-z0-9.-]%n", word, &code,
			    kind, name, &used) != 4 || (size_t)used != n)
				used = -1;
		}
		p += n + (p[n] == '\n');
		if (used < 0) {
			malformed++;
			continue;
		}
		char kn[320];
		snprintf(kn, sizeof(kn), "%s/%s", kind, name);
		int k = kind_index(kind);
		s->targets++;
		if (strcmp(word, "restarted") == 0) {
			s->restarted++;
			s->count[k][RR_SUCCESS]++;
			append_name(done, sizeof(done), &nd, kn);
		} else if (strcmp(word, "skipped") == 0) {
			s->skipped++;
			s->count[k][RR_SKIPPED]++;
		} else {
			const char *reason = failure_text(word, code, text, sizeof(text));
			s->failed++;
			s->count[k][RR_ERROR]++;
			if (s->reason == NULL)
				s->reason = reason;   /* the first failure names the condition */
			if (nf < 4)
				snprintf(failed + strlen(failed), sizeof(failed) - strlen(failed),
				    "%s%s %s", nf ? "; " : "", kn, text);
			nf++;
		}
	}

	if (malformed)   /* once per report: a broken worker must not flood the log */
		log_kv(LOG_WARN, "malformed rollout report lines from a worker, ignored", NULL);
	char skipped[120] = "";
	if (s->skipped)
		snprintf(skipped, sizeof(skipped), "; %d already restarted for this change",
		    s->skipped);
	if (s->failed)
		snprintf(s->message, sizeof(s->message), "%d of %d workload(s) not restarted after "
		    "Secret %s changed, will retry: %s%s%s%s%s", s->failed, s->targets, secret,
		    failed, nf > 4 ? "; ..." : "", nd ? "; restarted: " : "", done, skipped);
	else if (s->restarted)
		snprintf(s->message, sizeof(s->message), "restarted %d workload(s) after Secret %s "
		    "changed: %s%s", s->restarted, secret, done, skipped);
	else if (s->skipped)
		snprintf(s->message, sizeof(s->message), "all %d workload(s) were already "
		    "restarted for this change of Secret %s", s->skipped, secret);
	return s->targets;
}

/* rollout_count - pamop_rollouts_total{kind,result}; fixed label values. */
void rollout_count(const struct rollout_summary *s)
{
	static const char *const kinds[RK_N] = { "Deployment", "DaemonSet", "StatefulSet",
	    "other" };
	static const char *const results[RR_N] = { "success", "skipped", "error" };
	char labels[80];

	for (int k = 0; k < RK_N; k++)
		for (int r = 0; r < RR_N; r++) {
			if (s->count[k][r] == 0)
				continue;
			snprintf(labels, sizeof(labels), "kind=\"%s\",result=\"%s\"", kinds[k],
			    results[r]);
			metrics_inc("pamop_rollouts_total", labels, s->count[k][r]);
		}
}
