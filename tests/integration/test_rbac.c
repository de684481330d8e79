/*
 * rbac: the operator does its whole job with nothing but the RBAC its
 * manifests grant. It runs out of cluster with a TokenRequest token of
 * the ServiceAccount deploy/ binds, elects a leader, syncs, rotates,
 * restarts workloads and cleans up; the API server's audit log then
 * shows that it was never refused and that every verb the roles grant
 * was used. Scoped: the chart's namespaced install watches only its
 * namespaces, and without --namespaces the same credential is refused.
 * Runs last, so the audit covers every suite before it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

#define V_USER "6b1d0c3e-0000-4000-8000-0000000000a1"
#define V_TEXT "6b1d0c3e-0000-4000-8000-0000000000a2"
#define KEY "1f2e3d4c-aaaa-bbbb-cccc-ddddeeee0007"
#define PW1 "pw-Rb7-first"
#define PW2 "pw-Rb7-rotated"
#define TEXT1 "text-Rb7-one"
#define TEXT2 "text-Rb7-two"
#define OPERATOR_SA "system:serviceaccount:pam-operator-system:pam-operator"

static struct pamsim pam;
static struct manager mgr;

static char *vaults(const char *pw, const char *text)
{
	char *s = NULL;

	if (asprintf(&s, "{\"vaults\":[{\"id\":\"" V_USER "\",\"type\":\"UserNamePassword\","
	    "\"properties\":{\"UserName\":\"app\",\"Password\":\"%s\"}},{\"id\":\"" V_TEXT "\","
	    "\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"%s\"}}]}", pw, text) < 0)
		abort();
	return s;
}

/* sa_kubeconfig - path of a fresh TokenRequest kubeconfig for ns/sa. */
static char *sa_kubeconfig(const char *ns, const char *sa)
{
	char *path = NULL;

	if (asprintf(&path, "%s/%s-%s.kubeconfig", logs_dir(), ns, sa) < 0)
		abort();
	ck_assert_int_eq(sh("scripts/sa-kubeconfig %s %s %s 2h", ns, sa, path), 0);
	return path;
}

/* audit - rbac_audit.py over the requests user made in this run
 * (scripts/run-integration notes when it began); returns its output
 * ending in "rc=N". */
static char *audit(const char *user, const char *roles, const char *opts)
{
	const char *log = getenv("TESTENV_AUDIT_LOG");
	const char *since = getenv("PAMOP_RUN_STARTED");

	ck_assert_msg(log && *log, "TESTENV_AUDIT_LOG is not set: run through scripts/run-integration");
	return sh_out("python3 tests/integration/rbac_audit.py %s %s %s %s%s %s 2>&1; echo rc=$?",
	    log, user, roles, since && *since ? "--since=" : "", since ? since : "", opts);
}

static void setup(void)
{
	char *v = vaults(PW1, TEXT1), *kc, args[600];

	/* a fresh Lease, so that creating it is among what is checked */
	sh("kubectl -n pam-operator-system delete lease pam-operator-leader "
	    "--ignore-not-found >/dev/null 2>&1");
	kc = sa_kubeconfig("pam-operator-system", "pam-operator");
	pamsim_start(&pam, v, KEY);
	free(v);
	snprintf(args, sizeof(args), "--kubeconfig=%s --leader-elect --workers=2", kc);
	manager_start(&mgr, args);
	free(kc);
}

static void teardown(void)
{
	static const char *const secrets[] = { KEY, PW1, PW2, TEXT1, TEXT2, NULL };

	manager_stop(&mgr);
	pamsim_stop(&pam);
	assert_file_lacks(mgr.log, secrets);
}

/* columns - split a kubectl table line on runs of 2+ spaces. */
static int columns(char *line, char **out, int max)
{
	int n = 0;

	while (*line && n < max) {
		out[n++] = line;
		char *gap = strstr(line, "  ");
		if (gap == NULL)
			break;
		*gap = '\0';
		line = gap + 2;
		while (*line == ' ')
			line++;
	}
	return n;
}

static bool is_age(const char *s)
{
	size_t n = strspn(s, "0123456789");
	return n > 0 && (strcmp(s + n, "s") == 0 || strcmp(s + n, "m") == 0);
}

