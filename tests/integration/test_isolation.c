/*
 * isolation: the claims of docs/security.md, checked on a running
 * operator from outside. The manager runs under the Localhost seccomp
 * profile shipped in deploy/seccomp/ (with its default action turned
 * into a kill, so a forgotten syscall fails the suite) and, when the
 * suite runs as root, as an unprivileged user that still holds a few
 * capabilities, so that the workers have something to drop and their
 * dumpability shows in /proc.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>

#include "harness.h"
#include "proc.h"
#include "suites.h"
#include "util.h"

#define V_TEXT "6b1d0c3e-0000-4000-8000-000000000011"
#define V_USER "6b1d0c3e-0000-4000-8000-000000000012"
#define KEY "iso-key-Qm27-aaaa-bbbb-cccc"
#define BADKEY "iso-badkey-Qm27-dddd"
#define PW "iso-pw-Qm27-Xv9d"
#define TEXT "iso-text-Qm27-Lp4e"
#define RUN_UID 65534
/* chown, dac_override, kill, setpcap, net_bind_service */
#define RUN_CAPS "-all,+chown,+dac_override,+kill,+setpcap,+net_bind_service"
#define RUN_CAP_BITS ((1ULL << 0) | (1ULL << 1) | (1ULL << 5) | (1ULL << 8) | (1ULL << 10))

static struct pamsim pam;
static struct manager mgr;
static int run_uid;           /* uid the manager runs as */
static char *ns;

static const char *vaults =
    "{\"vaults\":[{\"id\":\"" V_TEXT "\",\"type\":\"SecretText\","
    "\"properties\":{\"SecretText\":\"" TEXT "\"}},{\"id\":\"" V_USER "\","
    "\"type\":\"UserNamePassword\",\"properties\":{\"UserName\":\"app\","
    "\"Password\":\"" PW "\"}}]}";

/* can_switch_user - root, with the capabilities the manager should keep. */
static bool can_switch_user(void)
{
	char bnd[32];

	if (geteuid() != 0)
		return false;
	proc_status(getpid(), "CapBnd", bnd, sizeof(bnd));
	return (strtoull(bnd, NULL, 16) & RUN_CAP_BITS) == RUN_CAP_BITS;
}

static void setup(void)
{
	const char *bin = getenv("PAMOP_BIN") ? getenv("PAMOP_BIN") : "build/bin";
	char wrap[1024], *cwd = getcwd(NULL, 0);

	pamsim_start(&pam, vaults, KEY);
	run_uid = can_switch_user() ? RUN_UID : (int)geteuid();
	/* In a sanitizer build, LeakSanitizer would stop the world with
	 * ptrace at exit, which the profile rightly refuses: leaks are the
	 * other suites' and valgrind's to find. */
	snprintf(wrap, sizeof(wrap), "%s env ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" "
	    "%s/seccomp-run --kill %s/deploy/seccomp/pam-operator.json",
	    run_uid != (int)geteuid() ? "setpriv --reuid=65534 --regid=65534 --clear-groups "
	    "--inh-caps=" RUN_CAPS " --ambient-caps=" RUN_CAPS : "", bin, cwd);
	free(cwd);
	manager_start_with(&mgr, wrap, "--workers=2 --enable-test-jobs");
	ns = ns_new("iso");
	store_setup(ns, &pam, KEY);
	ck_assert_int_eq(kubectl_apply(
	    "apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\nmetadata:\n"
	    "  name: app\n  namespace: %s\nspec:\n  monoStoreRef: {name: pam}\n"
	    "  target: {name: app-k8s}\n  refreshInterval: \"1h\"\n  data:\n"
	    "    - secretKey: text\n      remoteRef: {vaultID: \"" V_TEXT "\"}\n"
	    "    - secretKey: password\n      remoteRef: {vaultID: \"" V_USER "\", "
	    "property: Password}\n", ns), 0);
	wait_ready(ns, "msec", "app", "True/Synced", 15000);
}

static void teardown(void)
{
	static const char *const secrets[] = { KEY, BADKEY, PW, TEXT, NULL };

	ns_delete(ns);
	free(ns);
	manager_stop(&mgr);
	pamsim_stop(&pam);
	assert_file_lacks(mgr.log, secrets);
	/* Shutting down needs no syscall the profile lacks either. */
	ck_assert_msg(sh("grep -q 'msg=stopped' '%s'", mgr.log) == 0,
	    "the manager did not stop cleanly under the seccomp profile");
}

