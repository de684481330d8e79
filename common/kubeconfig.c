/*
 * kubeconfig - API server address and credentials from a kubeconfig file
 * or from the in-cluster service-account mount (kubeconfig.h).
 *
 * The file is loaded whole with libyaml's document API and only the
 * current context's cluster and user are looked at. Where a field has
 * both forms, "-data" (base64) wins over the file path, and an inline
 * token wins over tokenFile, as kubectl does. Error messages name fields,
 * entries and paths, never a value, so they are safe to log.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <yaml.h>

#include "kubeconfig.h"
#include "util.h"

#define KC_MAX_FILE (4u << 20)	/* the kubeconfig itself */
#define KC_MAX_PART (1u << 20)	/* a CA bundle, certificate, key or token */

/* Parse state for one kubeconfig file. */
struct kc {
	yaml_document_t doc;
	char *dir;		/* the file's directory, for relative paths */
	char *err;
	size_t errlen;
};

/* kc_fail - record the reason for an error; always returns -1. */
static int __attribute__((format(printf, 3, 4)))
kc_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* kc_trim - strip leading and trailing whitespace in place. */
static void
kc_trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

/*
 * kc_read_token - read a token file, trimmed. Rotating writers leave a
 * trailing newline, which must not reach the Authorization header.
 */
static int
kc_read_token(const char *path, char **out)
{
	char *t;

	if (util_read_file(path, &t, NULL, KC_MAX_PART) < 0)
		return -1;
	kc_trim(t);
	if (*t == '\0') {
		free(t);
		errno = ENODATA;
		return -1;
	}
	*out = t;
	return 0;
}

/* kc_node - node by index, or NULL. */
static yaml_node_t *
kc_node(struct kc *k, int i)
{
	return yaml_document_get_node(&k->doc, i);
}

/*
 * kc_is_null - YAML's spellings of "no value" in plain style; an absent
 * field and an explicit null mean the same here.
 */
static bool
kc_is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* kc_scalar_eq - true if n is a scalar with exactly the text s. */
static bool
kc_scalar_eq(const yaml_node_t *n, const char *s)
{
	size_t len = strlen(s);

	return n != NULL && n->type == YAML_SCALAR_NODE &&
	    n->data.scalar.length == len &&
	    memcmp(n->data.scalar.value, s, len) == 0;
}

/* kc_get - the value under key in mapping map, or NULL. */
static yaml_node_t *
kc_get(struct kc *k, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		if (kc_scalar_eq(kc_node(k, p->key), key))
			return kc_node(k, p->value);
	}
	return NULL;
}

/*
 * kc_str - the string under key in map: *out is NULL when absent or
 * null. Other node types and embedded NULs are errors naming where.
 */
