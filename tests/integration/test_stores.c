/*
 * stores: the MonoStore's Ready condition (URL, access-key reference,
 * PAM accepting the key), MonoSecrets on a store that is not ready,
 * monoStoreRef confined to the MonoSecret's namespace, and access keys
 * in another namespace: refused unless the operator was started with
 * --allow-cross-namespace-keys (a second case with its own manager).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

#define KEY "5e8a1c2d-f1e1-4d00-9000-0000000000d4"
#define V(n) "d4000000-0000-4000-8000-0000000000" n
#define V_A V("01")
#define V_B V("02")
#define V_X V("03")
#define VAL "sto-Sz9-"

static struct pamsim pam;
static struct manager mgr;

static void start(const char *flags)
{
	pamsim_start(&pam, "{\"vaults\":["
	    "{\"id\":\"" V_A "\",\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"" VAL "a\"}},"
	    "{\"id\":\"" V_B "\",\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"" VAL "b\"}},"
	    "{\"id\":\"" V_X "\",\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"" VAL "x\"}}"
	    "]}", KEY);
	manager_start(&mgr, flags);
}

static void setup(void)
{
	start("--workers=2");
}

static void setup_cross(void)
{
	start("--workers=2 --allow-cross-namespace-keys");
}

static void teardown(void)
{
	static const char *const secrets[] = { KEY, VAL, "wrong-key-d4", NULL };

	manager_stop(&mgr);
	pamsim_stop(&pam);
	assert_file_lacks(mgr.log, secrets);
	assert_file_lacks(pam.log, secrets);
}

/* store - a MonoStore named name in ns with url and key reference. */
static void store(const char *ns, const char *name, const char *url, const char *key_secret,
    const char *key_key, const char *key_ns)
{
	char nsline[128] = "";

	if (key_ns)
		snprintf(nsline, sizeof(nsline), ", namespace: %s", key_ns);
	ck_assert_int_eq(kubectl_apply("apiVersion: pam.monofor.com/v1alpha1\nkind: MonoStore\n"
	    "metadata: {name: %s, namespace: %s}\nspec:\n  provider:\n    monoforPAM:\n"
	    "      url: \"%s\"\n      auth:\n        accessKeySecretRef: {name: %s, key: %s%s}\n",
	    name, ns, url, key_secret, key_key, nsline), 0);
}

static void key_secret(const char *ns, const char *name, const char *key, const char *value)
{
	ck_assert_int_eq(sh("kubectl -n %s create secret generic %s --from-literal=%s=%s "
	    ">/dev/null", ns, name, key, value), 0);
}

static void msec_on(const char *ns, const char *name, const char *store_name, const char *vault)
{
	char spec[512];

	snprintf(spec, sizeof(spec), "  monoStoreRef: {name: %s}\n  target: {name: %s}\n"
	    "  data:\n  - {secretKey: v, remoteRef: {vaultID: \"%s\"}}\n", store_name, name, vault);
	ck_assert_int_eq(msec_apply(ns, name, spec), 0);
}

START_TEST(store_ready_checks_url_key_and_pam)
{
	char *ns = ns_new("s-ready");
	char admin_url[64];
	static const char *const url[] = { "spec.provider.monoforPAM.url", NULL };
	static const char *const nokey[] = { "missing-key", "not found", NULL };
	static const char *const nofield[] = { "no key \"other\"", NULL };
	static const char *const unauth[] = { "401", NULL };
	static const char *const notpam[] = { "no PAM API at this URL", NULL };

	key_secret(ns, "good-key", "key", KEY);
	key_secret(ns, "bad-key", "key", "wrong-key-d4");
	store(ns, "good", pam.url, "good-key", "key", NULL);
	store(ns, "bad-url", "ftp://127.0.0.1/pam", "good-key", "key", NULL);
	store(ns, "no-secret", pam.url, "missing-key", "key", NULL);
	store(ns, "no-field", pam.url, "good-key", "other", NULL);
	store(ns, "wrong-key", pam.url, "bad-key", "key", NULL);
	snprintf(admin_url, sizeof(admin_url), "http://127.0.0.1:%d", pam.admin_port);
	store(ns, "not-pam", admin_url, "good-key", "key", NULL);

	wait_ready(ns, "mstore", "good", "True/StoreReady", 8000);
	expect_failure(ns, "mstore", "bad-url", "InvalidSpec", url, 8000);
	expect_failure(ns, "mstore", "no-secret", "AccessKeySecretNotFound", nokey, 8000);
	expect_failure(ns, "mstore", "no-field", "AccessKeyMissing", nofield, 8000);
	expect_failure(ns, "mstore", "wrong-key", "PAMUnauthorized", unauth, 8000);
	expect_failure(ns, "mstore", "not-pam", "PAMBadResponse", notpam, 8000);
	/* the printer column the seed shows */
	assert_str_free(sh_out("kubectl get mstore -n %s good --no-headers | awk '{print $3}'", ns),
	    "True");
	assert_str_free(ready_field(ns, "mstore", "good", "observedGeneration"), "1");
	ns_done(ns);
}
END_TEST

