/*
 * leakcheck: one pass through every kind of job a worker runs (store
 * check, sync that creates, sync that updates, a refused key, a target
 * rename, a deletion), with time limits that scale with
 * $PAMOP_TIME_SCALE, so that scripts/valgrind-run can run it with the
 * manager and its worker under memcheck. PAM is spoken to over plain
 * HTTP here: under valgrind a TLS handshake to pamsim outlasts the
 * worker's connect timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

#define V_A "6b1d0c3e-0000-4000-8000-000000000021"
#define V_B "6b1d0c3e-0000-4000-8000-000000000022"
#define KEY "leak-key-Rt55-0000"
#define PW1 "leak-pw-Rt55-one"
#define PW2 "leak-pw-Rt55-two"
#define TEXT "leak-text-Rt55"

static struct pamsim pam;
static struct manager mgr;
static int scale;

static char *vaults(const char *pw)
{
	char *s = NULL;

	if (asprintf(&s, "{\"vaults\":[{\"id\":\"" V_A "\",\"type\":\"UserNamePassword\","
	    "\"properties\":{\"UserName\":\"app\",\"Password\":\"%s\"}},{\"id\":\"" V_B "\","
	    "\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"" TEXT "\"}}]}",
	    pw) < 0)
		abort();
	return s;
}

static void setup(void)
{
	char *v = vaults(PW1);

	scale = getenv("PAMOP_TIME_SCALE") ? atoi(getenv("PAMOP_TIME_SCALE")) : 1;
	if (scale < 1)
		scale = 1;
	pamsim_start_on(&pam, "127.0.0.1", false, v, KEY);
	free(v);
	manager_start(&mgr, "--workers=1");
}

static void teardown(void)
{
	static const char *const secrets[] = { KEY, PW1, PW2, TEXT, NULL };

	manager_stop(&mgr);
	pamsim_stop(&pam);
	assert_file_lacks(mgr.log, secrets);
}

static void ready(const char *ns, const char *kind, const char *name, const char *want)
{
	wait_ready(ns, kind, name, want, 10000 * scale);
}

static void set_key(const char *ns, const char *key)
{
	ck_assert_int_eq(sh("kubectl -n %s create secret generic pam-access-key "
	    "--from-literal=key=%s --dry-run=client -o yaml | kubectl apply -f - >/dev/null 2>&1",
	    ns, key), 0);
}

static void assert_value(const char *ns, const char *secret, const char *key, const char *want)
{
	char *v = secret_value(ns, secret, key);

	ck_assert_msg(v && strcmp(v, want) == 0, "%s/%s[%s] is not the expected value", ns,
	    secret, key);
	free(v);
}

START_TEST(every_job_once)
{
	char *ns = ns_new("leak");
	char *v2 = vaults(PW2);

	/* store check */
	set_key(ns, KEY);
	ck_assert_int_eq(kubectl_apply(
	    "apiVersion: pam.monofor.com/v1alpha1\nkind: MonoStore\n"
	    "metadata: {name: pam, namespace: %s}\nspec:\n  provider:\n    monoforPAM:\n"
	    "      url: \"%s\"\n      auth:\n        accessKeySecretRef: {name: pam-access-key, "
	    "key: key}\n", ns, pam.url), 0);
	ready(ns, "mstore", "pam", "True/StoreReady");

	/* sync: create, from two vault types */
	ck_assert_int_eq(kubectl_apply(
	    "apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\nmetadata:\n"
	    "  name: app\n  namespace: %s\nspec:\n  monoStoreRef: {name: pam}\n"
	    "  target: {name: app-a}\n  refreshInterval: \"1h\"\n  data:\n"
	    "    - secretKey: password\n      remoteRef: {vaultID: \"" V_A "\", property: Password}\n"
	    "    - secretKey: text\n      remoteRef: {vaultID: \"" V_B "\"}\n", ns), 0);
	ready(ns, "msec", "app", "True/Synced");
	assert_value(ns, "app-a", "password", PW1);

	/* sync: update, after a rotation and a spec change */
	pamsim_put_vaults(&pam, v2);
	ck_assert_int_eq(sh("kubectl -n %s patch msec app --type=merge -p "
	    "'{\"spec\":{\"refreshInterval\":\"2h\"}}' >/dev/null", ns), 0);
	wait_jp(ns, "msec", "app", "{.status.conditions[?(@.type==\"Ready\")].observedGeneration}",
	    "2", 10000 * scale);
	assert_value(ns, "app-a", "password", PW2);

	/* a key PAM refuses, then the right one */
	set_key(ns, "leak-wrong-Rt55");
	ck_assert_int_eq(sh("kubectl -n %s patch msec app --type=merge -p "
	    "'{\"spec\":{\"refreshInterval\":\"3h\"}}' >/dev/null", ns), 0);
	ready(ns, "msec", "app", "False/PAMUnauthorized");
	set_key(ns, KEY);
	ck_assert_int_eq(sh("kubectl -n %s patch msec app --type=merge -p "
	    "'{\"spec\":{\"refreshInterval\":\"4h\"}}' >/dev/null", ns), 0);
	ready(ns, "msec", "app", "True/Synced");

	/* rename: the old target is cleaned up, the new one written */
	ck_assert_int_eq(sh("kubectl -n %s patch msec app --type=merge -p "
	    "'{\"spec\":{\"target\":{\"name\":\"app-b\"}}}' >/dev/null", ns), 0);
	wait_jp(ns, "secret", "app-b", "{.metadata.name}", "app-b", 10000 * scale);
	wait_jp(ns, "secret", "app-a", "{.metadata.name}", "", 10000 * scale);

	/* deletion: the target goes with its MonoSecret */
	ck_assert_int_eq(sh("kubectl -n %s delete msec app --wait=false >/dev/null", ns), 0);
	wait_jp(ns, "msec", "app", "{.metadata.name}", "", 10000 * scale);
	wait_jp(ns, "secret", "app-b", "{.metadata.name}", "", 10000 * scale);
	free(v2);
	ns_delete(ns);
	free(ns);
}
END_TEST

Suite *leakcheck_suite(void)
{
	Suite *s = suite_create("leakcheck");
	TCase *tc = tcase_create("leakcheck");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, every_job_once);
	suite_add_tcase(s, tc);
	return s;
}
