/*
 * workers: the supervisor's worker processes fail in every way a
 * process can, and the work still gets done. kill -9 in the middle of
 * jobs leaves every MonoSecret Ready with whole Secrets; a job past
 * --job-timeout gets its worker replaced and runs again; a worker that
 * cannot even start is restarted ever more slowly, /readyz says no and
 * /healthz still says yes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "observe.h"
#include "suites.h"

#define NSEC 8
#define KEY "9e8d7c6b-aaaa-4bbb-8ccc-0123456789ab"
#define VAULT_FMT "4d3c2b1a-0000-4000-8000-00000000b%03d"

static struct pamsim pam;

static void setup(void)
{
	char *json = NULL, *v = strdup("{\"vaults\":[");

	/* one vault per MonoSecret, each value naming its owner, so that a
	 * Secret written from the wrong job would show */
	for (int i = 0; i < NSEC; i++) {
		if (asprintf(&json, "%s%s{\"id\":\"" VAULT_FMT "\",\"type\":\"UserNamePassword\","
		    "\"properties\":{\"UserName\":\"user-%d\",\"Password\":\"pw-Wk9-%d\"}}", v,
		    i ? "," : "", i, i, i) < 0)
			abort();
		free(v);
		v = json;
	}
	if (asprintf(&json, "%s]}", v) < 0)
		abort();
	free(v);
	pamsim_start(&pam, json, KEY);
	free(json);
}

static void teardown(void)
{
	pamsim_stop(&pam);
}

static void no_leaks(const struct manager *m)
{
	static const char *const secrets[] = { KEY, "pw-Wk9-", NULL };

	assert_file_lacks(m->log, secrets);
}

static void apply_msec(const char *ns, int i)
{
	char vault[64];

	snprintf(vault, sizeof(vault), VAULT_FMT, i);
	ck_assert_int_eq(kubectl_apply(
	    "apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\nmetadata: {name: ms-%d, "
	    "namespace: %s}\nspec:\n  monoStoreRef: {name: pam}\n  target: {name: s-%d}\n"
	    "  refreshInterval: 1h\n  dataFrom:\n    - extract: {vaultID: \"%s\"}\n"
	    "  data:\n    - secretKey: login\n      remoteRef: {vaultID: \"%s\", "
	    "property: UserName}\n", i, ns, i, vault, vault), 0);
}

/* secret_whole - exactly the keys the spec maps, each with its value. */
static void secret_whole(const char *ns, int i)
{
	char name[32], want[64];
	char *keys, *v;

	snprintf(name, sizeof(name), "s-%d", i);
	keys = sh_out("kubectl get secret %s -n %s -o go-template='{{range $k, $v := .data}}"
	    "{{$k}} {{end}}'", name, ns);
	ck_assert_msg(strcmp(keys, "Password UserName login ") == 0, "%s has keys \"%s\"", name,
	    keys);
	snprintf(want, sizeof(want), "pw-Wk9-%d", i);
	v = secret_value(ns, name, "Password");
	ck_assert_str_eq(v, want);
	free(v);
	snprintf(want, sizeof(want), "user-%d", i);
	v = secret_value(ns, name, "login");
	ck_assert_str_eq(v, want);
	free(v);
	free(keys);
}

/* kill_busy_workers - SIGKILL every worker of m once each is in a job
 * (PAM holds the requests); returns how many were killed. */
static int kill_busy_workers(const struct manager *m, long asked_before, int want)
{
	pid_t pids[16];
	int64_t t0 = now_ms();
	int n;

	/* every worker has asked PAM and is waiting on its latency */
	while (pamsim_total(&pam) < asked_before + want) {
		ck_assert_msg(now_ms() - t0 < 10000, "workers never reached PAM");
		sleep_ms(50);
	}
	n = worker_pids(m, pids, 16);
	ck_assert_int_eq(n, want);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(kill(pids[i], SIGKILL), 0);
	return n;
}

