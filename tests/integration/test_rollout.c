/*
 * rollout: Step 8 of the seed against the real control plane. Restarts
 * are counted by each workload's metadata.generation (every template
 * patch bumps it, so a double patch shows even within one second) and
 * its restartedAt stamp. Deployments, DaemonSets and StatefulSets exist
 * here as objects; no kubelet runs their pods, which does not matter.
 *
 * The crash windows are produced by putting the cluster into the exact
 * state a crash leaves (status written or not, the Secret's pending mark
 * cleared or not, a workload's restarted-for record present or not)
 * while the operator is stopped, then starting it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "suites.h"

#define KEY  "5a4b3c2d-1111-2222-3333-444455556666"
#define KEY2 "5a4b3c2d-7777-8888-9999-aaaabbbbcccc"
#define VID(n) "6b1d0c3e-0000-4000-8000-0000000004" n
#define NV 6
#define ANN_RELOAD "pam.monofor.com/reload-on"
#define JP_PENDING "{.metadata.annotations.pam\\.monofor\\.com/rollout-pending}"
#define JP_RESTARTED "{.spec.template.metadata.annotations.pam\\.monofor\\.com/restartedAt}"
#define JP_ROLL "{.status.conditions[?(@.type==\"RolloutSucceeded\")].status}/" \
	"{.status.conditions[?(@.type==\"RolloutSucceeded\")].reason}"

static const char *const vault_ids[NV] = { VID("01"), VID("02"), VID("03"), VID("04"),
	VID("05"), VID("06") };
static char vault_vals[NV][64];
static struct pamsim pam;
static struct manager mgr;

/* Every value a test ever puts in PAM: none may reach a log. */
static const char *const secrets[] = { KEY, KEY2, "rv-Q7x-", NULL };

/* set_vault - vault i now holds value (all others as they were). */
static void set_vault(int i, const char *value)
{
	char json[4096] = "{\"vaults\":[";

	snprintf(vault_vals[i], sizeof(vault_vals[i]), "%s", value);
	for (int k = 0; k < NV; k++)
		snprintf(json + strlen(json), sizeof(json) - strlen(json), "%s{\"id\":\"%s\","
		    "\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"%s\"}}", k ? "," : "",
		    vault_ids[k], vault_vals[k][0] ? vault_vals[k] : "rv-Q7x-unset");
	strcat(json, "]}");
	if (pam.pid > 0)
		pamsim_put_vaults(&pam, json);
	else
		pamsim_start(&pam, json, KEY "," KEY2);
}

/* Check runs each test in a process of its own, and a failed assertion
 * ends it without its teardown: what a test starts is listed here so
 * that the runner can stop it (only these pids, checked by name). */
static char leftovers_path[300];

/* leftovers_init - in the runner, before the tests fork from it. */
static void leftovers_init(void)
{
	snprintf(leftovers_path, sizeof(leftovers_path), "%s/rollout-leftovers-%d", logs_dir(),
	    (int)getpid());
}

static const char *leftovers(void)
{
	return leftovers_path;
}

static void track(const char *what, const char *id)
{
	FILE *f = fopen(leftovers(), "a");

	if (f) {
		fprintf(f, "%s %s\n", what, id);
		fclose(f);
	}
}

static void track_pid(pid_t pid)
{
	char s[32];

	snprintf(s, sizeof(s), "%d", (int)pid);
	track("pid", s);
}

static char *ns_tracked(const char *prefix)
{
	char *ns = ns_new(prefix);

	track("ns", ns);
	return ns;
}

static void start_manager(void)
{
	manager_start(&mgr, "--workers=2");
	track_pid(mgr.pid);
}

/* setup - a PAM simulator and an operator for each test (checked
 * fixture): metrics and state start from nothing every time. */
static void reap(void);

static void setup(void)
{
	reap();   /* what an earlier failed test left would act twice */
	memset(vault_vals, 0, sizeof(vault_vals));
	memset(&pam, 0, sizeof(pam));
	set_vault(0, "rv-Q7x-init");
	track_pid(pam.pid);
	start_manager();
}

static void teardown(void)
{
	manager_stop(&mgr);
	pamsim_stop(&pam);
	assert_file_lacks(mgr.log, secrets);
	assert_file_lacks(pam.log, secrets);
}

