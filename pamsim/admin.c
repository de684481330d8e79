/*
 * admin - pamsim's control endpoint for tests (plain HTTP, loopback):
 * GET /stats, POST /reset, POST /fault, POST /fault/clear,
 * POST /reload, PUT /vaults. Not part of the PAM contract.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define ADMIN_MAX_VAULTS_BODY (64u << 20)

static const char *vaults_file;	/* --vaults, or NULL */

/* ok_json - the common {"ok":true} answer. */
static void ok_json(nng_aio *aio, nng_http_req *req, int64_t t0)
{
	pamsim_respond_json(aio, req, 200, "{\"ok\":true}", t0);
}

/* err_json - {"error":..., "message":...} with a status; msg is ours or
 * a load error, so it is escaped through cJSON. */
static void err_json(nng_aio *aio, nng_http_req *req, int status,
		     const char *msg, int64_t t0)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "error", "bad_request");
	cJSON_AddStringToObject(o, "message", msg);
	s = cJSON_PrintUnformatted(o);
	pamsim_respond_json(aio, req, status, s, t0);
	cJSON_free(s);
	cJSON_Delete(o);
}

/* admin_stats - GET /stats. */
static void admin_stats(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	int64_t t0 = util_mono_ms();
	char *s = pamsim_stats_json();

	pamsim_respond_json(aio, req, s ? 200 : 500, s, t0);
	cJSON_free(s);
}

/* admin_reset - POST /reset: zero the counters. */
static void admin_reset(nng_aio *aio)
{
	int64_t t0 = util_mono_ms();

	pamsim_stats_reset();
	ok_json(aio, nng_aio_get_input(aio, 0), t0);
}

/* admin_fault - POST /fault: add a fault from the JSON body. */
static void admin_fault(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	int64_t t0 = util_mono_ms();
	void *body;
	size_t len;
	char err[160];

	nng_http_req_get_data(req, &body, &len);
	if (pamsim_fault_add(body, len, err, sizeof(err)) < 0)
		err_json(aio, req, 400, err, t0);
	else
		ok_json(aio, req, t0);
}

/* admin_fault_clear - POST /fault/clear. */
static void admin_fault_clear(nng_aio *aio)
{
	int64_t t0 = util_mono_ms();

	pamsim_fault_clear();
	ok_json(aio, nng_aio_get_input(aio, 0), t0);
}

/* admin_reload - POST /reload: like SIGHUP. */
static void admin_reload(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	int64_t t0 = util_mono_ms();

	if (!vaults_file)
		err_json(aio, req, 409, "no --vaults file to reload", t0);
	else if (pamsim_vaults_reload(vaults_file) < 0)
		err_json(aio, req, 400, "vault file is bad; old vaults kept "
			 "(see log)", t0);
	else
		ok_json(aio, req, t0);
}

/* admin_put_vaults - PUT /vaults: replace the set from the body (the
 * file is untouched; a later reload reads the file again). */
static void admin_put_vaults(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	int64_t t0 = util_mono_ms();
	struct pamsim_vset *v;
	void *body;
	size_t len, n;
	char err[256];

	nng_http_req_get_data(req, &body, &len);
	if (!(v = pamsim_vaults_parse(body, len, err, sizeof(err)))) {
		err_json(aio, req, 400, err, t0);
		return;
	}
	n = pamsim_vaults_set(v);
	snprintf(err, sizeof(err), "%zu", n);
	log_kv(LOG_INFO, "vaults replaced", "via", "admin", "count", err, NULL);
	ok_json(aio, req, t0);
}

/* add - register one exact-path handler. */
static int add(nng_http_server *srv, const char *path, const char *method,
	       size_t maxbody, void (*cb)(nng_aio *))
{
	nng_http_handler *h;
	int rv;

	if ((rv = nng_http_handler_alloc(&h, path, cb)) != 0)
		return rv;
	if ((rv = nng_http_handler_set_method(h, method)) != 0 ||
	    (rv = nng_http_handler_collect_body(h, true, maxbody)) != 0 ||
	    (rv = nng_http_server_add_handler(srv, h)) != 0)
		nng_http_handler_free(h);
	return rv;
}

/* pamsim_admin_register - serve the admin endpoints on srv. */
int pamsim_admin_register(nng_http_server *srv, const char *vaults_path)
{
	int rv;

	vaults_file = vaults_path;
	/* Every handler reads (small) bodies, so a stray one cannot be
	 * taken for the next request on a kept-alive connection. */
	if ((rv = add(srv, "/stats", "GET", 4096, admin_stats)) != 0 ||
	    (rv = add(srv, "/reset", "POST", 4096, admin_reset)) != 0 ||
	    (rv = add(srv, "/fault", "POST", 65536, admin_fault)) != 0 ||
	    (rv = add(srv, "/fault/clear", "POST", 4096,
		      admin_fault_clear)) != 0 ||
	    (rv = add(srv, "/reload", "POST", 4096, admin_reload)) != 0 ||
	    (rv = add(srv, "/vaults", "PUT", ADMIN_MAX_VAULTS_BODY,
		      admin_put_vaults)) != 0)
		return rv;
	return 0;
}
