/*
 * observability: what an operator of the operator sees. After a known
 * sequence of syncs /metrics, read by Prometheus's own parser, holds the
 * expected series with the right values (cross-checked against what
 * pamsim and the API server saw), and every metric is documented; JSON
 * logs are one object per line with level, component and object; the
 * API rate limit holds the request rate to what was asked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "observe.h"
#include "suites.h"

#define V_TEXT "8a7b6c5d-0000-4000-8000-00000000d001"
#define V_USER "8a7b6c5d-0000-4000-8000-00000000d002"
#define V_GONE "8a7b6c5d-0000-4000-8000-0000000dead0"
#define KEY "6f5e4d3c-2b1a-4c0d-9e8f-7a6b5c4d3e2f"
#define PW1 "pw-Ob55-first"
#define PW2 "pw-Ob55-second"
#define TEXT "text-Ob55-value"

static struct pamsim pam;

static char *vaults(const char *pw)
{
	return vaults_json(V_TEXT, TEXT, V_USER, pw);
}

static void setup(void)
{
	char *v = vaults(PW1);

	/* counts below are cluster-wide: start from no MonoSecret at all */
	pam_objects_quiesce();
	pamsim_start(&pam, v, KEY);
	free(v);
}

static void teardown(void)
{
	pamsim_stop(&pam);
}

static void no_leaks(const struct manager *m)
{
	static const char *const secrets[] = { KEY, PW1, PW2, TEXT, NULL };

	assert_file_lacks(m->log, secrets);
}

/* pamsim_by_status - requests pamsim answered with code. */
static double pamsim_by_status(int code)
{
	char *out = sh_out("curl -sf http://127.0.0.1:%d/stats | python3 -c 'import json,sys; "
	    "print(json.load(sys.stdin)[\"byStatus\"].get(\"%d\", 0))'", pam.admin_port, code);
	double n = atof(out);

	free(out);
	return n;
}

static void expect(const struct manager *m, const char *sample, const char *filters,
    double want)
{
	double got = prom(m, sample, filters);

	ck_assert_msg(got == want, "%s{%s} is %g, expected %g", sample, filters, got, want);
}

/* documented_families - every family on /metrics has a row in
 * docs/metrics.md, and every row names a family that is there. */
static void documented_families(const struct manager *m)
{
	char *missing = sh_out("tests/integration/promq http://127.0.0.1:%d/metrics --families | "
	    "while read name type; do n=$name; [ $type = counter ] && n=${name}_total; "
	    "grep -q \"^| \\`$n\\`\" docs/metrics.md || echo $n; done", m->metrics_port);
	ck_assert_msg(*missing == '\0', "not in docs/metrics.md: %s", missing);
	char *stale = sh_out("grep -o '^| `pamop_[a-z_]*`' docs/metrics.md | tr -d '|` ' | "
	    "while read n; do curl -s http://127.0.0.1:%d/metrics | grep -q \"^# TYPE $n \" || "
	    "echo $n; done", m->metrics_port);
	ck_assert_msg(*stale == '\0', "documented but not served: %s", stale);
	free(missing);
	free(stale);
}

