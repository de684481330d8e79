/*
 * pool.c - the worker processes. Each slot has its own nng pair socket
 * listening on an ipc path inside a private 0700 directory; the worker
 * is fork+exec'd with that address and dials in. A pipe is accepted
 * only when the peer's pid (from SO_PEERCRED, which nng reports) is the
 * child we started for that slot: no other process can take a slot's
 * jobs. A worker that dies is reaped, logged with its cause and
 * restarted, with a growing delay while it keeps dying before it
 * finishes a job; its job goes back on the queue. A job past its
 * deadline gets its worker killed. No worker is left half-alive: one
 * that never connects, loses its channel, or says something we did not
 * ask for is killed and replaced like one that crashed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <sodium.h>

#include "log.h"
#include "sup.h"
#include "util.h"

#define STARTUP_MS 10000   /* exec to connected; a worker needs well under 1 s */
#define CHANNEL_GRACE_MS 2000  /* channel closed to process reaped */

static void on_rx(void *arg);

/* pool_kill - SIGKILL w's process, remembering why for the restart
 * metric; the main loop reaps it. */
static void pool_kill(struct wslot *w, const char *cause)
{
	if (w->pid <= 0)
		return;
	if (w->kill_cause == NULL)
		w->kill_cause = cause;
	w->state = W_DYING;   /* takes no job and sends no result we accept */
	kill(w->pid, SIGKILL);
}

/* on_pipe - admit only our own child for this slot. Runs on an nng thread. */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct wslot *w = arg;
	uint64_t peer = 0;
	int pid = -1;

	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_PID, &peer) == 0 && peer < INT32_MAX)
		pid = (int)peer;
	pthread_mutex_lock(&S.mu);
	if (ev == NNG_PIPE_EV_ADD_PRE && (w->pid <= 0 || pid != w->pid)) {
		char who[32], slot[16];
		snprintf(who, sizeof(who), "%d", pid);
		snprintf(slot, sizeof(slot), "%d", w->idx);
		log_kv(LOG_WARN, "refused a connection that is not our worker", "slot", slot,
		    "peer_pid", who, NULL);
		metrics_inc("pamop_ipc_rejected_connections_total", NULL, 1);
		nng_pipe_close(p);
	} else if (ev == NNG_PIPE_EV_ADD_POST && w->state == W_STARTING && pid == w->pid) {
		w->state = W_IDLE;
		sup_wake();
	} else if (ev == NNG_PIPE_EV_REM_POST && pid == w->pid && w->pid > 0) {
		/* The channel is gone. Usually the process is exiting and is
		 * reaped soon; if it is still there in a while, it is stuck
		 * (pool_check_deadlines kills it). */
		w->chan_lost = util_mono_ms();
		sup_wake();
	}
	pthread_mutex_unlock(&S.mu);
}

static int open_slot(struct wslot *w)
{
	int rv;

	snprintf(w->url, sizeof(w->url), "ipc://%s/w%d.sock", S.ipc_dir, w->idx);
	if ((rv = nng_pair0_open(&w->sock)) != 0 ||
	    (rv = nng_pipe_notify(w->sock, NNG_PIPE_EV_ADD_PRE, on_pipe, w)) != 0 ||
	    (rv = nng_pipe_notify(w->sock, NNG_PIPE_EV_ADD_POST, on_pipe, w)) != 0 ||
	    (rv = nng_pipe_notify(w->sock, NNG_PIPE_EV_REM_POST, on_pipe, w)) != 0 ||
	    (rv = nng_socket_set_size(w->sock, NNG_OPT_RECVMAXSZ, PROTO_MAX_MSG)) != 0 ||
	    (rv = nng_socket_set_ms(w->sock, NNG_OPT_SENDTIMEO, 5000)) != 0 ||
	    (rv = nng_listen(w->sock, w->url, NULL, 0)) != 0 ||
	    (rv = nng_aio_alloc(&w->rx, on_rx, w)) != 0) {
		log_kv(LOG_ERROR, "cannot open worker channel", "error", nng_strerror(rv), NULL);
		return -1;
	}
	nng_recv_aio(w->sock, w->rx);
	return 0;
}