/* workers - the manager's pam-worker children, waiting for n of them. */
static size_t workers(pid_t *out, size_t n)
{
	size_t got = 0;

	for (int i = 0; i < 200 && (got = proc_children(mgr.pid, "pam-worker", out, n)) < n; i++)
		sleep_ms(50);
	ck_assert_msg(got == n, "found %zu workers, wanted %zu", got, n);
	return got;
}

static void assert_status(pid_t w, const char *field, const char *want)
{
	char v[64];

	proc_status(w, field, v, sizeof(v));
	ck_assert_msg(strcmp(v, want) == 0, "worker %d %s: \"%s\", wanted \"%s\"", (int)w, field,
	    v, want);
}

START_TEST(workers_run_sandboxed)
{
	pid_t w[2];
	char eff[32];
	bool switched = run_uid != (int)geteuid();

	workers(w, 2);
	for (int i = 0; i < 2; i++) {
		assert_status(w[i], "Seccomp", "2");
		assert_status(w[i], "NoNewPrivs", "1");
		assert_status(w[i], "CapInh", "0000000000000000");
		assert_status(w[i], "CapPrm", "0000000000000000");
		assert_status(w[i], "CapEff", "0000000000000000");
		assert_status(w[i], "CapAmb", "0000000000000000");
		if (switched || run_uid == 0) {
			/* It had CAP_SETPCAP, so it could empty the bounding set too. */
			assert_status(w[i], "CapBnd", "0000000000000000");
		}
		/* Not dumpable: its /proc files belong to root, not to its user. */
		ck_assert_int_eq(proc_owner(w[i], "environ"), 0);
	}
	if (run_uid != 0) {
		/* The manager, for contrast: its user owns its files, and it kept
		 * the capabilities the workers dropped. */
		ck_assert_int_eq(proc_owner(mgr.pid, "environ"), run_uid);
		proc_status(mgr.pid, "CapEff", eff, sizeof(eff));
		if (switched)
			ck_assert_str_ne(eff, "0000000000000000");
	} else {
		fprintf(stderr, "isolation: running as root without the capabilities to switch "
		    "user; dumpability and bounding set not checked\n");
	}
}
END_TEST

START_TEST(workers_share_no_descriptor_with_the_manager)
{
	pid_t w[2];
	char what[256], stdin_of[64], path[64];
	ssize_t n;

	workers(w, 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(!proc_shared_open_file(w[i], mgr.pid, what, sizeof(what)),
		    "worker %d holds the manager's %s", (int)w[i], what);
		snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)w[i]);
		n = readlink(path, stdin_of, sizeof(stdin_of) - 1);
		ck_assert_int_gt(n, 0);
		stdin_of[n] = '\0';
		ck_assert_str_eq(stdin_of, "/dev/null");
	}
}
END_TEST

/* metric - the value of one metric line of the manager, -1 if absent. */
static double metric(const char *line)
{
	char *out = sh_out("curl -sf http://127.0.0.1:%d/metrics | awk -v k='%s' "
	    "'$1 == k {print $2}'", mgr.metrics_port, line);
	double v = *out ? strtod(out, NULL) : -1;

	free(out);
	return v;
}

/* wait_log - until the manager's log has a line with every needle. */
static void wait_log(const char *a, const char *b, int timeout_ms)
{
	int64_t t0 = now_ms();

	while (sh("grep -F -- '%s' '%s' | grep -qF -- '%s'", a, mgr.log, b) != 0) {
		ck_assert_msg(now_ms() - t0 < timeout_ms, "no log line with \"%s\" and \"%s\"", a, b);
		sleep_ms(50);
	}
}

static void annotate(const char *value)
{
	ck_assert_int_eq(sh("kubectl -n %s annotate --overwrite msec app "
	    "pam.monofor.com/test-job=%s >/dev/null", ns, value), 0);
}