static int
kc_str(struct kc *k, yaml_node_t *map, const char *key, const char *where,
    const char **out)
{
	yaml_node_t *n = kc_get(k, map, key);

	*out = NULL;
	if (n == NULL || (n->type == YAML_SCALAR_NODE && kc_is_null(n)))
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return kc_fail(k->err, k->errlen,
		    "kubeconfig: %s: %s must be a string", where, key);
	if (strlen((const char *)n->data.scalar.value) !=
	    n->data.scalar.length)
		return kc_fail(k->err, k->errlen,
		    "kubeconfig: %s: %s contains a NUL byte", where, key);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

/* kc_list - the sequence under key in the root; NULL if absent or null. */
static int
kc_list(struct kc *k, yaml_node_t *root, const char *key, yaml_node_t **out)
{
	yaml_node_t *n = kc_get(k, root, key);

	*out = NULL;
	if (n == NULL || (n->type == YAML_SCALAR_NODE && kc_is_null(n)))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return kc_fail(k->err, k->errlen,
		    "kubeconfig: %s must be a list", key);
	*out = n;
	return 0;
}

/*
 * kc_named - find the entry called name in root's list (clusters, users,
 * contexts) and return its inner mapping (cluster, user, context) in
 * *out, NULL if the entry has none. The first entry of a name wins.
 * Returns 1 found, 0 not found, -1 error.
 */
static int
kc_named(struct kc *k, yaml_node_t *root, const char *list,
    const char *inner, const char *name, yaml_node_t **out)
{
	yaml_node_t *seq, *item, *in;
	yaml_node_item_t *i;

	*out = NULL;
	if (kc_list(k, root, list, &seq) < 0)
		return -1;
	if (seq == NULL)
		return 0;
	for (i = seq->data.sequence.items.start;
	    i < seq->data.sequence.items.top; i++) {
		item = kc_node(k, *i);
		if (!kc_scalar_eq(kc_get(k, item, "name"), name))
			continue;
		in = kc_get(k, item, inner);
		if (in != NULL && in->type != YAML_MAPPING_NODE &&
		    !(in->type == YAML_SCALAR_NODE && kc_is_null(in)))
			return kc_fail(k->err, k->errlen,
			    "kubeconfig: %s \"%s\": %s must be a mapping",
			    list, name, inner);
		*out = in != NULL && in->type == YAML_MAPPING_NODE ? in : NULL;
		return 1;
	}
	return 0;
}

/*
 * kc_only_context - with no current-context, the name of the one context
 * there is; kubectl would refuse, but a single context leaves no doubt.
 */
static int
kc_only_context(struct kc *k, yaml_node_t *root, const char **name)
{
	yaml_node_t *seq;
	size_t n = 0;

	if (kc_list(k, root, "contexts", &seq) < 0)
		return -1;
	if (seq != NULL)
		n = (size_t)(seq->data.sequence.items.top -
		    seq->data.sequence.items.start);
	if (n != 1)
		return kc_fail(k->err, k->errlen, "kubeconfig: no "
		    "current-context set and %zu contexts to choose from", n);
	return kc_str(k, kc_node(k, seq->data.sequence.items.start[0]),
	    "name", "contexts[0]", name);
}

/* kc_path - p made absolute against the kubeconfig's directory. */
static char *
kc_path(struct kc *k, const char *p)
{
	if (p[0] == '/')
		return util_xstrdup(p);
	return util_strdup_printf("%s/%s", k->dir, p);
}

/*
 * kc_data_or_file - PEM text from base64 field dkey, else from the file
 * named by fkey; *out stays NULL if neither is set.
 */
static int
kc_data_or_file(struct kc *k, yaml_node_t *map, const char *dkey,
    const char *fkey, const char *where, char **out)
{
	const char *data, *file;
	unsigned char *bin;
	char *b64, *path;
	size_t i, j, len;
	int rc;

	if (kc_str(k, map, dkey, where, &data) < 0 ||
	    kc_str(k, map, fkey, where, &file) < 0)
		return -1;

	if (data != NULL) {
		/* Line breaks are common in hand-edited files; drop them. */
		b64 = util_xstrdup(data);
		for (i = j = 0; b64[i] != '\0'; i++)
			if (!isspace((unsigned char)b64[i]))
				b64[j++] = b64[i];
		b64[j] = '\0';
		rc = util_b64_decode(b64, &bin, &len);
		util_wipe_free(b64);
		if (rc < 0)
			return kc_fail(k->err, k->errlen,
			    "kubeconfig: %s: %s is not valid base64", where, dkey);
		if (strlen((char *)bin) != len) {
			sodium_memzero(bin, len);
			free(bin);
			return kc_fail(k->err, k->errlen,
			    "kubeconfig: %s: %s is not PEM text", where, dkey);
		}
		*out = (char *)bin;
		return 0;
	}

	if (file != NULL) {
		path = kc_path(k, file);
		if (util_read_file(path, out, &len, KC_MAX_PART) < 0) {
			rc = errno;
			kc_fail(k->err, k->errlen, "kubeconfig: %s: cannot read "
			    "%s \"%s\": %s", where, fkey, path, strerror(rc));
			free(path);
			return -1;
		}
		if (strlen(*out) != len) {
			kc_fail(k->err, k->errlen, "kubeconfig: %s: %s \"%s\" is "
			    "not PEM text", where, fkey, path);
			sodium_memzero(*out, len);
			free(*out);
			*out = NULL;
			free(path);
			return -1;
		}
		free(path);
	}
	return 0;
}

/* kc_bool - a YAML 1.1 boolean under key (as client-go reads them). */
static int
kc_bool(struct kc *k, yaml_node_t *map, const char *key, const char *where,
    bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes",
	    "Yes", "YES", "on", "On", "ON", "y", "Y" };
	static const char *const no[] = { "false", "False", "FALSE", "no",
	    "No", "NO", "off", "Off", "OFF", "n", "N" };
	const char *v;
	size_t i;

	*out = false;
	if (kc_str(k, map, key, where, &v) < 0)
		return -1;
	if (v == NULL)
		return 0;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0)
			return 0;
	}
	return kc_fail(k->err, k->errlen,
	    "kubeconfig: %s: %s must be true or false", where, key);
}

