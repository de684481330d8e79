/*
 * watch: what a real API server does to watches. Restarting
 * kube-apiserver drops them (and the resourceVersions they held expire:
 * 410); changes made before and right after the restart are all
 * applied, and the relist re-runs only what changed. A list larger than
 * a page arrives whole, in pages. A rotated service-account token is
 * picked up after the old one is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "observe.h"
#include "suites.h"

#define V_A "2f1e0d9c-0000-4000-8000-00000000c001"
#define V_B "2f1e0d9c-0000-4000-8000-00000000c002"
#define KEY "3c4d5e6f-7777-4888-9999-aaaabbbbcccc"
#define PW "pw-Wt71-value"
#define TEXT "text-Wt71-value"
#define NMS 8

static struct pamsim pam;

static void setup(void)
{
	char *v = vaults_json(V_B, TEXT, V_A, PW);

	pamsim_start(&pam, v, KEY);
	free(v);
}

static void teardown(void)
{
	pamsim_stop(&pam);
}

static void no_leaks(const struct manager *m)
{
	static const char *const secrets[] = { KEY, PW, TEXT, NULL };

	assert_file_lacks(m->log, secrets);
}

/* add_text_key - a second key, "text", in MonoSecret name's data. */
static void add_text_key(const char *ns, const char *name)
{
	ck_assert_int_eq(sh("kubectl -n %s patch msec %s --type=json -p '[{\"op\":\"add\","
	    "\"path\":\"/spec/data/-\",\"value\":{\"secretKey\":\"text\",\"remoteRef\":"
	    "{\"vaultID\":\"" V_B "\",\"property\":\"SecretText\"}}}]' >/dev/null", ns, name), 0);
}

static void wait_value(const char *ns, const char *secret, const char *key, const char *want,
    int timeout_ms)
{
	int64_t t0 = now_ms();
	char *v = NULL;

	for (;;) {
		free(v);
		v = secret_value(ns, secret, key);
		if (v && strcmp(v, want) == 0)
			break;
		ck_assert_msg(now_ms() - t0 < timeout_ms, "%s/%s[%s] not there after %d ms", ns,
		    secret, key, timeout_ms);
		sleep_ms(100);
	}
	free(v);
}

START_TEST(apiserver_restart_loses_no_change_and_reruns_nothing_else)
{
	char *ns = ns_new("watch-restart");
	char name[32], target[32], *before[NMS];
	struct manager m;
	char args[600];

	/* As admin, not as deploy/'s ServiceAccount: a freshly restarted API
	 * server refuses requests (403) until its RBAC caches are filled,
	 * which the operator rides out (backoff, relist) but which the rbac
	 * suite's audit of that account would rightly call a refusal. */
	snprintf(args, sizeof(args), "--workers=2 --kubeconfig=%s", getenv("KUBECONFIG"));
	manager_start(&m, args);
	store_setup(ns, &pam, KEY);
	for (int i = 0; i < NMS; i++) {
		snprintf(name, sizeof(name), "ms-%d", i);
		snprintf(target, sizeof(target), "s-%d", i);
		msec_one(ns, name, target, "1h", "password", V_A, "Password");
	}
	for (int i = 0; i < NMS; i++) {
		snprintf(name, sizeof(name), "ms-%d", i);
		wait_ready(ns, "msec", name, "True/Synced", 15000);
	}
	sleep_ms(1100);   /* refreshTime has one-second steps */
	for (int i = 0; i < NMS; i++) {
		snprintf(name, sizeof(name), "ms-%d", i);
		before[i] = jp(ns, "msec", name, "{.status.refreshTime}");
	}
	double runs0 = prom(&m, "pamop_reconcile_total", "kind=MonoSecret result=success");

	/* one change just before the restart, three right after it, while
	 * the operator's watches are still down */
	add_text_key(ns, "ms-0");
	ck_assert_int_eq(sh("scripts/testenv restart-apiserver >/dev/null 2>&1"), 0);
	add_text_key(ns, "ms-1");
	ck_assert_int_eq(sh("kubectl -n %s delete msec ms-2 --wait=false >/dev/null", ns), 0);
	msec_one(ns, "ms-new", "s-new", "1h", "password", V_A, "Password");

	wait_value(ns, "s-0", "text", TEXT, 30000);
	wait_value(ns, "s-1", "text", TEXT, 30000);
	wait_value(ns, "s-new", "password", PW, 30000);
	wait_jp(ns, "msec", "ms-2", "{.metadata.name}", "", 30000);   /* finalizer done */
	wait_jp(ns, "secret", "s-2", "{.metadata.name}", "", 5000);   /* deletionPolicy Delete */
	wait_ready(ns, "msec", "ms-0", "True/Synced", 5000);
	wait_ready(ns, "msec", "ms-1", "True/Synced", 5000);
	wait_ready(ns, "msec", "ms-new", "True/Synced", 5000);

	/* the watches did lose their place and the caches were listed again */
	int relists = log_count(&m, "listing again", NULL);
	fprintf(stderr, "after the restart %d watches relisted\n", relists);
	ck_assert_int_ge(relists, 2);
	/* and yet what did not change was not synced again */
	for (int i = 3; i < NMS; i++) {
		snprintf(name, sizeof(name), "ms-%d", i);
		char *after = jp(ns, "msec", name, "{.status.refreshTime}");
		ck_assert_msg(strcmp(before[i], after) == 0, "%s was synced again (%s, then %s)",
		    name, before[i], after);
		free(after);
	}
	double runs = prom(&m, "pamop_reconcile_total", "kind=MonoSecret result=success") - runs0;
	fprintf(stderr, "successful reconciles after the restart: %g (4 changes, %d unchanged)\n",
	    runs, NMS - 3);
	/* ms-0, ms-1, ms-2 (cleanup), ms-new; one more if a status write met
	 * the server still starting and was retried. (Attempts that failed
	 * during the outage are not counted here.) */
	ck_assert_msg(runs >= 4 && runs <= 5, "%g reconciles", runs);

	manager_stop(&m);
	no_leaks(&m);
	for (int i = 0; i < NMS; i++)
		free(before[i]);
	ns_delete(ns);
	free(ns);
}
END_TEST

