/*
 * pam_api - Monofor PAM REST client (contract: docs/pam-api.md).
 *
 * Secrets handled here: the access key (sent in a header) and the vault
 * values (in the response body). Both live only in sodium_malloc'd memory
 * that is wiped on release; cJSON's copies of the values are wiped before
 * the tree is freed. libcurl itself copies the request headers into its
 * own send buffer, which this module cannot wipe.
 */
#include "pam_api.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <sodium.h>

#define PAM_KEY_HEADER "X-PAM-Access-Key: "
#define PAM_MAX_URL 2048

struct pam_type {
	const char *name;
	const char *const *props;
};

static const char *const props_text[] = { "SecretText", NULL };
static const char *const props_up[] = { "UserName", "Password", NULL };
static const char *const props_upd[] = { "UserName", "Password", "Domain",
					 NULL };
static const char *const props_pki[] = { "UserName", "PrivateKey",
					 "Passphrase", NULL };
static const char *const props_otp[] = { "Code", NULL };

/* The seed's table of vault item types and their properties. */
static const struct pam_type pam_types[] = {
	{ "SecretText", props_text },
	{ "UserNamePassword", props_up },
	{ "UserNamePasswordDomain", props_upd },
	{ "PKI", props_pki },
	{ "OTP", props_otp },
};

/* Growing response body, kept in guarded memory. */
struct pam_body {
	unsigned char *buf;
	size_t len, cap;
	bool too_large;
	bool oom;
	CURL *h;
};

/* pam_type_properties - see pam_api.h. */
const char *const *pam_type_properties(const char *type)
{
	size_t i;

	if (!type)
		return NULL;
	for (i = 0; i < sizeof(pam_types) / sizeof(pam_types[0]); i++)
		if (strcmp(pam_types[i].name, type) == 0)
			return pam_types[i].props;
	return NULL;
}

/* pam_type_prop - the table's own copy of prop for type, or NULL. */
static const char *pam_type_prop(const char *type, const char *prop)
{
	const char *const *p = pam_type_properties(type);

	for (; p && *p; p++)
		if (strcmp(*p, prop) == 0)
			return *p;
	return NULL;
}

/* pam_type_has_property - see pam_api.h. */
bool pam_type_has_property(const char *type, const char *prop)
{
	return prop && pam_type_prop(type, prop) != NULL;
}

/* pam_status_reason - see pam_api.h. */
const char *pam_status_reason(enum pam_status s)
{
	switch (s) {
	case PAM_OK: return "Synced";
	case PAM_UNAUTHORIZED: return "PAMUnauthorized";
	case PAM_FORBIDDEN: return "PAMForbidden";
	case PAM_NOT_FOUND: return "VaultNotFound";
	case PAM_RATE_LIMITED: return "PAMRateLimited";
	case PAM_SERVER_ERROR: return "PAMServerError";
	case PAM_UNREACHABLE: return "PAMUnreachable";
	case PAM_BAD_RESPONSE: return "PAMBadResponse";
	case PAM_TOO_LARGE: return "PAMResponseTooLarge";
	case PAM_BAD_REQUEST: return "PAMBadRequest";
	}
	return "PAMBadResponse";
}

/* pam_vault_id_valid - see pam_api.h; keeps ids out of path/query games. */
bool pam_vault_id_valid(const char *id)
{
	size_t n;

	if (!id)
		return false;
	for (n = 0; id[n]; n++)
		if (n >= 64 || !(isxdigit((unsigned char)id[n]) || id[n] == '-'))
			return false;
	return n > 0;
}

