/*
 * metrics.c - a small registry rendered in the Prometheus text format.
 * Series are (name, labels) pairs; labels are pre-formatted by callers
 * from fixed vocabularies (verbs, codes, reasons, causes), never from
 * object names or values, so cardinality stays bounded.
 */
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sup.h"
#include "util.h"

enum mkind { M_COUNTER, M_GAUGE, M_HIST };

struct meta {
	const char *name, *help;
	enum mkind kind;
};

static const struct meta metas[] = {
	{ "pamop_reconcile_total", "Reconciles finished, by kind and result.", M_COUNTER },
	{ "pamop_reconcile_duration_seconds", "Time a worker spent on one job, by kind.", M_HIST },
	{ "pamop_pam_requests_total", "PAM API requests by HTTP status code (0: no answer).",
	  M_COUNTER },
	{ "pamop_pam_request_duration_seconds", "PAM API request latency by HTTP status code.",
	  M_HIST },
	{ "pamop_kube_requests_total", "Kubernetes API requests (supervisor and workers) by "
	  "verb, resource and HTTP code (0: no answer).", M_COUNTER },
	{ "pamop_queue_depth", "Keys due now and waiting for a worker.", M_GAUGE },
	{ "pamop_queue_scheduled", "Keys waiting for a later due time (refreshes, retries).",
	  M_GAUGE },
	{ "pamop_worker_restarts_total", "Worker processes that ended and were replaced, by "
	  "cause.", M_COUNTER },
	{ "pamop_workers_ready", "Worker processes connected and serving.", M_GAUGE },
	{ "pamop_rollouts_total", "Restart targets by kind and result.", M_COUNTER },
	{ "pamop_leader", "1 if this replica is the leader (always 1 without election).",
	  M_GAUGE },
	{ "pamop_monosecrets", "MonoSecrets by the status of their Ready condition.", M_GAUGE },
	{ "pamop_cache_objects", "Objects in the supervisor's cache, by resource.", M_GAUGE },
	{ "pamop_ipc_rejected_connections_total", "IPC connections refused (not our worker).",
	  M_COUNTER },
	{ "pamop_build_info", "Build version; always 1.", M_GAUGE },
	{ "pamop_worker_protocol_errors_total", "Malformed or unexpected messages from workers.",
	  M_COUNTER },
};

static const double buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
#define NB (sizeof(buckets) / sizeof(buckets[0]))

struct series {
	struct series *next;
	const struct meta *m;
	char *labels;
	double v;                 /* counter/gauge, or histogram sum */
	double count;
	double b[NB];
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct series *all;

static const struct meta *meta_of(const char *name)
{
	for (size_t i = 0; i < sizeof(metas) / sizeof(metas[0]); i++)
		if (strcmp(metas[i].name, name) == 0)
			return &metas[i];
	return NULL;
}

/* find - the series, created at zero; caller holds mu. */
static struct series *find(const char *name, const char *labels)
{
	struct series **pp, *s;
	const struct meta *m = meta_of(name);