/* reap - in the runner, after the tests: stop what a failed test left
 * running (if the pid is still one of our programs) and its namespaces. */
static void reap(void)
{
	FILE *f = fopen(leftovers(), "r");
	char what[8], id[256];

	if (f == NULL)
		return;
	while (fscanf(f, "%7s %255s", what, id) == 2) {
		if (strcmp(what, "ns") == 0) {
			ns_delete(id);
			continue;
		}
		char path[300], cmd[256] = "";
		snprintf(path, sizeof(path), "/proc/%s/cmdline", id);
		FILE *c = fopen(path, "r");
		if (c == NULL)
			continue;
		size_t n = fread(cmd, 1, sizeof(cmd) - 1, c);
		fclose(c);
		cmd[n] = '\0';
		if (!strstr(cmd, "/manager") && !strstr(cmd, "/pamsim"))
			continue;
		kill((pid_t)atoi(id), SIGTERM);
		for (int i = 0; i < 100 && access(path, F_OK) == 0; i++)
			sleep_ms(100);   /* gone, or a zombie of a dead test: harmless */
	}
	fclose(f);
	unlink(leftovers());
}

/* workload - a Deployment, DaemonSet or StatefulSet named name, with the
 * reload-on annotation at the top (top) and/or in its pod template (tpl). */
static void workload(const char *ns, const char *kind, const char *name, const char *top,
    const char *tpl)
{
	char ann[256] = "", tann[256] = "";

	if (top)
		snprintf(ann, sizeof(ann), "  annotations: {" ANN_RELOAD ": %s}\n", top);
	if (tpl)
		snprintf(tann, sizeof(tann), "      annotations: {" ANN_RELOAD ": %s}\n", tpl);
	ck_assert_int_eq(kubectl_apply("apiVersion: apps/v1\nkind: %s\nmetadata:\n"
	    "  name: %s\n  namespace: %s\n%sspec:\n%s  selector: {matchLabels: {app: %s}}\n"
	    "  template:\n    metadata:\n      labels: {app: %s}\n%s"
	    "    spec:\n      containers: [{name: c, image: busybox}]\n", kind, name, ns, ann,
	    strcmp(kind, "DaemonSet") == 0 ? "" : strcmp(kind, "StatefulSet") == 0 ?
	    "  replicas: 0\n  serviceName: svc\n" : "  replicas: 0\n", name, name, tann), 0);
}

/* monosecret - MonoSecret "ms" writing vault v into Secret "creds";
 * targets is the Mode A list in YAML flow form, or NULL for none. */
static void monosecret(const char *ns, int v, const char *refresh, const char *targets)
{
	char ro[512] = "";

	if (targets)
		snprintf(ro, sizeof(ro), "  rollout:\n    enabled: true\n    targets: %s\n",
		    targets);
	ck_assert_int_eq(kubectl_apply("apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\n"
	    "metadata: {name: ms, namespace: %s}\nspec:\n  monoStoreRef: {name: pam}\n"
	    "  target: {name: creds}\n  refreshInterval: \"%s\"\n  data:\n"
	    "    - secretKey: value\n      remoteRef: {vaultID: \"%s\", property: SecretText}\n%s",
	    ns, refresh, vault_ids[v], ro), 0);
}

static long gen(const char *ns, const char *kind, const char *name)
{
	char *g = jp(ns, kind, name, "{.metadata.generation}");
	long n = strtol(g, NULL, 10);

	free(g);
	return n;
}

static void expect_gen(const char *ns, const char *kind, const char *name, long want)
{
	long got = gen(ns, kind, name);

	ck_assert_msg(got == want, "%s %s/%s: generation %ld, wanted %ld (restarts: %ld)",
	    kind, ns, name, got, want, got - 1);
}

static void wait_gen(const char *ns, const char *kind, const char *name, long want, int ms)
{
	char w[32];

	snprintf(w, sizeof(w), "%ld", want);
	wait_jp(ns, kind, name, "{.metadata.generation}", w, ms);
}