/* pam_fail - fill res and return -1, so error paths are one line. */
static int pam_fail(struct pam_result *res, enum pam_status st,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pam_fail(struct pam_result *res, enum pam_status st,
		    const char *fmt, ...)
{
	va_list ap;

	res->status = st;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	return -1;
}

/* pam_result_init - a blank result: OK, no HTTP code, no Retry-After. */
static void pam_result_init(struct pam_result *res)
{
	memset(res, 0, sizeof(*res));
	res->status = PAM_OK;
	res->retry_after = -1;
}

/* pam_safe_name - copy a server-chosen name for a message: printable
 * ASCII only, truncated, so it cannot forge log fields. */
static void pam_safe_name(char *dst, size_t cap, const char *src)
{
	size_t i;

	for (i = 0; src && src[i] && i + 1 < cap; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f && src[i] != '"')
			 ? src[i] : '?';
	dst[i] = '\0';
	if (src && src[i] && cap > 4)
		memcpy(dst + cap - 4, "...", 4);
}

/* pam_wipe_tree - zero every string in a cJSON tree before it is freed:
 * cJSON allocates with plain malloc and frees without wiping. */
static void pam_wipe_tree(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			sodium_memzero(j->valuestring, strlen(j->valuestring));
		pam_wipe_tree(j->child);
	}
}

/* pam_item_free - see pam_api.h. */
void pam_item_free(struct pam_item *it)
{
	size_t i;

	if (!it)
		return;
	for (i = 0; i < it->nprops && i < PAM_MAX_PROPS; i++)
		secret_free(&it->props[i].value);
	memset(it, 0, sizeof(*it));
}

/* pam_item_get - see pam_api.h. */
const struct secret *pam_item_get(const struct pam_item *it, const char *name)
{
	size_t i;

	for (i = 0; it && name && i < it->nprops; i++)
		if (strcmp(it->props[i].name, name) == 0)
			return &it->props[i].value;
	return NULL;
}

/* pam_take_props - copy the type's listed properties out of the JSON
 * object into guarded memory; unlisted names are ignored. */
static int pam_take_props(const cJSON *props, struct pam_item *out,
			  struct pam_result *res)
{
	const cJSON *p;
	char safe[48];

	for (p = props->child; p; p = p->next) {
		const char *name = p->string ? pam_type_prop(out->type,
							    p->string) : NULL;
		struct pam_prop *dst;

		if (!name)
			continue;
		if (!cJSON_IsString(p) || !p->valuestring)
			return pam_fail(res, PAM_BAD_RESPONSE, "property %s of "
					"vault type %s is not a string", name,
					out->type);
		if (pam_item_get(out, name))
			return pam_fail(res, PAM_BAD_RESPONSE, "property %s "
					"appears twice", name);
		if (out->nprops >= PAM_MAX_PROPS)
			break;	/* cannot happen: types list <= 3 names */
		dst = &out->props[out->nprops];
		if (secret_set(&dst->value, p->valuestring,
			       strlen(p->valuestring)) < 0) {
			pam_safe_name(safe, sizeof(safe), name);
			return pam_fail(res, PAM_BAD_RESPONSE, "out of guarded "
					"memory for property %s", safe);
		}
		/* Names point into the static table: nothing to free. */
		dst->name = (char *)name;
		out->nprops++;
	}
	return 0;
}

/* pam_parse_tree - check the item's shape and fill out. */
static int pam_parse_tree(const cJSON *root, struct pam_item *out,
			  struct pam_result *res)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(root,
							      "properties");
	const cJSON *vfs;
	char safe[48];

	if (!cJSON_IsObject(root))
		return pam_fail(res, PAM_BAD_RESPONSE, "vault item is not a "
				"JSON object");
	if (!cJSON_IsString(type) || !type->valuestring)
		return pam_fail(res, PAM_BAD_RESPONSE, "vault item has no "
				"string \"type\"");
	if (!pam_type_properties(type->valuestring)) {
		pam_safe_name(safe, sizeof(safe), type->valuestring);
		return pam_fail(res, PAM_BAD_RESPONSE, "unknown vault type "
				"\"%s\"", safe);
	}
	snprintf(out->type, sizeof(out->type), "%s", type->valuestring);
	if (!cJSON_IsObject(props))
		return pam_fail(res, PAM_BAD_RESPONSE, "vault item of type %s "
				"has no \"properties\" object", out->type);
	if (pam_take_props(props, out, res) < 0)
		return -1;
	vfs = cJSON_GetObjectItemCaseSensitive(root, "validForSeconds");
	if (vfs) {
		if (!cJSON_IsNumber(vfs) || vfs->valuedouble < 0 ||
		    vfs->valuedouble > 86400)
			return pam_fail(res, PAM_BAD_RESPONSE, "vault item of "
					"type %s has a bad validForSeconds",
					out->type);
		out->valid_for = (int)vfs->valuedouble;
	}
	return 0;
}

