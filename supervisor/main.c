/*
 * manager - the supervisor process (the container's /manager). It
 * holds the leader Lease, watches MonoStores, MonoSecrets, managed
 * Secrets' metadata and workloads' metadata, queues work, and hands
 * jobs to sandboxed pam-worker processes. It never sees a secret
 * value or a PAM access key. The main loop below is the only place
 * that dispatches jobs and handles their results.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "duration.h"
#include "log.h"
#include "sup.h"
#include "util.h"
#include "wipe.h"

/* Shutdown budget, from SIGTERM, inside the default 10 s grace period. */
#define DRAIN_MS 3000        /* jobs in flight may finish */
#define RELEASE_BY_MS 7000   /* the lease is handed back by then */
#define SHUTDOWN_MS 9000     /* the watchdog ends the process */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
	S.stop = 1;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
	    "usage: %s [flags]\n"
	    "  --kubeconfig FILE              out-of-cluster credentials (or $KUBECONFIG)\n"
	    "  --leader-elect[=true|false]    hold a Lease before doing anything (default false)\n"
	    "  --leader-election-id NAME      Lease name (default pam-operator-leader)\n"
	    "  --leader-election-namespace NS Lease namespace (default: the pod's or kubeconfig's)\n"
	    "  --metrics-bind-address ADDR    /metrics, e.g. :8080 or 127.0.0.1:8080; 0 disables\n"
	    "  --health-probe-bind-address A  /healthz and /readyz; 0 disables\n"
	    "  --workers N                    worker processes (default 2)\n"
	    "  --pam-ca-file FILE             extra CA bundle trusted for PAM\n"
	    "  --worker-path FILE             pam-worker executable (default: beside manager)\n"
	    "  --worker-sandbox on|debug|off  worker sandbox mode (default on)\n"
	    "  --job-timeout DURATION         kill a worker whose job runs longer (default 60s)\n"
	    "  --kube-api-qps N               API requests/s, all clients (default 50; 0: no limit)\n"
	    "  --kube-api-burst N             requests allowed at once above the rate (default 100)\n"
	    "  --allow-cross-namespace-keys   let a MonoStore use an access key in another namespace\n"
	    "  --namespaces NS[,NS...]        watch only these namespaces (default: all)\n"
	    "  --enable-test-jobs             tests only: honour the " ANN_TEST_JOB " annotation\n"
	    "  --log-format logfmt|json       (default logfmt)\n"
	    "  --log-level debug|info|warn|error\n"
	    "  --version\n", argv0);
	exit(2);
}

static bool parse_bool(const char *flag, const char *v)
{
	if (v == NULL || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		return true;
	if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		return false;
	fprintf(stderr, "--%s: \"%s\" is not true or false\n", flag, v);
	exit(2);
}

static void parse_opts(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "leader-elect", optional_argument, NULL, 'L' },
		{ "leader-election-id", required_argument, NULL, 'I' },
		{ "leader-election-namespace", required_argument, NULL, 'N' },
		{ "metrics-bind-address", required_argument, NULL, 'm' },
		{ "health-probe-bind-address", required_argument, NULL, 'h' },
		{ "workers", required_argument, NULL, 'w' },
		{ "pam-ca-file", required_argument, NULL, 'c' },
		{ "worker-path", required_argument, NULL, 'p' },
		{ "worker-sandbox", required_argument, NULL, 's' },
		{ "job-timeout", required_argument, NULL, 't' },
		{ "allow-cross-namespace-keys", no_argument, NULL, 'x' },
		{ "namespaces", required_argument, NULL, 'n' },
		{ "enable-test-jobs", no_argument, NULL, 'T' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "kube-api-qps", required_argument, NULL, 'q' },
		{ "kube-api-burst", required_argument, NULL, 'b' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, '?' },
		{ NULL, 0, NULL, 0 },
	};
	static char worker[PATH_MAX];
	struct options *o = &S.opt;
	int64_t ns;
	char err[200];
	char *end;
	long l;
	int ch;

	o->metrics_addr = ":8080";
	o->health_addr = ":8081";
	o->workers = 2;
	o->lease_name = "pam-operator-leader";
	o->sandbox = "on";
	o->job_timeout_ms = 60000;
	/* Above controller-runtime's 20/30: this bucket also pays for the
	 * workers' requests, about four per sync, so 20 would mean only five
	 * syncs a second. 50 still keeps a big cluster's API server calm. */
	o->qps = 50;
	o->burst = 100;
	o->kubeconfig = getenv("KUBECONFIG");
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'k': o->kubeconfig = optarg; break;
		case 'L': o->leader_elect = parse_bool("leader-elect", optarg); break;
		case 'I': o->lease_name = optarg; break;
		case 'N': o->lease_ns = optarg; break;
		case 'm': o->metrics_addr = optarg; break;
		case 'h': o->health_addr = optarg; break;
		case 'w':
			l = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || l < 1 || l > 64) {
				fprintf(stderr, "--workers: \"%s\" is not a whole number from 1 "
				    "to 64\n", optarg);
				exit(2);
			}
			o->workers = (int)l;
			break;
		case 'c': o->pam_ca_file = optarg; break;
		case 'p': o->worker_path = optarg; break;
		case 's': o->sandbox = optarg; break;
		case 't':
			if (duration_parse(optarg, &ns) != 0 || ns <= 0) {
				fprintf(stderr, "--job-timeout: \"%s\" is not a positive duration\n", optarg);
				exit(2);
			}
			o->job_timeout_ms = ns / 1000000;
			break;
		case 'x': o->allow_cross_ns_keys = true; break;
		case 'n':
			scope_free(&o->scope);
			if (scope_parse(optarg, &o->scope, err, sizeof(err)) != 0) {
				fprintf(stderr, "%s\n", err);
				exit(2);
			}
			break;
		case 'q':
			o->qps = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(o->qps >= 0 && o->qps <= 100000)) {
				fprintf(stderr, "--kube-api-qps: \"%s\" is not a number from 0 "
				    "to 100000\n", optarg);
				exit(2);
			}
			break;
		case 'b':
			l = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || l < 1 || l > 100000) {
				fprintf(stderr, "--kube-api-burst: \"%s\" is not a whole number "
				    "from 1 to 100000\n", optarg);
				exit(2);
			}
			o->burst = (int)l;
			break;
		case 'T': o->test_jobs = true; break;
		case 'f': o->log_format = optarg; break;
		case 'l': o->log_level = optarg; break;
		case 'V': printf("pam-operator %s\n", PAMOP_VERSION); exit(0);
		default: usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	if (o->worker_path == NULL) {
		/* beside our own executable, as in the container image */
		ssize_t n = readlink("/proc/self/exe", worker, sizeof(worker) - 16);
		if (n <= 0) {
			fprintf(stderr, "cannot find myself; pass --worker-path\n");
			exit(2);
		}
		worker[n] = '\0';
		char *slash = strrchr(worker, '/');
		snprintf(slash + 1, sizeof(worker) - (size_t)(slash + 1 - worker), "pam-worker");
		o->worker_path = worker;
	}
}