START_TEST(metrics_after_a_known_sequence)
{
	char *ns = ns_new("obs-metrics");
	struct manager m;

	manager_start(&m, "--workers=2");
	store_setup(ns, &pam, KEY);
	wait_ready(ns, "mstore", "pam", "True/StoreReady", 10000);
	deployment_reloading(ns, "web", "user-k8s");
	long g0 = generation_of(ns, "web");

	/* two good MonoSecrets, one whose store does not exist */
	msec_one(ns, "text", "text-k8s", "1h", "text", V_TEXT, "SecretText");
	msec_one(ns, "user", "user-k8s", "1h", "password", V_USER, "Password");
	ck_assert_int_eq(kubectl_apply("apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\n"
	    "metadata: {name: bad, namespace: %s}\nspec:\n  monoStoreRef: {name: nostore}\n"
	    "  target: {name: bad-k8s}\n  data:\n    - secretKey: x\n      remoteRef: {vaultID: "
	    "\"" V_TEXT "\", property: SecretText}\n", ns), 0);
	wait_ready(ns, "msec", "text", "True/Synced", 10000);
	wait_ready(ns, "msec", "user", "True/Synced", 10000);
	wait_ready(ns, "msec", "bad", "False/StoreNotFound", 10000);

	/* a rotated value, picked up by a spec change: one update, one restart */
	char *v2 = vaults(PW2);
	pamsim_put_vaults(&pam, v2);
	free(v2);
	ck_assert_int_eq(sh("kubectl -n %s patch msec user --type=merge "
	    "-p '{\"spec\":{\"refreshInterval\":\"59m\"}}' >/dev/null", ns), 0);
	wait_jp(ns, "msec", "user", "{.status.conditions[0].observedGeneration}", "2", 10000);
	wait_ready(ns, "msec", "user", "True/Synced", 5000);

	/* a vault PAM does not know: 404s with retries, then it is deleted */
	msec_one(ns, "gone", "gone-k8s", "1h", "x", V_GONE, "Password");
	wait_ready(ns, "msec", "gone", "False/VaultNotFound", 10000);
	ck_assert_int_eq(sh("kubectl -n %s delete msec gone >/dev/null", ns), 0);
	sleep_ms(1000);   /* the last results are in */

	double n404 = pamsim_by_status(404), n200 = pamsim_by_status(200);
	fprintf(stderr, "pamsim answered 200 x%g, 404 x%g\n", n200, n404);
	ck_assert(n404 >= 1);
	ck_assert(n200 == 4);   /* ping, text, user twice */

	expect(&m, "pamop_reconcile_total", "kind=MonoStore result=success", 1);
	expect(&m, "pamop_reconcile_total", "kind=MonoStore result=error", 0);
	/* text, user twice, the cleanup of gone */
	expect(&m, "pamop_reconcile_total", "kind=MonoSecret result=success", 4);
	/* bad's missing store, each 404 of gone */
	expect(&m, "pamop_reconcile_total", "kind=MonoSecret result=error", 1 + n404);
	/* the histogram counts what workers ran: all but bad's */
	expect(&m, "pamop_reconcile_duration_seconds_count", "kind=MonoSecret", 4 + n404);
	expect(&m, "pamop_reconcile_duration_seconds_bucket", "kind=MonoSecret le=+Inf", 4 + n404);
	expect(&m, "pamop_reconcile_duration_seconds_count", "kind=MonoStore", 1);
	expect(&m, "pamop_pam_requests_total", "code=200", n200);
	expect(&m, "pamop_pam_requests_total", "code=404", n404);
	expect(&m, "pamop_pam_requests_total", "", n200 + n404);
	expect(&m, "pamop_pam_request_duration_seconds_count", "", n200 + n404);
	expect(&m, "pamop_kube_requests_total", "verb=POST resource=secrets code=201", 2);
	/* the update, which also marks the restart it owes, and the mark's
	 * removal once the Deployment is restarted (docs/rollout.md) */
	expect(&m, "pamop_kube_requests_total", "verb=PUT resource=secrets code=200", 2);
	expect(&m, "pamop_kube_requests_total", "verb=PATCH resource=deployments code=200", 1);
	expect(&m, "pamop_kube_requests_total", "verb=LIST resource=monosecrets code=200", 1);
	ck_assert(prom(&m, "pamop_kube_requests_total",
	    "verb=PATCH resource=monosecrets/status code=200") >= 4);
	expect(&m, "pamop_rollouts_total", "result=success", 1);
	expect(&m, "pamop_rollouts_total", "result=error", 0);
	ck_assert_int_eq(generation_of(ns, "web"), g0 + 1);
	expect(&m, "pamop_monosecrets", "ready=True", 2);
	expect(&m, "pamop_monosecrets", "ready=False", 1);
	expect(&m, "pamop_monosecrets", "ready=Unknown", 0);
	expect(&m, "pamop_cache_objects", "resource=monosecrets", 3);
	expect(&m, "pamop_queue_depth", "", 0);
	expect(&m, "pamop_workers_ready", "", 2);
	expect(&m, "pamop_worker_restarts_total", "", 0);
	expect(&m, "pamop_leader", "", 1);
	char *ver = sh_out("%s/manager --version | cut -d' ' -f2", getenv("PAMOP_BIN"));
	char filt[128];
	snprintf(filt, sizeof(filt), "version=%s", ver);
	expect(&m, "pamop_build_info", filt, 1);
	documented_families(&m);

	manager_stop(&m);
	no_leaks(&m);
	free(ver);
	ns_delete(ns);
	free(ns);
}
END_TEST