/* replaced - wait until none of old is alive and two workers run again. */
static void replaced(const pid_t old[2], pid_t now[2])
{
	int64_t t0 = now_ms();

	while (proc_alive(old[0]) && proc_alive(old[1])) {
		ck_assert_msg(now_ms() - t0 < 10000, "no worker died");
		sleep_ms(20);
	}
	for (;;) {
		size_t n = proc_children(mgr.pid, "pam-worker", now, 2);
		bool fresh = false;
		for (size_t i = 0; i < n; i++)
			fresh = fresh || (now[i] != old[0] && now[i] != old[1]);
		if (n == 2 && fresh)
			break;
		ck_assert_msg(now_ms() - t0 < 15000, "the dead worker was not replaced");
		sleep_ms(50);
	}
}

/* provoke - send one test job (annotation value), wait until the worker
 * it hit is replaced and the log has a line with log_a and log_b;
 * returns how much the metric series grew meanwhile. */
static double provoke(const char *value, const char *log_a, const char *log_b,
    const char *series, pid_t now[2])
{
	pid_t old[2];
	double before = metric(series);

	workers(old, 2);
	annotate(value);
	replaced(old, now);
	wait_log(log_a, log_b, 5000);
	return metric(series) - (before < 0 ? 0 : before);
}

START_TEST(forbidden_syscall_kills_the_worker_by_sigsys)
{
	pid_t now[2];

	ck_assert(provoke("forbidden-syscall:1", "worker exited",
	    "status=\"signal 31 (Bad system call)\" cause=sandbox",
	    "pamop_worker_restarts_total{cause=\"sandbox\"}", now) == 1);
	for (int i = 0; i < 2; i++)
		assert_status(now[i], "Seccomp", "2");
	/* The job came back to a new worker: the MonoSecret still syncs. */
	ck_assert_int_eq(sh("kubectl -n %s patch msec app --type=merge -p "
	    "'{\"spec\":{\"refreshInterval\":\"2h\"}}' >/dev/null", ns), 0);
	wait_jp(ns, "msec", "app", "{.status.conditions[?(@.type==\"Ready\")].observedGeneration}",
	    "2", 10000);
	wait_ready(ns, "msec", "app", "True/Synced", 5000);
}
END_TEST

START_TEST(malformed_result_restarts_the_worker_not_the_manager)
{
	pid_t now[2];

	ck_assert(provoke("malformed-result:1", "unexpected message from a worker, restarting it",
	    "unknown or repeated tag 99", "pamop_worker_protocol_errors_total", now) == 1);
	ck_assert(proc_alive(mgr.pid));
	ck_assert_int_eq(sh("curl -sf -o /dev/null http://127.0.0.1:%d/healthz",
	    mgr.health_port), 0);
}
END_TEST

START_TEST(foreign_process_is_refused_on_the_ipc_channel)
{
	char *dir = sh_out("sed -n 's/.*msg=\"worker channels\" dir=\\([^ ]*\\).*/\\1/p' '%s' | "
	    "head -1", mgr.log);
	char url[512], who[64];
	struct stat st;
	nng_socket s;
	double before = metric("pamop_ipc_rejected_connections_total");

	ck_assert_msg(dir[0] == '/', "no IPC directory in the manager's log");
	/* Private to the manager's user... */
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq((int)(st.st_mode & 0777), 0700);
	ck_assert_int_eq((int)st.st_uid, run_uid);
	/* ...and even a process that can enter it (root here) is refused. */
	snprintf(url, sizeof(url), "ipc://%s/w0.sock", dir);
	ck_assert_int_eq(nng_pair0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 1000);
	if (nng_dial(s, url, NULL, 0) == 0) {
		char *buf = NULL;
		size_t len = 0;
		nng_send(s, "PMOP", 4, NNG_FLAG_NONBLOCK);
		ck_assert_int_ne(nng_recv(s, &buf, &len, NNG_FLAG_ALLOC), 0);
	}
	snprintf(who, sizeof(who), "peer_pid=%d", (int)getpid());
	wait_log("refused a connection that is not our worker", who, 5000);
	nng_close(s);   /* nng dials again after a refusal: count at least one */
	ck_assert(metric("pamop_ipc_rejected_connections_total") >= (before < 0 ? 0 : before) + 1);
	free(dir);
}
END_TEST