/* pam_has_nul_escape - true if a JSON text holds the escape \u0000.
 * cJSON would silently cut the value there; values must be byte-exact,
 * so such a body is refused instead. A backslash always starts an
 * escape in JSON, so skipping the escaped byte keeps "\\u0000" apart. */
static bool pam_has_nul_escape(const char *b, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (b[i] != '\\')
			continue;
		if (b[i + 1] == 'u' && i + 5 < len &&
		    memcmp(b + i + 2, "0000", 4) == 0)
			return true;
		i++;
	}
	return false;
}

/* pam_parse_item - see pam_api.h. */
int pam_parse_item(const char *body, size_t len, struct pam_item *out,
		   struct pam_result *res)
{
	const char *end = NULL;
	cJSON *root;
	int rc;

	pam_result_init(res);
	memset(out, 0, sizeof(*out));
	if (body && pam_has_nul_escape(body, len))
		return pam_fail(res, PAM_BAD_RESPONSE, "vault item has a NUL "
				"character (\\u0000) in a string");
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (!root)
		return pam_fail(res, PAM_BAD_RESPONSE, "vault item is not "
				"valid JSON");
	/* Trailing bytes mean a body we do not understand: refuse it. */
	while (end && end < body + len && isspace((unsigned char)*end))
		end++;
	if (end && end < body + len && *end != '\0')
		rc = pam_fail(res, PAM_BAD_RESPONSE, "vault item has trailing "
			      "data after the JSON");
	else
		rc = pam_parse_tree(root, out, res);
	pam_wipe_tree(root);
	cJSON_Delete(root);
	if (rc < 0)
		pam_item_free(out);
	return rc;
}

/* pam_write - curl write callback: append to guarded memory, growing by
 * copy so no unwiped copy is left behind; bodies of error answers are
 * dropped, as only the status matters for them. */
static size_t pam_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct pam_body *b = ud;
	size_t n = size * nmemb, cap;
	long code = 0;
	unsigned char *nb;

	curl_easy_getinfo(b->h, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200)
		return n;
	if (n > PAM_MAX_BODY - b->len) {
		b->too_large = true;
		return 0;	/* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		if (cap > PAM_MAX_BODY)
			cap = PAM_MAX_BODY;
		nb = sodium_malloc(cap);
		if (!nb) {
			b->oom = true;
			return 0;
		}
		if (b->len)
			memcpy(nb, b->buf, b->len);
		sodium_free(b->buf);	/* NULL-safe; zeroes the old copy */
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	return n;
}

/* pam_build_url - base (trailing '/' stripped) + path into out. */
static int pam_build_url(char *out, size_t cap, const char *base,
			 const char *path, struct pam_result *res)
{
	size_t n, i;

	if (!base || (strncasecmp(base, "https://", 8) != 0 &&
		      strncasecmp(base, "http://", 7) != 0))
		return pam_fail(res, PAM_BAD_REQUEST, "PAM URL must start "
				"with https:// or http://");
	n = strlen(base);
	for (i = 0; i < n; i++)
		if ((unsigned char)base[i] <= 0x20 || base[i] == 0x7f ||
		    base[i] == '?' || base[i] == '#')
			return pam_fail(res, PAM_BAD_REQUEST, "PAM URL has a "
					"space, control character, query or "
					"fragment");
	while (n > 0 && base[n - 1] == '/')
		n--;
	if (n > INT_MAX || snprintf(out, cap, "%.*s%s", (int)n, base, path)
	    >= (int)cap)
		return pam_fail(res, PAM_BAD_REQUEST, "PAM URL is too long");
	return 0;
}

