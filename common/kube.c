/*
 * kube.c - Kubernetes REST over libcurl. See kube.h.
 */
#include "kube.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#define KUBE_MAX_BODY (64u * 1024 * 1024)  /* a paginated list page stays far below */

struct buf {
	char *p;
	size_t len, cap;
	bool sensitive;
	bool too_big;
};

/* buf_free - wipe sensitive bodies before giving the memory back. */
static void buf_release(char *p, size_t cap, bool sensitive)
{
	if (p == NULL)
		return;
	if (sensitive)
		sodium_free(p);
	else
		free(p);
	(void)cap;
}

/* buf_grow - at least need more bytes; sensitive buffers move to fresh
 * guarded memory so no copy of a value is left in the old block. */
static int buf_grow(struct buf *b, size_t need)
{
	size_t ncap = b->cap ? b->cap : 4096;
	char *np;

	while (ncap < b->len + need + 1)
		ncap *= 2;
	if (ncap == b->cap)
		return 0;
	if (b->sensitive) {
		if ((np = sodium_malloc(ncap)) == NULL)
			return -1;
		if (b->p) {
			memcpy(np, b->p, b->len);
			sodium_free(b->p);  /* sodium_free zeroes before unmapping */
		}
	} else if ((np = realloc(b->p, ncap)) == NULL) {
		return -1;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

static size_t on_body(char *data, size_t sz, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t len = sz * n;

	if (b->len + len > KUBE_MAX_BODY) {
		b->too_big = true;
		return 0;
	}
	if (buf_grow(b, len) != 0)
		return 0;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

/* setup_tls - CA, client certificate and key from memory, so that the
 * worker never needs to open a file once sandboxed. */
static void setup_tls(CURL *h, const struct kube_creds *c)
{
	struct curl_blob blob;

	if (c->ca_pem) {
		blob = (struct curl_blob){ c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (c->cert_pem && c->key_pem) {
		blob = (struct curl_blob){ c->cert_pem, strlen(c->cert_pem), CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		blob = (struct curl_blob){ c->key_pem, strlen(c->key_pem), CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

int kube_client_init(struct kube_client *k, const struct kube_creds *c)
{
	memset(k, 0, sizeof(*k));
	k->creds = c;
	k->timeout_ms = 30000;
	if ((k->h = curl_easy_init()) == NULL)
		return -1;
	kube_client_set_token(k, c->token);
	return 0;
}

void kube_client_set_token(struct kube_client *k, const char *token)
{
	if (k->auth) {
		sodium_memzero(k->auth, strlen(k->auth));
		free(k->auth);
		k->auth = NULL;
	}
	if (token && *token) {
		size_t n = strlen(token) + 32;
		k->auth = malloc(n);
		if (k->auth)
			snprintf(k->auth, n, "Authorization: Bearer %s", token);
	}
}

void kube_client_free(struct kube_client *k)
{
	kube_client_set_token(k, NULL);
	if (k->h)
		curl_easy_cleanup(k->h);
	k->h = NULL;
}

/* prepare - reset the handle and set what every request shares. */
static struct curl_slist *prepare(struct kube_client *k, const char *method,
    const char *path, const char *ctype, const char *accept)
{
	struct curl_slist *hdr = NULL;
	char line[512];
	char *url;
	size_t ul = strlen(k->creds->server) + strlen(path) + 1;

	curl_easy_reset(k->h);
	url = malloc(ul);
	if (url == NULL)
		return NULL;
	snprintf(url, ul, "%s%s", k->creds->server, path);
	curl_easy_setopt(k->h, CURLOPT_URL, url);
	free(url);  /* curl copies option strings */
	curl_easy_setopt(k->h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(k->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(k->h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(k->h, CURLOPT_TIMEOUT_MS, k->timeout_ms);
	curl_easy_setopt(k->h, CURLOPT_USERAGENT, "pam-operator/" PAMOP_VERSION);
	if (k->resolve)
		curl_easy_setopt(k->h, CURLOPT_RESOLVE, k->resolve);
	setup_tls(k->h, k->creds);

	snprintf(line, sizeof(line), "Accept: %s", accept ? accept : "application/json");
	hdr = curl_slist_append(hdr, line);
	if (ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		hdr = curl_slist_append(hdr, line);
	}
	if (k->auth)
		hdr = curl_slist_append(hdr, k->auth);
	curl_easy_setopt(k->h, CURLOPT_HTTPHEADER, hdr);
	return hdr;
}

/* free_headers - the slist holds a copy of the bearer token: wipe it. */
static void free_headers(struct curl_slist *hdr)
{
	for (struct curl_slist *s = hdr; s; s = s->next)
		sodium_memzero(s->data, strlen(s->data));
	curl_slist_free_all(hdr);
}

/* request_once - one attempt of kube_request. */
static int request_once(struct kube_client *k, const char *method, const char *path,
    const char *ctype, const char *accept, const char *body, int flags,
    struct kube_resp *r)
{
	struct buf b = { .sensitive = (flags & KUBE_SENSITIVE) != 0 };
	struct curl_slist *hdr;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	r->sensitive = b.sensitive;
	if (k->throttle)
		k->throttle(k->throttle_ud);
	if (body && ctype == NULL)
		ctype = "application/json";
	hdr = prepare(k, method, path, ctype, accept);
	curl_easy_setopt(k->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(k->h, CURLOPT_WRITEDATA, &b);
	if (body) {
		curl_easy_setopt(k->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(k->h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(k->h);
	free_headers(hdr);
	/* POSTFIELDS is not copied by curl; forget the pointer now. */
	curl_easy_setopt(k->h, CURLOPT_POSTFIELDS, NULL);

	if (rc != CURLE_OK) {
		snprintf(r->err, sizeof(r->err), "%s%s", curl_easy_strerror(rc),
		    b.too_big ? " (body too large)" : "");
		buf_release(b.p, b.cap, b.sensitive);
		if (k->on_request)
			k->on_request(method, path, 0, k->on_request_ud);
		return -1;
	}
	curl_easy_getinfo(k->h, CURLINFO_RESPONSE_CODE, &r->code);
	r->body = b.p;
	r->len = b.len;
	if (k->on_request)
		k->on_request(method, path, r->code, k->on_request_ud);
	return 0;
}

int kube_request(struct kube_client *k, const char *method, const char *path,
    const char *ctype, const char *accept, const char *body, int flags,
    struct kube_resp *r)
{
	int rc = request_once(k, method, path, ctype, accept, body, flags, r);

	/* A 401 changes nothing on the server, so sending again is safe. */
	if (rc == 0 && r->code == 401 && k->reauth && k->reauth(k->reauth_ud)) {
		kube_resp_free(r);
		rc = request_once(k, method, path, ctype, accept, body, flags, r);
	}
	return rc;
}

void kube_resp_free(struct kube_resp *r)
{
	if (r->body && !r->sensitive)
		sodium_memzero(r->body, r->len);
	buf_release(r->body, 0, r->sensitive);
	r->body = NULL;
	r->len = 0;
}

struct stream {
	struct buf b;
	kube_line_cb cb;
	void *ud;
	volatile int *stop;
	int cb_stop;
};

/* on_stream - split what arrived into lines; keep the partial tail. */
static size_t on_stream(char *data, size_t sz, size_t n, void *ud)
{
	struct stream *s = ud;
	size_t len = sz * n, start = 0;

	if (on_body(data, sz, n, &s->b) != len)
		return 0;
	for (size_t i = 0; i < s->b.len; i++) {
		if (s->b.p[i] != '\n')
			continue;
		s->b.p[i] = '\0';
		if (i > start && s->cb(s->ud, s->b.p + start, i - start) != 0) {
			s->cb_stop = 1;
			return 0;
		}
		start = i + 1;
	}
	memmove(s->b.p, s->b.p + start, s->b.len - start);
	s->b.len -= start;
	s->b.p[s->b.len] = '\0';
	return len;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct stream *s = ud;
	(void)a; (void)b; (void)c; (void)d;
	return s->stop && *s->stop ? 1 : 0;
}

long kube_stream(struct kube_client *k, const char *path, const char *accept,
    kube_line_cb cb, void *ud, volatile int *stop)
{
	struct stream s = { .cb = cb, .ud = ud, .stop = stop };
	struct curl_slist *hdr;
	long code = 0;
	long saved = k->timeout_ms;

	if (k->throttle)
		k->throttle(k->throttle_ud);
	k->timeout_ms = 0;
	hdr = prepare(k, "GET", path, NULL, accept);
	k->timeout_ms = saved;
	curl_easy_setopt(k->h, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(k->h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(k->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(k->h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(k->h, CURLOPT_XFERINFODATA, &s);
	/* A watch that goes silent for long (no bookmark, no event) is dead. */
	curl_easy_setopt(k->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(k->h, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_easy_setopt(k->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_perform(k->h);
	free_headers(hdr);
	curl_easy_getinfo(k->h, CURLINFO_RESPONSE_CODE, &code);
	if (k->on_request)
		k->on_request("WATCH", path, code, k->on_request_ud);
	if (code == 401 && k->reauth)
		k->reauth(k->reauth_ud);   /* the caller's next try uses a newer token */
	/* A non-200 answer arrives as one JSON Status with no newline. */
	if (code != 200 && s.b.len > 0 && !s.cb_stop)
		cb(ud, s.b.p, s.b.len);
	buf_release(s.b.p, s.b.cap, false);
	return code;
}

char *kube_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *r = e ? strdup(e) : NULL;
	curl_free(e);
	return r;
}

/* kube_classify - see kube.h. Paths look like /api/v1/RES[/NAME[/SUB]],
 * /apis/GROUP/VERSION/RES..., either with namespaces/NS/ before RES. */
void kube_classify(const char *method, const char *path, char *verb, size_t vlen,
    char *resource, size_t rlen)
{
	const char *seg[8];
	size_t segl[8], n = 0, i;
	const char *p = path;

	while (*p == '/' && n < 8) {
		p++;
		seg[n] = p;
		segl[n] = strcspn(p, "/?");
		if (segl[n] == 0)
			break;
		p += segl[n];
		n++;
		if (*p == '?')
			break;
	}
	i = n > 0 && segl[0] == 3 && strncmp(seg[0], "api", 3) == 0 ? 2 :
	    n > 0 && segl[0] == 4 && strncmp(seg[0], "apis", 4) == 0 ? 3 : n;
	if (i + 2 < n && segl[i] == 10 && strncmp(seg[i], "namespaces", 10) == 0)
		i += 2;
	if (i >= n || segl[i] > 63 || strspn(seg[i], "abcdefghijklmnopqrstuvwxyz0123456789.-") < segl[i]) {
		snprintf(resource, rlen, "other");
	} else if (i + 2 < n && segl[i + 2] <= 63 &&
	    strspn(seg[i + 2], "abcdefghijklmnopqrstuvwxyz") >= segl[i + 2]) {
		snprintf(resource, rlen, "%.*s/%.*s", (int)segl[i], seg[i], (int)segl[i + 2],
		    seg[i + 2]);
	} else {
		snprintf(resource, rlen, "%.*s", (int)segl[i], seg[i]);
	}
	snprintf(verb, vlen, "%s", strcmp(method, "GET") == 0 && i < n && i + 1 >= n ?
	    "LIST" : method);
}

void kube_status_message(const struct kube_resp *r, char *out, size_t outlen)
{
	cJSON *j = NULL, *m;

	if (r->code == 0) {
		snprintf(out, outlen, "request failed: %s", r->err);
		return;
	}
	if (r->body && !r->sensitive)
		j = cJSON_ParseWithLength(r->body, r->len);
	m = cJSON_GetObjectItemCaseSensitive(j, "message");
	if (cJSON_IsString(m))
		snprintf(out, outlen, "HTTP %ld: %s", r->code, m->valuestring);
	else
		snprintf(out, outlen, "HTTP %ld", r->code);
	cJSON_Delete(j);
}
