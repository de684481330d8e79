/*
 * policies: target.creationPolicy (Owner, Merge, None), deletionPolicy
 * (Delete, Retain) with the finalizer, and a renamed target, against
 * the real API server (and its garbage collector) with pamsim. Each
 * test checks the Secret's exact keys, labels, owners, and what was
 * left of other writers' data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "suites.h"

#define KEY "5e8a1c2d-f1e1-4d00-9000-0000000000b2"
#define V(n) "b2000000-0000-4000-8000-0000000000" n
#define V_OWN   V("01")
#define V_MERGE V("02")
#define V_NONE  V("03")
#define V_DEL   V("04")
#define V_GONE  V("05")
#define V_NSDEL V("06")
#define V_REN   V("07")

#define VAL(n) "pol-Pq7-" n

static struct pamsim pam;
static struct manager mgr;

static void setup(void)
{
	pamsim_start(&pam, "{\"vaults\":["
	    "{\"id\":\"" V_OWN "\",\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"" VAL("own") "\"}},"
	    "{\"id\":\"" V_MERGE "\",\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"" VAL("merge") "\"}},"
	    "{\"id\":\"" V_NONE "\",\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"" VAL("none") "\"}},"
	    "{\"id\":\"" V_DEL "\",\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"" VAL("del") "\"}},"
	    "{\"id\":\"" V_GONE "\",\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"" VAL("gone") "\"}},"
	    "{\"id\":\"" V_NSDEL "\",\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"" VAL("nsdel") "\"}},"
	    "{\"id\":\"" V_REN "\",\"type\":\"SecretText\",\"properties\":{\"SecretText\":\"" VAL("ren") "\"}}"
	    "]}", KEY);
	manager_start(&mgr, "--workers=2");
}

static void teardown(void)
{
	static const char *const secrets[] = { KEY, "pol-Pq7-", NULL };

	manager_stop(&mgr);
	pamsim_stop(&pam);
	assert_file_lacks(mgr.log, secrets);
	assert_file_lacks(pam.log, secrets);
}

/* someone_elses - a Secret written by another party, before we come. */
static void someone_elses(const char *ns, const char *name)
{
	/* create, not apply: no last-applied annotation to muddle the checks */
	ck_assert_int_eq(sh("printf '%%s' 'apiVersion: v1\nkind: Secret\n"
	    "metadata: {name: %s, namespace: %s, labels: {owner: someone}, "
	    "annotations: {theirs: kept}}\nstringData: {other: their-value}\n' | "
	    "kubectl create -f - >/dev/null", name, ns), 0);
}

static void spec_for(char *out, size_t n, const char *target, const char *policy,
    const char *deletion, const char *vault)
{
	snprintf(out, n, "  target: {name: %s, creationPolicy: %s, deletionPolicy: %s}\n"
	    "  refreshInterval: \"1s\"\n"
	    "  data:\n  - {secretKey: ours, remoteRef: {vaultID: \"%s\"}}\n", target, policy,
	    deletion, vault);
}

#define OWNERS "\";\".join(\"%s/%s/%s/%s/%s\"%(r[\"apiVersion\"],r[\"kind\"],r[\"name\"]," \
    "r.get(\"controller\"),r.get(\"blockOwnerDeletion\")) for r in " \
    "o[\"metadata\"].get(\"ownerReferences\",[]))"
#define OWNER_UID "\";\".join(r[\"uid\"] for r in o[\"metadata\"].get(\"ownerReferences\",[]))"
#define RV "{.metadata.resourceVersion}"