/* kc_cluster - server, CA and TLS verification from the cluster entry. */
static int
kc_cluster(struct kc *k, yaml_node_t *cl, const char *name,
    struct kube_creds *c)
{
	char where[300];
	const char *server;
	size_t n;

	snprintf(where, sizeof(where), "cluster \"%s\"", name);
	if (kc_str(k, cl, "server", where, &server) < 0)
		return -1;
	if (server == NULL || *server == '\0')
		return kc_fail(k->err, k->errlen, "kubeconfig: %s has no server",
		    where);
	c->server = util_xstrdup(server);
	n = strlen(c->server);
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = '\0';

	if (kc_data_or_file(k, cl, "certificate-authority-data",
	    "certificate-authority", where, &c->ca_pem) < 0 ||
	    kc_bool(k, cl, "insecure-skip-tls-verify", where, &c->insecure) < 0)
		return -1;
	/* Same refusal as client-go: a pinned CA and no checking contradict. */
	if (c->insecure && c->ca_pem != NULL)
		return kc_fail(k->err, k->errlen, "kubeconfig: %s sets both a "
		    "certificate authority and insecure-skip-tls-verify", where);
	return 0;
}

/* kc_user - client certificate, key and bearer token from the user entry. */
static int
kc_user(struct kc *k, yaml_node_t *u, const char *name, struct kube_creds *c)
{
	char where[300];
	const char *token, *tfile;
	char *path;
	int rc;

	snprintf(where, sizeof(where), "user \"%s\"", name);
	if (kc_data_or_file(k, u, "client-certificate-data",
	    "client-certificate", where, &c->cert_pem) < 0 ||
	    kc_data_or_file(k, u, "client-key-data", "client-key", where,
	    &c->key_pem) < 0)
		return -1;
	if ((c->cert_pem == NULL) != (c->key_pem == NULL))
		return kc_fail(k->err, k->errlen, "kubeconfig: %s has a client "
		    "%s but no client %s", where,
		    c->cert_pem != NULL ? "certificate" : "key",
		    c->cert_pem != NULL ? "key" : "certificate");

	if (kc_str(k, u, "token", where, &token) < 0 ||
	    kc_str(k, u, "tokenFile", where, &tfile) < 0)
		return -1;
	if (token != NULL && *token != '\0') {
		c->token = util_xstrdup(token);
	} else if (tfile != NULL && *tfile != '\0') {
		path = kc_path(k, tfile);
		if (kc_read_token(path, &c->token) < 0) {
			rc = errno;
			kc_fail(k->err, k->errlen, "kubeconfig: %s: cannot read "
			    "tokenFile \"%s\": %s", where, path, strerror(rc));
			free(path);
			return -1;
		}
		c->token_file = path;
	}

	/* Plugins are not run: say so instead of failing to authenticate. */
	if (c->token == NULL && c->cert_pem == NULL &&
	    (kc_get(k, u, "exec") != NULL ||
	    kc_get(k, u, "auth-provider") != NULL))
		return kc_fail(k->err, k->errlen, "kubeconfig: %s uses exec or "
		    "auth-provider, which is not supported", where);
	return 0;
}

