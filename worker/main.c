/*
 * pam-worker - the only process that holds PAM access keys and vault
 * values. Exec'd by the supervisor with the IPC address to dial; it
 * loads what it needs (Kubernetes credentials, CA bundles, libcurl),
 * enters its sandbox, then serves one job at a time until the channel
 * closes. See docs/security.md.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <sodium.h>

#include "job.h"
#include "kubeconfig.h"
#include "log.h"
#include "proto.h"
#include "sandbox.h"
#include "util.h"
#include "wipe.h"

#define SYSTEM_CA "/etc/ssl/certs/ca-certificates.crt"

struct opts {
	const char *ipc;
	const char *kubeconfig;
	const char *in_cluster;
	const char *pam_ca;
	const char *log_format;
	const char *log_level;
	const char *sandbox;
	bool test_jobs;
};

static void usage(void)
{
	fprintf(stderr, "usage: pam-worker --ipc URL (--kubeconfig FILE | --in-cluster DIR)\n"
	    "  [--pam-ca-file FILE] [--log-format logfmt|json] [--log-level LEVEL]\n"
	    "  [--sandbox on|debug|off] [--enable-test-jobs]\n"
	    "Started by the manager; not meant to be run by hand.\n");
	exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "ipc", required_argument, NULL, 'i' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "in-cluster", required_argument, NULL, 'c' },
		{ "pam-ca-file", required_argument, NULL, 'a' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "sandbox", required_argument, NULL, 's' },
		{ "enable-test-jobs", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->sandbox = "on";
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': o->ipc = optarg; break;
		case 'k': o->kubeconfig = optarg; break;
		case 'c': o->in_cluster = optarg; break;
		case 'a': o->pam_ca = optarg; break;
		case 'f': o->log_format = optarg; break;
		case 'l': o->log_level = optarg; break;
		case 's': o->sandbox = optarg; break;
		case 'T': o->test_jobs = true; break;
		default: usage();
		}
	}
	if (o->ipc == NULL || (o->kubeconfig == NULL) == (o->in_cluster == NULL))
		usage();
}

/* load_pam_ca - the system bundle plus the operator's extra CA, in memory,
 * so that TLS to PAM never opens a file after the sandbox is on. */
static char *load_pam_ca(const char *extra)
{
	char *sys = NULL, *add = NULL, *all;
	size_t sl = 0, al = 0;

	util_read_file(SYSTEM_CA, &sys, &sl, 16 << 20);
	if (extra && util_read_file(extra, &add, &al, 16 << 20) != 0) {
		log_kv(LOG_ERROR, "cannot read --pam-ca-file", "file", extra, NULL);
		exit(1);
	}
	all = util_strdup_printf("%s\n%s", sys ? sys : "", add ? add : "");
	free(sys);
	free(add);
	return all;
}

static CURL *pam_handle(const char *ca)
{
	CURL *h = curl_easy_init();
	struct curl_blob blob = { (void *)ca, strlen(ca), CURL_BLOB_COPY };

	if (h == NULL)
		return NULL;
	curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "pam-operator/" PAMOP_VERSION);
	return h;
}

/* test_job - a job that exists to prove the isolation (tests only):
 * make a forbidden syscall, or answer with bytes the supervisor must
 * refuse. Returns 0 to keep serving, 3 to stop. */
static int test_job(nng_socket s, const struct proto_job *j, bool enabled)
{
	/* valid header, one field with a tag no table has */
	static const unsigned char bad[] = { 'P', 'M', 'O', 'P', 0, PROTO_VERSION,
	    0, PROTO_RESULT, 0, 0, 0, 6, 0, 99, 0, 0, 0, 0 };

	if (!enabled) {
		log_kv(LOG_ERROR, "test job refused: not started with --enable-test-jobs", NULL);
		return 3;
	}
	if (j->kind == JOB_TEST_FORBIDDEN) {
		log_kv(LOG_WARN, "test job: making a forbidden syscall", NULL);
		sandbox_test_violation();
		log_kv(LOG_WARN, "test job: the forbidden syscall was allowed", NULL);
	} else {
		log_kv(LOG_WARN, "test job: answering with a malformed result", NULL);
	}
	return nng_send(s, (void *)bad, sizeof(bad), 0) == 0 ? 0 : 3;
}