START_TEST(printer_columns_show_real_values)
{
	char *ns = ns_new("rbac-cols"), *out, *save = NULL, *c[8];

	store_setup(ns, &pam, KEY);
	ck_assert_int_eq(kubectl_apply("apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\n"
	    "metadata: {name: database-credentials, namespace: %s}\nspec:\n"
	    "  monoStoreRef: {name: pam}\n  target: {name: database-credentials-secret}\n"
	    "  data:\n  - {secretKey: username, remoteRef: {vaultID: \"" V_USER "\", "
	    "property: UserName}}\n", ns), 0);
	wait_ready(ns, "mstore", "pam", "True/StoreReady", 10000);
	wait_ready(ns, "msec", "database-credentials", "True/Synced", 10000);
	sleep_ms(1100);   /* so that AGE and LAST SYNCED read at least 1s */

	out = sh_out("kubectl get mstore,msec -n %s", ns);
	fprintf(stderr, "%s\n", out);
	char *l[5] = { 0 };
	int nl = 0;
	for (char *s = strtok_r(out, "\n", &save); s && nl < 5; s = strtok_r(NULL, "\n", &save))
		l[nl++] = s;
	ck_assert_int_eq(nl, 4);   /* kubectl separates the two tables with a blank line */
	ck_assert_int_eq(columns(l[0], c, 8), 4);
	ck_assert(!strcmp(c[0], "NAME") && !strcmp(c[1], "URL") && !strcmp(c[2], "READY") &&
	    !strcmp(c[3], "AGE"));
	ck_assert_int_eq(columns(l[1], c, 8), 4);
	ck_assert_str_eq(c[0], "monostore.pam.monofor.com/pam");
	ck_assert_str_eq(c[1], pam.url);
	ck_assert_str_eq(c[2], "True");
	ck_assert_msg(is_age(c[3]), "AGE \"%s\"", c[3]);
	ck_assert_int_eq(columns(l[2], c, 8), 5);
	ck_assert(!strcmp(c[0], "NAME") && !strcmp(c[1], "STORE") && !strcmp(c[2], "READY") &&
	    !strcmp(c[3], "LAST SYNCED") && !strcmp(c[4], "AGE"));
	ck_assert_int_eq(columns(l[3], c, 8), 5);
	ck_assert_str_eq(c[0], "monosecret.pam.monofor.com/database-credentials");
	ck_assert_str_eq(c[1], "pam");
	ck_assert_str_eq(c[2], "True");
	ck_assert_msg(is_age(c[3]), "LAST SYNCED \"%s\"", c[3]);
	ck_assert_msg(is_age(c[4]), "AGE \"%s\"", c[4]);
	free(out);
	ns_delete(ns);
	free(ns);
}
END_TEST

/* workloads - one of each kind the operator restarts; no controllers
 * run in the test control plane, so they are objects only. */
static void workloads(const char *ns)
{
	static const char *const kinds[] = { "Deployment", "DaemonSet", "StatefulSet" };
	static const char *const names[] = { "web", "agent", "db" };

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(kubectl_apply("apiVersion: apps/v1\nkind: %s\nmetadata:\n"
		    "  name: %s\n  namespace: %s\n%s"
		    "spec:\n%s  selector: {matchLabels: {app: %s}}\n  template:\n"
		    "    metadata: {labels: {app: %s}}\n"
		    "    spec: {containers: [{name: c, image: placeholder}]}\n",
		    kinds[i], names[i], ns,
		    i == 0 ? "  annotations: {pam.monofor.com/reload-on: creds-secret}\n" : "",
		    i == 2 ? "  serviceName: db\n" : "", names[i], names[i]), 0);
}

static char *restarted_at(const char *ns, const char *kind, const char *name)
{
	return jp(ns, kind, name,
	    "{.spec.template.metadata.annotations.pam\\.monofor\\.com/restartedAt}");
}