/* on_rx - a message from a worker: queue it for the main loop. */
static void on_rx(void *arg)
{
	struct wslot *w = arg;
	nng_msg *msg;

	if (nng_aio_result(w->rx) != 0) {
		if (nng_aio_result(w->rx) == NNG_ECLOSED)
			return;
		nng_recv_aio(w->sock, w->rx);
		return;
	}
	msg = nng_aio_get_msg(w->rx);
	struct result_msg *rm = util_xcalloc(1, sizeof(*rm));
	rm->slot = w->idx;
	rm->len = nng_msg_len(msg);
	rm->buf = util_xmalloc(rm->len ? rm->len : 1);
	memcpy(rm->buf, nng_msg_body(msg), rm->len);
	nng_msg_free(msg);
	pthread_mutex_lock(&S.mu);
	*S.results_tail = rm;
	S.results_tail = &rm->next;
	pthread_mutex_unlock(&S.mu);
	sup_wake();
	nng_recv_aio(w->sock, w->rx);
}

static void spawn(struct wslot *w)
{
	char *argv[16];
	int n = 0;
	pid_t pid;

	argv[n++] = (char *)S.opt.worker_path;
	argv[n++] = "--ipc";
	argv[n++] = w->url;
	if (S.opt.kubeconfig) {
		argv[n++] = "--kubeconfig";
		argv[n++] = (char *)S.opt.kubeconfig;
	} else {
		argv[n++] = "--in-cluster";
		argv[n++] = "/var/run/secrets/kubernetes.io/serviceaccount";
	}
	if (S.opt.pam_ca_file) {
		argv[n++] = "--pam-ca-file";
		argv[n++] = (char *)S.opt.pam_ca_file;
	}
	argv[n++] = "--log-format";
	argv[n++] = (char *)(S.opt.log_format ? S.opt.log_format : "logfmt");
	argv[n++] = "--sandbox";
	argv[n++] = (char *)S.opt.sandbox;
	if (S.opt.test_jobs)
		argv[n++] = "--enable-test-jobs";
	argv[n] = NULL;

	pid = fork();
	if (pid < 0) {
		log_kv(LOG_ERROR, "fork failed", "error", strerror(errno), NULL);
		w->restart_at = util_mono_ms() + 1000;
		return;
	}
	if (pid == 0) {
		/* The worker must not outlive us, nor inherit our signal mask,
		 * nor any descriptor but stdout and stderr: our API server
		 * connections, the other slots' sockets and the listening
		 * sockets stay ours (libcurl does not mark its sockets
		 * close-on-exec). Only async-signal-safe calls here. */
		sigset_t none;
		int null = open("/dev/null", O_RDONLY);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null < 0 || dup2(null, STDIN_FILENO) < 0)
			_exit(126);
		if (close_range(3, ~0U, 0) != 0)
			for (int fd = 3; fd < 65536; fd++)
				close(fd);
		execv(argv[0], argv);
		_exit(127);
	}
	w->pid = pid;
	w->state = W_STARTING;
	w->started = util_mono_ms();
	w->chan_lost = 0;
	w->kill_cause = NULL;
	char p[16], s[16];
	snprintf(p, sizeof(p), "%d", pid);
	snprintf(s, sizeof(s), "%d", w->idx);
	log_kv(LOG_INFO, "worker started", "slot", s, "pid", p, NULL);
}