/* kc_resolve - walk current-context to its cluster and user. */
static int
kc_resolve(struct kc *k, struct kube_creds *c)
{
	yaml_node_t *root = yaml_document_get_root_node(&k->doc);
	yaml_node_t *ctx, *cl, *u;
	const char *cur, *cname, *uname, *ns;
	char where[300];
	int rc;

	if (root == NULL)
		return kc_fail(k->err, k->errlen, "kubeconfig: file is empty");
	if (root->type != YAML_MAPPING_NODE)
		return kc_fail(k->err, k->errlen,
		    "kubeconfig: top level is not a mapping");

	if (kc_str(k, root, "current-context", "top level", &cur) < 0)
		return -1;
	if ((cur == NULL || *cur == '\0') && kc_only_context(k, root, &cur) < 0)
		return -1;
	if (cur == NULL)
		return kc_fail(k->err, k->errlen, "kubeconfig: context has no name");
	if ((rc = kc_named(k, root, "contexts", "context", cur, &ctx)) <= 0)
		return rc < 0 ? -1 : kc_fail(k->err, k->errlen,
		    "kubeconfig: current-context \"%s\" not found", cur);

	snprintf(where, sizeof(where), "context \"%s\"", cur);
	if (kc_str(k, ctx, "cluster", where, &cname) < 0 ||
	    kc_str(k, ctx, "user", where, &uname) < 0 ||
	    kc_str(k, ctx, "namespace", where, &ns) < 0)
		return -1;
	if (cname == NULL || *cname == '\0')
		return kc_fail(k->err, k->errlen,
		    "kubeconfig: %s names no cluster", where);
	if ((rc = kc_named(k, root, "clusters", "cluster", cname, &cl)) <= 0)
		return rc < 0 ? -1 : kc_fail(k->err, k->errlen,
		    "kubeconfig: cluster \"%s\" not found", cname);
	if (kc_cluster(k, cl, cname, c) < 0)
		return -1;

	/* A context without a user talks to the API anonymously. */
	if (uname != NULL && *uname != '\0') {
		if ((rc = kc_named(k, root, "users", "user", uname, &u)) <= 0)
			return rc < 0 ? -1 : kc_fail(k->err, k->errlen,
			    "kubeconfig: user \"%s\" not found", uname);
		if (kc_user(k, u, uname, c) < 0)
			return -1;
	}

	c->namespace = util_xstrdup(ns != NULL && *ns != '\0' ? ns : "default");
	return 0;
}

/*
 * kc_dir - absolute directory of path, without resolving symlinks:
 * Kubernetes mounts swap a "..data" symlink on update, and paths must
 * keep following it.
 */
static char *
kc_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *cwd, *abs;

	if (slash == NULL)
		dir = util_xstrdup(".");
	else if (slash == path)
		dir = util_xstrdup("/");
	else
		dir = util_strdup_printf("%.*s", (int)(slash - path), path);
	if (dir[0] == '/')
		return dir;
	if ((cwd = getcwd(NULL, 0)) == NULL)
		return dir;	/* relative still works while cwd stays */
	abs = strcmp(dir, ".") == 0 ? util_xstrdup(cwd) :
	    util_strdup_printf("%s/%s", cwd, dir);
	free(cwd);
	free(dir);
	return abs;
}

/*
 * kc_wipe_doc - zero every scalar before libyaml frees it: the document
 * holds the token and key data as text.
 * XXX: libyaml's scanner frees temporary copies without zeroing; only a
 * patched libyaml could wipe those.
 */
static void
kc_wipe_doc(yaml_document_t *doc)
{
	yaml_node_t *n;

	for (n = doc->nodes.start; n != NULL && n < doc->nodes.top; n++) {
		if (n->type == YAML_SCALAR_NODE && n->data.scalar.value != NULL)
			sodium_memzero(n->data.scalar.value,
			    n->data.scalar.length);
	}
}

/* kc_wipe_parser - zero libyaml's copies of the input. */
static void
kc_wipe_parser(yaml_parser_t *p)
{
	if (p->buffer.start != NULL)
		sodium_memzero(p->buffer.start,
		    (size_t)(p->buffer.end - p->buffer.start));
	if (p->raw_buffer.start != NULL)
		sodium_memzero(p->raw_buffer.start,
		    (size_t)(p->raw_buffer.end - p->raw_buffer.start));
}