START_TEST(a_list_longer_than_a_page_arrives_whole)
{
	char *ns = ns_new("watch-page");
	struct manager m;
	const int n = 620;

	/* more managed-looking Secrets than one page (500) of a list */
	ck_assert_int_eq(sh("for i in $(seq 1 %d); do printf -- '---\\napiVersion: v1\\n"
	    "kind: Secret\\nmetadata:\\n  name: filler-%%d\\n  namespace: %s\\n  labels:\\n"
	    "    app.kubernetes.io/managed-by: pam-operator\\n' $i; done | "
	    "kubectl create -f - >/dev/null", n, ns), 0);
	manager_start(&m, "--workers=1");
	double pages = prom(&m, "pamop_kube_requests_total", "verb=LIST resource=secrets code=200");
	double cached = prom(&m, "pamop_cache_objects", "resource=secrets");
	fprintf(stderr, "%g labelled Secrets listed in %g pages\n", cached, pages);
	ck_assert_msg(cached >= n, "the cache has %g Secrets, fewer than the %d here", cached, n);
	/* (other tests' Secrets may come and go meanwhile, a few at most) */
	ck_assert_int_eq((int)pages, ((int)cached + 499) / 500);
	manager_stop(&m);
	ns_delete(ns);
	free(ns);
}
END_TEST

/* kubeconfig_for - a kubeconfig for the test cluster that reads its
 * bearer token from file (as in-cluster credentials do). */
static void kubeconfig_for(const char *path, const char *token_file)
{
	ck_assert_int_eq(sh("kubectl config view --raw --minify -o jsonpath="
	    "'{.clusters[0].cluster.certificate-authority-data}' | base64 -d > %s.ca && "
	    "printf 'apiVersion: v1\\nkind: Config\\nclusters:\\n- name: c\\n  cluster:\\n"
	    "    server: %%s\\n    certificate-authority: %s.ca\\nusers:\\n- name: u\\n  user:\\n"
	    "    tokenFile: %s\\ncontexts:\\n- name: x\\n  context: {cluster: c, user: u}\\n"
	    "current-context: x\\n' \"$(kubectl config view --minify -o "
	    "jsonpath='{.clusters[0].cluster.server}')\" > %s", path, path, token_file, path), 0);
}

/* rbac - a service account with the operator's ClusterRole from deploy/,
 * and two Secrets to bind its tokens to. */