START_TEST(kill9_mid_job_ends_with_every_secret_whole)
{
	char *ns = ns_new("workers-kill");
	struct manager m;
	int killed = 0;

	manager_start(&m, "--workers=2");
	store_setup(ns, &pam, KEY);
	wait_ready(ns, "mstore", "pam", "True/StoreReady", 10000);
	pamsim_fault(&pam, "{\"latencyMs\":3000}");
	long asked = pamsim_total(&pam);
	for (int i = 0; i < NSEC; i++)
		apply_msec(ns, i);

	killed += kill_busy_workers(&m, asked, 2);
	/* and the replacements too, in their first jobs */
	prom_wait(&m, "pamop_workers_ready", "", 2, 10000);
	asked = pamsim_total(&pam);
	killed += kill_busy_workers(&m, asked, 2);
	sh("curl -sf -X POST http://127.0.0.1:%d/fault/clear >/dev/null", pam.admin_port);

	for (int i = 0; i < NSEC; i++) {
		char name[32];
		snprintf(name, sizeof(name), "ms-%d", i);
		wait_ready(ns, "msec", name, "True/Synced", 30000);
		secret_whole(ns, i);
	}
	ck_assert(prom(&m, "pamop_worker_restarts_total", "cause=killed") == killed);
	ck_assert(prom(&m, "pamop_worker_restarts_total", "cause!=killed") == 0);
	ck_assert(prom(&m, "pamop_reconcile_total", "kind=MonoSecret result=success") >= NSEC);
	/* each death names the job it cut short */
	ck_assert_int_eq(log_count(&m, "msg=\"worker exited\"", "cause=killed", "kind=MonoSecret",
	    "object=" , NULL), killed);
	ck_assert_int_eq(log_count(&m, "msg=\"worker exited\"", "object=none", NULL), 0);
	ck_assert(prom(&m, "pamop_workers_ready", "") == 2);
	manager_stop(&m);
	no_leaks(&m);
	ns_delete(ns);
	free(ns);
}
END_TEST

START_TEST(job_past_deadline_gets_its_worker_replaced)
{
	char *ns = ns_new("workers-deadline");
	struct manager m;
	char vault[160];

	manager_start(&m, "--workers=1 --job-timeout=1500ms");
	store_setup(ns, &pam, KEY);
	wait_ready(ns, "mstore", "pam", "True/StoreReady", 10000);
	snprintf(vault, sizeof(vault), "{\"latencyMs\":6000,\"count\":1,\"vault\":\"" VAULT_FMT "\"}",
	    3);
	pamsim_fault(&pam, vault);
	int64_t t0 = now_ms();
	apply_msec(ns, 3);
	wait_ready(ns, "msec", "ms-3", "True/Synced", 10000);
	int64_t took = now_ms() - t0;
	fprintf(stderr, "job held by PAM was cut at the deadline; Ready after %lld ms\n",
	    (long long)took);
	ck_assert_msg(took < 6000, "waited for the slow answer (%lld ms)", (long long)took);
	secret_whole(ns, 3);
	ck_assert(prom(&m, "pamop_worker_restarts_total", "cause=deadline") == 1);
	ck_assert_int_eq(log_count(&m, "job past its deadline", "object=", NULL), 1);
	ck_assert_int_eq(log_count(&m, "msg=\"worker exited\"", "cause=deadline",
	    "kind=MonoSecret", NULL), 1);
	manager_stop(&m);
	no_leaks(&m);
	ns_delete(ns);
	free(ns);
}
END_TEST

START_TEST(crashing_worker_backs_off_and_is_not_ready)
{
	struct manager m;

	/* a "worker" that exits at once, every time */
	manager_spawn(&m, "--workers=1 --worker-path=/bin/false");
	int64_t t0 = now_ms();
	while (http_status(m.health_port, "/healthz") != 200) {
		ck_assert(now_ms() - t0 < 10000);
		sleep_ms(50);
	}
	sleep_ms(6500 - (int)(now_ms() - t0));
	double n = prom(&m, "pamop_worker_restarts_total", "cause=exit");
	fprintf(stderr, "a worker that dies at once was restarted %g times in 6.5 s\n", n);
	/* 0.2, 0.4, 0.8, 1.6, 3.2 s apart: about 6; without a backoff, 25 */
	ck_assert_msg(n >= 4 && n <= 8, "%g restarts in 6.5 s", n);
	ck_assert_int_eq(http_status(m.health_port, "/readyz"), 503);
	ck_assert_int_eq(http_status(m.health_port, "/healthz"), 200);
	ck_assert(prom(&m, "pamop_workers_ready", "") == 0);
	ck_assert_int_eq(log_count(&m, "msg=\"worker exited\"", "cause=exit", NULL), (int)n);
	ck_assert_msg(manager_stop(&m) < 10000, "slow exit");
}
END_TEST

Suite *workers_suite(void)
{
	Suite *s = suite_create("workers");
	TCase *tc = tcase_create("workers");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, kill9_mid_job_ends_with_every_secret_whole);
	tcase_add_test(tc, job_past_deadline_gets_its_worker_replaced);
	tcase_add_test(tc, crashing_worker_backs_off_and_is_not_ready);
	suite_add_tcase(s, tc);
	return s;
}