/* pam_key_header - "X-PAM-Access-Key: <key>" in guarded memory. The key
 * is trimmed of surrounding whitespace (Secrets made with `echo` end in a
 * newline); control characters inside would split the header. */
static char *pam_key_header(const struct secret *key, struct pam_result *res)
{
	const unsigned char *k;
	size_t a = 0, z, i, hl = strlen(PAM_KEY_HEADER);
	char *hdr = NULL;

	if (!key || !key->buf) {
		pam_fail(res, PAM_BAD_REQUEST, "access key is missing");
		return NULL;
	}
	secret_open(key);
	k = key->buf;
	z = key->len;
	while (a < z && isspace(k[a]))
		a++;
	while (z > a && isspace(k[z - 1]))
		z--;
	for (i = a; i < z; i++)
		if (k[i] < 0x20 || k[i] == 0x7f)
			break;
	if (a == z || i < z)
		pam_fail(res, PAM_BAD_REQUEST, "access key is empty or "
			 "contains control characters");
	else if ((hdr = sodium_malloc(hl + (z - a) + 1)) != NULL) {
		memcpy(hdr, PAM_KEY_HEADER, hl);
		memcpy(hdr + hl, k + a, z - a);
		hdr[hl + (z - a)] = '\0';
	} else
		pam_fail(res, PAM_BAD_REQUEST, "out of guarded memory");
	secret_close(key);
	return hdr;
}

/* pam_retry_after - the seconds form of Retry-After, or -1. */
static int pam_retry_after(CURL *h)
{
	struct curl_header *hv = NULL;
	const char *s;
	long v = 0;

	if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hv) !=
	    CURLHE_OK || !hv || !hv->value)
		return -1;
	s = hv->value;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;	/* HTTP-date form: let the caller back off */
	for (; isdigit((unsigned char)*s); s++)
		if ((v = v * 10 + (*s - '0')) > 86400)
			v = 86400;	/* clamp: a day is the longest wait */
	return (int)v;
}

/* pam_map_status - non-200 HTTP answer to a pam_status and message. */
static int pam_map_status(long code, const char *what, struct pam_result *res)
{
	if (code == 401)
		return pam_fail(res, PAM_UNAUTHORIZED, "%s: HTTP 401: access "
				"key unknown or missing", what);
	if (code == 403)
		return pam_fail(res, PAM_FORBIDDEN, "%s: HTTP 403: access key "
				"may not read this vault", what);
	if (code == 404)
		return pam_fail(res, PAM_NOT_FOUND, "%s: HTTP 404: not found",
				what);
	if (code == 429)
		return pam_fail(res, PAM_RATE_LIMITED, "%s: HTTP 429: rate "
				"limited", what);
	if (code >= 500 && code <= 599)
		return pam_fail(res, PAM_SERVER_ERROR, "%s: HTTP %ld: PAM "
				"server error", what, code);
	return pam_fail(res, PAM_BAD_RESPONSE, "%s: unexpected HTTP %ld",
			what, code);
}

/*
 * pam_get - one GET of url with the key; on 200 the body is left in b.
 * Sets only what it resets: URL, headers, write callback, size limit.
 */
static int pam_get(CURL *h, const char *url, const struct secret *key,
		   const char *what, struct pam_body *b,
		   struct pam_result *res)
{
	static char accept[] = "Accept: application/json";
	struct curl_slist l_key, l_acc;
	char *hdr = pam_key_header(key, res);
	CURLcode rc;
	long code = 0;

