/*
 * api - the PAM REST API as docs/pam-api.md defines it:
 * GET /api/v1/vaults/{id} and GET /api/v1/ping, keyed by the
 * X-PAM-Access-Key header, with injected faults applied first.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define VAULTS_PREFIX "/api/v1/vaults/"

/* err_reply - an error answer with the contract's JSON body. */
static void err_reply(struct pamsim_reply *r, int status, const char *code,
		      const char *msg)
{
	r->status = status;
	r->body = util_strdup_printf("{\"error\":\"%s\",\"message\":\"%s\"}",
				     code, msg);
	r->len = strlen(r->body);
}

/* fault_reply - what an injected fault says instead of the real answer.
 * Returns false when the fault only adds latency. */
static bool fault_reply(const struct pamsim_fault *f, const char *id,
			struct pamsim_reply *r)
{
	r->latency_ms = f->latency_ms;
	if ((f->status == 0 || f->status == 200) && !f->body[0])
		return false;
	r->status = f->status ? f->status : 200;
	r->retry_after = f->retry_after;
	if (strcmp(f->body, "huge") == 0) {
		r->body = (char *)pamsim_huge_body(&r->len);
		r->body_static = true;
	} else if (strcmp(f->body, "malformed") == 0) {
		/* A real item cut off mid-token, as a dropped proxy might. */
		r->body = util_strdup_printf("{\"id\":\"%s\",\"type\":\"Secr",
					     id ? id : "");
		r->len = strlen(r->body);
	} else if (r->status == 200) {
		r->body = util_xstrdup("{}");
		r->len = 2;
	} else {
		err_reply(r, r->status, "injected", "fault injected by pamsim");
	}
	return true;
}

/* vault_reply - the real answer for an authenticated vault request. */
static void vault_reply(const char *id, const char *key,
			struct pamsim_reply *r)
{
	const cJSON *item, *allowed;

	pamsim_lock();
	item = pamsim_vault_find(id);
	allowed = item ? cJSON_GetObjectItemCaseSensitive(item, "allowedKeys")
		       : NULL;
	if (!item)
		err_reply(r, 404, "not_found", "no such vault");
	else if (allowed && !pamsim_key_in(key, allowed))
		err_reply(r, 403, "forbidden", "access key may not read this "
			  "vault");
	else if ((r->body = pamsim_vault_render(item)) != NULL) {
		r->status = 200;
		r->len = strlen(r->body);
	} else
		err_reply(r, 500, "internal", "cannot render vault item");
	pamsim_unlock();
}

/* api_handle - route, apply faults, check the key, answer, count. */
static void api_handle(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	const char *method = nng_http_req_get_method(req);
	const char *uri = nng_http_req_get_uri(req), *id = NULL, *key;
	struct pamsim_reply r = { 0 };
	struct pamsim_fault f;
	int64_t t0 = util_mono_ms();
	char path[256];
	bool ping = false, counted_id;
	size_t n = strcspn(uri, "?");

	snprintf(path, sizeof(path), "%.*s", (int)(n < 255 ? n : 255), uri);
	if (strcmp(path, "/api/v1/ping") == 0)
		ping = true;
	else if (strncmp(path, VAULTS_PREFIX, strlen(VAULTS_PREFIX)) == 0)
		id = path + strlen(VAULTS_PREFIX);
	/* Only well-formed ids get a counter, so stats stay bounded. */
	counted_id = id && pamsim_vault_id_ok(id);

	if (!ping && !counted_id)
		err_reply(&r, 404, "not_found", "no such endpoint or vault");
	else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		err_reply(&r, 405, "method_not_allowed", "use GET");
	else if (pamsim_fault_take(ping ? NULL : id, &f) &&
		 fault_reply(&f, id, &r))
		;	/* the fault answered */
	else if (!(key = nng_http_req_get_header(req, "X-PAM-Access-Key")) ||
		 !pamsim_key_known(key))
		err_reply(&r, 401, "unauthorized", "access key missing or not "
			  "accepted");
	else if (ping) {
		r.status = 200;
		r.body = util_xstrdup("{\"ok\":true}");
		r.len = strlen(r.body);
	} else
		vault_reply(id, key, &r);

	pamsim_stats_count(counted_id ? id : NULL, ping, r.status);
	pamsim_respond(aio, req, &r, t0);
}

/* pamsim_api_register - serve the API on srv: one catch-all handler,
 * so unknown paths and methods get JSON errors too. */
int pamsim_api_register(nng_http_server *srv)
{
	nng_http_handler *h;
	int rv;

	if ((rv = nng_http_handler_alloc(&h, "/", api_handle)) != 0)
		return rv;
	if ((rv = nng_http_handler_set_method(h, NULL)) != 0 ||
	    (rv = nng_http_handler_set_tree(h)) != 0 ||
	    (rv = nng_http_handler_collect_body(h, true, 64 * 1024)) != 0 ||
	    (rv = nng_http_server_add_handler(srv, h)) != 0)
		nng_http_handler_free(h);
	return rv;
}
