/*
 * pamsim - a Monofor PAM simulator for tests and the demo. Serves the
 * contract in docs/pam-api.md on a loopback address (HTTPS, or plain
 * HTTP when asked), plus an admin endpoint for counters and faults.
 * Usage: pamsim --help; details in pamsim/README.md.
 */
#include "sim.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/supplemental/tls/tls.h>
#include <sodium.h>

#include "log.h"
#include "util.h"

#ifndef PAMOP_VERSION
#define PAMOP_VERSION "dev"
#endif

struct opts {
	const char *listen, *admin_listen, *vaults;
	const char *tls_cert, *tls_key;
	bool plain_http, log_json;
	int log_level;
};

static volatile sig_atomic_t got_stop, got_hup;

/* on_signal - only note the signal; the main loop acts on it. */
static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
}

/* usage - the flag summary, to out. */
static void usage(FILE *out)
{
	fprintf(out,
"usage: pamsim --listen ADDR:PORT (--tls-cert F --tls-key F | --plain-http)\n"
"              (--access-key KEY | --access-key-file F)... [--vaults F]\n"
"              [--admin-listen ADDR:PORT] [--log-level L] [--log-json]\n"
"ADDR must be a loopback address (127.x.x.x or [::1]); PORT 0 picks one\n"
"and the log line \"listening\" names it. SIGHUP reloads --vaults.\n");
}

/* listen_url - "ADDR:PORT" to an nng URL, refusing non-loopback hosts
 * so the simulator can never be reached from another machine. */
static int listen_url(const char *addr, const char *scheme, char *url,
		      size_t cap)
{
	char host[64];
	const char *port, *end;
	struct in_addr a4;
	struct in6_addr a6;
	bool v6 = addr[0] == '[';
	unsigned long p;

	end = v6 ? strchr(addr, ']') : strrchr(addr, ':');
	if (!end || (size_t)(end - addr) >= sizeof(host))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(end - addr - v6),
		 addr + v6);
	port = end + 1 + v6;
	if (v6 ? end[1] != ':' || inet_pton(AF_INET6, host, &a6) != 1 ||
		 !IN6_IS_ADDR_LOOPBACK(&a6)
	       : inet_pton(AF_INET, host, &a4) != 1 ||
		 (ntohl(a4.s_addr) >> 24) != 127)
		return -1;
	if (!*port || strspn(port, "0123456789") != strlen(port) ||
	    strlen(port) > 5 || (p = strtoul(port, NULL, 10)) > 65535)
		return -1;
	snprintf(url, cap, v6 ? "%s://[%s]:%lu" : "%s://%s:%lu", scheme, host,
		 p);
	return 0;
}

/* set_tls - load the PEM cert and key into a server TLS config. */
static int set_tls(nng_http_server *srv, const struct opts *o)
{
	nng_tls_config *cfg = NULL;
	char *cert = NULL, *key = NULL;
	size_t klen = 0;
	int rv = -1;

	if (util_read_file(o->tls_cert, &cert, NULL, 1 << 20) < 0 ||
	    util_read_file(o->tls_key, &key, &klen, 1 << 20) < 0)
		log_kv(LOG_ERROR, "cannot read TLS cert or key", "cert",
		       o->tls_cert, "key_file", o->tls_key, NULL);
	else if (nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER) != 0 ||
		 nng_tls_config_own_cert(cfg, cert, key, NULL) != 0 ||
		 nng_http_server_set_tls(srv, cfg) != 0)
		log_kv(LOG_ERROR, "TLS cert or key not accepted", "cert",
		       o->tls_cert, "key_file", o->tls_key, NULL);
	else
		rv = 0;
	if (cfg)
		nng_tls_config_free(cfg);	/* the server holds its own ref */
	free(cert);
	if (key) {
		sodium_memzero(key, klen);
		free(key);
	}
	return rv;
}