int pool_init(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(S.ipc_dir, sizeof(S.ipc_dir), "%s/pamop-XXXXXX", tmp);
	if (mkdtemp(S.ipc_dir) == NULL) {
		log_kv(LOG_ERROR, "cannot make the IPC directory", "dir", tmp, "error",
		    strerror(errno), NULL);
		return -1;
	}
	log_kv(LOG_INFO, "worker channels", "dir", S.ipc_dir, NULL);
	S.slots = util_xcalloc((size_t)S.opt.workers, sizeof(*S.slots));
	for (int i = 0; i < S.opt.workers; i++) {
		S.slots[i].idx = i;
		if (open_slot(&S.slots[i]) != 0)
			return -1;
		spawn(&S.slots[i]);
	}
	return 0;
}

static const char *cause_of(int status, char *buf, size_t n)
{
	if (WIFSIGNALED(status))
		snprintf(buf, n, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, n, "exit %d", WEXITSTATUS(status));
	return buf;
}

/* cause_label - the restart metric's cause: ours if we killed it, else
 * what the status says (SIGSYS is the sandbox's verdict). */
static const char *cause_label(const struct wslot *w, int status)
{
	if (w->kill_cause)
		return w->kill_cause;
	if (!WIFSIGNALED(status))
		return "exit";
	return WTERMSIG(status) == SIGSYS ? "sandbox" : WTERMSIG(status) == SIGKILL ?
	    "killed" : "signal";
}

void pool_reap(int64_t now)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < S.opt.workers; i++) {
			struct wslot *w = &S.slots[i];
			char cause[64], p[16], s[16], label[80];
			if (w->pid != pid)
				continue;
			cause_of(status, cause, sizeof(cause));
			snprintf(p, sizeof(p), "%d", pid);
			snprintf(s, sizeof(s), "%d", w->idx);
			log_kv(S.stop ? LOG_INFO : LOG_WARN, "worker exited", "slot", s, "pid", p,
			    "status", cause, "cause", cause_label(w, status),
			    "kind", w->job_key ? sup_key_kind(w->job_key) : "none",
			    "object", w->job_key ? w->job_key + 2 : "none", NULL);
			snprintf(label, sizeof(label), "cause=\"%s\"", cause_label(w, status));
			metrics_inc("pamop_worker_restarts_total", label, 1);
			if (w->job_key) {
				reconcile_worker_lost(w->job_key, cause);
				free(w->job_key);
				w->job_key = NULL;
			}
			if (!w->finished_one)
				w->crashes++;
			w->finished_one = false;
			w->pid = 0;
			w->state = W_DOWN;
			w->kill_cause = NULL;
			w->chan_lost = 0;
			int64_t delay = w->crashes ? 100LL << (w->crashes < 9 ? w->crashes : 9) : 0;
			w->restart_at = now + (delay > 30000 ? 30000 : delay);
		}
	}
	for (int i = 0; i < S.opt.workers && !S.stop; i++)
		if (S.slots[i].state == W_DOWN && S.slots[i].restart_at <= now)
			spawn(&S.slots[i]);
}

void pool_kill_slot(int slot, const char *cause)
{
	pool_kill(&S.slots[slot], cause);
}

int pool_idle_slot(void)
{
	for (int i = 0; i < S.opt.workers; i++)
		if (S.slots[i].state == W_IDLE)
			return i;
	return -1;
}

int pool_ready_count(void)
{
	int n = 0;

	for (int i = 0; i < S.opt.workers; i++)
		n += S.slots[i].state == W_IDLE || S.slots[i].state == W_BUSY;
	return n;
}

int pool_send(int slot, const char *key, struct proto_job *j)
{
	struct wslot *w = &S.slots[slot];
	unsigned char *buf;
	size_t len;
	int rv;

	uint64_t gen;
	char *token = token_dup(&gen);   /* bound tokens rotate: send the current one */
	j->id = ++S.job_seq;
	j->kube_token = token;
	rv = proto_encode_job(j, &buf, &len);
	util_wipe_free(token);
	j->kube_token = "";
	if (rv < 0) {
		log_kv(LOG_ERROR, "job too large to encode", "kind", sup_key_kind(key), "object",
		    key + 2, NULL);
		return -1;
	}
	rv = nng_send(w->sock, buf, len, NNG_FLAG_NONBLOCK);
	sodium_memzero(buf, len);   /* it holds the token */
	free(buf);
	if (rv != 0) {
		/* an idle worker that cannot take a job is of no use: replace it */
		log_kv(LOG_WARN, "cannot hand a job to a worker; replacing it", "kind",
		    sup_key_kind(key), "object", key + 2, "error", nng_strerror(rv), NULL);
		pool_kill(w, "channel");
		return -1;
	}
	w->state = W_BUSY;
	w->job_key = util_xstrdup(key);
	w->job_id = j->id;
	w->job_token = gen;
	w->job_start = util_mono_ms();
	return 0;
}

