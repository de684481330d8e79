/*
 * resolve.c - host names for the workers. A sandboxed worker cannot
 * open /etc/hosts, /etc/resolv.conf or NSS modules, so it cannot
 * resolve a name; the supervisor does it and sends the answer in each
 * job as CURLOPT_RESOLVE lines ("host:port:addr,addr"), for the PAM
 * host and the API server host. Hosts written as IP addresses need no
 * line.
 *
 * Lookups run on one thread of their own, so that a slow or broken DNS
 * never stalls the main loop: the first ask for a host answers
 * RESOLVE_PENDING and the caller tries again shortly. An answer is
 * served for RESOLVE_TTL_MS and, once older, still served while a
 * fresh lookup runs behind it; a failure is kept for RESOLVE_FAIL_MS.
 * The table is small and fixed: the least recently used host makes
 * room for a new one.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "log.h"
#include "sup.h"
#include "util.h"

#define RESOLVE_SLOTS   64
#define RESOLVE_TTL_MS  30000
#define RESOLVE_FAIL_MS 5000
#define RESOLVE_ADDRS   8

struct rent {
	char host[256];            /* "" when the slot is free */
	char addrs[RESOLVE_ADDRS * 48]; /* "a,b,[v6]" or "" */
	char err[128];             /* last failure, "" if the last lookup worked */
	int64_t fetched;           /* monotonic ms of the last answer, 0: none yet */
	int64_t used;
	bool want, busy;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rent e[RESOLVE_SLOTS];
	bool started, stop;
} R = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* resolve_url_host - see sup.h. */
int resolve_url_host(const char *url, char *host, size_t hn, long *port)
{
	CURLU *u = curl_url();
	char *h = NULL, *p = NULL;
	struct in_addr a4;
	int rc = -1;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK &&
	    strlen(h) < hn) {
		snprintf(host, hn, "%s", h);
		*port = strtol(p, NULL, 10);
		/* curl writes IPv6 literals in brackets */
		rc = h[0] == '[' || inet_pton(AF_INET, h, &a4) == 1 ? 1 : 0;
	}
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

/* resolve_format - see sup.h. */
size_t resolve_format(const struct addrinfo *ai, char *out, size_t n)
{
	size_t len = 0, count = 0;

	out[0] = '\0';
	for (; ai && count < RESOLVE_ADDRS; ai = ai->ai_next) {
		char a[INET6_ADDRSTRLEN], item[INET6_ADDRSTRLEN + 4];
		const void *src;

		if (ai->ai_family == AF_INET)
			src = &((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			src = &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(ai->ai_family, src, a, sizeof(a)) == NULL)
			continue;
		snprintf(item, sizeof(item), ai->ai_family == AF_INET6 ? "[%s]" : "%s", a);
		if (strstr(out, item) != NULL)
			continue;   /* one per address, not one per socket type */
		if (len + strlen(item) + 2 > n)
			break;
		len += (size_t)snprintf(out + len, n - len, "%s%s", len ? "," : "", item);
		count++;
	}
	return count;
}

/* lookup - one getaddrinfo, outside the lock, into e's fields. */
static void lookup(const char *host, char *addrs, size_t an, char *err, size_t en)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host, NULL, &hints, &ai);

	addrs[0] = err[0] = '\0';
	if (rc != 0)
		snprintf(err, en, "%s", rc == EAI_SYSTEM ? "system error" : gai_strerror(rc));
	else if (resolve_format(ai, addrs, an) == 0)
		snprintf(err, en, "no IPv4 or IPv6 address");
	if (ai)
		freeaddrinfo(ai);
}

static void *run(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&R.mu);
	while (!R.stop) {
		struct rent *e = NULL;
		for (int i = 0; i < RESOLVE_SLOTS && e == NULL; i++)
			if (R.e[i].want && !R.e[i].busy)
				e = &R.e[i];
		if (e == NULL) {
			pthread_cond_wait(&R.cv, &R.mu);
			continue;
		}
		char host[256], addrs[sizeof(e->addrs)], err[sizeof(e->err)];
		snprintf(host, sizeof(host), "%s", e->host);
		e->busy = true;
		pthread_mutex_unlock(&R.mu);

		lookup(host, addrs, sizeof(addrs), err, sizeof(err));

		pthread_mutex_lock(&R.mu);
		e->busy = e->want = false;
		if (strcmp(e->host, host) == 0) {   /* the slot was not reused meanwhile */
			if (err[0] && e->err[0] == '\0')
				log_kv(LOG_WARN, "cannot resolve a host for the workers", "host",
				    host, "error", err, NULL);
			memcpy(e->addrs, addrs, sizeof(addrs));
			memcpy(e->err, err, sizeof(err));
			e->fetched = util_mono_ms();
		}
		sup_wake();
	}
	pthread_mutex_unlock(&R.mu);
	return NULL;
}

