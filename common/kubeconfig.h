/*
 * kubeconfig - how to reach the Kubernetes API: from a kubeconfig file
 * (the current-context's cluster and user) or from the in-cluster
 * service-account mount.
 */
#ifndef PAMOP_KUBECONFIG_H
#define PAMOP_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct kube_creds {
	char *server;        /* "https://127.0.0.1:6443", no trailing slash */
	char *ca_pem;        /* CA bundle, PEM text (from -data or file); NULL: system */
	char *cert_pem;      /* client certificate PEM, or NULL */
	char *key_pem;       /* client key PEM, or NULL */
	char *token;         /* bearer token, or NULL */
	char *token_file;    /* file the token was read from (re-read on rotation), or NULL */
	char *namespace;     /* context namespace or in-cluster namespace; "default" if none */
	bool insecure;       /* insecure-skip-tls-verify */
};

/*
 * kubeconfig_load - fill c from path (a kubeconfig YAML file). Relative
 * file paths inside it resolve against the file's directory. On error
 * returns -1 and writes a one-line reason to err (never a credential).
 */
int kubeconfig_load(const char *path, struct kube_creds *c, char *err, size_t errlen);

/*
 * kubeconfig_in_cluster - fill c from KUBERNETES_SERVICE_HOST/PORT and
 * the files under dir (normally /var/run/secrets/kubernetes.io/serviceaccount:
 * token, ca.crt, namespace).
 */
int kubeconfig_in_cluster(const char *dir, struct kube_creds *c, char *err, size_t errlen);

/* kube_creds_reload_token - re-read token_file if set; 0 if unchanged or reloaded.
 * c->token is replaced (new pointer) only when the contents changed; on
 * -1 (unreadable or empty file) the old token stays. */
int kube_creds_reload_token(struct kube_creds *c);

/* kube_creds_free - wipe and free every field. */
void kube_creds_free(struct kube_creds *c);

#endif