static void rbac(const char *ns, const char *binding)
{
	ck_assert_int_eq(kubectl_apply(
	    "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: pam-operator, namespace: %s}\n"
	    "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
	    "metadata: {name: %s}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, "
	    "name: pam-operator-manager-role}\n"
	    "subjects: [{kind: ServiceAccount, name: pam-operator, namespace: %s}]\n"
	    "---\napiVersion: v1\nkind: Secret\nmetadata: {name: bind-1, namespace: %s}\n"
	    "---\napiVersion: v1\nkind: Secret\nmetadata: {name: bind-2, namespace: %s}\n",
	    ns, binding, ns, ns, ns), 0);
}

/* token_bound - a token for the service account that dies with Secret obj. */
static char *token_bound(const char *ns, const char *obj)
{
	return sh_out("kubectl -n %s create token pam-operator --duration=1h "
	    "--bound-object-kind=Secret --bound-object-name=%s", ns, obj);
}

static int status_with_token(const char *token)
{
	char *out = sh_out("curl -s -o /dev/null -w '%%{http_code}' --cacert %s/tok.kubeconfig.ca "
	    "-H 'Authorization: Bearer %s' \"$(kubectl config view --minify -o "
	    "jsonpath='{.clusters[0].cluster.server}')/apis\"", logs_dir(), token);
	int code = atoi(out);

	free(out);
	return code;
}

START_TEST(rotated_token_is_used_after_the_old_one_is_refused)
{
	char *ns = ns_new("watch-token");
	char role[64], kc[300], tf[300], tmp[320];
	const char *logs = logs_dir();
	struct manager m;

	snprintf(role, sizeof(role), "pamop-test-%s", ns);
	snprintf(kc, sizeof(kc), "%s/tok.kubeconfig", logs);
	snprintf(tf, sizeof(tf), "%s/tok.token", logs);
	snprintf(tmp, sizeof(tmp), "%s.new", tf);
	rbac(ns, role);
	char *t1 = token_bound(ns, "bind-1"), *t2 = token_bound(ns, "bind-2");
	ck_assert_int_gt((int)strlen(t1), 100);
	FILE *f = fopen(tf, "w");
	fputs(t1, f);
	fclose(f);
	kubeconfig_for(kc, tf);

	char args[700];
	snprintf(args, sizeof(args), "--workers=1 --kubeconfig=%s", kc);
	manager_start(&m, args);
	store_setup(ns, &pam, KEY);
	msec_one(ns, "db", "db-k8s", "1h", "password", V_A, "Password");
	wait_ready(ns, "msec", "db", "True/Synced", 15000);

	/* rotate: the new token goes into the file, the old one dies */
	f = fopen(tmp, "w");
	fputs(t2, f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, tf), 0);
	ck_assert_int_eq(sh("kubectl -n %s delete secret bind-1 >/dev/null", ns), 0);
	int64_t t0 = now_ms();
	while (status_with_token(t1) != 401) {
		ck_assert_msg(now_ms() - t0 < 20000, "the old token still works");
		sleep_ms(200);
	}
	ck_assert_int_eq(status_with_token(t2), 200);

	/* the next change is applied: every client moved to the new token */
	add_text_key(ns, "db");
	wait_value(ns, "db-k8s", "text", TEXT, 20000);
	wait_ready(ns, "msec", "db", "True/Synced", 10000);
	ck_assert_int_ge(log_count(&m, "service-account token changed", "trigger=401", NULL), 1);
	/* a refusal of the old token is not the MonoSecret's failure */
	char obj[128];
	snprintf(obj, sizeof(obj), "object=%s/db", ns);
	ck_assert_int_eq(log_count(&m, "Ready changed", obj, "status=False", NULL), 0);
	ck_assert(prom(&m, "pamop_kube_requests_total", "code=401") >= 1);

	manager_stop(&m);
	const char *const secrets[] = { KEY, PW, TEXT, t1, t2, NULL };
	assert_file_lacks(m.log, secrets);
	sh("kubectl delete clusterrolebinding %s >/dev/null 2>&1", role);
	unlink(tf);
	free(t1);
	free(t2);
	ns_delete(ns);
	free(ns);
}
END_TEST

Suite *watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("watch");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, apiserver_restart_loses_no_change_and_reruns_nothing_else);
	tcase_add_test(tc, a_list_longer_than_a_page_arrives_whole);
	tcase_add_test(tc, rotated_token_is_used_after_the_old_one_is_refused);
	suite_add_tcase(s, tc);
	return s;
}