int resolve_start(void)
{
	pthread_t t;

	if (R.started)
		return 0;
	if (pthread_create(&t, NULL, run, NULL) != 0)
		return -1;
	pthread_detach(t);
	R.started = true;
	return 0;
}

/* slot_for - host's entry, or the least recently used one made free for it. */
static struct rent *slot_for(const char *host, int64_t now)
{
	struct rent *lru = NULL;

	for (int i = 0; i < RESOLVE_SLOTS; i++) {
		struct rent *e = &R.e[i];
		if (strcmp(e->host, host) == 0)
			return e;
		if (!e->busy && (lru == NULL || e->used < lru->used))
			lru = e;
	}
	if (lru == NULL)
		return NULL;   /* every slot mid-lookup: ask again later */
	memset(lru, 0, sizeof(*lru));
	snprintf(lru->host, sizeof(lru->host), "%s", host);
	lru->used = now;
	return lru;
}

/* resolve_line - see sup.h. */
int resolve_line(const char *url, char *out, size_t n, char *err, size_t errlen)
{
	char host[256];
	long port = 0;
	int64_t now = util_mono_ms();
	int lit = resolve_url_host(url, host, sizeof(host), &port), rc;
	struct rent *e;

	out[0] = '\0';
	if (lit < 0) {
		snprintf(err, errlen, "cannot find a host in the URL");
		return RESOLVE_FAILED;
	}
	if (lit == 1)
		return RESOLVE_OK;   /* an address: curl needs no lookup */
	pthread_mutex_lock(&R.mu);
	if ((e = slot_for(host, now)) == NULL) {
		pthread_mutex_unlock(&R.mu);
		return RESOLVE_PENDING;
	}
	e->used = now;
	int64_t age = now - e->fetched;
	if (e->fetched == 0 || (e->err[0] && age > RESOLVE_FAIL_MS)) {
		e->want = true;   /* nothing usable yet: wait for the lookup */
		rc = RESOLVE_PENDING;
	} else if (e->err[0]) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, e->err);
		rc = RESOLVE_FAILED;
	} else {
		if (age > RESOLVE_TTL_MS)
			e->want = true;   /* serve this answer while a fresh one comes */
		snprintf(out, n, "%s:%ld:%s", host, port, e->addrs);
		rc = RESOLVE_OK;
	}
	if (e->want)
		pthread_cond_signal(&R.cv);
	pthread_mutex_unlock(&R.mu);
	return rc;
}

/* resolve_job - see sup.h. */
int resolve_job(struct proto_job *j, const char *pam_url, char *buf, size_t n,
    const char **reason, char *msg, size_t msglen)
{
	char line[800], err[300];
	size_t len = 0;
	int rc;

	buf[0] = '\0';
	for (int pam = 0; pam <= (pam_url != NULL); pam++) {
		rc = resolve_line(pam ? pam_url : S.creds.server, line, sizeof(line), err,
		    sizeof(err));
		if (rc == RESOLVE_FAILED) {
			*reason = pam ? "PAMUnreachable" : "KubernetesUnreachable";
			snprintf(msg, msglen, pam ? "spec.provider.monoforPAM.url: %s" :
			    "Kubernetes API server: %s", err);
		}
		if (rc != RESOLVE_OK)
			return rc;
		if (line[0] && len + strlen(line) + 2 <= n)
			len += (size_t)snprintf(buf + len, n - len, "%s\n", line);
	}
	j->resolve = buf;
	return RESOLVE_OK;
}

void resolve_stop(void)
{
	pthread_mutex_lock(&R.mu);
	R.stop = true;
	pthread_cond_signal(&R.cv);
	pthread_mutex_unlock(&R.mu);
}