/* log_bound - say where srv really listens (PORT 0 picks one). */
static void log_bound(nng_http_server *srv, const char *what, bool tls)
{
	nng_sockaddr sa;
	char ip[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN + 16];

	if (nng_http_server_get_addr(srv, &sa) != 0)
		return;
	if (sa.s_family == NNG_AF_INET6) {
		inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof(ip));
		snprintf(buf, sizeof(buf), "[%s]:%u", ip,
			 ntohs(sa.s_in6.sa_port));
	} else {
		inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, sizeof(ip));
		snprintf(buf, sizeof(buf), "%s:%u", ip, ntohs(sa.s_in.sa_port));
	}
	log_kv(LOG_INFO, "listening", "server", what, "addr", buf, "tls",
	       tls ? "true" : "false", NULL);
}

/* start - hold, configure and start one server; admin or API. */
static nng_http_server *start(const char *addr, bool tls, bool admin,
			      const struct opts *o)
{
	nng_http_server *srv = NULL;
	nng_url *u = NULL;
	char url[128];
	int rv;

	if (listen_url(addr, tls ? "https" : "http", url, sizeof(url)) < 0) {
		log_kv(LOG_ERROR, "listen address must be loopback "
		       "127.x.x.x:PORT or [::1]:PORT", "addr", addr, NULL);
		return NULL;
	}
	if ((rv = nng_url_parse(&u, url)) != 0 ||
	    (rv = nng_http_server_hold(&srv, u)) != 0) {
		nng_url_free(u);
		log_kv(LOG_ERROR, "cannot create server", "addr", addr,
		       "error", nng_strerror(rv), NULL);
		return NULL;
	}
	nng_url_free(u);
	if ((tls && set_tls(srv, o) < 0) ||
	    (rv = admin ? pamsim_admin_register(srv, o->vaults)
			: pamsim_api_register(srv)) != 0 ||
	    (rv = nng_http_server_start(srv)) != 0) {
		log_kv(LOG_ERROR, "cannot start server", "addr", addr,
		       "error", rv ? nng_strerror(rv) : "TLS", NULL);
		nng_http_server_release(srv);
		return NULL;
	}
	log_bound(srv, admin ? "admin" : "api", tls);
	return srv;
}

/* usage_err - print a usage error; returns the usage exit code 2. */
static int usage_err(const char *msg, const char *arg)
{
	fprintf(stderr, "pamsim: %s%s\n", msg, arg ? arg : "");
	return 2;
}

/* wipe_arg - hide a key given on the command line from ps, once copied. */
static void wipe_arg(char *s)
{
	memset(s, 'x', strlen(s));
}