START_TEST(owner_creates_owns_and_prunes)
{
	char *ns = ns_with_store("p-owner", &pam, KEY);
	char spec[512];
	static const char *const conflict[] = { "taken", "not owned by this MonoSecret", NULL };

	spec_for(spec, sizeof(spec), "owned", "Owner", "Delete", V_OWN);
	ck_assert_int_eq(msec_apply(ns, "owner", spec), 0);
	someone_elses(ns, "taken");
	char *taken_rv = jp(ns, "secret", "taken", RV);
	spec_for(spec, sizeof(spec), "taken", "Owner", "Delete", V_OWN);
	ck_assert_int_eq(msec_apply(ns, "owner-conflict", spec), 0);

	wait_ready(ns, "msec", "owner", "True/Synced", 8000);
	assert_str_free(secret_keys(ns, "owned"), "ours");
	assert_str_free(secret_value(ns, "owned", "ours"), VAL("own"));
	assert_str_free(kq_obj(ns, "secret", "owned", KQ_LABELS), "app.kubernetes.io/managed-by=pam-operator");
	assert_str_free(kq_obj(ns, "secret", "owned", OWNERS),
	    "pam.monofor.com/v1alpha1/MonoSecret/owner/True/True");
	char *uid = jp(ns, "msec", "owner", "{.metadata.uid}");
	assert_str_free(kq_obj(ns, "secret", "owned", OWNER_UID), uid);
	free(uid);
	assert_str_free(jp(ns, "secret", "owned", "{.type}"), "Opaque");

	/* a key added by someone else is removed within seconds, without PAM */
	sleep_ms(300);
	ck_assert_int_eq(sh("kubectl -n %s patch secret owned --type=merge -p "
	    "'{\"data\":{\"extra\":\"eA==\"}}' >/dev/null", ns), 0);
	int64_t took = wait_kq(ns, "secret", "owned", "\",\".join(sorted(o[\"data\"]))", "ours", 5000);
	fprintf(stderr, "foreign key removed from an Owner Secret in %lld ms\n", (long long)took);

	/* a Secret that is not ours is not touched */
	expect_failure(ns, "msec", "owner-conflict", "TargetSecretConflict", conflict, 8000);
	sleep_ms(1500);
	assert_str_free(jp(ns, "secret", "taken", RV), taken_rv);
	assert_str_free(secret_keys(ns, "taken"), "other");
	assert_str_free(kq_obj(ns, "secret", "taken", KQ_LABELS), "owner=someone");
	assert_str_free(kq_obj(ns, "secret", "taken", OWNERS), "");
	free(taken_rv);
	ns_done(ns);
}
END_TEST

START_TEST(merge_keeps_other_writers)
{
	char *ns = ns_with_store("p-merge", &pam, KEY);
	char spec[512];

	someone_elses(ns, "shared");
	spec_for(spec, sizeof(spec), "shared", "Merge", "Delete", V_MERGE);
	ck_assert_int_eq(msec_apply(ns, "merge", spec), 0);
	spec_for(spec, sizeof(spec), "fresh", "Merge", "Delete", V_MERGE);
	ck_assert_int_eq(msec_apply(ns, "merge-fresh", spec), 0);

	wait_ready(ns, "msec", "merge", "True/Synced", 8000);
	assert_str_free(secret_keys(ns, "shared"), "other,ours");
	assert_str_free(secret_value(ns, "shared", "other"), "their-value");
	assert_str_free(secret_value(ns, "shared", "ours"), VAL("merge"));
	assert_str_free(kq_obj(ns, "secret", "shared", KQ_LABELS),
	    "app.kubernetes.io/managed-by=pam-operator,owner=someone");
	assert_str_free(kq_obj(ns, "secret", "shared", OWNERS), "");
	assert_str_free(kq_obj(ns, "secret", "shared", KQ_ANN_KEYS), "pam.monofor.com/data-hash,"
	    "pam.monofor.com/managed-keys,pam.monofor.com/monosecret,theirs");

	/* every refresh (1s) leaves it alone: no write */
	char *rv = jp(ns, "secret", "shared", RV);
	long n = pamsim_count(&pam, V_MERGE);
	wait_count(&pam, V_MERGE, n + 3, 6000);
	assert_str_free(jp(ns, "secret", "shared", RV), rv);
	free(rv);

	/* their edit of their key survives, and causes no write of ours */
	ck_assert_int_eq(sh("kubectl -n %s patch secret shared --type=merge -p "
	    "'{\"data\":{\"other\":\"bmV3\"},\"metadata\":{\"labels\":{\"owner\":\"else\"}}}' "
	    ">/dev/null", ns), 0);
	rv = jp(ns, "secret", "shared", RV);
	n = pamsim_count(&pam, V_MERGE);
	wait_count(&pam, V_MERGE, n + 2, 6000);
	assert_str_free(jp(ns, "secret", "shared", RV), rv);
	assert_str_free(secret_value(ns, "shared", "other"), "new");
	assert_str_free(kq_obj(ns, "secret", "shared", KQ_LABELS),
	    "app.kubernetes.io/managed-by=pam-operator,owner=else");
	free(rv);

	/* template labels we set are ours to remove when the template drops them */
	ck_assert_int_eq(sh("kubectl -n %s patch msec merge --type=merge -p '{\"spec\":{\"target\":"
	    "{\"template\":{\"metadata\":{\"labels\":{\"tpl\":\"one\"}}}}}}' >/dev/null", ns), 0);
	wait_kq(ns, "secret", "shared", KQ_LABELS,
	    "app.kubernetes.io/managed-by=pam-operator,owner=else,tpl=one", 8000);
	ck_assert_int_eq(sh("kubectl -n %s patch msec merge --type=merge -p '{\"spec\":{\"target\":"
	    "{\"template\":null}}}' >/dev/null", ns), 0);
	wait_kq(ns, "secret", "shared", KQ_LABELS,
	    "app.kubernetes.io/managed-by=pam-operator,owner=else", 8000);
	assert_str_free(secret_keys(ns, "shared"), "other,ours");

	/* absent: created, holding only our key */
	wait_ready(ns, "msec", "merge-fresh", "True/Synced", 8000);
	assert_str_free(secret_keys(ns, "fresh"), "ours");
	assert_str_free(kq_obj(ns, "secret", "fresh", OWNERS), "");
	ns_done(ns);
}
END_TEST

