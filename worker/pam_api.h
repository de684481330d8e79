/*
 * pam_api - the worker's client for the Monofor PAM REST API.
 *
 * The only module that knows the wire contract (docs/pam-api.md): URL
 * layout, auth header, JSON shapes, status codes. Adapting to the
 * vendor's real API should touch this module alone. Values and the
 * access key stay in guarded memory (secret.h); messages in
 * struct pam_result name vault ids, HTTP codes and types, never values.
 */
#ifndef PAMOP_PAM_API_H
#define PAMOP_PAM_API_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "secret.h"

#define PAM_MAX_BODY (1024 * 1024)	/* larger responses are refused */
#define PAM_MAX_PROPS 8

struct pam_prop {
	char *name;		/* property name (not secret), malloc'd */
	struct secret value;	/* byte-exact value, guarded, no-access */
};

struct pam_item {
	char type[32];		/* "SecretText", "UserNamePassword", ... */
	size_t nprops;
	struct pam_prop props[PAM_MAX_PROPS];
	int valid_for;		/* OTP: seconds the code stays valid, else 0 */
};

enum pam_status {
	PAM_OK,
	PAM_UNAUTHORIZED,	/* 401: key unknown or missing */
	PAM_FORBIDDEN,		/* 403: key may not read this vault */
	PAM_NOT_FOUND,		/* 404: no such vault */
	PAM_RATE_LIMITED,	/* 429: see retry_after */
	PAM_SERVER_ERROR,	/* 5xx */
	PAM_UNREACHABLE,	/* connect, TLS, timeout: no HTTP answer */
	PAM_BAD_RESPONSE,	/* other status, bad JSON, wrong shape */
	PAM_TOO_LARGE,		/* body over PAM_MAX_BODY */
	PAM_BAD_REQUEST,	/* refused locally: bad vault id, base URL */
};

struct pam_result {
	enum pam_status status;
	int http_code;		/* 0 when no HTTP answer arrived */
	int retry_after;	/* seconds from Retry-After, -1 if absent */
	char message[256];	/* human text; never contains secrets */
};

/*
 * pam_fetch - GET {base_url}/api/v1/vaults/{vault_id} with the key and
 * parse it into out (zeroed first; free with pam_item_free even on
 * error). h is the caller's configured easy handle (CA, timeouts,
 * resolve, allowed protocols); this sets URL, headers, the write
 * callback and a size limit and clears them afterwards, and leaves GET,
 * no redirects and no verbose output set (all curl defaults). Returns 0
 * on PAM_OK, else -1 with res filled in.
 */
int pam_fetch(CURL *h, const char *base_url, const struct secret *key,
	      const char *vault_id, struct pam_item *out,
	      struct pam_result *res);

/* pam_ping - GET {base_url}/api/v1/ping: 0 when the key is accepted. */
int pam_ping(CURL *h, const char *base_url, const struct secret *key,
	     struct pam_result *res);

/*
 * pam_parse_item - parse a 200 body (len bytes, need not be NUL-
 * terminated) into out. Keeps only the properties listed for the type;
 * the body is not modified. Returns 0, or -1 with res->status
 * PAM_BAD_RESPONSE.
 */
int pam_parse_item(const char *body, size_t len, struct pam_item *out,
		   struct pam_result *res);

/* pam_item_free - wipe and release all values; leaves *it zeroed. */
void pam_item_free(struct pam_item *it);

/* pam_item_get - the property called name, or NULL. */
const struct secret *pam_item_get(const struct pam_item *it,
				  const char *name);

/* pam_status_reason - CamelCase condition reason ("PAMForbidden", ...). */
const char *pam_status_reason(enum pam_status s);

/* pam_vault_id_valid - true when id matches [0-9a-fA-F-]{1,64}. */
bool pam_vault_id_valid(const char *id);

/* pam_type_properties - NULL-terminated property names of a vault type,
 * or NULL for an unknown type. */
const char *const *pam_type_properties(const char *type);

/* pam_type_has_property - true when type is known and lists prop. */
bool pam_type_has_property(const char *type, const char *prop);

#endif