START_TEST(sa_syncs_rotates_restarts_and_cleans_up)
{
	char *ns = ns_new("rbac-run"), *v2 = vaults(PW2, TEXT2), *v1 = vaults(PW1, TEXT1);
	static const char *const kinds[] = { "deployment", "daemonset", "statefulset" };
	static const char *const names[] = { "web", "agent", "db" };

	store_setup(ns, &pam, KEY);
	workloads(ns);
	/* Mode A names the DaemonSet and StatefulSet; the Deployment's
	 * reload-on annotation is Mode B. */
	ck_assert_int_eq(kubectl_apply("apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\n"
	    "metadata: {name: creds, namespace: %s}\nspec:\n  monoStoreRef: {name: pam}\n"
	    "  target: {name: creds-secret}\n  refreshInterval: 2s\n  data:\n"
	    "  - {secretKey: password, remoteRef: {vaultID: \"" V_USER "\", property: Password}}\n"
	    "  - {secretKey: text, remoteRef: {vaultID: \"" V_TEXT "\"}}\n"
	    "  rollout:\n    enabled: true\n    targets:\n"
	    "    - {kind: DaemonSet, name: agent}\n    - {kind: StatefulSet, name: db}\n", ns), 0);
	wait_ready(ns, "msec", "creds", "True/Synced", 10000);
	char *pw = secret_value(ns, "creds-secret", "password");
	ck_assert_str_eq(pw, PW1);
	free(pw);
	for (int i = 0; i < 3; i++) {   /* a first sync restarts nothing */
		char *r = restarted_at(ns, kinds[i], names[i]);
		ck_assert_str_eq(r, "");
		free(r);
	}

	pamsim_put_vaults(&pam, v2);
	wait_jp(ns, "secret", "creds-secret", "{.data.password}", "cHctUmI3LXJvdGF0ZWQ=", 8000);
	wait_jp(ns, "msec", "creds",
	    "{.status.conditions[?(@.type==\"RolloutSucceeded\")].status}", "True", 8000);
	for (int i = 0; i < 3; i++) {
		char *r = restarted_at(ns, kinds[i], names[i]);
		/* RFC 3339 with milliseconds: 2026-12-04T15:42:57.123Z */
		ck_assert_msg(strlen(r) == 24, "%s/%s not restarted (\"%s\")", kinds[i], names[i], r);
		free(r);
	}
	char *ev = sh_out("kubectl get events -n %s --field-selector involvedObject.name=creds "
	    "-o jsonpath='{.items[*].reason}'", ns);
	ck_assert_msg(strstr(ev, "Created") && strstr(ev, "RolloutTriggered"), "events: %s", ev);
	free(ev);

	/* deletion: the owned Secret goes, then the finalizer, then the object */
	ck_assert_int_eq(sh("kubectl -n %s delete msec creds --wait=false >/dev/null", ns), 0);
	wait_jp(ns, "secret", "creds-secret", "{.metadata.name}", "", 10000);
	wait_jp(ns, "msec", "creds", "{.metadata.name}", "", 10000);

	pamsim_put_vaults(&pam, v1);
	free(v1); free(v2);
	ns_delete(ns);
	free(ns);
}
END_TEST

/*
 * The one rule no request uses: with OwnerReferencesPermissionEnforcement
 * (on in the testenv, as on hardened clusters) setting blockOwnerDeletion
 * on a Secret's ownerReference to a MonoSecret needs update on
 * monosecrets/finalizers. Shown by taking it away: the same roles without
 * it cannot write such a Secret, the operator's ServiceAccount can.
 */
