/*
 * sync: the first slice end to end. The seed's own YAML (only IDs, URL
 * and key substituted) produces the Secrets; a rotated value arrives
 * at the refresh and not before; each kind of failure leaves the good
 * Secret untouched and says why in a distinct Ready reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

#define V_TEXT "6b1d0c3e-0000-4000-8000-000000000001"
#define V_USER "6b1d0c3e-0000-4000-8000-000000000002"
#define KEY "0f1e2d3c-aaaa-bbbb-cccc-ddddeeeeffff"
#define PW1 "pw-Zq81-first"
#define PW2 "pw-Zq81-rotated"
#define TEXT "text-Zq81-value"

static struct pamsim pam;
static struct manager mgr;

static char *vaults(const char *pw)
{
	char *s = NULL;

	if (asprintf(&s, "{\"vaults\":[{\"id\":\"" V_TEXT "\",\"type\":\"SecretText\","
	    "\"properties\":{\"SecretText\":\"" TEXT "\"}},{\"id\":\"" V_USER "\","
	    "\"type\":\"UserNamePassword\",\"properties\":{\"UserName\":\"app\","
	    "\"Password\":\"%s\"}}]}", pw) < 0)
		abort();
	return s;
}

static void setup(void)
{
	char *v = vaults(PW1);

	pamsim_start(&pam, v, KEY);
	free(v);
	manager_start(&mgr, "--workers=2");
}

static void teardown(void)
{
	static const char *const secrets[] = { KEY, PW1, PW2, TEXT, NULL };

	manager_stop(&mgr);
	pamsim_stop(&pam);
	assert_file_lacks(mgr.log, secrets);
	assert_file_lacks(pam.log, secrets);
}

/* seed_yaml - Steps 5's two examples, as the seed writes them. */
static int apply_seed_examples(const char *ns, const char *refresh)
{
	return kubectl_apply(
	    "apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\nmetadata:\n"
	    "  name: app-secret\n  namespace: %s\nspec:\n  monoStoreRef:\n    name: pam\n"
	    "  target:\n    name: app-secret-k8s\n  refreshInterval: \"%s\"\n  data:\n"
	    "    - secretKey: SECRET_VALUE\n      remoteRef:\n        vaultID: \"" V_TEXT "\"\n"
	    "        property: \"SecretText\"\n---\n"
	    "apiVersion: pam.monofor.com/v1alpha1\nkind: MonoSecret\nmetadata:\n"
	    "  name: database-credentials\n  namespace: %s\nspec:\n  monoStoreRef:\n"
	    "    name: pam\n  target:\n    name: database-credentials-secret\n"
	    "  refreshInterval: \"%s\"\n  data:\n    - secretKey: username\n      remoteRef:\n"
	    "        vaultID: \"" V_USER "\"\n        property: \"UserName\"\n"
	    "    - secretKey: password\n      remoteRef:\n        vaultID: \"" V_USER "\"\n"
	    "        property: \"Password\"\n", ns, refresh, ns, refresh);
}

static bool value_is(const char *ns, const char *secret, const char *key, const char *want)
{
	char *v = secret_value(ns, secret, key);
	bool eq = v && strcmp(v, want) == 0;
	free(v);
	return eq;
}

START_TEST(seed_examples_sync_within_two_seconds)
{
	char *ns = ns_new("sync-seed");
	int64_t t0;

	store_setup(ns, &pam, KEY);
	wait_ready(ns, "mstore", "pam", "True/StoreReady", 10000);
	t0 = now_ms();
	ck_assert_int_eq(apply_seed_examples(ns, "1h"), 0);
	while (!(value_is(ns, "app-secret-k8s", "SECRET_VALUE", TEXT) &&
	    value_is(ns, "database-credentials-secret", "password", PW1))) {
		ck_assert_msg(now_ms() - t0 < 2000, "Secrets not filled within 2 s");
		sleep_ms(25);
	}
	fprintf(stderr, "seed examples synced in %lld ms\n", (long long)(now_ms() - t0));
	ck_assert(value_is(ns, "database-credentials-secret", "username", "app"));
	wait_ready(ns, "msec", "database-credentials", "True/Synced", 3000);
	wait_ready(ns, "msec", "app-secret", "True/Synced", 3000);

	char *rt = jp(ns, "msec", "database-credentials", "{.status.refreshTime}");
	ck_assert_int_eq((int)strlen(rt), 20);   /* 2026-12-04T15:42:57Z */
	char *owner = jp(ns, "secret", "database-credentials-secret",
	    "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].controller}");
	ck_assert_str_eq(owner, "MonoSecret/true");
	char *keys = jp(ns, "secret", "database-credentials-secret", "{.data}");
	ck_assert_ptr_nonnull(strstr(keys, "\"username\""));
	ck_assert_ptr_null(strstr(keys, "SECRET_VALUE"));
	/* the printer columns the seed shows */
	char *table = sh_out("kubectl get msec -n %s database-credentials --no-headers | "
	    "awk '{print $1, $2, $3}'", ns);
	ck_assert_str_eq(table, "database-credentials pam True");
	free(rt); free(owner); free(keys); free(table);
	ns_delete(ns);
	free(ns);
}
END_TEST