START_TEST(none_updates_only_what_exists)
{
	char *ns = ns_with_store("p-none", &pam, KEY);
	char spec[512];
	static const char *const missing[] = { "absent", "creationPolicy is None", NULL };

	spec_for(spec, sizeof(spec), "absent", "None", "Delete", V_NONE);
	ck_assert_int_eq(msec_apply(ns, "none-absent", spec), 0);
	someone_elses(ns, "present");
	spec_for(spec, sizeof(spec), "present", "None", "Delete", V_NONE);
	ck_assert_int_eq(msec_apply(ns, "none-present", spec), 0);

	expect_failure(ns, "msec", "none-absent", "TargetSecretNotFound", missing, 8000);
	sleep_ms(1500);
	assert_str_free(kq_obj(ns, "secret", "absent", "o"), "<absent>");

	wait_ready(ns, "msec", "none-present", "True/Synced", 8000);
	assert_str_free(secret_keys(ns, "present"), "other,ours");
	assert_str_free(secret_value(ns, "present", "ours"), VAL("none"));
	assert_str_free(kq_obj(ns, "secret", "present", OWNERS), "");

	/* once someone creates it, the retry fills it in */
	ck_assert_int_eq(sh("kubectl -n %s create secret generic absent >/dev/null", ns), 0);
	wait_ready(ns, "msec", "none-absent", "True/Synced", 12000);
	assert_str_free(secret_keys(ns, "absent"), "ours");
	ns_done(ns);
}
END_TEST

/* synced - apply a MonoSecret and wait for it to be Ready. */
static void synced(const char *ns, const char *name, const char *target, const char *policy,
    const char *deletion)
{
	char spec[512];

	spec_for(spec, sizeof(spec), target, policy, deletion, V_DEL);
	ck_assert_int_eq(msec_apply(ns, name, spec), 0);
	wait_ready(ns, "msec", name, "True/Synced", 8000);
}

static void delete_msec(const char *ns, const char *name)
{
	ck_assert_int_eq(sh("kubectl -n %s delete msec %s --timeout=20s >/dev/null", ns, name), 0);
}

START_TEST(deletion_policy_delete)
{
	char *ns = ns_with_store("p-delete", &pam, KEY);

	synced(ns, "d-owner", "d-owner", "Owner", "Delete");
	someone_elses(ns, "d-merge");
	synced(ns, "d-merge", "d-merge", "Merge", "Delete");
	synced(ns, "d-merge-only", "d-merge-only", "Merge", "Delete");
	someone_elses(ns, "d-none");
	synced(ns, "d-none", "d-none", "None", "Delete");
	assert_str_free(jp(ns, "msec", "d-owner", "{.metadata.finalizers}"),
	    "[\"pam.monofor.com/finalizer\"]");
	/* a template label on the shared Secret is ours too, and goes with us */
	ck_assert_int_eq(sh("kubectl -n %s patch msec d-merge --type=merge -p '{\"spec\":{\"target\":"
	    "{\"template\":{\"metadata\":{\"labels\":{\"tpl\":\"x\"}}}}}}' >/dev/null", ns), 0);
	wait_jp(ns, "secret", "d-merge", "{.metadata.labels.tpl}", "x", 8000);

	delete_msec(ns, "d-owner");
	delete_msec(ns, "d-merge");
	delete_msec(ns, "d-merge-only");
	delete_msec(ns, "d-none");
	/* Owner: the whole Secret */
	assert_str_free(kq_obj(ns, "secret", "d-owner", "o"), "<absent>");
	/* Merge/None: only our key and marks; theirs stays */
	const char *shared[] = { "d-merge", "d-none" };
	for (int i = 0; i < 2; i++) {
		assert_str_free(secret_keys(ns, shared[i]), "other");
		assert_str_free(secret_value(ns, shared[i], "other"), "their-value");
		assert_str_free(kq_obj(ns, "secret", shared[i], KQ_LABELS), "owner=someone");
		assert_str_free(kq_obj(ns, "secret", shared[i], KQ_ANN_KEYS), "theirs");
	}
	/* Merge that left nothing else: deleted */
	assert_str_free(kq_obj(ns, "secret", "d-merge-only", "o"), "<absent>");
	ns_done(ns);
}
END_TEST