void pool_check_deadlines(int64_t now)
{
	for (int i = 0; i < S.opt.workers; i++) {
		struct wslot *w = &S.slots[i];
		if (w->state == W_BUSY && now - w->job_start > S.opt.job_timeout_ms && w->pid > 0) {
			log_kv(LOG_WARN, "job past its deadline, killing the worker", "kind",
			    sup_key_kind(w->job_key), "object", w->job_key + 2, NULL);
			pool_kill(w, "deadline");
		}
		if (w->state == W_STARTING && now - w->started > STARTUP_MS && w->pid > 0) {
			log_kv(LOG_WARN, "worker did not connect in time, killing it", NULL);
			pool_kill(w, "startup");
		}
		if (w->chan_lost && now - w->chan_lost > CHANNEL_GRACE_MS && w->pid > 0 &&
		    w->state != W_DYING) {
			log_kv(LOG_WARN, "worker lost its channel but did not exit, killing it", NULL);
			pool_kill(w, "channel");
		}
	}
}

int64_t pool_next_event(void)
{
	int64_t next = INT64_MAX;

	for (int i = 0; i < S.opt.workers; i++) {
		struct wslot *w = &S.slots[i];
		if (w->state == W_DOWN && w->restart_at < next)
			next = w->restart_at;
		if (w->state == W_BUSY && w->job_start + S.opt.job_timeout_ms < next)
			next = w->job_start + S.opt.job_timeout_ms;
		if (w->state == W_STARTING && w->started + STARTUP_MS < next)
			next = w->started + STARTUP_MS;
		if (w->chan_lost && w->state != W_DYING && w->chan_lost + CHANNEL_GRACE_MS < next)
			next = w->chan_lost + CHANNEL_GRACE_MS;
	}
	return next;
}

/* reap_all - wait for every worker until deadline; 1 if all are gone. */
static int reap_all(int64_t deadline)
{
	for (;;) {
		int alive = 0;
		for (int i = 0; i < S.opt.workers; i++) {
			struct wslot *w = &S.slots[i];
			if (w->pid > 0 && waitpid(w->pid, NULL, WNOHANG) == w->pid)
				w->pid = 0;
			alive += w->pid > 0;
		}
		if (alive == 0)
			return 1;
		if (util_mono_ms() >= deadline)
			return 0;
		usleep(20000);
	}
}

void pool_kill_all(void)
{
	for (int i = 0; i < S.opt.workers; i++)
		pool_kill(&S.slots[i], "stopped");
	reap_all(util_mono_ms() + 2000);
}

/* pool_shutdown - ask every worker to stop (a job in flight is cut
 * short; its Secret write is one request, so it happened or did not),
 * give them a moment together, then kill the rest. */
void pool_shutdown(void)
{
	for (int i = 0; i < S.opt.workers; i++)
		if (S.slots[i].pid > 0)
			kill(S.slots[i].pid, SIGTERM);
	if (!reap_all(util_mono_ms() + 1000))
		pool_kill_all();
	for (int i = 0; i < S.opt.workers; i++) {
		nng_close(S.slots[i].sock);
		char path[300];
		snprintf(path, sizeof(path), "%s/w%d.sock", S.ipc_dir, i);
		unlink(path);
	}
	rmdir(S.ipc_dir);
}