static void load_creds(void)
{
	char err[256];
	int rc;

	if (S.opt.kubeconfig && *S.opt.kubeconfig)
		rc = kubeconfig_load(S.opt.kubeconfig, &S.creds, err, sizeof(err));
	else
		rc = kubeconfig_in_cluster("/var/run/secrets/kubernetes.io/serviceaccount",
		    &S.creds, err, sizeof(err));
	if (rc != 0) {
		log_kv(LOG_ERROR, "cannot load Kubernetes credentials", "error", err, NULL);
		exit(1);
	}
	if (S.opt.lease_ns == NULL)
		S.opt.lease_ns = S.creds.namespace ? S.creds.namespace : "default";
}

static void make_identity(void)
{
	char host[256] = "unknown";
	unsigned char rnd[4];
	char hex[9];

	gethostname(host, sizeof(host) - 1);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	S.identity = util_strdup_printf("%s_%s", host, hex);
}

/* process_results - hand every result received so far to reconcile. */
static void process_results(void)
{
	while (S.results) {
		struct result_msg *rm = S.results;
		S.results = rm->next;
		if (S.results == NULL)
			S.results_tail = &S.results;
		reconcile_result(rm);
		free(rm->buf);
		free(rm);
	}
}

/* main_loop - reap, collect results, dispatch, sleep until the next thing. */
static void main_loop(void)
{
	int64_t token_check = util_mono_ms();

	pthread_mutex_lock(&S.mu);
	while (!S.stop) {
		int64_t now = util_mono_ms();
		S.last_loop_ms = now;
		pool_reap(now);
		process_results();
		pool_check_deadlines(now);
		if (now - token_check > 60000) {
			pthread_mutex_unlock(&S.mu);
			token_reload(false);   /* bound tokens rotate */
			pthread_mutex_lock(&S.mu);
			token_check = now;
		}
		if (leader_expired(now)) {
			/* the election thread may be stuck in a request: the
			 * deadline is judged here too, and it stops everything */
			log_kv(LOG_ERROR, "leader lease not renewed in time; stopping", NULL);
			S.leader = false;
			S.stop = 2;
			break;
		}
		bool dispatching = sup_leading() && S.informers_synced >= S.informers_total;
		if (dispatching)
			reconcile_dispatch(now);

		/* Sleep until work is due (if a worker and the rate limit could
		 * take it), a worker needs attention, or 250 ms pass; never spin
		 * with S.mu held. */
		int64_t next = INT64_MAX;
		if (dispatching && pool_idle_slot() >= 0) {
			next = queue_next_due(&S.q);
			int64_t rl = rl_ready_in(&S.rl, 1, util_mono_ms());
			if (rl > 0 && next != INT64_MAX && next < util_mono_ms() + rl)
				next = util_mono_ms() + rl;
		}
		int64_t pe = pool_next_event();
		if (pe < next)
			next = pe;
		int64_t wait = next == INT64_MAX ? 250 : next - util_mono_ms();
		if (wait > 250)
			wait = 250;
		if (wait < 1)
			wait = 1;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&S.cv, &S.mu, &ts);
	}
	pthread_mutex_unlock(&S.mu);
}