START_TEST(finalizers_rule_is_needed_for_owned_secrets)
{
	char *ns = ns_new("rbac-owner"), *uid, *out;
	char secret[1024];

	ck_assert_int_eq(sh("kubectl get clusterrole pam-operator-manager-role -o json | python3 -c '\n"
	    "import json, sys\n"
	    "r = json.load(sys.stdin)\n"
	    "r[\"rules\"] = [x for x in r[\"rules\"]\n"
	    "              if \"monosecrets/finalizers\" not in x[\"resources\"]]\n"
	    "r[\"metadata\"] = {\"name\": \"pam-operator-test-no-finalizers\"}\n"
	    "print(json.dumps(r))' | kubectl apply -f - >/dev/null && "
	    "kubectl -n %s create serviceaccount probe >/dev/null && "
	    "kubectl -n %s create rolebinding probe --clusterrole=pam-operator-test-no-finalizers "
	    "--serviceaccount=%s:probe >/dev/null", ns, ns, ns), 0);
	ck_assert_int_eq(kubectl_apply("apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\n"
	    "metadata: {name: owner, namespace: %s}\nspec:\n  monoStoreRef: {name: absent}\n"
	    "  target: {name: owned}\n", ns), 0);
	uid = jp(ns, "msec", "owner", "{.metadata.uid}");
	snprintf(secret, sizeof(secret), "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
	    "{\"name\":\"owned\",\"namespace\":\"%s\",\"ownerReferences\":[{\"apiVersion\":"
	    "\"pam.monofor.com/v1alpha1\",\"kind\":\"MonoSecret\",\"name\":\"owner\",\"uid\":\"%s\","
	    "\"controller\":true,\"blockOwnerDeletion\":true}]}}", ns, uid);

	out = sh_out("echo '%s' | kubectl create --dry-run=server --as=system:serviceaccount:%s:probe "
	    "-f - 2>&1", secret, ns);
	ck_assert_msg(strstr(out, "blockOwnerDeletion") != NULL, "without the rule: %s", out);
	free(out);
	out = sh_out("echo '%s' | kubectl create --dry-run=server --as=" OPERATOR_SA " -f - 2>&1; "
	    "echo rc=$?", secret);
	ck_assert_msg(strstr(out, "rc=0") != NULL, "with deploy/'s roles: %s", out);
	free(out);
	free(uid);
	sh("kubectl delete clusterrole pam-operator-test-no-finalizers >/dev/null 2>&1");
	ns_delete(ns);
	free(ns);
}
END_TEST

START_TEST(every_granted_verb_used_none_refused)
{
	char roles[300], *out;

	snprintf(roles, sizeof(roles), "%s/operator-roles.json", logs_dir());
	ck_assert_int_eq(sh("kubectl get clusterrole/pam-operator-manager-role "
	    "role/pam-operator-leader-election-role -n pam-operator-system -o json > %s", roles), 0);
	out = audit(OPERATOR_SA, roles, "--exempt pam.monofor.com/monosecrets/finalizers:update");
	fprintf(stderr, "%s\n", out);
	ck_assert_msg(strstr(out, "\nrc=0") != NULL, "RBAC and use differ:\n%s", out);
	ck_assert_ptr_nonnull(strstr(out, "coordination.k8s.io/leases:create"));
	free(out);
}
END_TEST

/* --- scoped: the chart's namespaced install ---------------------------- */

static void setup_scoped(void)
{
	char *v = vaults(PW1, TEXT1);

	pamsim_start(&pam, v, KEY);
	free(v);
}

static void teardown_scoped(void)
{
	pamsim_stop(&pam);
}

/* chart_args - the manager's args from the rendered Deployment, minus the
 * listen addresses (the harness picks free loopback ports). */
static char *chart_args(const char *file)
{
	return sh_out("kubectl create --dry-run=client -f %s -o jsonpath="
	    "'{range .spec.template.spec.containers[0].args[*]}{@}{\"\\n\"}{end}' | "
	    "grep -v -- '-bind-address=' | tr '\\n' ' '", file);
}

