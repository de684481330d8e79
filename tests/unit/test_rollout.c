/*
 * rollout: the restarted-for record a workload carries (what makes a
 * retried rollout skip what it did), the target list the supervisor
 * sends (each workload once, only the MonoSecret's namespace, only the
 * Secret named), and how a worker's report is read (counts by kind and
 * result, reasons, refusal of lines that do not have the expected shape).
 */
#include <stdlib.h>
#include <string.h>

#include "rollout_mark.h"
#include "sup.h"
#include "suites.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"

START_TEST(mark_records_one_entry_per_monosecret)
{
	char *a = rollout_mark_set(NULL, "db", H1), *b, *c;

	ck_assert_str_eq(a, "db=" H1);
	ck_assert(rollout_mark_has(a, "db", H1));
	ck_assert(!rollout_mark_has(a, "db", H2));
	ck_assert(!rollout_mark_has(a, "d", H1));     /* a prefix is not the name */
	ck_assert(!rollout_mark_has(NULL, "db", H1));
	b = rollout_mark_set(a, "app", H1);
	ck_assert_str_eq(b, "db=" H1 ",app=" H1);
	c = rollout_mark_set(b, "db", H2);            /* replaced, not added */
	ck_assert_str_eq(c, "app=" H1 ",db=" H2);
	ck_assert(rollout_mark_has(c, "db", H2));
	ck_assert(!rollout_mark_has(c, "db", H1));
	ck_assert(rollout_mark_has(c, "app", H1));
	free(a); free(b); free(c);
}
END_TEST

START_TEST(mark_survives_hand_edits)
{
	/* empty fragments and junk someone typed are dropped, other entries kept */
	char *a = rollout_mark_set(",junk,,x=1,db=" H1 "extra,", "db", H2);

	ck_assert_str_eq(a, "x=1,db=" H2);
	ck_assert(!rollout_mark_has("db=" H1 "extra", "db", H1));
	free(a);
}
END_TEST

static struct msec *msec(const char *ns, const char *target, const char *modea)
{
	struct msec *m = calloc(1, sizeof(*m));

	m->ns = strdup(ns);
	m->name = strdup("ms");
	m->target = strdup(target);
	m->rollout = modea ? strdup(modea) : NULL;
	return m;
}

START_TEST(targets_each_once_same_namespace_only)
{
	struct msec *m = msec("app", "creds", "Deployment/web\nDaemonSet/agent\nDeployment/web\n");
	char *t;

	rollout_workload_set("app", "Deployment", "web", "creds");     /* both modes */
	rollout_workload_set("app", "StatefulSet", "db", "creds");
	rollout_workload_set("other", "Deployment", "far", "creds");   /* other namespace */
	rollout_workload_set("app", "Deployment", "unrelated", "other-secret");
	rollout_workload_set("app", "Deployment", "moved", "creds");
	rollout_workload_set("app", "Deployment", "moved", "other-secret"); /* re-annotated */
	rollout_workload_set("app", "Deployment", "gone", "creds");
	rollout_workload_set("app", "Deployment", "gone", NULL);        /* annotation removed */
	rollout_workload_set("app", "Deployment", "bad", "not a name");
	t = rollout_targets(m);
	ck_assert_str_eq(t, "Deployment/web\nDaemonSet/agent\nStatefulSet/db\n");
	free(t);

	free(m->target);
	m->target = strdup("other-secret");
	free(m->rollout);
	m->rollout = NULL;
	t = rollout_targets(m);
	ck_assert(strcmp(t, "Deployment/unrelated\nDeployment/moved\n") == 0 ||
	    strcmp(t, "Deployment/moved\nDeployment/unrelated\n") == 0);
	free(t);
	msec_free(m);
}
END_TEST

START_TEST(summary_counts_by_kind_and_result)
{
	struct rollout_summary s;
	const char *rep = "restarted 200 Deployment/a\nskipped 200 Deployment/b\n"
	    "notfound 404 StatefulSet/c\nforbidden 403 DaemonSet/d\nrestarted 200 DaemonSet/e\n"
	    "unsupported 0 CronJob/f\n";

	ck_assert_int_eq(rollout_summarize(rep, "creds", &s), 6);
	ck_assert_int_eq(s.restarted, 2);
	ck_assert_int_eq(s.skipped, 1);
	ck_assert_int_eq(s.failed, 3);
	ck_assert_int_eq(s.count[RK_DEPLOYMENT][RR_SUCCESS], 1);
	ck_assert_int_eq(s.count[RK_DEPLOYMENT][RR_SKIPPED], 1);
	ck_assert_int_eq(s.count[RK_STATEFULSET][RR_ERROR], 1);
	ck_assert_int_eq(s.count[RK_DAEMONSET][RR_ERROR], 1);
	ck_assert_int_eq(s.count[RK_DAEMONSET][RR_SUCCESS], 1);
	ck_assert_int_eq(s.count[RK_OTHER][RR_ERROR], 1);
	ck_assert_str_eq(s.reason, "RolloutTargetNotFound");   /* the first failure */
	ck_assert_ptr_nonnull(strstr(s.message, "3 of 6 workload(s) not restarted"));
	ck_assert_ptr_nonnull(strstr(s.message, "StatefulSet/c not found"));
	ck_assert_ptr_nonnull(strstr(s.message, "DaemonSet/d forbidden"));
	ck_assert_ptr_nonnull(strstr(s.message, "CronJob/f kind not supported"));
	ck_assert_ptr_nonnull(strstr(s.message, "restarted: Deployment/a, DaemonSet/e"));
	ck_assert_ptr_nonnull(strstr(s.message, "1 already restarted"));
}
END_TEST

START_TEST(summary_of_success_and_of_nothing)
{
	struct rollout_summary s;

	ck_assert_int_eq(rollout_summarize("restarted 200 Deployment/a\n", "creds", &s), 1);
	ck_assert_ptr_null(s.reason);
	ck_assert_str_eq(s.message, "restarted 1 workload(s) after Secret creds changed: "
	    "Deployment/a");
	ck_assert_int_eq(rollout_summarize("skipped 200 Deployment/a\n", "creds", &s), 1);
	ck_assert_ptr_nonnull(strstr(s.message, "already restarted for this change"));
	ck_assert_int_eq(rollout_summarize("", "creds", &s), 0);
	ck_assert_str_eq(s.message, "");
}
END_TEST

START_TEST(summary_refuses_malformed_lines)
{
	struct rollout_summary s;
	/* wrong shapes: extra field, upper-case name, no slash, huge line */
	char big[600];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "restarted 200 Deployment/", 25);
	ck_assert_int_eq(rollout_summarize("restarted 200 Deployment/a extra\n"
	    "restarted 200 Deployment/UPPER\nrestarted 200 nokind\n", "creds", &s), 0);
	ck_assert_int_eq(rollout_summarize(big, "creds", &s), 0);
	ck_assert_int_eq(rollout_summarize("restarted 200 Deployment/a\n\n", "creds", &s), 1);
}
END_TEST

Suite *rollout_suite(void)
{
	Suite *s = suite_create("rollout");
	TCase *tc = tcase_create("rollout");

	tcase_add_test(tc, mark_records_one_entry_per_monosecret);
	tcase_add_test(tc, mark_survives_hand_edits);
	tcase_add_test(tc, targets_each_once_same_namespace_only);
	tcase_add_test(tc, summary_counts_by_kind_and_result);
	tcase_add_test(tc, summary_of_success_and_of_nothing);
	tcase_add_test(tc, summary_refuses_malformed_lines);
	suite_add_tcase(s, tc);
	return s;
}
