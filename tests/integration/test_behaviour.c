/*
 * behaviour: what users rely on between the fields: drift is repaired
 * within seconds (and costs PAM nothing when our keys are intact), a
 * sync that changes nothing writes nothing, PAM failures never touch the
 * last good Secret and are retried with backoff (429 honours
 * Retry-After), conditions follow the API conventions, and Events do
 * not flood.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"
#include "suites.h"

#define KEY "5e8a1c2d-f1e1-4d00-9000-0000000000c3"
#define V(n) "c3000000-0000-4000-8000-0000000000" n
#define V_DRIFT V("01")
#define V_DMERGE V("02")
#define V_QUIET V("03")
#define V_BACK  V("04")
#define V_RA    V("05")
#define V_COND  V("06")
#define V_EV    V("07")
#define V_STEADY V("08")
#define V_ZERO  V("09")
#define V_F(n)  V("1" n)
#define V_UNREACH V("20")
#define NFAIL 7

#define VAL "beh-Bx4-"

static struct pamsim pam;
/* Shared with the forked test processes: a test that restarts the
 * operator leaves the new pid where the fixture's teardown finds it. */
static struct manager *mgr;

/* vaults - every vault of the suite; ev is the value of V_EV. */
static char *vaults(const char *ev)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	const char *ids[] = { V_DRIFT, V_DMERGE, V_QUIET, V_BACK, V_RA, V_COND, V_F("0"),
	    V_F("1"), V_F("2"), V_F("3"), V_F("4"), V_F("5"), V_F("6"), V_STEADY, V_ZERO, NULL };

	fputs("{\"vaults\":[", f);
	for (int i = 0; ids[i]; i++)
		fprintf(f, "{\"id\":\"%s\",\"type\":\"SecretText\",\"properties\":"
		    "{\"SecretText\":\"" VAL "%d\"}},", ids[i], i);
	fprintf(f, "{\"id\":\"" V_EV "\",\"type\":\"SecretText\",\"properties\":"
	    "{\"SecretText\":\"%s\"}}]}", ev);
	fclose(f);
	return s;
}