/* with_b64 - each value and its base64 form (as in a Secret's .data). */
static size_t with_b64(const char *const *v, const char **out, char **own)
{
	size_t n = 0;

	for (size_t i = 0; v[i]; i++) {
		own[i] = util_b64_encode(v[i], strlen(v[i]));
		out[n++] = v[i];
		out[n++] = own[i];
	}
	out[n] = NULL;
	return n;
}

static void assert_text_lacks(const char *what, const char *text, const char *const *values)
{
	for (size_t i = 0; values[i]; i++)
		ck_assert_msg(strstr(text, values[i]) == NULL, "%s holds a test secret", what);
}

START_TEST(no_secret_reaches_the_manager)
{
	static const char *const raw[] = { KEY, BADKEY, PW, TEXT, NULL };
	const char *needles[16], *control[] = { V_USER, NULL };
	char *own[8];
	size_t scanned = 0;
	const char *hit;

	with_b64(raw, needles, own);
	/* Exercise the paths that carry secrets: a Merge into a Secret made
	 * by hand, a wrong key (refused by PAM), the right key again. */
	ck_assert_int_eq(sh("kubectl -n %s create secret generic merged --from-literal=own=x "
	    ">/dev/null", ns), 0);
	ck_assert_int_eq(kubectl_apply(
	    "apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\nmetadata:\n"
	    "  name: merge\n  namespace: %s\nspec:\n  monoStoreRef: {name: pam}\n"
	    "  target: {name: merged, creationPolicy: Merge}\n  refreshInterval: \"1s\"\n"
	    "  data:\n    - secretKey: text\n      remoteRef: {vaultID: \"" V_TEXT "\"}\n", ns), 0);
	wait_ready(ns, "msec", "merge", "True/Synced", 10000);
	ck_assert_int_eq(sh("kubectl -n %s create secret generic pam-access-key "
	    "--from-literal=key=" BADKEY " --dry-run=client -o yaml | kubectl replace -f - "
	    ">/dev/null", ns), 0);
	wait_ready(ns, "msec", "merge", "False/PAMUnauthorized", 10000);
	ck_assert_int_eq(sh("kubectl -n %s create secret generic pam-access-key "
	    "--from-literal=key=" KEY " --dry-run=client -o yaml | kubectl replace -f - "
	    ">/dev/null", ns), 0);
	wait_ready(ns, "msec", "merge", "True/Synced", 10000);

	/* The scanner finds what the manager does hold (a vault ID in a spec)... */
	hit = proc_mem_find(mgr.pid, control, &scanned);
	ck_assert_msg(hit != NULL, "the scan did not even find a vault ID (%zu bytes read)",
	    scanned);
	/* ...and none of the values or keys, raw or base64. */
	hit = proc_mem_find(mgr.pid, needles, &scanned);
	fprintf(stderr, "isolation: scanned %zu bytes of the manager's memory\n", scanned);
	ck_assert_msg(hit == NULL, "the manager's memory holds a test secret");

	char *events = sh_out("kubectl -n %s get events -o json", ns);
	char *status = sh_out("kubectl -n %s get msec,mstore -o json", ns);
	char *metrics = sh_out("curl -sf http://127.0.0.1:%d/metrics", mgr.metrics_port);
	ck_assert_ptr_nonnull(strstr(events, "PAMUnauthorized"));   /* they are there */
	assert_text_lacks("an Event", events, needles);
	assert_text_lacks("a status", status, needles);
	assert_text_lacks("/metrics", metrics, needles);
	for (size_t i = 0; needles[i]; i++)
		ck_assert_msg(sh("grep -qF -- '%s' '%s'", needles[i], mgr.log) != 0,
		    "the log holds a test secret");
	free(events); free(status); free(metrics);
	for (size_t i = 0; raw[i]; i++)
		free(own[i]);
}
END_TEST

/* loopback_name - a name /etc/hosts gives a 127/8 address, other than
 * localhost (which curl answers itself); "" if there is none. */