	if (!hdr)
		return -1;
	if (sodium_init() < 0) {	/* idempotent; pam_write allocates */
		sodium_free(hdr);
		return pam_fail(res, PAM_BAD_REQUEST, "libsodium init failed");
	}
	/* The list is ours and points at guarded memory: curl_slist_append
	 * would strdup the key into plain heap. curl only reads the list. */
	l_key.data = hdr;
	l_key.next = &l_acc;
	l_acc.data = accept;
	l_acc.next = NULL;
	b->h = h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, &l_key);
	/* Never follow redirects: curl would resend our custom key header
	 * to whatever host a redirect names. */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)PAM_MAX_BODY);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, pam_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	res->http_code = (int)code;
	if (code == 429 || code == 503)
		res->retry_after = pam_retry_after(h);

	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_URL, NULL);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, stdout);
	sodium_free(hdr);

	/* A status that arrived decides, even if its body was cut short. */
	if (code != 0 && code != 200)
		return pam_map_status(code, what, res);
	if (b->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return pam_fail(res, PAM_TOO_LARGE, "%s: response larger than "
				"%d bytes refused", what, PAM_MAX_BODY);
	if (b->oom)
		return pam_fail(res, PAM_UNREACHABLE, "%s: out of guarded "
				"memory for the response", what);
	/* Name the server, so that a wrong URL is easy to spot. */
	if (rc != CURLE_OK)
		return pam_fail(res, PAM_UNREACHABLE, "%s: %s (%.120s)", what,
				curl_easy_strerror(rc), url);
	return 0;
}

/* pam_fetch - see pam_api.h. */
int pam_fetch(CURL *h, const char *base_url, const struct secret *key,
	      const char *vault_id, struct pam_item *out,
	      struct pam_result *res)
{
	struct pam_body b = { 0 };
	char url[PAM_MAX_URL], path[96], what[96];
	int rc;

	pam_result_init(res);
	memset(out, 0, sizeof(*out));
	if (!pam_vault_id_valid(vault_id))
		return pam_fail(res, PAM_BAD_REQUEST, "vault ID must be 1-64 "
				"hex digits or dashes");
	snprintf(path, sizeof(path), "/api/v1/vaults/%s", vault_id);
	snprintf(what, sizeof(what), "vault %s", vault_id);
	if (pam_build_url(url, sizeof(url), base_url, path, res) < 0)
		return -1;
	rc = pam_get(h, url, key, what, &b, res);
	if (rc == 0) {
		struct pam_result pr;

		rc = pam_parse_item((const char *)b.buf, b.len, out, &pr);
		if (rc < 0)
			pam_fail(res, pr.status, "%s: %.150s", what,
				 pr.message);
	}
	sodium_free(b.buf);
	return rc;
}

/* pam_ping - see pam_api.h. A 200 must also say {"ok":true}, so a URL
 * that points at some other web server is not mistaken for PAM. */
int pam_ping(CURL *h, const char *base_url, const struct secret *key,
	     struct pam_result *res)
{
	struct pam_body b = { 0 };
	char url[PAM_MAX_URL];
	cJSON *root;
	int rc;

	pam_result_init(res);
	if (pam_build_url(url, sizeof(url), base_url, "/api/v1/ping",
			  res) < 0)
		return -1;
	rc = pam_get(h, url, key, "ping", &b, res);
	if (rc < 0 && res->status == PAM_NOT_FOUND)
		rc = pam_fail(res, PAM_BAD_RESPONSE, "ping: HTTP 404: no PAM "
			      "API at this URL");
	if (rc == 0) {
		root = cJSON_ParseWithLength((const char *)b.buf, b.len);
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root,
								   "ok")))
			rc = pam_fail(res, PAM_BAD_RESPONSE, "ping: answer is "
				      "not {\"ok\":true}");
		cJSON_Delete(root);
	}
	sodium_free(b.buf);
	return rc;
}