/* wait_syncs_from - until PAM has served vault v base + n times. */
static void wait_syncs_from(int v, long base, long n, int timeout_ms)
{
	int64_t t0 = now_ms();

	while (pamsim_count(&pam, vault_ids[v]) < base + n) {
		ck_assert_msg(now_ms() - t0 < timeout_ms, "fewer than %ld syncs in %d ms", n,
		    timeout_ms);
		sleep_ms(100);
	}
}

/* wait_syncs - until PAM has served vault v n more times (n more syncs). */
static void wait_syncs(int v, long n, int timeout_ms)
{
	wait_syncs_from(v, pamsim_count(&pam, vault_ids[v]), n, timeout_ms);
}

static void wait_value(const char *ns, const char *want, int timeout_ms)
{
	int64_t t0 = now_ms();

	for (;;) {
		char *v = secret_value(ns, "creds", "value");
		bool eq = v && strcmp(v, want) == 0;
		free(v);
		if (eq)
			return;
		ck_assert_msg(now_ms() - t0 < timeout_ms, "Secret never got the new value");
		sleep_ms(50);
	}
}

/* metric - the value of one series (name{labels}) on the manager's /metrics. */
static double metric(const char *series)
{
	char *out = sh_out("curl -sf http://127.0.0.1:%d/metrics | grep -F '%s ' | "
	    "awk '{print $2}'", mgr.metrics_port, series);
	double v = strtod(out, NULL);

	free(out);
	return v;
}

static int events(const char *ns, const char *reason)
{
	char *out = sh_out("kubectl get events -n %s --field-selector "
	    "involvedObject.name=ms,reason=%s -o name | wc -l", ns, reason);
	int n = atoi(out);

	free(out);
	return n;
}

static char *status_hash(const char *ns)
{
	return jp(ns, "msec", "ms", "{.status.secretDataHash}");
}

static void ready_with_hash(const char *ns)
{
	wait_ready(ns, "msec", "ms", "True/Synced", 10000);
	int64_t t0 = now_ms();
	char *h;
	while (*(h = status_hash(ns)) == '\0') {
		free(h);
		ck_assert_msg(now_ms() - t0 < 5000, "no secretDataHash in status");
		sleep_ms(50);
	}
	free(h);
}

/* scene - a fresh namespace with the access key and the MonoStore, and
 * vault v holding value; the test adds its workloads, then calls synced. */
static char *scene(const char *prefix, int v, const char *value)
{
	char *ns = ns_tracked(prefix);

	set_vault(v, value);
	store_setup(ns, &pam, KEY);
	return ns;
}

/* synced - the MonoSecret (see monosecret), once it has synced. */
static void synced(const char *ns, int v, const char *refresh, const char *targets)
{
	monosecret(ns, v, refresh, targets);
	ready_with_hash(ns);
}

/* change_now - vault v gets value, and a spec edit syncs at once (the
 * tests that use it have a long refresh, to see retries alone). */
static void change_now(const char *ns, int v, const char *value)
{
	set_vault(v, value);
	ck_assert_int_eq(sh("kubectl -n %s patch msec ms --type=merge -p "
	    "'{\"spec\":{\"refreshInterval\":\"59m\"}}' >/dev/null", ns), 0);
}

#define M_DEP_OK "pamop_rollouts_total{kind=\"Deployment\",result=\"success\"}"
#define M_DS_OK "pamop_rollouts_total{kind=\"DaemonSet\",result=\"success\"}"
#define M_STS_OK "pamop_rollouts_total{kind=\"StatefulSet\",result=\"success\"}"
#define M_DEP_ERR "pamop_rollouts_total{kind=\"Deployment\",result=\"error\"}"
#define M_DEP_SKIP "pamop_rollouts_total{kind=\"Deployment\",result=\"skipped\"}"