START_TEST(rotation_arrives_at_refresh_not_before)
{
	char *ns = ns_new("sync-rotate");
	char *v2 = vaults(PW2), *v1 = vaults(PW1);
	int64_t t0, changed_at = -1;

	store_setup(ns, &pam, KEY);
	ck_assert_int_eq(apply_seed_examples(ns, "4s"), 0);
	t0 = now_ms();
	while (!value_is(ns, "database-credentials-secret", "password", PW1)) {
		ck_assert(now_ms() - t0 < 5000);
		sleep_ms(20);
	}
	t0 = now_ms();   /* at or just after the sync that wrote PW1 */
	pamsim_put_vaults(&pam, v2);
	while (now_ms() - t0 < 6000) {
		if (value_is(ns, "database-credentials-secret", "password", PW2)) {
			changed_at = now_ms() - t0;
			break;
		}
		sleep_ms(50);
	}
	fprintf(stderr, "rotated value arrived %lld ms after the previous sync\n",
	    (long long)changed_at);
	ck_assert_msg(changed_at >= 0, "rotated value never arrived");
	ck_assert_msg(changed_at >= 3000, "value changed before the refresh interval (%lld ms)",
	    (long long)changed_at);
	ck_assert_msg(changed_at <= 5300, "value arrived late (%lld ms)", (long long)changed_at);
	pamsim_put_vaults(&pam, v1);
	free(v1); free(v2);
	ns_delete(ns);
	free(ns);
}
END_TEST

/* expect_untouched_failure - Ready goes False with reason, message
 * contains needle, and the Secret keeps its resourceVersion and value. */
static void expect_untouched_failure(const char *ns, const char *rv, const char *reason,
    const char *needle)
{
	char want[128], *msg, *rv2;

	snprintf(want, sizeof(want), "False/%s", reason);
	wait_ready(ns, "msec", "database-credentials", want, 8000);
	msg = jp(ns, "msec", "database-credentials",
	    "{.status.conditions[?(@.type==\"Ready\")].message}");
	ck_assert_msg(strstr(msg, needle) != NULL, "message \"%s\" lacks \"%s\"", msg, needle);
	rv2 = jp(ns, "secret", "database-credentials-secret", "{.metadata.resourceVersion}");
	ck_assert_str_eq(rv, rv2);
	ck_assert(value_is(ns, "database-credentials-secret", "password", PW1));
	free(msg);
	free(rv2);
}

START_TEST(failures_leave_the_good_secret)
{
	char *ns = ns_new("sync-fail");
	char *rv;
	struct pamsim own;
	char *v = vaults(PW1);

	/* a pamsim of this test's own, so that stopping it harms no one */
	pamsim_start(&own, v, KEY);
	store_setup(ns, &own, KEY);
	ck_assert_int_eq(apply_seed_examples(ns, "1s"), 0);
	wait_ready(ns, "msec", "database-credentials", "True/Synced", 5000);
	rv = jp(ns, "secret", "database-credentials-secret", "{.metadata.resourceVersion}");

	/* a wrong access key */
	ck_assert_int_eq(sh("kubectl -n %s create secret generic pam-access-key "
	    "--from-literal=key=wrong-key-0000 --dry-run=client -o yaml | kubectl apply -f - "
	    ">/dev/null", ns), 0);
	expect_untouched_failure(ns, rv, "PAMUnauthorized", "401");
	store_setup(ns, &own, KEY);
	wait_ready(ns, "msec", "database-credentials", "True/Synced", 8000);

	/* an unknown vault */
	ck_assert_int_eq(sh("kubectl -n %s patch msec database-credentials --type=json -p "
	    "'[{\"op\":\"replace\",\"path\":\"/spec/data/1/remoteRef/vaultID\",\"value\":"
	    "\"6b1d0c3e-0000-4000-8000-00000000dead\"}]' >/dev/null", ns), 0);
	expect_untouched_failure(ns, rv, "VaultNotFound", "6b1d0c3e-0000-4000-8000-00000000dead");
	ck_assert_int_eq(sh("kubectl -n %s patch msec database-credentials --type=json -p "
	    "'[{\"op\":\"replace\",\"path\":\"/spec/data/1/remoteRef/vaultID\",\"value\":"
	    "\"" V_USER "\"}]' >/dev/null", ns), 0);
	wait_ready(ns, "msec", "database-credentials", "True/Synced", 8000);

	/* PAM gone */
	pamsim_stop(&own);
	expect_untouched_failure(ns, rv, "PAMUnreachable", "127.0.0.1");
	free(rv);
	free(v);
	ns_delete(ns);
	free(ns);
}
END_TEST

Suite *sync_suite(void)
{
	Suite *s = suite_create("sync");
	TCase *tc = tcase_create("sync");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, seed_examples_sync_within_two_seconds);
	tcase_add_test(tc, rotation_arrives_at_refresh_not_before);
	tcase_add_test(tc, failures_leave_the_good_secret);
	suite_add_tcase(s, tc);
	return s;
}
