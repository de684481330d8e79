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
	{ "pamop_reconcile_total", "Reconciles by result.", M_COUNTER },
	{ "pamop_reconcile_duration_seconds", "Time a worker spent on one job.", M_HIST },
	{ "pamop_pam_requests_total", "PAM API requests by HTTP status code (0: no answer).", M_COUNTER },
	{ "pamop_kube_requests_total", "Kubernetes API requests by verb and code.", M_COUNTER },
	{ "pamop_queue_depth", "Keys waiting in the work queue.", M_GAUGE },
	{ "pamop_worker_restarts_total", "Worker process restarts by cause.", M_COUNTER },
	{ "pamop_workers_ready", "Worker processes connected and serving.", M_GAUGE },
	{ "pamop_rollouts_total", "Restart targets by kind and result.", M_COUNTER },
	{ "pamop_leader", "1 if this replica holds the leader Lease.", M_GAUGE },
	{ "pamop_monosecrets", "MonoSecrets by Ready status.", M_GAUGE },
	{ "pamop_ipc_rejected_connections_total", "IPC connections refused (not our worker).", M_COUNTER },
	{ "pamop_worker_protocol_errors_total", "Malformed or unexpected messages from workers.", M_COUNTER },
	{ "pamop_build_info", "Build version.", M_GAUGE },
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

void metrics_observe(const char *name, const char *labels, double v)
{
	pthread_mutex_lock(&mu);
	struct series *s = find(name, labels);
	if (s) {
		s->v += v;
		s->count++;
		for (size_t i = 0; i < NB; i++)
			if (v <= buckets[i])
				s->b[i]++;
	}
	pthread_mutex_unlock(&mu);
}

void metrics_kube_hook(const char *verb, long code, void *ud)
{
	char labels[64];

	(void)ud;
	snprintf(labels, sizeof(labels), "verb=\"%s\",code=\"%ld\"", verb, code);
	metrics_inc("pamop_kube_requests_total", labels, 1);
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
