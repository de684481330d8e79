/*
 * http.c - /metrics on the metrics address and /healthz, /readyz on the
 * health address, served by nng's HTTP server. ":8080" (the seed's
 * form) means every interface; "0" turns a server off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "log.h"
#include "sup.h"
#include "util.h"

#define STALL_MS 30000   /* main loop silent this long: not healthy */

static nng_http_server *servers[2];

static void reply(nng_aio *aio, uint16_t code, const char *ctype, const char *body)
{
	nng_http_res *res;

	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res_set_status(res, code);
	nng_http_res_set_header(res, "Content-Type", ctype);
	nng_http_res_copy_data(res, body, strlen(body));
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void update_gauges(void)
{
	int ready = 0, notready = 0, unknown = 0;

	pthread_mutex_lock(&S.mu);
	size_t due = queue_due_count(&S.q, util_mono_ms());
	metrics_set("pamop_queue_depth", NULL, (double)due);
	metrics_set("pamop_queue_scheduled", NULL, (double)(queue_len(&S.q) - due));
	metrics_set("pamop_workers_ready", NULL, pool_ready_count());
	for (struct hmap_iter i = { 0 }; hmap_next(&S.msecs, &i);) {
		struct msec *m = i.val;
		if (strcmp(m->ready.status, "True") == 0)
			ready++;
		else if (strcmp(m->ready.status, "False") == 0)
			notready++;
		else
			unknown++;
	}
	pthread_mutex_unlock(&S.mu);
	metrics_set("pamop_monosecrets", "ready=\"True\"", ready);
	metrics_set("pamop_monosecrets", "ready=\"False\"", notready);
	metrics_set("pamop_monosecrets", "ready=\"Unknown\"", unknown);
	metrics_set("pamop_leader", NULL, sup_leading() ? 1 : 0);
}

static void on_metrics(nng_aio *aio)
{
	update_gauges();
	char *body = metrics_render();
	reply(aio, 200, "text/plain; version=0.0.4; charset=utf-8", body);
	free(body);
}

static void on_healthz(nng_aio *aio)
{
	pthread_mutex_lock(&S.mu);
	int64_t age = util_mono_ms() - S.last_loop_ms;
	pthread_mutex_unlock(&S.mu);
	if (age > STALL_MS)
		reply(aio, 500, "text/plain", "main loop stalled\n");
	else
		reply(aio, 200, "text/plain", "ok\n");
}

static void on_readyz(nng_aio *aio)
{
	pthread_mutex_lock(&S.mu);
	bool synced = S.informers_synced >= S.informers_total;
	int workers = pool_ready_count();
	pthread_mutex_unlock(&S.mu);
	if (!synced)
		reply(aio, 503, "text/plain", "caches not synced\n");
	else if (workers == 0)
		reply(aio, 503, "text/plain", "no worker ready\n");
	else
		reply(aio, 200, "text/plain", "ok\n");
}

static int serve(int idx, const char *addr, const char *const *paths,
    void (*const *fns)(nng_aio *), size_t n)
{
	char url[300];
	nng_url *u = NULL;
	int rv;

	if (addr == NULL || strcmp(addr, "0") == 0 || *addr == '\0')
		return 0;
	snprintf(url, sizeof(url), "http://%s%s", addr[0] == ':' ? "0.0.0.0" : "", addr);
	if ((rv = nng_url_parse(&u, url)) != 0)
		goto fail;
	rv = nng_http_server_hold(&servers[idx], u);
	nng_url_free(u);
	if (rv != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		nng_http_handler *h;
		if ((rv = nng_http_handler_alloc(&h, paths[i], fns[i])) != 0 ||
		    (rv = nng_http_handler_set_method(h, "GET")) != 0 ||
		    (rv = nng_http_server_add_handler(servers[idx], h)) != 0)
			goto fail;
	}
	if ((rv = nng_http_server_start(servers[idx])) != 0)
		goto fail;
	log_kv(LOG_INFO, "serving", "address", addr, "paths", paths[0], NULL);
	return 0;
fail:
	log_kv(LOG_ERROR, "cannot serve HTTP", "address", addr, "error", nng_strerror(rv), NULL);
	return -1;
}

int http_start(void)
{
	static const char *const mp[] = { "/metrics" };
	static void (*const mf[])(nng_aio *) = { on_metrics };
	static const char *const hp[] = { "/healthz", "/readyz" };
	static void (*const hf[])(nng_aio *) = { on_healthz, on_readyz };
	metrics_init();
	if (serve(0, S.opt.metrics_addr, mp, mf, 1) != 0 ||
	    serve(1, S.opt.health_addr, hp, hf, 2) != 0)
		return -1;
	return 0;
}

void http_stop(void)
{
	for (int i = 0; i < 2; i++)
		if (servers[i]) {
			nng_http_server_stop(servers[i]);
			nng_http_server_release(servers[i]);
			servers[i] = NULL;
		}
}
