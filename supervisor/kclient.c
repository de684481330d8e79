/*
 * kclient.c - the supervisor's Kubernetes clients and the token they
 * share. Every request first waits its turn at the process-wide API
 * rate limit (the leader's Lease client excepted, so that bulk work can
 * never delay a renewal past the deadline), then picks up the current
 * bearer token, and afterwards is counted in the metrics. Bound
 * service-account tokens rotate: the file is re-read every minute by
 * the main loop and at once after any 401, and each client swaps its
 * own copy of the header before its next request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sup.h"
#include "util.h"

static pthread_mutex_t token_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t token_gen = 1;     /* bumped when the token changes */
static int64_t last_forced;        /* last re-read caused by a 401 */

/* token_apply - give c the current token if it holds an older one. */
static void token_apply(struct skube *c)
{
	pthread_mutex_lock(&token_mu);
	if (c->token_gen != token_gen) {
		kube_client_set_token(&c->k, S.creds.token);
		c->token_gen = token_gen;
	}
	pthread_mutex_unlock(&token_mu);
}

/* token_reload - re-read the token file; after_401 re-reads are limited
 * to one a second, since a token the server refuses for good would
 * otherwise make every failing request read the file. Returns true if
 * the token changed. */
bool token_reload(bool after_401)
{
	int64_t now = util_mono_ms();
	char *old;
	int rc;

	if (S.creds.token_file == NULL)
		return false;
	pthread_mutex_lock(&token_mu);
	if (after_401 && now - last_forced < 1000) {
		pthread_mutex_unlock(&token_mu);
		return false;
	}
	if (after_401)
		last_forced = now;
	old = S.creds.token;
	rc = kube_creds_reload_token(&S.creds);
	/* The reload allocates the new token before freeing the old, so a
	 * changed pointer means changed contents. */
	bool changed = rc == 0 && S.creds.token != old;
	if (changed)
		token_gen++;
	pthread_mutex_unlock(&token_mu);
	if (rc != 0)
		log_kv(LOG_WARN, "cannot re-read the service-account token; keeping the old one",
		    "file", S.creds.token_file, NULL);
	else if (changed)
		log_kv(LOG_INFO, "service-account token changed; clients will use the new one",
		    "file", S.creds.token_file, "trigger", after_401 ? "401" : "periodic", NULL);
	return changed;
}

char *token_dup(uint64_t *gen)
{
	char *t;

	pthread_mutex_lock(&token_mu);
	t = util_xstrdup(S.creds.token_file && S.creds.token ? S.creds.token : "");
	if (gen)
		*gen = token_gen;
	pthread_mutex_unlock(&token_mu);
	return t;
}

/* token_newer - whether the token changed since version gen. */
bool token_newer(uint64_t gen)
{
	bool newer;

	pthread_mutex_lock(&token_mu);
	newer = token_gen != gen;
	pthread_mutex_unlock(&token_mu);
	return newer;
}

/* on_throttle - before each request: the rate limit, then the token. */
static int on_throttle(void *ud)
{
	struct skube *c = ud;

	if (c->limited && !S.stop) {
		int64_t ms = rl_reserve(&S.rl, 1, util_mono_ms());
		while (ms > 0 && !S.stop) {
			int64_t step = ms > 200 ? 200 : ms;
			usleep((useconds_t)step * 1000);
			ms -= step;
			/* waiting for the limit is the loop turning, not stalling */
			if (c->main_thread)
				S.last_loop_ms = util_mono_ms();
		}
	}
	token_apply(c);
	return 0;
}

/* on_request - count it. */
static void on_request(const char *method, const char *path, long code, void *ud)
{
	char verb[8], res[40];

	(void)ud;
	kube_classify(method, path, verb, sizeof(verb), res, sizeof(res));
	metrics_kube_count(verb, res, code, 1);
}

/* on_401 - our token was refused: maybe it rotated. Re-read it; a retry
 * is worth it if this client's copy is now out of date (another thread
 * may have re-read it a moment ago). */
static bool on_401(void *ud)
{
	struct skube *c = ud;
	bool stale;

	token_reload(true);
	pthread_mutex_lock(&token_mu);
	stale = c->token_gen != token_gen;
	pthread_mutex_unlock(&token_mu);
	return stale;
}

int skube_init(struct skube *c, bool limited, bool main_thread)
{
	int rc;

	pthread_mutex_lock(&token_mu);
	rc = kube_client_init(&c->k, &S.creds);
	c->token_gen = token_gen;
	pthread_mutex_unlock(&token_mu);
	c->limited = limited;
	c->main_thread = main_thread;
	c->k.throttle = on_throttle;
	c->k.throttle_ud = c;
	c->k.on_request = on_request;
	c->k.on_request_ud = c;
	c->k.reauth = on_401;
	c->k.reauth_ud = c;
	return rc;
}

void skube_free(struct skube *c)
{
	kube_client_free(&c->k);
}