/* drain - let jobs in flight finish and record their results, until
 * deadline (a worker's write is one request per Secret, so abandoning
 * a job is also safe: the Secret is old or new, never half-written). */
static void drain(int64_t deadline)
{
	pthread_mutex_lock(&S.mu);
	for (;;) {
		int busy = 0;
		pool_reap(util_mono_ms());
		process_results();
		for (int i = 0; i < S.opt.workers; i++)
			busy += S.slots[i].state == W_BUSY;
		if (busy == 0 || util_mono_ms() >= deadline)
			break;
		pthread_mutex_unlock(&S.mu);
		usleep(20000);
		pthread_mutex_lock(&S.mu);
	}
	pthread_mutex_unlock(&S.mu);
}

static int64_t watchdog_deadline;

/* watchdog - the last resort of the shutdown: whatever still hangs when
 * the grace period nears its end, the process leaves before the kubelet
 * has to kill it (workers die with us through PR_SET_PDEATHSIG). */
static void *watchdog(void *arg)
{
	(void)arg;
	while (util_mono_ms() < watchdog_deadline)
		usleep(50000);
	log_kv(LOG_ERROR, "shutdown is taking too long; exiting now", NULL);
	_exit(1);
	return NULL;
}

/* shutdown - SIGTERM: finish or abandon jobs, stop the workers, release
 * the lease, all well inside the 10 s grace period. Losing the lease
 * instead stops every job at once, since another replica may lead now. */
static int shutdown_all(void)
{
	int64_t t0 = util_mono_ms();
	bool lost = S.stop == 2;
	pthread_t wd;

	watchdog_deadline = t0 + SHUTDOWN_MS;
	if (pthread_create(&wd, NULL, watchdog, NULL) == 0)
		pthread_detach(wd);
	log_kv(LOG_INFO, "shutting down", "signal", got_signal == SIGTERM ? "TERM" :
	    got_signal == SIGINT ? "INT" : "none", "cause", lost ? "lease lost" : "signal", NULL);
	S.stop = lost ? 2 : 1;
	if (lost) {
		pool_kill_all();
	} else {
		reconcile_shutdown();
		drain(t0 + DRAIN_MS);
	}
	pool_shutdown();
	resolve_stop();
	leader_release(t0 + RELEASE_BY_MS);
	http_stop();
	char ms[24];
	snprintf(ms, sizeof(ms), "%lld", (long long)(util_mono_ms() - t0));
	log_kv(LOG_INFO, "stopped", "shutdown_ms", ms, NULL);
	return lost ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int lvl;

	parse_opts(argc, argv);
	lvl = S.opt.log_level ? log_level_parse(S.opt.log_level) : LOG_INFO;
	if (lvl < 0) {
		fprintf(stderr, "--log-level: must be debug, info, warn or error\n");
		return 2;
	}
	if (S.opt.log_format && strcmp(S.opt.log_format, "json") != 0 &&
	    strcmp(S.opt.log_format, "logfmt") != 0) {
		fprintf(stderr, "--log-format: must be logfmt or json\n");
		return 2;
	}
	log_init("supervisor", S.opt.log_format && strcmp(S.opt.log_format, "json") == 0,
	    (enum log_level)lvl);
	/* wipe_init also initialises libcurl; it must come before any allocation. */
	if (wipe_init() != 0 || sodium_init() < 0) {
		log_kv(LOG_ERROR, "library initialisation failed", NULL);
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	S.results_tail = &S.results;
	load_creds();
	rl_init(&S.rl, S.opt.qps, S.opt.burst, util_mono_ms());
	make_identity();
	log_kv(LOG_INFO, "starting", "version", PAMOP_VERSION, "identity", S.identity,
	    "server", S.creds.server, NULL);
	for (int i = 0; i < S.opt.scope.n; i++)
		log_kv(LOG_INFO, "watching namespace", "namespace", S.opt.scope.ns[i], NULL);

	if (S.opt.test_jobs)
		log_kv(LOG_WARN, "test jobs enabled (--enable-test-jobs): tests only", NULL);
	pthread_mutex_lock(&S.mu);
	int rc = pool_init();
	pthread_mutex_unlock(&S.mu);
	if (rc != 0 || resolve_start() != 0 || http_start() != 0 || informers_start() != 0)
		return 1;
	if (S.opt.leader_elect) {
		if (leader_start() != 0)
			return 1;
	} else {
		S.leader = true;
	}

	main_loop();
	return shutdown_all();
}