START_TEST(deletion_policy_retain)
{
	char *ns = ns_with_store("p-retain", &pam, KEY);

	synced(ns, "r-owner", "r-owner", "Owner", "Retain");
	char *uid = jp(ns, "secret", "r-owner", "{.metadata.uid}");
	delete_msec(ns, "r-owner");
	assert_str_free(secret_keys(ns, "r-owner"), "ours");
	assert_str_free(secret_value(ns, "r-owner", "ours"), VAL("del"));
	assert_str_free(kq_obj(ns, "secret", "r-owner", OWNERS), "");
	assert_str_free(kq_obj(ns, "secret", "r-owner", KQ_LABELS), "");
	assert_str_free(kq_obj(ns, "secret", "r-owner", KQ_ANN_KEYS), "");
	/* the garbage collector cannot take it: still the same object later */
	sleep_ms(3000);
	assert_str_free(jp(ns, "secret", "r-owner", "{.metadata.uid}"), uid);
	free(uid);
	ns_done(ns);
}
END_TEST

START_TEST(deletion_needs_neither_pam_nor_store)
{
	char *ns = ns_new("p-nopam");
	struct pamsim own;

	pamsim_start(&own, "{\"vaults\":[{\"id\":\"" V_GONE "\",\"type\":\"SecretText\","
	    "\"properties\":{\"SecretText\":\"" VAL("gone") "\"}}]}", KEY);
	store_setup(ns, &own, KEY);
	ck_assert_int_eq(msec_apply(ns, "orphan", "  target: {name: orphan}\n  data:\n"
	    "  - {secretKey: ours, remoteRef: {vaultID: \"" V_GONE "\"}}\n"), 0);
	wait_ready(ns, "msec", "orphan", "True/Synced", 8000);
	pamsim_stop(&own);
	ck_assert_int_eq(sh("kubectl -n %s delete mstore pam >/dev/null", ns), 0);
	int64_t t0 = now_ms();
	delete_msec(ns, "orphan");
	fprintf(stderr, "MonoSecret deleted without PAM or MonoStore in %lld ms\n",
	    (long long)(now_ms() - t0));
	assert_str_free(kq_obj(ns, "secret", "orphan", "o"), "<absent>");
	ns_done(ns);
}
END_TEST

START_TEST(namespace_deletion_completes)
{
	char *ns = ns_with_store("p-nsdel", &pam, KEY);
	char spec[512];

	spec_for(spec, sizeof(spec), "a", "Owner", "Delete", V_NSDEL);
	ck_assert_int_eq(msec_apply(ns, "a", spec), 0);
	someone_elses(ns, "b");
	spec_for(spec, sizeof(spec), "b", "Merge", "Retain", V_NSDEL);
	ck_assert_int_eq(msec_apply(ns, "b", spec), 0);
	wait_ready(ns, "msec", "a", "True/Synced", 8000);
	wait_ready(ns, "msec", "b", "True/Synced", 8000);
	int64_t t0 = now_ms();
	ck_assert_int_eq(sh("kubectl delete namespace %s --timeout=60s >/dev/null", ns), 0);
	fprintf(stderr, "namespace with MonoSecrets deleted in %lld ms\n",
	    (long long)(now_ms() - t0));
	ck_assert_int_ne(sh("kubectl get namespace %s >/dev/null 2>&1", ns), 0);
	free(ns);
}
END_TEST