	if (m == NULL)
		return NULL;
	labels = labels ? labels : "";
	for (pp = &all; *pp; pp = &(*pp)->next)
		if ((*pp)->m == m && strcmp((*pp)->labels, labels) == 0)
			return *pp;
	s = util_xcalloc(1, sizeof(*s));
	s->m = m;
	s->labels = util_xstrdup(labels);
	/* keep series of one metric together, for the TYPE lines */
	for (pp = &all; *pp && (*pp)->m != m; pp = &(*pp)->next)
		;
	while (*pp && (*pp)->m == m)
		pp = &(*pp)->next;
	s->next = *pp;
	*pp = s;
	return s;
}

void metrics_inc(const char *name, const char *labels, double v)
{
	pthread_mutex_lock(&mu);
	struct series *s = find(name, labels);
	if (s)
		s->v += v;
	pthread_mutex_unlock(&mu);
}

void metrics_set(const char *name, const char *labels, double v)
{
	pthread_mutex_lock(&mu);
	struct series *s = find(name, labels);
	if (s)
		s->v = v;
	pthread_mutex_unlock(&mu);
}

/* metrics_init - the series a dashboard expects from the start, at zero,
 * so that rates and alerts work before the first event of each kind. */
void metrics_init(void)
{
	static const char *const causes[] = { "exit", "signal", "killed", "sandbox", "deadline",
	    "startup", "channel", "protocol" };
	static const char *const ready[] = { "True", "False", "Unknown" };
	static const char *const kinds[] = { "Deployment", "DaemonSet", "StatefulSet" };
	static const char *const rresults[] = { "success", "skipped", "error" };
	char l[96];

	for (int k = 0; k < 2; k++)
		for (int ok = 0; ok < 2; ok++) {
			snprintf(l, sizeof(l), "kind=\"%s\",result=\"%s\"", k ? "MonoStore" :
			    "MonoSecret", ok ? "success" : "error");
			metrics_inc("pamop_reconcile_total", l, 0);
		}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (size_t r = 0; r < sizeof(rresults) / sizeof(rresults[0]); r++) {
			snprintf(l, sizeof(l), "kind=\"%s\",result=\"%s\"", kinds[k], rresults[r]);
			metrics_inc("pamop_rollouts_total", l, 0);
		}
	for (size_t i = 0; i < sizeof(causes) / sizeof(causes[0]); i++) {
		snprintf(l, sizeof(l), "cause=\"%s\"", causes[i]);
		metrics_inc("pamop_worker_restarts_total", l, 0);
	}
	for (size_t i = 0; i < sizeof(ready) / sizeof(ready[0]); i++) {
		snprintf(l, sizeof(l), "ready=\"%s\"", ready[i]);
		metrics_set("pamop_monosecrets", l, 0);
	}
	metrics_set("pamop_queue_depth", NULL, 0);
	metrics_set("pamop_queue_scheduled", NULL, 0);
	metrics_set("pamop_workers_ready", NULL, 0);
	metrics_inc("pamop_ipc_rejected_connections_total", NULL, 0);
	snprintf(l, sizeof(l), "version=\"%s\"", PAMOP_VERSION);
	metrics_set("pamop_build_info", l, 1);
}

/* observe_n - n observations of v in a histogram. */
static void observe_n(const char *name, const char *labels, double v, double n)
{
	pthread_mutex_lock(&mu);
	struct series *s = find(name, labels);
	if (s) {
		s->v += v * n;
		s->count += n;
		for (size_t i = 0; i < NB; i++)
			if (v <= buckets[i])
				s->b[i] += n;
	}
	pthread_mutex_unlock(&mu);
}

void metrics_observe(const char *name, const char *labels, double v)
{
	observe_n(name, labels, v, 1);
}

void metrics_kube_count(const char *verb, const char *resource, long code, double n)
{
	char labels[128];

	snprintf(labels, sizeof(labels), "verb=\"%s\",resource=\"%s\",code=\"%ld\"", verb,
	    resource, code);
	metrics_inc("pamop_kube_requests_total", labels, n);
}

/* only - s is non-empty and made of the characters in set (a worker's
 * text becomes label values only after this check). */
static bool only(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

/* metrics_worker_tally - a worker's counts from one result: PAM lines
 * "code count total_ms", Kubernetes lines "VERB resource code count".
 * Lines that do not parse or hold out-of-range values are ignored.
 * Returns the number of Kubernetes requests, for the rate limit. */
double metrics_worker_tally(const char *pam, const char *kube)
{
	char line[128], verb[8], res[40], labels[32];
	int code, n, off;
	long long ms;
	double total = 0;

	while (pam && sscanf(pam, "%127[^\n]\n%n", line, &off) == 1) {
		pam += off;
		if (sscanf(line, "%d %d %lld", &code, &n, &ms) != 3 || code < 0 || code > 999 ||
		    n < 1 || n > 100000 || ms < 0)
			continue;
		snprintf(labels, sizeof(labels), "code=\"%d\"", code);
		metrics_inc("pamop_pam_requests_total", labels, n);
		observe_n("pamop_pam_request_duration_seconds", labels, (double)ms / n / 1000.0, n);
	}
	while (kube && sscanf(kube, "%127[^\n]\n%n", line, &off) == 1) {
		kube += off;
		if (sscanf(line, "%7s %39s %d %d", verb, res, &code, &n) != 4 ||
		    !only(verb, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") ||
		    !only(res, "abcdefghijklmnopqrstuvwxyz0123456789./-") ||
		    code < 0 || code > 999 || n < 1 || n > 100000)
			continue;
		metrics_kube_count(verb, res, code, n);
		total += n;
	}
	return total;
}

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < *cap - *len)
			break;
		*cap *= 2;
		*buf = util_xrealloc(*buf, *cap);
	}
	*len += (size_t)n;
}

static const char *kind_word(enum mkind k)
{
	return k == M_COUNTER ? "counter" : k == M_GAUGE ? "gauge" : "histogram";
}

char *metrics_render(void)
{
	size_t cap = 8192, len = 0;
	char *buf = util_xmalloc(cap);
	const struct meta *last = NULL;

	buf[0] = '\0';
	pthread_mutex_lock(&mu);
	for (struct series *s = all; s; s = s->next) {
		const char *l = s->labels, *sep = *l ? "," : "";
		if (s->m != last) {
			append(&buf, &len, &cap, "# HELP %s %s\n# TYPE %s %s\n", s->m->name,
			    s->m->help, s->m->name, kind_word(s->m->kind));
			last = s->m;
		}
		if (s->m->kind != M_HIST) {
			append(&buf, &len, &cap, "%s%s%s%s %.17g\n", s->m->name, *l ? "{" : "", l,
			    *l ? "}" : "", s->v);
			continue;
		}
		for (size_t i = 0; i < NB; i++)
			append(&buf, &len, &cap, "%s_bucket{%s%sle=\"%g\"} %.17g\n", s->m->name, l, sep,
			    buckets[i], s->b[i]);
		append(&buf, &len, &cap, "%s_bucket{%s%sle=\"+Inf\"} %.17g\n", s->m->name, l, sep,
		    s->count);
		append(&buf, &len, &cap, "%s_sum%s%s%s %.17g\n%s_count%s%s%s %.17g\n", s->m->name,
		    *l ? "{" : "", l, *l ? "}" : "", s->v, s->m->name, *l ? "{" : "", l,
		    *l ? "}" : "", s->count);
	}
	pthread_mutex_unlock(&mu);
	return buf;
}
