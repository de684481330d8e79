/*
 * kube - a small Kubernetes REST client on libcurl: one request at a
 * time per client, plus a streaming call for watches. The supervisor
 * and the worker each hold their own clients (one per thread).
 *
 * Response bodies that may hold secret values (the worker reading a
 * Secret) are asked for with KUBE_SENSITIVE: they are kept in guarded
 * memory and wiped on free.
 */
#ifndef PAMOP_KUBE_H
#define PAMOP_KUBE_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "kubeconfig.h"

struct kube_client {
	const struct kube_creds *creds;  /* not owned */
	CURL *h;
	char *auth;                      /* "Authorization: Bearer ..." or NULL */
	long timeout_ms;                 /* per request; 0 for none (watches) */
	/* after each request: method (or "WATCH"), path, HTTP code (0: none) */
	void (*on_request)(const char *verb, const char *path, long code, void *ud);
	void *on_request_ud;
	int (*throttle)(void *ud);       /* called before each request (rate limit) */
	void *throttle_ud;
	/* after a 401: true if a newer token is now in place, and the
	 * request is sent once more (rotated service-account tokens) */
	bool (*reauth)(void *ud);
	void *reauth_ud;
	struct curl_slist *resolve;      /* CURLOPT_RESOLVE entries or NULL; not owned
	                                  * (the sandboxed worker cannot resolve names) */
};

struct kube_resp {
	long code;        /* HTTP status, or 0 if the request never got one */
	char *body;       /* NUL-terminated; NULL if none */
	size_t len;
	bool sensitive;
	char err[256];    /* transport error text when code == 0 */
};

enum { KUBE_SENSITIVE = 1 };

int kube_client_init(struct kube_client *k, const struct kube_creds *c);
void kube_client_free(struct kube_client *k);
/* kube_client_set_token - replace the bearer token (rotation). */
void kube_client_set_token(struct kube_client *k, const char *token);

/*
 * kube_request - METHOD path (e.g. "/api/v1/namespaces/ns/secrets/x").
 * ctype: request Content-Type (NULL for JSON); accept: NULL for JSON.
 * Returns 0 when an HTTP status was received (any status), -1 otherwise.
 */
int kube_request(struct kube_client *k, const char *method, const char *path,
    const char *ctype, const char *accept, const char *body, int flags,
    struct kube_resp *r);
void kube_resp_free(struct kube_resp *r);

/*
 * kube_stream - GET path and hand each newline-terminated line to cb.
 * Returns when the server ends the stream, cb returns non-zero, or
 * *stop becomes true (checked at least every second). Returns the HTTP
 * status (0 on transport error).
 */
typedef int (*kube_line_cb)(void *ud, char *line, size_t len);
long kube_stream(struct kube_client *k, const char *path, const char *accept,
    kube_line_cb cb, void *ud, volatile int *stop);

/* kube_escape - percent-encode a query value into a malloc'd string. */
char *kube_escape(const char *s);

/*
 * kube_classify - what a request was, for metrics and logs: verb is the
 * method, except that a GET of a collection is "LIST" (watches are
 * reported as "WATCH" already); resource is the plural resource with its
 * subresource ("monosecrets/status"), or "other" for a path that is not
 * an API resource. Names and namespaces are never part of either.
 */
void kube_classify(const char *method, const char *path, char *verb, size_t vlen,
    char *resource, size_t rlen);

/* kube_status_message - the "message" of a Status body, or a short default. */
void kube_status_message(const struct kube_resp *r, char *out, size_t outlen);

#endif