static void setup(void)
{
	char *v = vaults(VAL "ev1");

	pamsim_start(&pam, v, KEY);
	free(v);
	mgr = mmap(NULL, sizeof(*mgr), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(mgr, MAP_FAILED);
	manager_start(mgr, "--workers=2");
}

static void teardown(void)
{
	static const char *const secrets[] = { KEY, VAL, NULL };

	manager_stop(mgr);
	pamsim_stop(&pam);
	assert_file_lacks(mgr->log, secrets);
	assert_file_lacks(pam.log, secrets);
	munmap(mgr, sizeof(*mgr));
}

static void simple(const char *ns, const char *name, const char *vault, const char *refresh,
    const char *policy)
{
	char spec[512];

	snprintf(spec, sizeof(spec), "  target: {name: %s, creationPolicy: %s}\n"
	    "  refreshInterval: \"%s\"\n"
	    "  data:\n  - {secretKey: v, remoteRef: {vaultID: \"%s\"}}\n", name, policy,
	    refresh, vault);
	ck_assert_int_eq(msec_apply(ns, name, spec), 0);
}

#define RV "{.metadata.resourceVersion}"
#define KEYS "\",\".join(sorted(o[\"data\"]))"

START_TEST(drift_is_repaired_within_seconds)
{
	char *ns = ns_with_store("b-drift", &pam, KEY);

	simple(ns, "drift", V_DRIFT, "1h", "Owner");
	wait_ready(ns, "msec", "drift", "True/Synced", 8000);
	char *ltt = ready_field(ns, "msec", "drift", "lastTransitionTime");
	long n = pamsim_count(&pam, V_DRIFT);

	/* deleted: back within seconds (the values must come from PAM again) */
	ck_assert_int_eq(sh("kubectl -n %s delete secret drift >/dev/null", ns), 0);
	int64_t t_del = wait_kq(ns, "secret", "drift", KEYS, "v", 5000);
	assert_str_free(secret_value(ns, "drift", "v"), VAL "0");
	ck_assert_int_eq(pamsim_count(&pam, V_DRIFT), n + 1);

	/* one of our keys edited: put back within seconds */
	sleep_ms(300);
	ck_assert_int_eq(sh("kubectl -n %s patch secret drift --type=merge -p "
	    "'{\"data\":{\"v\":\"dGFtcGVyZWQ=\"}}' >/dev/null", ns), 0);
	int64_t t0 = now_ms();
	char *v = NULL;
	while ((v = secret_value(ns, "drift", "v")) == NULL || strcmp(v, VAL "0") != 0) {
		ck_assert_msg(now_ms() - t0 < 5000, "edited key not restored (\"%s\")", v);
		free(v);
		sleep_ms(50);
	}
	free(v);
	fprintf(stderr, "drift repaired: deleted Secret in %lld ms, edited key in %lld ms\n",
	    (long long)t_del, (long long)(now_ms() - t0));
	ck_assert_int_eq(pamsim_count(&pam, V_DRIFT), n + 2);
	wait_ready(ns, "msec", "drift", "True/Synced", 3000);
	assert_str_free(ready_field(ns, "msec", "drift", "lastTransitionTime"), ltt);
	free(ltt);

	/* Merge: another writer's key edited is left alone, no write, no PAM */
	ck_assert_int_eq(sh("kubectl -n %s create secret generic dmerge --from-literal=other=x "
	    ">/dev/null", ns), 0);
	simple(ns, "dmerge", V_DMERGE, "1h", "Merge");
	wait_ready(ns, "msec", "dmerge", "True/Synced", 8000);
	sleep_ms(500);
	n = pamsim_count(&pam, V_DMERGE);
	ck_assert_int_eq(sh("kubectl -n %s patch secret dmerge --type=merge -p "
	    "'{\"data\":{\"other\":\"eQ==\"}}' >/dev/null", ns), 0);
	char *rv = jp(ns, "secret", "dmerge", RV);
	still_for(ns, "secret", "dmerge", "o[\"metadata\"][\"resourceVersion\"]", rv, 2000);
	assert_str_free(secret_value(ns, "dmerge", "other"), "y");
	assert_str_free(secret_value(ns, "dmerge", "v"), VAL "1");
	ck_assert_int_eq(pamsim_count(&pam, V_DMERGE), n);
	free(rv);
	ns_done(ns);
}
END_TEST

#define READY_ALL "\"|\".join(str(c.get(k)) for c in o[\"status\"][\"conditions\"] " \
    "if c[\"type\"]==\"Ready\" for k in (\"status\",\"reason\",\"message\"," \
    "\"lastTransitionTime\",\"observedGeneration\"))"

START_TEST(unchanged_data_writes_nothing)
{
	char *ns = ns_with_store("b-quiet", &pam, KEY);

	ck_assert_int_eq(msec_apply(ns, "quiet", "  target:\n    name: quiet\n    template:\n"
	    "      metadata: {labels: {team: q}, annotations: {note: q}}\n"
	    "  refreshInterval: \"1s\"\n"
	    "  data:\n  - {secretKey: v, remoteRef: {vaultID: \"" V_QUIET "\"}}\n"), 0);
	wait_ready(ns, "msec", "quiet", "True/Synced", 8000);
	sleep_ms(1200);   /* let the first sync's status settle */
	char *rv = jp(ns, "secret", "quiet", RV);
	char *ready = kq_obj(ns, "msec", "quiet", READY_ALL);
	char *hash = jp(ns, "msec", "quiet", "{.status.secretDataHash}");
	char *rt = jp(ns, "msec", "quiet", "{.status.refreshTime}");

	int64_t t0 = now_ms();
	long c0 = pamsim_count(&pam, V_QUIET);
	long c1 = wait_count(&pam, V_QUIET, c0 + 3, 6000);
	sleep_ms(300);
	assert_str_free(jp(ns, "secret", "quiet", RV), rv);
	assert_str_free(kq_obj(ns, "msec", "quiet", READY_ALL), ready);
	assert_str_free(jp(ns, "msec", "quiet", "{.status.secretDataHash}"), hash);
	char *rt2 = jp(ns, "msec", "quiet", "{.status.refreshTime}");
	ck_assert_msg(strcmp(rt2, rt) > 0, "refreshTime did not move (%s, %s)", rt, rt2);
	ck_assert_int_le(c1 - c0, (now_ms() - t0) / 1000 + 1);
	assert_str_free(events_of(ns, "quiet"), "Normal/Created");
	fprintf(stderr, "3 refreshes, Secret resourceVersion %s unchanged; Ready %s\n", rv, ready);
	free(rv); free(ready); free(hash); free(rt); free(rt2);
	ns_done(ns);
}
END_TEST

static const struct { const char *fault, *reason; } faults[NFAIL] = {
	{ "{\"status\":500}", "PAMServerError" },
	{ "{\"status\":401}", "PAMUnauthorized" },
	{ "{\"status\":403}", "PAMForbidden" },
	{ "{\"status\":404}", "VaultNotFound" },
	{ "{\"body\":\"malformed\"}", "PAMBadResponse" },
	{ "{\"body\":\"huge\"}", "PAMResponseTooLarge" },
	{ "{\"status\":429,\"retryAfter\":1}", "PAMRateLimited" },
};

/* with_vault - fault JSON with "vault" added. */
static char *with_vault(const char *fault, const char *vault)
{
	char *s = NULL;

	if (asprintf(&s, "%.*s,\"vault\":\"%s\"}", (int)strlen(fault) - 1, fault, vault) < 0)
		abort();
	return s;
}

START_TEST(pam_failures_keep_the_last_good_secret)
{
	char *ns = ns_with_store("b-fail", &pam, KEY);
	char *rv[NFAIL], name[16], vault[64];
	static const char *const no_value[] = { NULL };

	for (int i = 0; i < NFAIL; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(vault, sizeof(vault), V_F("%d"), i);
		simple(ns, name, vault, "1s", "Owner");
	}
	for (int i = 0; i < NFAIL; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		wait_ready(ns, "msec", name, "True/Synced", 8000);
		rv[i] = jp(ns, "secret", name, RV);
		snprintf(vault, sizeof(vault), V_F("%d"), i);
		char *f = with_vault(faults[i].fault, vault);
		pamsim_fault(&pam, f);
		free(f);
	}
	for (int i = 0; i < NFAIL; i++) {
		char want[32], *msg;
		snprintf(name, sizeof(name), "f%d", i);
		expect_failure(ns, "msec", name, faults[i].reason, no_value, 8000);
		msg = ready_field(ns, "msec", name, "message");
		ck_assert_msg(strstr(msg, VAL) == NULL, "a value in the message: %s", msg);
		free(msg);
		assert_str_free(jp(ns, "secret", name, RV), rv[i]);
		snprintf(want, sizeof(want), VAL "%d", 6 + i);
		assert_str_free(secret_value(ns, name, "v"), want);
	}
	pamsim_clear_faults(&pam);
	for (int i = 0; i < NFAIL; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		wait_ready(ns, "msec", name, "True/Synced", 12000);
		/* recovered with the same data: still not rewritten */
		assert_str_free(jp(ns, "secret", name, RV), rv[i]);
		free(rv[i]);
	}

	/* PAM unreachable: a pamsim of our own, stopped */
	struct pamsim own;
	char *ns2 = ns_new("b-unreach");
	pamsim_start(&own, "{\"vaults\":[{\"id\":\"" V_UNREACH "\",\"type\":\"SecretText\","
	    "\"properties\":{\"SecretText\":\"" VAL "u\"}}]}", KEY);
	store_setup(ns2, &own, KEY);
	simple(ns2, "unreach", V_UNREACH, "1s", "Owner");
	wait_ready(ns2, "msec", "unreach", "True/Synced", 8000);
	char *urv = jp(ns2, "secret", "unreach", RV);
	pamsim_stop(&own);
	expect_failure(ns2, "msec", "unreach", "PAMUnreachable", no_value, 8000);
	assert_str_free(jp(ns2, "secret", "unreach", RV), urv);
	assert_str_free(secret_value(ns2, "unreach", "v"), VAL "u");
	free(urv);
	ns_done(ns2);
	ns_done(ns);
}
END_TEST

/* times_of - pamsim's own times of the requests for vault answered with
 * status; returns how many. */
static int times_of(const char *vault, int status, int64_t *out, int max)
{
	int64_t t[256];
	int st[256], n = pamsim_requests(&pam, vault, t, st, 256), k = 0;

	for (int i = 0; i < n && k < max; i++)
		if (st[i] == status)
			out[k++] = t[i];
	return k;
}

START_TEST(failures_back_off_and_honour_retry_after)
{
	char *ns = ns_with_store("b-backoff", &pam, KEY);
	int64_t t[64], ra[64];
	int st[64];

	simple(ns, "backoff", V_BACK, "1s", "Owner");
	simple(ns, "ra", V_RA, "1s", "Owner");
	wait_ready(ns, "msec", "backoff", "True/Synced", 8000);
	wait_ready(ns, "msec", "ra", "True/Synced", 8000);

	/* a persistent 500: retried after 1, 2, 4 s, not at every 1 s refresh */
	pamsim_fault(&pam, "{\"status\":500,\"vault\":\"" V_BACK "\"}");
	/* waits for the next refresh; generous, as a loaded machine is slow */
	wait_count(&pam, V_BACK, pamsim_count(&pam, V_BACK) + 1, 8000);
	wait_ready(ns, "msec", "backoff", "False/PAMServerError", 5000);
	char *ltt = ready_field(ns, "msec", "backoff", "lastTransitionTime");

	/* 429 with Retry-After: 4 s, longer than the 1 s backoff would be */
	pamsim_fault(&pam, "{\"status\":429,\"retryAfter\":4,\"count\":1,\"vault\":\"" V_RA "\"}");
	long r0 = wait_count(&pam, V_RA, pamsim_count(&pam, V_RA) + 1, 8000);
	wait_count(&pam, V_RA, r0 + 1, 8000);
	int n = pamsim_requests(&pam, V_RA, ra, st, 64), i = n - 1;
	while (i > 0 && st[i - 1] != 429)
		i--;
	ck_assert_msg(i > 0, "no 429 in pamsim's log");
	fprintf(stderr, "after a 429 with Retry-After: 4, PAM was asked again after %lld ms\n",
	    (long long)(ra[i] - ra[i - 1]));
	ck_assert_int_ge(ra[i] - ra[i - 1], 3950);
	ck_assert_int_le(ra[i] - ra[i - 1], 5000);
	wait_ready(ns, "msec", "ra", "True/Synced", 3000);

	/* the fourth failure comes about 7 s after the first */
	int64_t t0 = now_ms();
	while ((n = times_of(V_BACK, 500, t, 64)) < 4) {
		ck_assert_msg(now_ms() - t0 < 9000, "only %d failures seen", n);
		sleep_ms(100);
	}
	fprintf(stderr, "persistent 500: retries after %lld, %lld, %lld ms (refresh 1s)\n",
	    (long long)(t[1] - t[0]), (long long)(t[2] - t[1]), (long long)(t[3] - t[2]));
	for (int k = 1; k < 4; k++) {
		int64_t want = 1000LL << (k - 1);
		ck_assert_int_ge(t[k] - t[k - 1], want - 50);
		ck_assert_int_le(t[k] - t[k - 1], want + 1000);
	}
	/* one Warning for many failures; the transition time did not move */
	assert_str_free(events_of(ns, "backoff"), "Normal/Created,Warning/PAMServerError");
	assert_str_free(ready_field(ns, "msec", "backoff", "lastTransitionTime"), ltt);
	free(ltt);
	pamsim_clear_faults(&pam);
	ns_done(ns);
}
END_TEST

START_TEST(conditions_follow_api_conventions)
{
	char *ns = ns_with_store("b-cond", &pam, KEY);
	regex_t camel, ts;

	ck_assert_int_eq(regcomp(&camel, "^[A-Z][A-Za-z0-9]*$", REG_EXTENDED | REG_NOSUB), 0);
	ck_assert_int_eq(regcomp(&ts, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
	    REG_EXTENDED | REG_NOSUB), 0);
	simple(ns, "cond", V_COND, "1s", "Owner");
	wait_ready(ns, "msec", "cond", "True/Synced", 8000);
	char *l1 = ready_field(ns, "msec", "cond", "lastTransitionTime");
	ck_assert_int_eq(regexec(&ts, l1, 0, NULL, 0), 0);
	assert_str_free(ready_field(ns, "msec", "cond", "observedGeneration"), "1");

	/* a new generation, still True: observedGeneration moves, the time does not */
	ck_assert_int_eq(sh("kubectl -n %s patch msec cond --type=merge -p '{\"spec\":{\"target\":"
	    "{\"template\":{\"metadata\":{\"labels\":{\"g\":\"2\"}}}}}}' >/dev/null", ns), 0);
	wait_jp(ns, "msec", "cond", "{.status.conditions[?(@.type==\"Ready\")].observedGeneration}",
	    "2", 8000);
	assert_str_free(ready_field(ns, "msec", "cond", "lastTransitionTime"), l1);

	/* True -> False: a new time; False with another reason: the same time */
	sleep_ms(1100);
	pamsim_fault(&pam, "{\"status\":500,\"vault\":\"" V_COND "\"}");
	wait_ready(ns, "msec", "cond", "False/PAMServerError", 8000);
	char *l2 = ready_field(ns, "msec", "cond", "lastTransitionTime");
	ck_assert_str_ne(l2, l1);
	ck_assert_int_eq(regexec(&ts, l2, 0, NULL, 0), 0);
	pamsim_clear_faults(&pam);
	pamsim_fault(&pam, "{\"status\":404,\"vault\":\"" V_COND "\"}");
	wait_ready(ns, "msec", "cond", "False/VaultNotFound", 8000);
	assert_str_free(ready_field(ns, "msec", "cond", "lastTransitionTime"), l2);
	assert_str_free(ready_field(ns, "msec", "cond", "observedGeneration"), "2");
	pamsim_clear_faults(&pam);
	sleep_ms(1100);
	wait_ready(ns, "msec", "cond", "True/Synced", 12000);
	char *l3 = ready_field(ns, "msec", "cond", "lastTransitionTime");
	ck_assert_str_ne(l3, l2);

	const char *reasons[] = { "Synced", "PAMServerError", "VaultNotFound" };
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(regexec(&camel, reasons[i], 0, NULL, 0), 0);
	char *evs = events_of(ns, "cond");
	ck_assert_str_eq(evs, "Normal/Created,Normal/Updated,Warning/PAMServerError,"
	    "Warning/VaultNotFound");
	free(evs);
	regfree(&camel);
	regfree(&ts);
	free(l1); free(l2); free(l3);
	ns_done(ns);
}
END_TEST

START_TEST(events_say_what_happened_without_flooding)
{
	char *ns = ns_with_store("b-events", &pam, KEY);
	char *v2 = vaults(VAL "ev2"), *v3 = vaults(VAL "ev3"), *v1 = vaults(VAL "ev1");

	simple(ns, "ev", V_EV, "1s", "Owner");
	wait_ready(ns, "msec", "ev", "True/Synced", 8000);
	pamsim_put_vaults(&pam, v2);
	wait_kq(ns, "secret", "ev", "__import__(\"base64\").b64decode(o[\"data\"][\"v\"]).decode()",
	    VAL "ev2", 5000);
	pamsim_fault(&pam, "{\"status\":500,\"vault\":\"" V_EV "\"}");
	long n = pamsim_count(&pam, V_EV);
	wait_count(&pam, V_EV, n + 3, 8000);
	pamsim_clear_faults(&pam);
	wait_ready(ns, "msec", "ev", "True/Synced", 8000);
	pamsim_put_vaults(&pam, v3);
	wait_kq(ns, "secret", "ev", "__import__(\"base64\").b64decode(o[\"data\"][\"v\"]).decode()",
	    VAL "ev3", 5000);
	pamsim_put_vaults(&pam, v1);
	/* a second update within ten minutes adds no Event */
	assert_str_free(events_of(ns, "ev"), "Normal/Created,Normal/Updated,Warning/PAMServerError");
	ck_assert_int_eq(sh("kubectl -n %s delete msec ev --timeout=20s >/dev/null", ns), 0);
	wait_kq(ns, "secret", "ev", "o", "<absent>", 5000);
	int64_t t0 = now_ms();
	char *evs = NULL;
	while (strcmp(evs = events_of(ns, "ev"),
	    "Normal/Created,Normal/Updated,Warning/PAMServerError,Normal/Deleted") != 0) {
		ck_assert_msg(now_ms() - t0 < 3000, "events: %s", evs);
		free(evs);
		sleep_ms(100);
	}
	free(evs);
	free(v1); free(v2); free(v3);
	ns_done(ns);
}
END_TEST

START_TEST(operator_restart_asks_pam_nothing)
{
	char *ns = ns_with_store("b-restart", &pam, KEY);

	simple(ns, "steady", V_STEADY, "1h", "Owner");
	simple(ns, "zero", V_ZERO, "0", "Owner");
	wait_ready(ns, "msec", "steady", "True/Synced", 8000);
	wait_ready(ns, "msec", "zero", "True/Synced", 8000);
	sleep_ms(500);
	char *rv = jp(ns, "secret", "steady", RV), *rv0 = jp(ns, "secret", "zero", RV);
	char *ready = kq_obj(ns, "msec", "steady", READY_ALL);
	long n = pamsim_count(&pam, V_STEADY), n0 = pamsim_count(&pam, V_ZERO);

	/* a new operator process finds both in sync: it checks the Secrets
	 * against their hashes and waits for the refresh to ask PAM */
	static const char *const secrets[] = { KEY, VAL, NULL };
	manager_stop(mgr);
	assert_file_lacks(mgr->log, secrets);
	manager_start(mgr, "--workers=2");
	sleep_ms(2500);
	ck_assert_int_eq(pamsim_count(&pam, V_STEADY), n);
	ck_assert_int_eq(pamsim_count(&pam, V_ZERO), n0);
	assert_str_free(jp(ns, "secret", "steady", RV), rv);
	assert_str_free(jp(ns, "secret", "zero", RV), rv0);
	assert_str_free(kq_obj(ns, "msec", "steady", READY_ALL), ready);

	/* and it is awake: an edited key is put back */
	ck_assert_int_eq(sh("kubectl -n %s patch secret zero --type=merge -p "
	    "'{\"data\":{\"v\":\"eA==\"}}' >/dev/null", ns), 0);
	wait_kq(ns, "secret", "zero",
	    "__import__(\"base64\").b64decode(o[\"data\"][\"v\"]).decode()", VAL "14", 5000);
	ck_assert_int_eq(pamsim_count(&pam, V_ZERO), n0 + 1);
	free(rv); free(rv0); free(ready);
	ns_done(ns);
}
END_TEST

Suite *behaviour_suite(void)
{
	Suite *s = suite_create("behaviour");
	TCase *tc = tcase_create("behaviour");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, drift_is_repaired_within_seconds);
	tcase_add_test(tc, unchanged_data_writes_nothing);
	tcase_add_test(tc, pam_failures_keep_the_last_good_secret);
	tcase_add_test(tc, failures_back_off_and_honour_retry_after);
	tcase_add_test(tc, conditions_follow_api_conventions);
	tcase_add_test(tc, events_say_what_happened_without_flooding);
	tcase_add_test(tc, operator_restart_asks_pam_nothing);
	suite_add_tcase(s, tc);
	return s;
}