static void loopback_name(char *name, size_t nn, char *ip, size_t in)
{
	FILE *f = fopen("/etc/hosts", "r");
	char line[512];

	name[0] = ip[0] = '\0';
	while (f && !name[0] && fgets(line, sizeof(line), f)) {
		char a[64], *tok, *save = NULL;
		struct in_addr v4;
		if (sscanf(line, "%63s", a) != 1 || a[0] == '#' || inet_pton(AF_INET, a, &v4) != 1 ||
		    (ntohl(v4.s_addr) >> 24) != 127)
			continue;
		strtok_r(line, " \t\n", &save);
		while ((tok = strtok_r(NULL, " \t\n", &save)) != NULL && tok[0] != '#')
			if (strstr(tok, "localhost") == NULL && strlen(tok) < nn) {
				snprintf(name, nn, "%s", tok);
				snprintf(ip, in, "%s", a);
				break;
			}
	}
	if (f)
		fclose(f);
}

START_TEST(host_names_are_resolved_for_the_workers)
{
	char name[256], ip[64];
	struct pamsim named;

	loopback_name(name, sizeof(name), ip, sizeof(ip));
	if (!name[0]) {
		fprintf(stderr, "isolation: /etc/hosts names no loopback host but localhost; "
		    "resolution for the workers not exercised\n");
		return;
	}
	/* Plain HTTP: the suite's certificate names 127.0.0.1 and localhost only. */
	pamsim_start_on(&named, ip, false, vaults, KEY);
	ck_assert_int_eq(kubectl_apply(
	    "apiVersion: pam.monofor.com/v1alpha1\nkind: MonoStore\n"
	    "metadata: {name: named, namespace: %s}\nspec:\n  provider:\n    monoforPAM:\n"
	    "      url: \"http://%s:%d\"\n      auth:\n        accessKeySecretRef: "
	    "{name: pam-access-key, key: key}\n---\n"
	    "apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\nmetadata:\n"
	    "  name: named\n  namespace: %s\nspec:\n  monoStoreRef: {name: named}\n"
	    "  target: {name: named-k8s}\n  data:\n"
	    "    - secretKey: text\n      remoteRef: {vaultID: \"" V_TEXT "\"}\n",
	    ns, name, named.port, ns), 0);
	wait_ready(ns, "mstore", "named", "True/StoreReady", 10000);
	wait_ready(ns, "msec", "named", "True/Synced", 10000);
	char *v = secret_value(ns, "named-k8s", "text");
	ck_assert_str_eq(v ? v : "", TEXT);
	fprintf(stderr, "isolation: %s (%s) resolved by the manager for the workers\n", name, ip);
	free(v);
	pamsim_stop(&named);
}
END_TEST

START_TEST(profile_without_a_needed_syscall_stops_the_manager)
{
	char *prof = sh_out("mktemp /tmp/pamop-prof-XXXXXX");
	const char *bin = getenv("PAMOP_BIN") ? getenv("PAMOP_BIN") : "build/bin";

	/* The check above is only as good as seccomp-run: drop mkdir (the
	 * IPC directory) from the profile and the manager must not start. */
	ck_assert_int_eq(sh("sed 's/\"mkdir\",//' deploy/seccomp/pam-operator.json > %s", prof), 0);
	ck_assert_int_ne(sh("grep -q '\"mkdir\"' %s", prof), 0);
	int rc = sh("%s/seccomp-run --kill %s %s/manager --metrics-bind-address=0 "
	    "--health-probe-bind-address=0 >/dev/null 2>&1", bin, prof, bin);
	ck_assert_int_eq(rc, 128 + 31);   /* killed by SIGSYS, as a kubelet would see it */
	unlink(prof);
	free(prof);
}
END_TEST

Suite *isolation_suite(void)
{
	Suite *s = suite_create("isolation");
	TCase *tc = tcase_create("isolation");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, workers_run_sandboxed);
	tcase_add_test(tc, workers_share_no_descriptor_with_the_manager);
	tcase_add_test(tc, foreign_process_is_refused_on_the_ipc_channel);
	tcase_add_test(tc, forbidden_syscall_kills_the_worker_by_sigsys);
	tcase_add_test(tc, malformed_result_restarts_the_worker_not_the_manager);
	tcase_add_test(tc, host_names_are_resolved_for_the_workers);
	tcase_add_test(tc, no_secret_reaches_the_manager);
	tcase_add_test(tc, profile_without_a_needed_syscall_stops_the_manager);
	suite_add_tcase(s, tc);
	return s;
}