START_TEST(once_per_change_never_on_first_sync_or_constant_data)
{
	char *ns = scene("roll-once", 1, "rv-Q7x-one-a"), *far = ns_tracked("roll-far");
	static const struct { const char *kind, *name; } hit[] = {
		{ "Deployment", "web" },      /* Mode A */
		{ "Deployment", "api" },      /* Mode B */
		{ "Deployment", "both" },     /* Mode A and Mode B: once */
		{ "DaemonSet", "agent" },     /* Mode A */
		{ "StatefulSet", "db" },      /* Mode B */
	};

	workload(ns, "Deployment", "web", NULL, NULL);
	workload(ns, "Deployment", "api", "creds", NULL);
	workload(ns, "Deployment", "both", "creds", NULL);
	workload(ns, "Deployment", "tmpl", NULL, "creds");   /* pod template only: ignored */
	workload(ns, "Deployment", "other", "not-creds", NULL);
	workload(ns, "DaemonSet", "agent", NULL, NULL);
	workload(ns, "StatefulSet", "db", "creds", NULL);
	workload(far, "Deployment", "far", "creds", NULL);   /* another namespace */
	synced(ns, 1, "1s", "[{kind: Deployment, name: web}, {kind: Deployment, name: both},"
	    " {kind: DaemonSet, name: agent}]");
	wait_syncs(1, 4, 15000);
	for (size_t i = 0; i < sizeof(hit) / sizeof(hit[0]); i++)
		expect_gen(ns, hit[i].kind, hit[i].name, 1);
	char *ra = jp(ns, "deployment", "web", JP_RESTARTED);
	ck_assert_str_eq(ra, "");
	free(ra);

	double dep0 = metric(M_DEP_OK), ds0 = metric(M_DS_OK), sts0 = metric(M_STS_OK);
	for (int change = 1; change <= 2; change++) {
		char *h0 = status_hash(ns);
		int64_t t0 = now_ms();
		set_vault(1, change == 1 ? "rv-Q7x-one-b" : "rv-Q7x-one-c");
		wait_value(ns, change == 1 ? "rv-Q7x-one-b" : "rv-Q7x-one-c", 5000);
		for (size_t i = 0; i < sizeof(hit) / sizeof(hit[0]); i++)
			wait_gen(ns, hit[i].kind, hit[i].name, 1 + change, 5000);
		fprintf(stderr, "change %d: 5 workloads restarted %lld ms after the vault "
		    "changed\n", change, (long long)(now_ms() - t0));
		wait_syncs(1, 5, 15000);   /* many refreshes, same data */
		for (size_t i = 0; i < sizeof(hit) / sizeof(hit[0]); i++)
			expect_gen(ns, hit[i].kind, hit[i].name, 1 + change);
		expect_gen(ns, "Deployment", "tmpl", 1);
		expect_gen(ns, "Deployment", "other", 1);
		expect_gen(far, "Deployment", "far", 1);
		char *h1 = status_hash(ns);
		ck_assert_str_ne(h0, h1);
		free(h0);
		free(h1);
	}
	ra = jp(ns, "deployment", "tmpl", JP_RESTARTED);
	ck_assert_str_eq(ra, "");
	free(ra);
	ra = jp(ns, "deployment", "web", JP_RESTARTED);
	ck_assert_int_eq((int)strlen(ra), 24);   /* 2026-12-04T15:42:57.123Z */
	ck_assert(ra[10] == 'T' && ra[19] == '.' && ra[23] == 'Z');
	free(ra);

	char *roll = jp(ns, "msec", "ms", JP_ROLL);
	ck_assert_str_eq(roll, "True/RolloutTriggered");
	free(roll);
	wait_ready(ns, "msec", "ms", "True/Synced", 1000);
	ck_assert_int_eq(events(ns, "RolloutTriggered"), 2);   /* one per change */
	ck_assert_msg(metric(M_DEP_OK) - dep0 == 6, "Deployment successes %g",
	    metric(M_DEP_OK) - dep0);
	ck_assert(metric(M_DS_OK) - ds0 == 2);
	ck_assert(metric(M_STS_OK) - sts0 == 2);
	ns_delete(ns);
	ns_delete(far);
	free(ns);
	free(far);
}
END_TEST