/* serve - one job in, one result out, until the supervisor goes away. */
static int serve(nng_socket s, struct kube_client *kube, CURL *pam, bool test_jobs)
{
	for (;;) {
		unsigned char *buf = NULL, *out = NULL;
		size_t len = 0, olen = 0;
		struct proto_job j;
		struct proto_result r;
		struct curl_slist *names = NULL;
		char err[128];
		int rv;

		if ((rv = nng_recv(s, &buf, &len, NNG_FLAG_ALLOC)) != 0) {
			log_kv(LOG_INFO, "channel closed", "error", nng_strerror(rv), NULL);
			return 0;
		}
		rv = proto_decode_job(buf, len, &j, err, sizeof(err));
		nng_free(buf, len);
		if (rv == 0 && j.resolve[0] != '\0' &&
		    (names = job_resolve_list(j.resolve, err, sizeof(err))) == NULL) {
			proto_job_free(&j);
			rv = -1;
		}
		if (rv != 0) {
			log_kv(LOG_ERROR, "malformed job from supervisor", "error", err, NULL);
			return 3;
		}
		if (j.kind == JOB_TEST_FORBIDDEN || j.kind == JOB_TEST_MALFORMED) {
			rv = test_job(s, &j, test_jobs);
			curl_slist_free_all(names);
			proto_job_free(&j);
			if (rv != 0)
				return rv;
			continue;
		}
		if (j.kube_token[0] != '\0')
			kube_client_set_token(kube, j.kube_token);
		/* This job's addresses for the PAM and API hosts (see resolve.c). */
		curl_easy_setopt(pam, CURLOPT_RESOLVE, names);
		kube->resolve = names;
		memset(&r, 0, sizeof(r));
		job_run(kube, pam, &j, &r);
		curl_easy_setopt(pam, CURLOPT_RESOLVE, NULL);
		kube->resolve = NULL;
		curl_slist_free_all(names);
		log_kv(r.reason[0] ? LOG_WARN : LOG_DEBUG, "job done", "object", j.name,
		    "namespace", j.ns, "reason", r.reason[0] ? r.reason : "Synced", NULL);
		proto_job_free(&j);
		if (proto_encode_result(&r, &out, &olen) < 0) {
			log_kv(LOG_ERROR, "result too large to encode", NULL);
			proto_result_free(&r);
			return 3;
		}
		proto_result_free(&r);
		rv = nng_send(s, out, olen, 0);
		free(out);
		if (rv != 0) {
			log_kv(LOG_INFO, "channel closed", "error", nng_strerror(rv), NULL);
			return 0;
		}
	}
}

#if defined(__SANITIZE_ADDRESS__)
#define WORKER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORKER_ASAN 1
#endif
#endif
#ifdef WORKER_ASAN
static bool sandboxed;

/* __lsan_is_turned_off - LeakSanitizer asks before its check at exit.
 * The check stops the world with a new process and ptrace, which the
 * sandbox kills; a sandboxed worker's leaks are valgrind's to find. */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return sandboxed;
}
#endif

int main(int argc, char **argv)
{
	struct opts o;
	struct kube_creds creds;
	struct kube_client kube = { 0 };
	char err[256];
	nng_socket s = NNG_SOCKET_INITIALIZER;
	CURL *pam = NULL;
	char *ca = NULL;
	int rv = 1, lvl;

	parse_opts(argc, argv, &o);
	lvl = o.log_level ? log_level_parse(o.log_level) : LOG_INFO;
	log_init("worker", o.log_format && strcmp(o.log_format, "json") == 0,
	    lvl < 0 ? LOG_INFO : (enum log_level)lvl);
	signal(SIGPIPE, SIG_IGN);

	/* Load: everything that needs a file or a fresh library state. */
	if (wipe_init() != 0 || sodium_init() < 0) {
		log_kv(LOG_ERROR, "library initialisation failed", NULL);
		return 1;
	}
	if ((o.kubeconfig ? kubeconfig_load(o.kubeconfig, &creds, err, sizeof(err)) :
	    kubeconfig_in_cluster(o.in_cluster, &creds, err, sizeof(err))) != 0) {
		log_kv(LOG_ERROR, "cannot load Kubernetes credentials", "error", err, NULL);
		return 1;
	}
	ca = load_pam_ca(o.pam_ca);
	if ((pam = pam_handle(ca)) == NULL || kube_client_init(&kube, &creds) != 0) {
		log_kv(LOG_ERROR, "libcurl handle setup failed", NULL);
		goto out;
	}
	if ((rv = nng_pair0_open(&s)) != 0 || (rv = nng_dial(s, o.ipc, NULL, 0)) != 0) {
		log_kv(LOG_ERROR, "cannot reach the supervisor", "error", nng_strerror(rv), NULL);
		rv = 1;
		goto out;
	}
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, PROTO_MAX_MSG);

	/* Drop and restrict: from here on, no files, no processes. */
	if (sandbox_enter(o.sandbox) != 0) {
		log_kv(LOG_ERROR, "sandbox could not be installed; refusing to run", NULL);
		rv = 1;
		goto out;
	}
#ifdef WORKER_ASAN
	sandboxed = strcmp(o.sandbox, "off") != 0;
#endif
	log_kv(LOG_INFO, "worker ready", "sandbox", o.sandbox, "file_size_limit",
	    sandbox_fsize_limited() ? "0" : "none (a standard descriptor is a file)", NULL);

	rv = serve(s, &kube, pam, o.test_jobs);
out:
	nng_close(s);
	if (pam)
		curl_easy_cleanup(pam);
	kube_client_free(&kube);
	kube_creds_free(&creds);
	free(ca);
	return rv;
}