START_TEST(renamed_target_is_cleaned_up)
{
	char *ns = ns_with_store("p-rename", &pam, KEY);
	char spec[512];

	spec_for(spec, sizeof(spec), "first", "Owner", "Delete", V_REN);
	ck_assert_int_eq(msec_apply(ns, "ren", spec), 0);
	spec_for(spec, sizeof(spec), "keep-first", "Owner", "Retain", V_REN);
	ck_assert_int_eq(msec_apply(ns, "ren-retain", spec), 0);
	wait_ready(ns, "msec", "ren", "True/Synced", 8000);
	wait_ready(ns, "msec", "ren-retain", "True/Synced", 8000);

	spec_for(spec, sizeof(spec), "second", "Owner", "Delete", V_REN);
	ck_assert_int_eq(msec_apply(ns, "ren", spec), 0);
	spec_for(spec, sizeof(spec), "keep-second", "Owner", "Retain", V_REN);
	ck_assert_int_eq(msec_apply(ns, "ren-retain", spec), 0);

	/* Delete: the old one goes, the new one is written */
	wait_kq(ns, "secret", "second", "\",\".join(sorted(o[\"data\"]))", "ours", 8000);
	wait_kq(ns, "secret", "first", "o", "<absent>", 8000);
	assert_str_free(secret_value(ns, "second", "ours"), VAL("ren"));
	assert_str_free(kq_obj(ns, "secret", "second", OWNERS),
	    "pam.monofor.com/v1alpha1/MonoSecret/ren/True/True");
	/* Retain: the old one stays, released; the new one is ours */
	wait_kq(ns, "secret", "keep-second", "\",\".join(sorted(o[\"data\"]))", "ours", 8000);
	wait_kq(ns, "secret", "keep-first", OWNERS, "", 8000);
	assert_str_free(secret_value(ns, "keep-first", "ours"), VAL("ren"));
	assert_str_free(kq_obj(ns, "secret", "keep-first", KQ_LABELS), "");
	assert_str_free(kq_obj(ns, "secret", "keep-second", OWNERS),
	    "pam.monofor.com/v1alpha1/MonoSecret/ren-retain/True/True");
	wait_ready(ns, "msec", "ren", "True/Synced", 5000);
	ns_done(ns);
}
END_TEST

START_TEST(merge_never_changes_type_nor_writes_tokens)
{
	char *ns = ns_with_store("p-type", &pam, KEY);
	char spec[512];
	static const char *const mismatch[] = { "type Opaque", "example.com/x", NULL };
	static const char *const token[] = { "service-account token", NULL };

	someone_elses(ns, "typed");
	char *rv = jp(ns, "secret", "typed", RV);
	snprintf(spec, sizeof(spec), "  target:\n    name: typed\n    creationPolicy: Merge\n"
	    "    template: {type: example.com/x}\n"
	    "  data:\n  - {secretKey: ours, remoteRef: {vaultID: \"" V_MERGE "\"}}\n");
	ck_assert_int_eq(msec_apply(ns, "typed", spec), 0);
	expect_failure(ns, "msec", "typed", "TargetTypeMismatch", mismatch, 8000);
	still_for(ns, "secret", "typed", "o[\"metadata\"][\"resourceVersion\"]", rv, 1000);
	free(rv);

	/* a service-account token Secret, filled by the token controller */
	ck_assert_int_eq(sh("printf 'apiVersion: v1\\nkind: Secret\\nmetadata: {name: tok, "
	    "namespace: %s, annotations: {kubernetes.io/service-account.name: default}}\\n"
	    "type: kubernetes.io/service-account-token\\n' | kubectl create -f - >/dev/null",
	    ns), 0);
	wait_kq(ns, "secret", "tok", "\"token\" in (o.get(\"data\") or {})", "True", 10000);
	rv = jp(ns, "secret", "tok", RV);
	spec_for(spec, sizeof(spec), "tok", "Merge", "Delete", V_MERGE);
	ck_assert_int_eq(msec_apply(ns, "tok", spec), 0);
	expect_failure(ns, "msec", "tok", "TargetSecretRefused", token, 8000);
	still_for(ns, "secret", "tok", "o[\"metadata\"][\"resourceVersion\"]", rv, 1000);
	assert_str_free(kq_obj(ns, "secret", "tok", "\"ours\" in o[\"data\"]"), "False");
	free(rv);
	ns_done(ns);
}
END_TEST

Suite *policies_suite(void)
{
	Suite *s = suite_create("policies");
	TCase *tc = tcase_create("policies");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, owner_creates_owns_and_prunes);
	tcase_add_test(tc, merge_keeps_other_writers);
	tcase_add_test(tc, none_updates_only_what_exists);
	tcase_add_test(tc, merge_never_changes_type_nor_writes_tokens);
	tcase_add_test(tc, deletion_policy_delete);
	tcase_add_test(tc, deletion_policy_retain);
	tcase_add_test(tc, deletion_needs_neither_pam_nor_store);
	tcase_add_test(tc, namespace_deletion_completes);
	tcase_add_test(tc, renamed_target_is_cleaned_up);
	suite_add_tcase(s, tc);
	return s;
}