START_TEST(operator_restart_and_change_while_stopped)
{
	char *ns = scene("roll-down", 2, "rv-Q7x-down-a");

	workload(ns, "Deployment", "web", NULL, NULL);
	workload(ns, "StatefulSet", "db", "creds", NULL);
	synced(ns, 2, "1s", "[{kind: Deployment, name: web}]");
	wait_syncs(2, 2, 10000);

	/* restart with unchanged data: nothing */
	manager_stop(&mgr);
	start_manager();
	wait_syncs(2, 3, 15000);
	expect_gen(ns, "Deployment", "web", 1);
	expect_gen(ns, "StatefulSet", "db", 1);

	/* the data changes while the operator is down: exactly one restart */
	manager_stop(&mgr);
	set_vault(2, "rv-Q7x-down-b");
	sleep_ms(1500);
	expect_gen(ns, "Deployment", "web", 1);
	start_manager();
	wait_value(ns, "rv-Q7x-down-b", 10000);
	wait_gen(ns, "Deployment", "web", 2, 5000);
	wait_gen(ns, "StatefulSet", "db", 2, 5000);
	wait_syncs(2, 4, 15000);
	expect_gen(ns, "Deployment", "web", 2);
	expect_gen(ns, "StatefulSet", "db", 2);

	/* and another restart of the operator after it: still nothing */
	manager_stop(&mgr);
	start_manager();
	wait_syncs(2, 3, 15000);
	expect_gen(ns, "Deployment", "web", 2);
	expect_gen(ns, "StatefulSet", "db", 2);
	ns_delete(ns);
	free(ns);
}
END_TEST

/* gens - how many Deployments in ns have generation want (of *total). */
static int gens(const char *ns, long want, int *total)
{
	char *out = sh_out("kubectl get deployments -n %s -o "
	    "jsonpath='{range .items[*]}{.metadata.generation}{\" \"}{end}'", ns);
	int n = 0, all = 0;

	for (char *p = out, *end; *p; p = end) {
		long g = strtol(p, &end, 10);
		if (end == p)
			break;
		all++;
		n += g == want;
	}
	free(out);
	*total = all;
	return n;
}

START_TEST(twenty_annotated_deployments_each_once_per_change)
{
	char *ns = scene("roll-twenty", 3, "rv-Q7x-twenty-a");
	char yaml[65536] = "";
	int total;

	for (int i = 0; i < 20; i++)
		snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml),
		    "---\napiVersion: apps/v1\n"
		    "kind: Deployment\nmetadata:\n  name: dep-%02d\n  namespace: %s\n"
		    "  annotations: {" ANN_RELOAD ": creds}\nspec:\n  replicas: 0\n"
		    "  selector: {matchLabels: {app: d%02d}}\n  template:\n    metadata:\n"
		    "      labels: {app: d%02d}\n    spec:\n"
		    "      containers: [{name: c, image: x}]\n",
		    i, ns, i, i);
	ck_assert_int_eq(kubectl_apply("%s", yaml), 0);
	synced(ns, 3, "1s", NULL);
	wait_syncs(3, 3, 10000);
	ck_assert_int_eq(gens(ns, 1, &total), 20);
	ck_assert_int_eq(total, 20);

	for (int change = 1; change <= 2; change++) {
		int64_t t0 = now_ms();
		set_vault(3, change == 1 ? "rv-Q7x-twenty-b" : "rv-Q7x-twenty-c");
		while (gens(ns, 1 + change, &total) < 20) {
			ck_assert_msg(now_ms() - t0 < 15000, "change %d: only %d of 20 restarted",
			    change, gens(ns, 1 + change, &total));
			sleep_ms(100);
		}
		fprintf(stderr, "change %d: 20 Deployments restarted within %lld ms\n", change,
		    (long long)(now_ms() - t0));
		wait_syncs(3, 4, 15000);
		ck_assert_int_eq(gens(ns, 1 + change, &total), 20);
		ck_assert_int_eq(total, 20);
		/* one job stamped them all */
		char *stamps = sh_out("kubectl get deployments -n %s -o jsonpath='{range .items[*]}"
		    "{.spec.template.metadata.annotations.pam\\.monofor\\.com/restartedAt}{\"\\n\"}"
		    "{end}' | sort -u | wc -l", ns);
		ck_assert_str_eq(stamps, "1");
		free(stamps);
	}
	ns_delete(ns);
	free(ns);
}
END_TEST