START_TEST(json_logs_are_one_object_per_line)
{
	char *ns = ns_new("obs-json");
	struct manager m;

	manager_start(&m, "--workers=1 --log-format=json");
	store_setup(ns, &pam, KEY);
	msec_one(ns, "text", "text-k8s", "1h", "text", V_TEXT, "SecretText");
	wait_ready(ns, "msec", "text", "True/Synced", 10000);
	manager_stop(&m);

	/* every line, the workers' too, is a JSON object with the four
	 * fields; each line about a job names its object */
	char *bad = sh_out("python3 -c 'import json,sys\n"
	    "n = 0\n"
	    "for line in open(sys.argv[1]):\n"
	    "    o = json.loads(line); n += 1\n"
	    "    assert isinstance(o, dict), line\n"
	    "    for k in (\"ts\", \"level\", \"component\", \"msg\"):\n"
	    "        assert k in o, (k, line)\n"
	    "    assert o[\"level\"] in (\"debug\", \"info\", \"warn\", \"error\"), line\n"
	    "    assert o[\"component\"] in (\"supervisor\", \"worker\"), line\n"
	    "    if o[\"component\"] == \"supervisor\" and o[\"msg\"].startswith(\"job \"):\n"
	    "        assert \"/\" in o.get(\"object\", \"\") and \"kind\" in o, line\n"
	    "assert n > 10, n\n' '%s' 2>&1", m.log);
	ck_assert_msg(*bad == '\0', "%s", bad);
	ck_assert_int_ge(log_count(&m, "\"msg\":\"job done\"", "\"kind\":\"MonoSecret\"",
	    "\"object\":\"obs-json", NULL), 1);
	no_leaks(&m);
	free(bad);
	ns_delete(ns);
	free(ns);
}
END_TEST

START_TEST(api_rate_limit_holds)
{
	char *ns = ns_new("obs-qps");
	struct manager m;
	const double qps = 10, burst = 10;
	const int n = 12;
	double worst = 0, total = 0;

	store_setup(ns, &pam, KEY);
	int64_t t0 = now_ms();
	manager_start(&m, "--workers=4 --kube-api-qps=10 --kube-api-burst=10");
	for (int i = 0; i < n; i++) {
		char name[16], target[16];
		snprintf(name, sizeof(name), "q-%d", i);
		snprintf(target, sizeof(target), "q-%d-k8s", i);
		msec_one(ns, name, target, "1h", "text", V_TEXT, "SecretText");
	}
	/* requests so far never exceed what the bucket allows since start,
	 * give or take the jobs in flight, whose requests are charged when
	 * they report (4 workers, at most 4 requests each) */
	for (;;) {
		total = prom(&m, "pamop_kube_requests_total", "");
		double t = (double)(now_ms() - t0) / 1000.0;
		if (total - qps * t > worst)
			worst = total - qps * t;
		char *ready = sh_out("kubectl get msec -n %s -o jsonpath='{range .items[*]}"
		    "{.status.conditions[?(@.type==\"Ready\")].status}{\" \"}{end}' | "
		    "grep -o True | wc -l", ns);
		int done = atoi(ready);
		free(ready);
		if (done == n)
			break;
		ck_assert_msg(now_ms() - t0 < 60000, "only %d of %d Ready after 60 s", done, n);
		sleep_ms(200);
	}
	double secs = (double)(now_ms() - t0) / 1000.0;
	fprintf(stderr, "%g API requests in %.1f s at --kube-api-qps=10: %.1f/s; most ahead "
	    "of the rate: %.1f\n", total, secs, total / secs, worst);
	ck_assert_msg(worst <= burst + 16, "%.1f requests ahead of the rate", worst);
	/* and the limit did bite: unthrottled, this takes about a second */
	ck_assert(total > burst + qps * 2);
	ck_assert(secs >= (total - burst - 16) / qps);
	manager_stop(&m);
	no_leaks(&m);
	ns_delete(ns);
	free(ns);
}
END_TEST

Suite *observability_suite(void)
{
	Suite *s = suite_create("observability");
	TCase *tc = tcase_create("observability");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, metrics_after_a_known_sequence);
	tcase_add_test(tc, json_logs_are_one_object_per_line);
	tcase_add_test(tc, api_rate_limit_holds);
	suite_add_tcase(s, tc);
	return s;
}