START_TEST(msecs_on_an_unready_store_say_so)
{
	char *ns = ns_new("s-unready");
	static const char *const why[] = { "MonoStore", "/pam", "PAMUnauthorized", NULL };
	static const char *const missing[] = { "MonoStore", "/nowhere", "not found", NULL };

	key_secret(ns, "bad-key", "key", "wrong-key-d4");
	key_secret(ns, "good-key", "key", KEY);
	store(ns, "pam", pam.url, "bad-key", "key", NULL);
	long n = pamsim_count(&pam, V_A);
	msec_on(ns, "on-bad", "pam", V_A);
	msec_on(ns, "on-missing", "nowhere", V_A);

	expect_failure(ns, "msec", "on-bad", "StoreNotReady", why, 8000);
	expect_failure(ns, "msec", "on-missing", "StoreNotFound", missing, 8000);
	/* the store's one check stood for them: PAM was not asked for the vault */
	sleep_ms(1500);
	ck_assert_int_eq(pamsim_count(&pam, V_A), n);
	assert_str_free(kq_obj(ns, "secret", "on-bad", "o"), "<absent>");

	/* the store fixed: its MonoSecrets follow */
	store(ns, "pam", pam.url, "good-key", "key", NULL);
	wait_ready(ns, "mstore", "pam", "True/StoreReady", 8000);
	wait_ready(ns, "msec", "on-bad", "True/Synced", 8000);
	assert_str_free(secret_value(ns, "on-bad", "v"), VAL "a");
	/* the missing store created: its MonoSecret follows */
	store(ns, "nowhere", pam.url, "good-key", "key", NULL);
	wait_ready(ns, "msec", "on-missing", "True/Synced", 8000);
	ns_done(ns);
}
END_TEST

START_TEST(store_ref_stays_in_its_namespace)
{
	char *a = ns_new("s-home"), *b = ns_new("s-other");
	store_setup(a, &pam, KEY);
	wait_ready(a, "mstore", "pam", "True/StoreReady", 8000);
	/* b has no MonoStore "pam": a's is not used */
	msec_on(b, "elsewhere", "pam", V_B);
	char *want = NULL;
	if (asprintf(&want, "MonoStore %s/pam not found", b) < 0)
		abort();
	const char *needles[] = { want, NULL };
	expect_failure(b, "msec", "elsewhere", "StoreNotFound", needles, 8000);
	sleep_ms(1000);
	ck_assert_int_eq(pamsim_count(&pam, V_B), 0);
	assert_str_free(kq_obj(b, "secret", "elsewhere", "o"), "<absent>");
	free(want);
	ns_done(a);
	ns_done(b);
}
END_TEST

/* cross_setup - a tenant's key in ns a, a MonoStore in ns b naming it. */
static void cross_setup(const char *a, const char *b)
{
	key_secret(a, "tenant-a-key", "key", KEY);
	store(b, "pam", pam.url, "tenant-a-key", "key", a);
	msec_on(b, "borrower", "pam", V_X);
}

START_TEST(cross_namespace_key_is_refused)
{
	char *a = ns_new("s-tenant-a"), *b = ns_new("s-tenant-b");
	static const char *const refused[] = { "accessKeySecretRef.namespace",
	    "--allow-cross-namespace-keys", NULL };
	static const char *const store_not_ready[] = { "--allow-cross-namespace-keys", NULL };

	cross_setup(a, b);
	expect_failure(b, "mstore", "pam", "CrossNamespaceKeyRefused", refused, 8000);
	expect_failure(b, "msec", "borrower", "StoreNotReady", store_not_ready, 8000);
	sleep_ms(1000);
	ck_assert_int_eq(pamsim_count(&pam, V_X), 0);
	assert_str_free(kq_obj(b, "secret", "borrower", "o"), "<absent>");
	ns_done(a);
	ns_done(b);
}
END_TEST

START_TEST(cross_namespace_key_allowed_by_flag)
{
	char *a = ns_new("s-xa"), *b = ns_new("s-xb");

	cross_setup(a, b);
	wait_ready(b, "mstore", "pam", "True/StoreReady", 8000);
	wait_ready(b, "msec", "borrower", "True/Synced", 8000);
	assert_str_free(secret_value(b, "borrower", "v"), VAL "x");
	ns_done(a);
	ns_done(b);
}
END_TEST

Suite *stores_suite(void)
{
	Suite *s = suite_create("stores");
	TCase *tc = tcase_create("stores");
	TCase *cross = tcase_create("cross-namespace-allowed");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, store_ready_checks_url_key_and_pam);
	tcase_add_test(tc, msecs_on_an_unready_store_say_so);
	tcase_add_test(tc, store_ref_stays_in_its_namespace);
	tcase_add_test(tc, cross_namespace_key_is_refused);
	suite_add_tcase(s, tc);
	tcase_add_unchecked_fixture(cross, setup_cross, teardown);
	tcase_set_timeout(cross, 60);
	tcase_add_test(cross, cross_namespace_key_allowed_by_flag);
	suite_add_tcase(s, cross);
	return s;
}
