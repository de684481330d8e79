/*
 * sim - shared state of pamsim, the PAM simulator: the vault set, the
 * accepted access keys, request counters and injected faults. One mutex
 * guards all of it; nng runs handlers on several threads.
 */
#ifndef PAMSIM_SIM_H
#define PAMSIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#define PAMSIM_HUGE_BYTES (2 * 1024 * 1024)
#define PAMSIM_MAX_LATENCY_MS 60000

/* One injected fault; see pamsim/README.md for the meaning of fields. */
struct pamsim_fault {
	int status;		/* 0: answer normally (after latency) */
	int retry_after;	/* seconds; 0: no Retry-After header */
	int latency_ms;
	char body[16];		/* "", "malformed" or "huge" */
	char vault[65];		/* "" matches every API request */
	int count;		/* requests left; 0 = until cleared */
};

/* What the API handler decided to send. */
struct pamsim_reply {
	int status;
	int retry_after;	/* 0: none */
	int latency_ms;
	char *body;		/* malloc'd, or the static huge body */
	size_t len;
	bool body_static;
};

/* sim.c: the one lock, and lifecycle. */
void pamsim_lock(void);
void pamsim_unlock(void);
int pamsim_init(void);
void pamsim_fini(void);
int pamsim_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* keys.c: accepted keys (constant-time compare). */
int pamsim_keys_add(const char *key);
int pamsim_keys_add_file(const char *path);
size_t pamsim_keys_count(void);
bool pamsim_key_known(const char *key);
bool pamsim_key_in(const char *key, const cJSON *list);
void pamsim_keys_free(void);

/* vaults.c: the vault set. Parsing returns NULL and sets err. */
struct pamsim_vset;
struct pamsim_vset *pamsim_vaults_parse(const char *text, size_t len,
					char *err, size_t errlen);
size_t pamsim_vaults_set(struct pamsim_vset *set); /* owns; returns n */
int pamsim_vaults_reload(const char *path);	/* keeps old on error */
void pamsim_vaults_free(void);
const cJSON *pamsim_vault_find(const char *id);	/* call under lock */
char *pamsim_vault_render(const cJSON *item);	/* call under lock */
bool pamsim_vault_id_ok(const char *id);

/* stats.c: counters and faults (all take the lock themselves). */
void pamsim_stats_count(const char *vault, bool ping, int status);
char *pamsim_stats_json(void);
void pamsim_stats_reset(void);
void pamsim_stats_fini(void);
int pamsim_fault_add(const char *json, size_t len, char *err, size_t errlen);
void pamsim_fault_clear(void);
bool pamsim_fault_take(const char *vault, struct pamsim_fault *out);
const char *pamsim_huge_body(size_t *len);

/* api.c / admin.c: register handlers on a server. */
int pamsim_api_register(nng_http_server *srv);
int pamsim_admin_register(nng_http_server *srv, const char *vaults_path);

/* http.c: answering, with optional delay, and the request log line. */
void pamsim_respond(nng_aio *aio, nng_http_req *req,
		    struct pamsim_reply *r, int64_t start_ms);
void pamsim_respond_json(nng_aio *aio, nng_http_req *req, int status,
			 const char *body, int64_t start_ms);
void pamsim_http_closing(void);
void pamsim_http_fini(void);

#endif