START_TEST(failed_target_retried_alone_with_warning_and_condition)
{
	char *ns = scene("roll-fail", 4, "rv-Q7x-fail-a");
	double err0 = metric(M_DEP_ERR), skip0 = metric(M_DEP_SKIP);

	workload(ns, "Deployment", "web", NULL, NULL);
	workload(ns, "Deployment", "api", "creds", NULL);
	/* a long refresh: what runs again below is the rollout's retry */
	synced(ns, 4, "1h", "[{kind: Deployment, name: web}, {kind: Deployment, name: late}]");
	change_now(ns, 4, "rv-Q7x-fail-b");
	wait_gen(ns, "Deployment", "web", 2, 8000);
	wait_gen(ns, "Deployment", "api", 2, 5000);
	wait_jp(ns, "msec", "ms", JP_ROLL, "False/RolloutTargetNotFound", 5000);
	wait_ready(ns, "msec", "ms", "True/Synced", 1000);   /* Ready still reports the sync */
	char *msg = jp(ns, "msec", "ms",
	    "{.status.conditions[?(@.type==\"RolloutSucceeded\")].message}");
	ck_assert_msg(strstr(msg, "Deployment/late not found") != NULL, "message: %s", msg);
	free(msg);
	int64_t t0 = now_ms();
	while (events(ns, "RolloutTargetNotFound") < 1) {
		ck_assert_msg(now_ms() - t0 < 5000, "no Warning Event");
		sleep_ms(100);
	}
	char *pend = jp(ns, "secret", "creds", JP_PENDING), *h = status_hash(ns);
	ck_assert_str_eq(pend, h);   /* the owed change is on the Secret */
	free(pend);
	free(h);

	/* retries (1 s, 2 s, 4 s ...) keep failing on "late" alone. They need
	 * no PAM request (the Secret says what is owed), so they are counted
	 * by the rollout metric, not by pamsim. */
	t0 = now_ms();
	while (metric(M_DEP_ERR) - err0 < 4) {
		ck_assert_msg(now_ms() - t0 < 15000, "fewer than 3 retries in 15 s");
		sleep_ms(100);
	}
	expect_gen(ns, "Deployment", "web", 2);
	expect_gen(ns, "Deployment", "api", 2);

	/* the target appears: it, and only it, is restarted for the change,
	 * without waiting for the next retry (by now 8 s or more away) */
	workload(ns, "Deployment", "late", NULL, NULL);
	t0 = now_ms();
	wait_gen(ns, "Deployment", "late", 2, 5000);
	fprintf(stderr, "a missing target restarted %lld ms after it appeared\n",
	    (long long)(now_ms() - t0));
	wait_jp(ns, "msec", "ms", JP_ROLL, "True/RolloutTriggered", 5000);
	wait_jp(ns, "secret", "creds", JP_PENDING, "", 5000);
	expect_gen(ns, "Deployment", "web", 2);
	expect_gen(ns, "Deployment", "api", 2);
	ck_assert(metric(M_DEP_ERR) - err0 >= 3);
	ck_assert(metric(M_DEP_SKIP) - skip0 >= 6);
	ns_delete(ns);
	free(ns);
}
END_TEST

/* crash_state - with the operator stopped, put back what a crash after
 * the restarts would have left: status still at the old hash and the
 * Secret still owing the change. */
static void crash_state(const char *ns, const char *old_hash, const char *new_hash)
{
	ck_assert_int_eq(sh("kubectl -n %s annotate secret creds --overwrite "
	    "pam.monofor.com/rollout-pending=%s >/dev/null", ns, new_hash), 0);
	ck_assert_int_eq(sh("kubectl -n %s patch msec ms --subresource=status --type=merge -p "
	    "'{\"status\":{\"secretDataHash\":\"%s\"}}' >/dev/null", ns, old_hash), 0);
}