START_TEST(namespaced_install_watches_only_its_namespaces)
{
	char *relns = ns_new("pam-scoped"), *w1 = ns_new("scoped-w1"), *w2 = ns_new("scoped-w2");
	char *other = ns_new("scoped-other"), file[300], dep[300], roles[300], args[1500], *kc;
	const char *helm = getenv("PAMOP_HELM");
	struct manager m;
	char user[200];

	ck_assert_msg(helm && *helm, "PAMOP_HELM is not set");
	snprintf(file, sizeof(file), "%s/scoped.yaml", logs_dir());
	snprintf(dep, sizeof(dep), "%s/scoped-deployment.yaml", logs_dir());
	ck_assert_int_eq(sh("%s template scoped charts/pam-operator -n %s --set "
	    "'watchNamespaces={%s,%s}' > %s 2>/dev/null && %s template scoped charts/pam-operator "
	    "-n %s --set 'watchNamespaces={%s,%s}' --show-only templates/deployment.yaml > %s "
	    "2>/dev/null && kubectl apply -f %s >/dev/null", helm, relns, w1, w2, file, helm, relns,
	    w1, w2, dep, file), 0);
	kc = sa_kubeconfig(relns, "scoped-pam-operator");
	char *ca = chart_args(dep);
	ck_assert_ptr_nonnull(strstr(ca, "--namespaces="));
	snprintf(args, sizeof(args), "--kubeconfig=%s %s", kc, ca);
	free(ca);
	manager_start(&m, args);

	const char *nss[] = { w1, w2, other };
	for (int i = 0; i < 3; i++) {
		store_setup(nss[i], &pam, KEY);
		ck_assert_int_eq(kubectl_apply("apiVersion: pam.monofor.com/v1alpha1\n"
		    "kind: MonoSecret\nmetadata: {name: s, namespace: %s}\nspec:\n"
		    "  monoStoreRef: {name: pam}\n  target: {name: s-secret}\n  data:\n"
		    "  - {secretKey: u, remoteRef: {vaultID: \"" V_USER "\", property: UserName}}\n",
		    nss[i]), 0);
	}
	wait_ready(w1, "msec", "s", "True/Synced", 10000);
	wait_ready(w2, "msec", "s", "True/Synced", 10000);
	sleep_ms(3000);   /* the other namespace had as long, and more */
	char *seen = jp(other, "msec", "s", "{.status}{.metadata.finalizers}");
	ck_assert_msg(strcmp(seen, "") == 0, "unwatched MonoSecret touched: %s", seen);
	free(seen);
	seen = jp(other, "secret", "s-secret", "{.metadata.name}");
	ck_assert_str_eq(seen, "");
	free(seen);
	/* leave no finalizer behind for a stopped operator to hold */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(sh("kubectl -n %s delete msec s --wait=false >/dev/null", nss[i]), 0);
		wait_jp(nss[i], "msec", "s", "{.metadata.name}", "", 10000);
	}
	manager_stop(&m);

	/* never refused, never outside its namespaces (no cluster-wide call) */
	snprintf(user, sizeof(user), "system:serviceaccount:%s:scoped-pam-operator", relns);
	snprintf(roles, sizeof(roles), "%s/no-roles.json", logs_dir());
	ck_assert_int_eq(sh("echo '{\"items\": []}' > %s", roles), 0);
	snprintf(args, sizeof(args), "--namespaces %s,%s,%s", w1, w2, relns);
	char *out = audit(user, roles, args);
	fprintf(stderr, "%s\n", out);
	ck_assert_msg(strstr(out, "\nrc=0") != NULL, "%s", out);
	free(out);

	/* The control: the same credential watching the whole cluster is
	 * refused, and the manager never becomes ready. */
	snprintf(args, sizeof(args), "--kubeconfig=%s", kc);
	manager_spawn(&m, args);
	sleep_ms(4000);
	ck_assert_int_eq(sh("curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/readyz | "
	    "grep -qx 503", m.health_port), 0);
	manager_stop(&m);
	ck_assert_int_eq(sh("grep -q 'list failed.*forbidden' %s", m.log), 0);
	out = audit(user, roles, "");
	ck_assert_msg(strstr(out, "refused: list pam.monofor.com/monosecrets in cluster"), "%s", out);
	free(out);

	sh("kubectl delete -f %s --wait=false >/dev/null 2>&1", file);
	for (int i = 0; i < 3; i++)
		ns_delete(nss[i]);
	ns_delete(relns);
	free(kc); free(relns); free(w1); free(w2); free(other);
}
END_TEST

Suite *rbac_suite(void)
{
	Suite *s = suite_create("rbac");
	TCase *tc = tcase_create("operator");
	TCase *sc = tcase_create("scoped");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, printer_columns_show_real_values);
	tcase_add_test(tc, sa_syncs_rotates_restarts_and_cleans_up);
	tcase_add_test(tc, finalizers_rule_is_needed_for_owned_secrets);
	tcase_add_test(tc, every_granted_verb_used_none_refused);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(sc, setup_scoped, teardown_scoped);
	tcase_set_timeout(sc, 120);
	tcase_add_test(sc, namespaced_install_watches_only_its_namespaces);
	suite_add_tcase(s, sc);
	return s;
}