/* parse_opts - flags into o and the key set; 0, or 2 on a usage error. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_CERT = 256, O_KEY, O_PLAIN, O_ADMIN, O_LEVEL, O_JSON,
	       O_VERSION };
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "vaults", required_argument, NULL, 'v' },
		{ "access-key", required_argument, NULL, 'k' },
		{ "access-key-file", required_argument, NULL, 'K' },
		{ "tls-cert", required_argument, NULL, O_CERT },
		{ "tls-key", required_argument, NULL, O_KEY },
		{ "plain-http", no_argument, NULL, O_PLAIN },
		{ "admin-listen", required_argument, NULL, O_ADMIN },
		{ "log-level", required_argument, NULL, O_LEVEL },
		{ "log-json", no_argument, NULL, O_JSON },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char url[128];
	int c;

	o->log_level = LOG_INFO;
	while ((c = getopt_long(argc, argv, "l:v:k:K:h", lo, NULL)) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 'v': o->vaults = optarg; break;
		case 'k':
			if (pamsim_keys_add(optarg) < 0)
				return usage_err("bad --access-key (printable "
						 "ASCII only)", NULL);
			wipe_arg(optarg);
			break;
		case 'K':
			if (pamsim_keys_add_file(optarg) < 0)
				return usage_err("cannot read keys from ",
						 optarg);
			break;
		case O_CERT: o->tls_cert = optarg; break;
		case O_KEY: o->tls_key = optarg; break;
		case O_PLAIN: o->plain_http = true; break;
		case O_ADMIN: o->admin_listen = optarg; break;
		case O_LEVEL:
			if ((o->log_level = log_level_parse(optarg)) < 0)
				return usage_err("bad --log-level", NULL);
			break;
		case O_JSON: o->log_json = true; break;
		case O_VERSION: printf("pamsim %s\n", PAMOP_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !o->listen) {
		usage(stderr);
		return 2;
	}
	if (!o->tls_cert != !o->tls_key || (o->tls_cert && o->plain_http) ||
	    (!o->tls_cert && !o->plain_http))
		return usage_err("give --tls-cert and --tls-key, or "
				 "--plain-http", NULL);
	if (listen_url(o->listen, "http", url, sizeof(url)) < 0 ||
	    (o->admin_listen && listen_url(o->admin_listen, "http", url,
					   sizeof(url)) < 0))
		return usage_err("listen addresses must be loopback: "
				 "127.x.x.x:PORT or [::1]:PORT", NULL);
	if (pamsim_keys_count() == 0)
		return usage_err("no access keys: give --access-key or "
				 "--access-key-file", NULL);
	return 0;
}

/* load_vaults - the initial set: the file, or empty without one. */
static int load_vaults(const char *path)
{
	char err[64];

	if (path)
		return pamsim_vaults_reload(path);
	log_kv(LOG_WARN, "no --vaults file; starting with no vaults "
	       "(PUT /vaults on the admin endpoint to add some)", NULL);
	pamsim_vaults_set(pamsim_vaults_parse("{\"vaults\":[]}", 13, err,
					      sizeof(err)));
	return 0;
}

/* main - parse flags, start servers, wait for signals, stop cleanly. */
int main(int argc, char **argv)
{
	struct opts o = { 0 };
	nng_http_server *api = NULL, *admin = NULL;
	sigset_t block, old;
	struct sigaction sa = { 0 };
	int rc = 1;

	/* Block our signals before nng makes threads, so that only the
	 * main loop's sigsuspend ever receives them. */
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	sigdelset(&old, SIGHUP);
	sigdelset(&old, SIGINT);
	sigdelset(&old, SIGTERM);
	sa.sa_handler = on_signal;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = parse_opts(argc, argv, &o)) != 0) {
		pamsim_keys_free();
		return rc;
	}
	rc = 1;
	log_init("pamsim", o.log_json, (enum log_level)o.log_level);
	if (sodium_init() < 0 || pamsim_init() < 0 ||
	    load_vaults(o.vaults) < 0)
		goto out;
	if (!(api = start(o.listen, !o.plain_http, false, &o)))
		goto out;
	if (o.admin_listen && !(admin = start(o.admin_listen, false, true,
					      &o)))
		goto out;
	if (admin == api) {	/* nng shares servers per host:port */
		log_kv(LOG_ERROR, "admin and API must use different ports",
		       NULL);
		goto out;
	}
	log_kv(LOG_INFO, "ready", "version", PAMOP_VERSION, NULL);
	while (!got_stop) {
		sigsuspend(&old);
		if (got_hup) {
			got_hup = 0;
			if (o.vaults)
				pamsim_vaults_reload(o.vaults);
			else
				log_kv(LOG_WARN, "SIGHUP without --vaults: "
				       "nothing to reload", NULL);
		}
	}
	log_kv(LOG_INFO, "stopping", NULL);
	rc = 0;
out:
	pamsim_http_closing();
	/* Each successful start holds the server once, even if shared. */
	if (admin) {
		nng_http_server_stop(admin);
		nng_http_server_release(admin);
	}
	if (api) {
		nng_http_server_stop(api);
		nng_http_server_release(api);
	}
	pamsim_http_fini();
	pamsim_fini();
	nng_fini();
	return rc;
}