START_TEST(crash_windows_give_exactly_one_restart)
{
	char *ns = scene("roll-crash", 5, "rv-Q7x-crash-a");
	char *p, *h;

	workload(ns, "Deployment", "web", NULL, NULL);
	workload(ns, "Deployment", "api", "creds", NULL);
	synced(ns, 5, "1h", "[{kind: Deployment, name: web}]");
	p = status_hash(ns);
	change_now(ns, 5, "rv-Q7x-crash-b");
	wait_gen(ns, "Deployment", "web", 2, 8000);
	wait_gen(ns, "Deployment", "api", 2, 5000);
	wait_jp(ns, "secret", "creds", JP_PENDING, "", 5000);
	h = status_hash(ns);
	ck_assert_str_ne(p, h);

	/* 1: restarts done, operator died before clearing the mark and
	 * writing status. On start: no workload restarted again. */
	manager_stop(&mgr);
	crash_state(ns, p, h);
	start_manager();
	wait_jp(ns, "msec", "ms", "{.status.secretDataHash}", h, 10000);
	wait_jp(ns, "secret", "creds", JP_PENDING, "", 5000);
	expect_gen(ns, "Deployment", "web", 2);
	expect_gen(ns, "Deployment", "api", 2);

	/* 2: the Secret was written and "web" restarted, then the worker
	 * died before reaching "api". On start: "api" alone, once. */
	manager_stop(&mgr);
	crash_state(ns, p, h);
	ck_assert_int_eq(sh("kubectl -n %s annotate deployment api "
	    "pam.monofor.com/restarted-for- >/dev/null", ns), 0);
	/* a Deployment's generation also counts annotation edits (they are
	 * copied to its ReplicaSets): this one included */
	long g = gen(ns, "Deployment", "api");
	start_manager();
	wait_gen(ns, "Deployment", "api", g + 1, 10000);
	wait_jp(ns, "secret", "creds", JP_PENDING, "", 5000);
	wait_jp(ns, "msec", "ms", "{.status.secretDataHash}", h, 5000);
	expect_gen(ns, "Deployment", "web", 2);
	sleep_ms(1500);
	expect_gen(ns, "Deployment", "api", g + 1);

	/* 3: status written and mark cleared, nothing owed: nothing. A
	 * MonoSecret in sync costs no PAM request at start: the job that
	 * checks its Secret shows in the operator's log instead. */
	manager_stop(&mgr);
	start_manager();
	int64_t t0 = now_ms();
	while (sh("grep -q 'msg=\"job done\" kind=MonoSecret object=%s/ms ' %s", ns, mgr.log) != 0) {
		ck_assert_msg(now_ms() - t0 < 10000, "no job done after the start");
		sleep_ms(100);
	}
	sleep_ms(1000);
	expect_gen(ns, "Deployment", "web", 2);
	expect_gen(ns, "Deployment", "api", g + 1);
	free(p);
	free(h);
	ns_delete(ns);
	free(ns);
}
END_TEST

START_TEST(access_key_rotation_is_not_a_change)
{
	char *ns = scene("roll-key", 0, "rv-Q7x-key-a");
	char *h1, *h2;

	workload(ns, "Deployment", "web", NULL, NULL);
	synced(ns, 0, "1s", "[{kind: Deployment, name: web}]");
	h1 = status_hash(ns);

	/* the hash is keyed by the access key: it moves, the data does not */
	store_setup(ns, &pam, KEY2);
	int64_t t0 = now_ms();
	while (strcmp(h2 = status_hash(ns), h1) == 0) {
		free(h2);
		ck_assert_msg(now_ms() - t0 < 10000, "the new access key was never used");
		sleep_ms(100);
	}
	wait_syncs(0, 3, 10000);
	expect_gen(ns, "Deployment", "web", 1);

	/* a real change still restarts */
	set_vault(0, "rv-Q7x-key-b");
	wait_gen(ns, "Deployment", "web", 2, 8000);
	wait_syncs(0, 3, 10000);
	expect_gen(ns, "Deployment", "web", 2);
	free(h1);
	free(h2);
	ns_delete(ns);
	free(ns);
}
END_TEST

Suite *rollout_suite(void)
{
	Suite *s = suite_create("rollout");
	TCase *tc = tcase_create("rollout");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, leftovers_init, reap);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, once_per_change_never_on_first_sync_or_constant_data);
	tcase_add_test(tc, operator_restart_and_change_while_stopped);
	tcase_add_test(tc, twenty_annotated_deployments_each_once_per_change);
	tcase_add_test(tc, failed_target_retried_alone_with_warning_and_condition);
	tcase_add_test(tc, crash_windows_give_exactly_one_restart);
	tcase_add_test(tc, access_key_rotation_is_not_a_change);
	suite_add_tcase(s, tc);
	return s;
}