/* kubeconfig_load - see kubeconfig.h. */
int
kubeconfig_load(const char *path, struct kube_creds *c, char *err,
    size_t errlen)
{
	struct kc k;
	yaml_parser_t parser;
	char *text;
	size_t len;
	int rc;

	memset(c, 0, sizeof(*c));
	if (util_read_file(path, &text, &len, KC_MAX_FILE) < 0) {
		rc = errno;
		return kc_fail(err, errlen, "kubeconfig: cannot read \"%s\": %s",
		    path, strerror(rc));
	}

	memset(&k, 0, sizeof(k));
	k.err = err;
	k.errlen = errlen;
	if (!yaml_parser_initialize(&parser)) {
		util_wipe_free(text);
		return kc_fail(err, errlen, "kubeconfig: out of memory");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &k.doc)) {
		/* libyaml's problem texts describe syntax, never content. */
		rc = kc_fail(err, errlen, "kubeconfig: \"%s\" line %zu: %s",
		    path, parser.problem_mark.line + 1,
		    parser.problem != NULL ? parser.problem : "invalid YAML");
		kc_wipe_parser(&parser);
		yaml_parser_delete(&parser);
		util_wipe_free(text);
		return rc;
	}
	kc_wipe_parser(&parser);
	yaml_parser_delete(&parser);
	util_wipe_free(text);

	k.dir = kc_dir(path);
	rc = kc_resolve(&k, c);
	kc_wipe_doc(&k.doc);
	yaml_document_delete(&k.doc);
	free(k.dir);
	if (rc < 0)
		kube_creds_free(c);
	return rc;
}

/* kc_service_host - host for a URL: IPv6 literals need brackets. */
static char *
kc_service_host(const char *host)
{
	if (strchr(host, ':') != NULL && host[0] != '[')
		return util_strdup_printf("[%s]", host);
	return util_xstrdup(host);
}

/* kubeconfig_in_cluster - see kubeconfig.h. */
int
kubeconfig_in_cluster(const char *dir, struct kube_creds *c, char *err,
    size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char *h, *path;
	int rc;

	memset(c, 0, sizeof(*c));
	if (host == NULL || *host == '\0' || port == NULL || *port == '\0')
		return kc_fail(err, errlen, "in-cluster: KUBERNETES_SERVICE_HOST "
		    "and KUBERNETES_SERVICE_PORT must be set");
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
	    atoi(port) < 1 || atoi(port) > 65535)
		return kc_fail(err, errlen, "in-cluster: "
		    "KUBERNETES_SERVICE_PORT is not a port number");
	if (strpbrk(host, "/?#@ ") != NULL)
		return kc_fail(err, errlen, "in-cluster: "
		    "KUBERNETES_SERVICE_HOST is not a host name or address");
	h = kc_service_host(host);
	c->server = util_strdup_printf("https://%s:%s", h, port);
	free(h);

	c->token_file = util_strdup_printf("%s/token", dir);
	if (kc_read_token(c->token_file, &c->token) < 0) {
		rc = errno;
		kc_fail(err, errlen, "in-cluster: cannot read \"%s\": %s",
		    c->token_file, strerror(rc));
		goto fail;
	}

	/* Fail closed: without the cluster CA there is nothing to pin. */
	path = util_strdup_printf("%s/ca.crt", dir);
	if (util_read_file(path, &c->ca_pem, NULL, KC_MAX_PART) < 0) {
		rc = errno;
		kc_fail(err, errlen, "in-cluster: cannot read \"%s\": %s", path,
		    strerror(rc));
		free(path);
		goto fail;
	}
	free(path);

	path = util_strdup_printf("%s/namespace", dir);
	if (util_read_file(path, &c->namespace, NULL, 4096) == 0)
		kc_trim(c->namespace);
	free(path);
	if (c->namespace == NULL || *c->namespace == '\0') {
		free(c->namespace);
		c->namespace = util_xstrdup("default");
	}
	return 0;

fail:
	kube_creds_free(c);
	return -1;
}

/*
 * kube_creds_reload_token - see kubeconfig.h. c->token is replaced only
 * when the file's contents changed, so a caller can compare pointers to
 * learn whether to pass the new token on. On error the old token stays.
 */
int
kube_creds_reload_token(struct kube_creds *c)
{
	char *t;

	if (c->token_file == NULL)
		return 0;
	if (kc_read_token(c->token_file, &t) < 0)
		return -1;
	if (c->token != NULL && strcmp(t, c->token) == 0) {
		util_wipe_free(t);
		return 0;
	}
	util_wipe_free(c->token);
	c->token = t;
	return 0;
}

/* kube_creds_free - see kubeconfig.h. */
void
kube_creds_free(struct kube_creds *c)
{
	util_wipe_free(c->server);
	util_wipe_free(c->ca_pem);
	util_wipe_free(c->cert_pem);
	util_wipe_free(c->key_pem);
	util_wipe_free(c->token);
	util_wipe_free(c->token_file);
	util_wipe_free(c->namespace);
	memset(c, 0, sizeof(*c));
}
