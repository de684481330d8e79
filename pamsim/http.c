/*
 * http - answering requests for pamsim: JSON responses, the per-request
 * log line, and injected latency. Latency is served asynchronously
 * (nng_sleep_aio), since sleeping in a handler would stall one of nng's
 * few worker threads and with it unrelated connections.
 */
#include "sim.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* The facts of one request for its log line; never the key or values. */
struct logline {
	char method[16];
	char path[200];
	int status;
	int64_t start_ms;
};

/* A delayed answer: the handler's aio is finished when sleep fires. */
struct delay {
	nng_aio *sleep;
	nng_aio *orig;
	nng_http_res *res;
	struct logline line;
	struct delay *next_free;
	struct delay *next_all;
};

static pthread_mutex_t delay_mu = PTHREAD_MUTEX_INITIALIZER;
static struct delay *delay_free, *delay_all;
static bool closing;

/* line_init - capture method and path (query dropped) from req. */
static void line_init(struct logline *l, nng_http_req *req, int status,
		      int64_t start_ms)
{
	const char *uri = nng_http_req_get_uri(req);
	size_t n = strcspn(uri, "?");

	snprintf(l->method, sizeof(l->method), "%s",
		 nng_http_req_get_method(req));
	if (n >= sizeof(l->path))
		n = sizeof(l->path) - 1;
	memcpy(l->path, uri, n);
	l->path[n] = '\0';
	l->status = status;
	l->start_ms = start_ms;
}

/* line_log - the logfmt request line. */
static void line_log(const struct logline *l)
{
	char st[16], ms[32];

	snprintf(st, sizeof(st), "%d", l->status);
	snprintf(ms, sizeof(ms), "%lld",
		 (long long)(util_mono_ms() - l->start_ms));
	log_kv(LOG_INFO, "request", "method", l->method, "path", l->path,
	       "status", st, "duration_ms", ms, NULL);
}

/* delay_done - sleep over (or cancelled at exit): hand the answer on. */
static void delay_done(void *arg)
{
	struct delay *d = arg;
	nng_aio *orig = d->orig;
	int rv = nng_aio_result(d->sleep);

	if (rv == 0) {
		line_log(&d->line);
		nng_aio_set_output(orig, 0, d->res);
		nng_aio_finish(orig, 0);
	} else {
		nng_http_res_free(d->res);
		nng_aio_finish(orig, rv);	/* server drops the connection */
	}
	/* Back on the free list last: the entry may be reused at once. */
	pthread_mutex_lock(&delay_mu);
	d->next_free = delay_free;
	delay_free = d;
	pthread_mutex_unlock(&delay_mu);
}

/* delay_get - a free delay entry, or NULL when closing or out of memory. */
static struct delay *delay_get(void)
{
	struct delay *d = NULL;

	pthread_mutex_lock(&delay_mu);
	if (!closing && (d = delay_free) != NULL)
		delay_free = d->next_free;
	else if (!closing && (d = calloc(1, sizeof(*d))) != NULL) {
		if (nng_aio_alloc(&d->sleep, delay_done, d) != 0) {
			free(d);
			d = NULL;
		} else {
			d->next_all = delay_all;
			delay_all = d;
		}
	}
	pthread_mutex_unlock(&delay_mu);
	return d;
}

/* pamsim_respond - send r (status, headers, body), after its latency. */
void pamsim_respond(nng_aio *aio, nng_http_req *req, struct pamsim_reply *r,
		    int64_t start_ms)
{
	nng_http_res *res = NULL;
	struct logline line;
	struct delay *d;
	char ra[16];
	int rv;

	line_init(&line, req, r->status, start_ms);
	if ((rv = nng_http_res_alloc(&res)) == 0 &&
	    (rv = nng_http_res_set_status(res, (uint16_t)r->status)) == 0 &&
	    (rv = nng_http_res_set_header(res, "Content-Type",
					  "application/json")) == 0 &&
	    (rv = nng_http_res_set_header(res, "Cache-Control",
					  "no-store")) == 0) {
		if (r->retry_after > 0) {
			snprintf(ra, sizeof(ra), "%d", r->retry_after);
			rv = nng_http_res_set_header(res, "Retry-After", ra);
		}
		/* The huge body is shared and static: no copy of 2 MiB. */
		if (rv == 0 && r->body)
			rv = r->body_static ?
			     nng_http_res_set_data(res, r->body, r->len) :
			     nng_http_res_copy_data(res, r->body, r->len);
	}
	if (!r->body_static)
		free(r->body);
	r->body = NULL;
	if (rv != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	if (r->latency_ms > 0 && (d = delay_get()) != NULL) {
		d->orig = aio;
		d->res = res;
		d->line = line;
		nng_sleep_aio(r->latency_ms, d->sleep);
		return;
	}
	line_log(&line);
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* pamsim_respond_json - send a JSON string with a status, no delay. */
void pamsim_respond_json(nng_aio *aio, nng_http_req *req, int status,
			 const char *body, int64_t start_ms)
{
	struct pamsim_reply r = { 0 };

	r.status = status;
	r.body = util_xstrdup(body ? body : "{}");
	r.len = strlen(r.body);
	pamsim_respond(aio, req, &r, start_ms);
}

/* pamsim_http_closing - no new delays; cancel the pending ones so that
 * stopping the servers does not wait for them. */
void pamsim_http_closing(void)
{
	struct delay *d;

	pthread_mutex_lock(&delay_mu);
	closing = true;
	d = delay_all;
	pthread_mutex_unlock(&delay_mu);
	/* The all-list only grows at its head, and not after closing. */
	for (; d; d = d->next_all)
		nng_aio_cancel(d->sleep);
}

/* pamsim_http_fini - free the delay entries once servers have stopped. */
void pamsim_http_fini(void)
{
	struct delay *d, *next;

	pamsim_http_closing();
	for (d = delay_all; d; d = next) {
		next = d->next_all;
		nng_aio_free(d->sleep);	/* waits for a running callback */
		free(d);
	}
	delay_all = delay_free = NULL;
}
